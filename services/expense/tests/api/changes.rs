//! `ExpenseChanged`: exactly one event per change that changed something, with the right
//! kind, cause, before/after, versions and changed fields; none for a no-op, a redelivery
//! or the purge after `UserDeleted`. Read back from the real topic, as a consumer would.

use std::{collections::HashSet, time::Duration};

use contracts::{
    events::{ExpenseChangeCause as Cause, ExpenseChangeKind as Kind, ExpenseChanged, UserDeleted},
    expense::{DeleteExpenseRequest, Expense, UpdateExpenseRequest},
    topics,
};
use platform::{
    kafka::RawEvent,
    testing::{eventually, read_topic, ReadMessage},
};
use prost::Message as _;
use uuid::Uuid;

use crate::helpers::{create_req, days_ago, extracted, spawn_app, TestApp};

/// The trace id the tests' requests carry; the events must carry it on.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Every ExpenseChanged the app published, waiting for `expected` and then 2 s more for
/// extras (a duplicate or an event that should not exist).
async fn changes(app: &TestApp, expected: usize) -> Vec<(ExpenseChanged, ReadMessage)> {
    let topic = app.topic(topics::EXPENSE_CHANGED);
    read_topic(
        &app.infra.brokers,
        &topic,
        expected,
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
    .await
    .into_iter()
    .map(|m| {
        let e = ExpenseChanged::decode(m.payload.as_deref().expect("a payload")).expect("an ExpenseChanged");
        (e, m)
    })
    .collect()
}

fn traced<T>(app: &TestApp, user: Uuid, msg: T) -> tonic::Request<T> {
    let mut req = app.request(user, msg);
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE_ID}-00f067aa0ba902b7-01").parse().unwrap(),
    );
    req
}

async fn update(app: &TestApp, user: Uuid, req: UpdateExpenseRequest) -> Expense {
    app.client
        .clone()
        .update_expense(traced(app, user, req))
        .await
        .unwrap()
        .into_inner()
}

