use std::time::Duration;

use contracts::{events::UserRegistered, topics};
use platform::testing::read_topic;
use prost::Message as _;

use crate::helpers::{count, spawn_app_with, Options};

#[tokio::test(flavor = "multi_thread")]
async fn a_signup_while_kafka_is_down_is_kept_and_delivered_exactly_once_when_kafka_is_back() {
    // "Kafka down" without touching the shared broker: the first app's brokers are a
    // closed local port.
    let first = spawn_app_with(Options {
        brokers: Some("127.0.0.1:1".into()),
        ..Options::default()
    })
    .await;
    let res = first.signup_ok("offline@example.com").await;
    let mut db = first.db().await;
    assert_eq!(
        count(&mut db, "SELECT count(*) AS n FROM users").await,
        1,
        "the account exists"
    );
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"
        )
        .await,
        1,
        "the event waits in the outbox"
    );
    // Login works too: nothing here needs the broker.
    first
        .login("offline@example.com", crate::helpers::PASSWORD)
        .await
        .expect("login while Kafka is down");
    let (database_url, suffix) = (first.database_url.clone(), first.suffix.clone());
    first.stop().await;

    // The same database and topics, now with the real broker.
    let second = spawn_app_with(Options {
        database_url: Some(database_url),
        suffix: Some(suffix),
        ..Options::default()
    })
    .await;
    let topic = second.topic(topics::USER_REGISTERED);
    let messages = read_topic(
        &second.infra.brokers,
        &topic,
        1,
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(messages.len(), 1, "delivered exactly once");
    let event = UserRegistered::decode(messages[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(event.user_id, res.user_id);
    assert_eq!(event.email, "offline@example.com");
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL"
        )
        .await,
        0
    );
    second.stop().await;
}
