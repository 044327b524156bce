//! The consumers' edges: UserDeleted purges, a poison message is dead-lettered and
//! consumption carries on, a chunk of changes is applied as one transaction would apply them
//! one by one.

use std::{sync::Arc, time::Duration};

use budget_service::events;
use contracts::{
    events::{ExpenseChanged, UserDeleted},
    expense::Category,
    topics,
};
use platform::{kafka::Envelope, testing::read_topic};
use rdkafka::{
    config::ClientConfig,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{expense, recorded, spawn_app, updated, ON};

#[tokio::test]
async fn user_deleted_purges_budgets_projection_and_alerts() {
    let app = spawn_app().await;
    let (gone, stays) = (Uuid::new_v4(), Uuid::new_v4());
    let b = app.budget(gone, "10.00", Category::Unspecified).await;
    let kept = app.budget(stays, "10.00", Category::Unspecified).await;
    for user in [gone, stays] {
        let e = expense(
            Uuid::now_v7(),
            user,
            "9.00",
            "EUR",
            Category::Other,
            "2026-12-01",
            1,
        );
        app.publish(&recorded(&e)).await;
    }
    app.wait_status(gone, &b.id, ON, |b| b.status.as_ref().unwrap().expense_count == 1)
        .await;
    app.wait_status(stays, &kept.id, ON, |b| {
        b.status.as_ref().unwrap().expense_count == 1
    })
    .await;
    assert_eq!(app.alerts(gone, 0).await.len(), 1);

    app.producer
        .publish(&UserDeleted {
            user_id: gone.to_string(),
            deleted_at: None,
        })
        .await
        .unwrap();
    assert!(
        platform::testing::eventually(Duration::from_secs(30), || async {
            app.get(gone, &b.id, ON)
                .await
                .is_err_and(|e| e.code() == Code::NotFound)
        })
        .await
    );
    assert!(app.alerts(gone, 0).await.is_empty());
    // A late change of the deleted user builds nothing back.
    let late = expense(
        Uuid::now_v7(),
        gone,
        "1.00",
        "EUR",
        Category::Other,
        "2026-12-01",
        1,
    );
    app.publish(&recorded(&late)).await;
    let marker = expense(
        Uuid::now_v7(),
        stays,
        "0.50",
        "EUR",
        Category::Other,
        "2026-12-01",
        1,
    );
    app.publish(&recorded(&marker)).await;
    app.wait_status(stays, &kept.id, ON, |b| {
        b.status.as_ref().unwrap().expense_count == 2
    })
    .await;
    let conn = app.pool.get().await.unwrap();
    let left = budget_service::store::queries::day_totals(
        &conn,
        gone,
        "2026-01-01".parse().unwrap(),
        "2026-12-31".parse().unwrap(),
    )
    .await
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(app.alerts(stays, 0).await.len(), 1, "the other user keeps theirs");
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_and_the_next_one_is_applied() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let b = app.budget(user, "100.00", Category::Unspecified).await;
    let topic = app.topic(topics::EXPENSE_CHANGED);
    let raw: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &app.infra.brokers)
        .create()
        .unwrap();
    let id = Uuid::now_v7().to_string();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "ce_id",
            value: Some(id.as_str()),
        })
        .insert(Header {
            key: "ce_type",
            value: Some("expense_tracker.events.v1.ExpenseChanged"),
        });
    raw.send(
        FutureRecord::to(&topic)
            .key(user.to_string().as_bytes())
            .payload(&b"\xff\xff not protobuf"[..])
            .headers(headers),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    // Well-formed protobuf, nonsense content: a negative amount.
    let mut bad = expense(
        Uuid::now_v7(),
        user,
        "-4.00",
        "EUR",
        Category::Other,
        "2026-12-01",
        1,
    );
    app.publish(&recorded(&bad)).await;
    bad.amount = "4.00".into();
    app.publish(&recorded(&bad)).await;
    app.wait_status(user, &b.id, ON, |b| b.status.as_ref().unwrap().spent == "4.00")
        .await;
    let dead = read_topic(
        &app.infra.brokers,
        &contracts::topics::dlq(&topic),
        2,
        Duration::from_secs(20),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(dead.len(), 2, "both poison messages dead-lettered");
    assert_eq!(dead[0].headers["ce_id"], id);
    assert!(dead[0].headers.contains_key("dlq_error"));
    assert!(
        dead[1].headers["dlq_error"].contains("amount"),
        "{:?}",
        dead[1].headers
    );
}

fn envelope(app: &crate::helpers::TestApp, event: ExpenseChanged) -> Envelope<ExpenseChanged> {
    Envelope {
        id: Uuid::now_v7(),
        event,
        time: None,
        source: None,
        topic: app.topic(topics::EXPENSE_CHANGED),
        partition: 0,
        offset: 0,
    }
}

#[tokio::test]
async fn a_chunk_applies_its_changes_in_order_refuses_nonsense_by_index_and_a_redelivery_changes_nothing() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let b = app.budget(user, "100.00", Category::Unspecified).await;
    let id = Uuid::now_v7();
    let v1 = expense(id, user, "50.00", "EUR", Category::Other, ON, 1);
    let v2 = expense(id, user, "90.00", "EUR", Category::Other, ON, 2);
    let mut nonsense = recorded(&v1);
    nonsense.user_id = "me".into();
    let chunk: Arc<[Envelope<ExpenseChanged>]> = vec![
        envelope(&app, recorded(&v1)),
        envelope(&app, nonsense),
        // Applied after the RECORDED before it in the same transaction: 90 of 100 crosses 80%.
        envelope(&app, updated(&v1, &v2)),
        // A late copy of v1 under a new event id: older than what is held.
        envelope(&app, recorded(&v1)),
    ]
    .into();
    for round in 0..2 {
        let rejected = events::on_expenses_changed(&app.pool, chunk.clone())
            .await
            .expect("applied");
        assert_eq!(rejected.len(), 1, "round {round}: {rejected:?}");
        assert_eq!(rejected[0].index, 1);
        assert!(rejected[0].reason.contains("user_id"), "{}", rejected[0].reason);
        assert_eq!(
            app.spent(user, &b.id, ON).await,
            ("90.00".into(), 1, 0),
            "round {round}"
        );
        let alerts = app.alerts(user, 0).await;
        assert_eq!(
            alerts.len(),
            1,
            "round {round}: one alert, the 80% one: {alerts:?}"
        );
    }
}