fn kind(e: &ExpenseChanged) -> (Kind, Cause) {
    (e.kind(), e.cause())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_manual_change_publishes_one_expense_changed_and_a_no_op_update_none() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let created = app
        .client
        .clone()
        .create_expense(traced(
            &app,
            user,
            create_req("340", "INR", "SWIGGY 340", 1, &days_ago(1).to_string()),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.version, 1);

    let fix = |merchant: &str| UpdateExpenseRequest {
        id: created.id.clone(),
        merchant: merchant.into(),
        category: 2, // GROCERIES
        note: "weekly shop".into(),
        update_mask: vec!["note".into(), "category".into(), "merchant".into()],
        ..Default::default()
    };
    let updated = update(&app, user, fix("Kumaran Stores")).await;
    assert_eq!(updated.version, 2);
    // The same values again (the merchant spelled with extra spaces): nothing changes.
    let again = update(&app, user, fix("  Kumaran Stores ")).await;
    assert_eq!(again, updated, "a no-op keeps version and updated_at");
    assert_eq!(
        app.get(user, &created.id).await.unwrap(),
        updated,
        "and writes nothing"
    );

    app.client
        .clone()
        .delete_expense(traced(
            &app,
            user,
            DeleteExpenseRequest {
                id: created.id.clone(),
            },
        ))
        .await
        .unwrap();

    let events = changes(&app, 3).await;
    let kinds: Vec<_> = events.iter().map(|(e, _)| kind(e)).collect();
    assert_eq!(
        kinds,
        [
            (Kind::Recorded, Cause::Manual),
            (Kind::Updated, Cause::Manual),
            (Kind::Deleted, Cause::Manual)
        ],
        "exactly one event per change, none for the no-op"
    );
    let (recorded, updated_event, deleted) = (&events[0].0, &events[1].0, &events[2].0);
    for (e, _) in &events {
        assert_eq!(
            (e.user_id.as_str(), e.expense_id.as_str()),
            (user.to_string().as_str(), created.id.as_str())
        );
        assert!(e.changed_at.is_some());
    }
    assert_eq!(
        (recorded.before.as_ref(), recorded.after.as_ref()),
        (None, Some(&created))
    );
    assert!(recorded.changed_fields.is_empty());
    assert_eq!(updated_event.before.as_ref(), Some(&created));
    assert_eq!(updated_event.after.as_ref(), Some(&updated));
    assert_eq!(
        updated_event.changed_fields,
        ["merchant", "category", "note"],
        "in message order"
    );
    assert_eq!(updated_event.changed_at, updated.updated_at);
    assert_eq!(
        (deleted.before.as_ref(), deleted.after.as_ref()),
        (Some(&updated), None)
    );
    assert_eq!(
        deleted.before.as_ref().unwrap().version,
        2,
        "the last stored version"
    );

    // CloudEvents headers as every outbox event has them, and the caller's trace.
    let mut ids = HashSet::new();
    for (_, m) in &events {
        let h = &m.headers;
        assert_eq!(
            m.key.as_deref(),
            Some(user.to_string().as_bytes()),
            "keyed by user"
        );
        assert!(ids.insert(Uuid::parse_str(&h["ce_id"]).expect("ce_id is a UUID")));
        assert_eq!(h["ce_type"], "expense_tracker.events.v1.ExpenseChanged");
        assert_eq!(h["ce_source"], "/expense-tracker/expense-service");
        assert_eq!(h["ce_specversion"], "1.0");
        assert_eq!(h["content-type"], "application/protobuf");
        assert!(h.contains_key("ce_time"), "{h:?}");
        assert!(
            h.get("traceparent").is_some_and(|t| t.contains(TRACE_ID)),
            "the request's trace: {h:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extraction_is_recorded_once_and_only_a_later_extraction_updates_it() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let first = extracted(user, "340", "INR", &days_ago(1).to_string());
    let raw = app.publish(&first).await;
    let stored = app.wait_expense(user, &first.expense_id).await;
    assert_eq!(stored.version, 1);

    // A redelivery (same ce_id) and a re-publication (new ce_id) of the same extraction.
    app.producer.send(&raw).await.unwrap();
    app.publish(&first).await;
    // The owner corrects it; then an older extraction of it arrives (a replay, made before
    // the correction): it must not undo the correction.
    let corrected = update(
        &app,
        user,
        UpdateExpenseRequest {
            id: first.expense_id.clone(),
            category: 2,
            update_mask: vec!["category".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(corrected.version, 2);
    let mut replay = first.clone();
    replay.category = 5;
    replay.extracted_at = stored.created_at; // before the correction
    app.publish(&replay).await;
    // A re-extraction made after the correction (say, from a bank import; ds-service has
    // learned the category by then) does change it.
    let mut later = first.clone();
    later.category = 2;
    later.merchant = "Swiggy".into();
    later.amount = "345".into();
    later.confidence = 0.99;
    later.extracted_at = Some(prost_types::Timestamp::from(std::time::SystemTime::now()));
    app.publish(&later).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.get(user, &first.expense_id).await.unwrap().version == 3
        })
        .await,
        "the later extraction was applied"
    );
    let now = app.get(user, &first.expense_id).await.unwrap();
    assert_eq!(
        (now.amount.as_str(), now.merchant.as_str(), now.category),
        ("345.00", "Swiggy", 2)
    );

    let events = changes(&app, 3).await;
    let kinds: Vec<_> = events.iter().map(|(e, _)| kind(e)).collect();
    assert_eq!(
        kinds,
        [
            (Kind::Recorded, Cause::Extracted),
            (Kind::Updated, Cause::Manual),
            (Kind::Updated, Cause::Extracted)
        ],
        "nothing for the redelivery, the re-publication or the old replay"
    );
    assert_eq!(events[0].0.after.as_ref(), Some(&stored));
    assert!(
        events[0].1.headers.contains_key("traceparent"),
        "{:?}",
        events[0].1.headers
    );
    let e = &events[2].0;
    assert_eq!(e.before.as_ref(), Some(&corrected));
    assert_eq!(e.after.as_ref(), Some(&now));
    assert_eq!(e.changed_fields, ["amount", "merchant"]);
    assert_eq!(
        e.before.as_ref().unwrap().version + 1,
        e.after.as_ref().unwrap().version
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_extracted_events_yields_one_recorded_event_each() {
    let app = spawn_app().await;
    let users: Vec<Uuid> = (0..7).map(|_| Uuid::now_v7()).collect();
    let n = 300;
    let sent: Vec<_> = (0..n)
        .map(|i| {
            extracted(
                users[i % users.len()],
                &format!("{}.50", i + 1),
                "USD",
                &days_ago(0).to_string(),
            )
        })
        .collect();
    futures::future::join_all(sent.iter().map(|e| app.publish(e))).await;
    // One of them twice more in the burst, under another ce_id: still one RECORDED.
    app.publish(&sent[17]).await;

    let events = changes(&app, n).await;
    assert_eq!(events.len(), n, "one event per stored expense");
    let want: HashSet<&str> = sent.iter().map(|e| e.expense_id.as_str()).collect();
    let got: HashSet<&str> = events.iter().map(|(e, _)| e.expense_id.as_str()).collect();
    assert_eq!(got, want);
    for (e, m) in &events {
        assert_eq!(kind(e), (Kind::Recorded, Cause::Extracted));
        let after = e.after.as_ref().expect("after");
        assert_eq!((after.version, after.source), (1, 2));
        assert_eq!(m.key.as_deref(), Some(e.user_id.as_bytes()));
        assert!(m.headers.contains_key("traceparent"), "{:?}", m.headers);
    }
    let original = &sent[17];
    let e = events
        .iter()
        .find(|(e, _)| e.expense_id == original.expense_id)
        .unwrap();
    assert_eq!(e.0.after.as_ref().unwrap().amount, original.amount);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_purge_after_user_deleted_publishes_nothing() {
    let app = spawn_app().await;
    let (gone, stays) = (Uuid::now_v7(), Uuid::now_v7());
    for amount in ["1", "2"] {
        app.create(gone, create_req(amount, "USD", "Shop", 4, ""))
            .await
            .unwrap();
    }
    app.producer
        .send(&RawEvent::new(&UserDeleted {
            user_id: gone.to_string(),
            deleted_at: None,
        }))
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.count_rows(gone).await == 0
        })
        .await,
        "purged"
    );
    // A change after the purge: once its event is out, anything the purge wrote would be too.
    let marker = app
        .create(stays, create_req("3", "USD", "Shop", 4, ""))
        .await
        .unwrap();

    let events = changes(&app, 3).await;
    assert_eq!(events.len(), 3, "the three creations, nothing for the purge");
    for (e, _) in &events {
        assert_eq!(kind(e), (Kind::Recorded, Cause::Manual));
    }
    // Users are keys, hence partitions: no order between them.
    let of = |u: Uuid| events.iter().filter(|(e, _)| e.user_id == u.to_string()).count();
    assert_eq!((of(gone), of(stays)), (2, 1));
    assert!(events.iter().any(|(e, _)| e.after.as_ref() == Some(&marker)));
}
