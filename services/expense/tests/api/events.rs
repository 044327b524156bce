use std::time::Duration;

use contracts::{
    events::UserDeleted,
    expense::{ListExpensesRequest, UpdateExpenseRequest},
    topics,
};
use platform::testing::{eventually, read_topic};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{days_ago, extracted, row, spawn_app, TestApp};

async fn list(app: &TestApp, user: Uuid) -> Vec<contracts::expense::Expense> {
    app.list_all(user, ListExpensesRequest::default()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extracted_expense_becomes_a_listed_expense_with_the_fields_sent() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let mut event = extracted(user, "1.250", "BHD", &days_ago(1).to_string());
    event.merchant = "Café Nero".into();
    event.category = 2; // GROCERIES
    event.source = 3; // TEXT_LLM
    event.confidence = 0.5;
    event.raw_text = "1.25 dinars at café nero yesterday".into();
    event.extractor = "llm:mistral-small".into();
    app.publish(&event).await;

    let e = app.wait_expense(user, &event.expense_id).await;
    let listed = list(&app, user).await;
    assert_eq!(
        listed,
        vec![e.clone()],
        "the one expense is listed, as Get shows it"
    );
    assert_eq!(e.id, event.expense_id);
    assert_eq!(e.user_id, user.to_string());
    assert_eq!((e.amount.as_str(), e.currency.as_str()), ("1.250", "BHD"));
    assert_eq!(e.merchant, "Café Nero");
    assert_eq!(e.category, 2);
    assert_eq!(e.occurred_on, event.occurred_on);
    assert_eq!(e.raw_text, event.raw_text);
    assert_eq!(e.source, 3);
    assert_eq!(e.confidence, 0.5);
    assert_eq!(e.note, "");
    assert!(e.created_at.is_some() && e.updated_at.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_event_twice_stores_one_expense_and_keeps_later_edits() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let event = extracted(user, "250", "INR", &days_ago(0).to_string());
    let raw = app.publish(&event).await;
    app.wait_expense(user, &event.expense_id).await;
    app.client
        .clone()
        .update_expense(app.request(
            user,
            UpdateExpenseRequest {
                id: event.expense_id.clone(),
                note: "team lunch".into(),
                update_mask: vec!["note".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap();

    // A redelivery (same ce_id), and a re-publication of the same expense (new ce_id).
    app.producer.send(&raw).await.unwrap();
    app.publish(&event).await;
    // A marker expense published after them: once it is stored, they were consumed.
    let marker = extracted(user, "1", "INR", &days_ago(0).to_string());
    app.publish(&marker).await;
    app.wait_expense(user, &marker.expense_id).await;

    assert_eq!(app.count_rows(user).await, 2, "one row per expense id");
    let e = app.get(user, &event.expense_id).await.unwrap();
    assert_eq!(e.note, "team lunch", "the replay did not undo the edit");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_deleted_purges_that_users_expenses_only_and_late_events_are_ignored() {
    let app = spawn_app().await;
    let (gone, stays) = (Uuid::now_v7(), Uuid::now_v7());
    app.seed(
        (0..300)
            .map(|i| row(gone, 100 + i, "USD", "Shop", "SHOPPING", days_ago(i % 30)))
            .chain((0..5).map(|i| row(stays, 100 + i, "USD", "Shop", "SHOPPING", days_ago(i))))
            .collect(),
    )
    .await;

    let deleted = UserDeleted {
        user_id: gone.to_string(),
        deleted_at: None,
    };
    let raw = platform::kafka::RawEvent::new(&deleted);
    app.producer.send(&raw).await.unwrap();
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.count_rows(gone).await == 0
        })
        .await,
        "the deleted user's expenses were purged"
    );
    assert_eq!(app.count_rows(stays).await, 5, "other users keep theirs");

    // Redelivered UserDeleted: nothing more happens. A late ExpenseExtracted of the deleted
    // user is not stored; the marker (another user) proves both were consumed.
    app.producer.send(&raw).await.unwrap();
    let late = extracted(gone, "9.99", "USD", &days_ago(0).to_string());
    app.publish(&late).await;
    let marker = extracted(stays, "1.00", "USD", &days_ago(0).to_string());
    app.publish(&marker).await;
    app.wait_expense(stays, &marker.expense_id).await;
    assert_eq!(app.count_rows(gone).await, 0);
    assert_eq!(app.count_rows(stays).await, 6);

    // Nor can the deleted user write by hand while their access token lives on.
    let err = app
        .create(gone, crate::helpers::create_req("1", "USD", "", 0, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_events_go_to_the_dlq_and_the_next_one_is_stored() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    // Undecodable bytes.
    let mut undecodable = platform::kafka::RawEvent::new(&extracted(user, "1", "USD", "2025-01-01"));
    undecodable.payload = b"\x0a\xff\xff\xff".to_vec();
    app.producer.send(&undecodable).await.unwrap();
    // Decodable, but its content breaks the rules: too many decimals, unknown currency, no real date.
    let bad = [
        extracted(user, "12.345", "USD", &days_ago(1).to_string()),
        extracted(user, "12", "DOLLARS", &days_ago(1).to_string()),
        extracted(user, "12", "USD", "2025-02-30"),
    ];
    for e in &bad {
        app.publish(e).await;
    }
    let good = extracted(user, "7.50", "USD", &days_ago(1).to_string());
    app.publish(&good).await;
    app.wait_expense(user, &good.expense_id).await;
    assert_eq!(app.count_rows(user).await, 1, "only the good one is stored");

    let dlq = read_topic(
        &app.infra.brokers,
        &topics::dlq(&app.extracted_topic()),
        4,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(dlq.len(), 4, "every poison event is dead-lettered once");
    assert_eq!(dlq[0].headers["ce_id"], undecodable.id.to_string());
    assert!(
        dlq[0].headers["dlq_error"].contains("undecodable"),
        "{:?}",
        dlq[0].headers
    );
    for (msg, field) in dlq[1..].iter().zip(["amount", "currency", "occurred_on"]) {
        let reason = &msg.headers["dlq_error"];
        assert!(reason.contains(field), "{reason} should name {field}");
        assert_eq!(msg.headers["dlq_original_topic"], app.extracted_topic());
        assert_eq!(
            msg.key.as_deref(),
            Some(user.to_string().as_bytes()),
            "original key kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_delays_extracted_expenses_but_loses_none() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let first = extracted(user, "1.00", "USD", &days_ago(0).to_string());
    app.publish(&first).await;
    app.wait_expense(user, &first.expense_id).await;

    // Take the database away: no new connections, existing ones terminated.
    let db_name = app.db_name();
    let admin_url = format!("{}/postgres", app.infra.pg_url.trim_end_matches('/'));
    let mut admin = AsyncPgConnection::establish(&admin_url).await.unwrap();
    let allow = |yes: bool| format!("ALTER DATABASE \"{db_name}\" ALLOW_CONNECTIONS {yes}");
    diesel::sql_query(allow(false)).execute(&mut admin).await.unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db_name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let during: Vec<_> = (0..20)
        .map(|i| extracted(user, &format!("{}.00", i + 2), "USD", &days_ago(0).to_string()))
        .collect();
    for e in &during {
        app.publish(e).await;
    }
    // Long enough for the consumer to fail and back off a few times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    diesel::sql_query(allow(true)).execute(&mut admin).await.unwrap();

    let last = &during[during.len() - 1];
    app.wait_expense(user, &last.expense_id).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.count_rows(user).await == 21
        })
        .await,
        "every event stored once"
    );
    for e in &during {
        assert_eq!(app.get(user, &e.expense_id).await.unwrap().amount, e.amount);
    }
}
