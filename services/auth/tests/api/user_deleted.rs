use std::time::Duration;

use contracts::{events::UserDeleted, topics};
use platform::{
    kafka::{EventProducer, RawEvent},
    testing::{eventually, read_topic},
};
use tonic::Code;

use crate::helpers::{assert_status, count, spawn_app, TestApp, PASSWORD};

/// A producer standing in for user-service, on the app's topics.
fn user_service(app: &TestApp) -> EventProducer {
    EventProducer::new(
        &app.infra.brokers,
        "/expense-tracker/user-service",
        Duration::from_secs(10),
    )
    .unwrap()
    .with_topic_suffix(&app.suffix)
}

fn deleted(user_id: &str) -> RawEvent {
    RawEvent::new(&UserDeleted {
        user_id: user_id.into(),
        deleted_at: None,
    })
}

async fn processed(app: &TestApp) -> i64 {
    count(&mut app.db().await, "SELECT count(*) AS n FROM processed_events").await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_deleted_event_blocks_login_and_revokes_every_refresh_token() {
    let app = spawn_app().await;
    let signup = app.signup_ok("gone@example.com").await;
    let login = app.login("gone@example.com", PASSWORD).await.unwrap();
    let bystander = app.signup_ok("stays@example.com").await;

    let producer = user_service(&app);
    let event = deleted(&signup.user_id);
    // The same event twice (a producer retry): one effect, no error.
    producer.send(&event).await.unwrap();
    producer.send(&event).await.unwrap();

    let blocked = eventually(Duration::from_secs(30), || async {
        matches!(app.login("gone@example.com", PASSWORD).await, Err(s) if s.code() == Code::Unauthenticated)
    })
    .await;
    assert!(blocked, "login still works after UserDeleted");
    assert_status(
        app.login("gone@example.com", PASSWORD).await,
        Code::Unauthenticated,
        "invalid email or password",
    );
    assert_status(
        app.refresh(&signup.refresh_token).await,
        Code::Unauthenticated,
        "refresh token is invalid",
    );
    assert_status(
        app.refresh(&login.refresh_token).await,
        Code::Unauthenticated,
        "refresh token is invalid",
    );

    // A later, distinct event for the same user still applies cleanly (the effect is idempotent).
    producer.send(&deleted(&signup.user_id)).await.unwrap();
    assert!(eventually(Duration::from_secs(30), || async { processed(&app).await == 2 }).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        processed(&app).await,
        2,
        "the duplicate delivery was recorded once"
    );

    app.refresh(&bystander.refresh_token)
        .await
        .expect("other accounts are untouched");
    app.login("stays@example.com", PASSWORD)
        .await
        .expect("other accounts are untouched");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_deleted_event_without_a_valid_user_id_is_dead_lettered_and_the_next_one_applies() {
    let app = spawn_app().await;
    let signup = app.signup_ok("next@example.com").await;
    let producer = user_service(&app);
    let poison = deleted("not-a-uuid");
    producer.send(&poison).await.unwrap();
    producer.send(&deleted(&signup.user_id)).await.unwrap();

    let dlq_topic = contracts::topics::dlq(&app.topic(topics::USER_DELETED));
    let dlq = read_topic(
        &app.infra.brokers,
        &dlq_topic,
        1,
        Duration::from_secs(30),
        Duration::from_millis(200),
    )
    .await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].headers["ce_id"], poison.id.to_string());
    assert!(
        dlq[0].headers["dlq_error"].contains("is not a UUID"),
        "{:?}",
        dlq[0].headers
    );
    let disabled = eventually(Duration::from_secs(30), || async {
        count(
            &mut app.db().await,
            "SELECT count(*) AS n FROM users WHERE disabled_at IS NOT NULL",
        )
        .await
            == 1
    })
    .await;
    assert!(disabled, "the valid event after the poison one was applied");
    assert_status(
        app.refresh(&signup.refresh_token).await,
        Code::Unauthenticated,
        "refresh token is invalid",
    );
    app.stop().await;
}
