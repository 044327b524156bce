//! The consumers' edges: UserDeleted purges, a poison message is dead-lettered and
//! consumption carries on.

use std::time::Duration;

use contracts::{events::UserDeleted, expense::Category, topics};
use platform::testing::read_topic;
use rdkafka::{
    config::ClientConfig,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{expense, recorded, spawn_app, ON};

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
    let mut conn = app.pool.get().await.unwrap();
    let left = budget_service::store::queries::day_totals(
        &mut conn,
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
