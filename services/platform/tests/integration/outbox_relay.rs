//! The transactional outbox: events written with a change are published exactly once,
//! even when the relay process is SIGKILLed in the middle of a batch and restarted.

use std::{collections::HashMap, process::Stdio, time::Duration};

use contracts::events::UserRegistered;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use platform::{
    kafka::RawEvent,
    outbox,
    testing::{read_topic, unique, ReadMessage},
};
use tokio::process::{Child, Command};

const EVENTS: usize = 600;

fn spawn_relay(db_url: &str, brokers: &str, tx_id: &str, delay_ms: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_outbox-relay"))
        .env("DATABASE_URL", db_url)
        .env("KAFKA_BROKERS", brokers)
        .env("OUTBOX_TRANSACTIONAL_ID", tx_id)
        .env("OUTBOX_BATCH_SIZE", "100")
        .env("OUTBOX_SEND_DELAY_MS", delay_ms.to_string())
        .env(
            "RUST_LOG",
            if std::env::var("TEST_LOG").is_ok() {
                "info"
            } else {
                "warn"
            },
        )
        .stdout(if std::env::var("TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("outbox-relay binary")
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn pending(conn: &mut AsyncPgConnection) -> i64 {
    outbox::pending(conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outbox_event_is_published_exactly_once_even_when_the_relay_is_killed_mid_batch() {
    let infra = crate::infra();
    let db = infra.fresh_database().await;
    platform::db::migrate(&db, platform::db::PLATFORM_MIGRATIONS)
        .await
        .unwrap();
    let topic = unique("outbox-test");
    platform::kafka::ensure_topics(&infra.brokers, &[&topic], 3)
        .await
        .unwrap();

    // The events, written as a service would: inside its own transactions, in runs of 40,
    // every other run one by one (`outbox`) and the rest as one batch (`outbox_batches`).
    let mut conn = AsyncPgConnection::establish(&db).await.unwrap();
    let mut ids = vec![];
    let mut keys = vec![];
    for run in 0..EVENTS / 40 {
        let mut batch = vec![];
        for i in run * 40..(run + 1) * 40 {
            let mut raw = RawEvent::new(&UserRegistered {
                user_id: format!("user-{}", i % 17),
                email: format!("u{i}@example.com"),
                ..Default::default()
            });
            raw.topic = topic.clone();
            ids.push(raw.id);
            keys.push(raw.key.clone());
            batch.push(raw);
        }
        if run % 2 == 0 {
            for raw in batch {
                outbox::enqueue_raw(&mut conn, raw).await.unwrap();
            }
        } else {
            assert_eq!(outbox::enqueue_batch(&mut conn, batch).await.unwrap(), 40);
        }
    }
    assert_eq!(pending(&mut conn).await, EVENTS as i64);

    // First relay: slow sends (5 ms apart), so a 100-event batch takes ~0.5 s. Kill it
    // with SIGKILL once at least one batch is committed and another is half sent.
    let tx_id = unique("relay");
    let mut first = spawn_relay(&db, &infra.brokers, &tx_id, 5);
    let killed_mid_batch = platform::testing::eventually(Duration::from_secs(60), || {
        let db = db.clone();
        async move {
            let mut c = AsyncPgConnection::establish(&db).await.unwrap();
            pending(&mut c).await <= (EVENTS - 100) as i64
        }
    })
    .await;
    assert!(killed_mid_batch, "the first relay never committed a batch");
    tokio::time::sleep(Duration::from_millis(220)).await; // into the next batch
    first.kill().await.unwrap();
    let left_behind = pending(&mut conn).await;
    assert!(
        left_behind > 0 && left_behind < EVENTS as i64,
        "kill landed mid-run ({left_behind} pending)"
    );

    // A successor with the same transactional id fences the dead relay's open transaction.
    let mut second = spawn_relay(&db, &infra.brokers, &tx_id, 0);
    let drained = platform::testing::eventually(Duration::from_secs(60), || {
        let db = db.clone();
        async move {
            let mut c = AsyncPgConnection::establish(&db).await.unwrap();
            pending(&mut c).await == 0
        }
    })
    .await;
    second.kill().await.unwrap();
    assert!(drained, "the second relay did not drain the outbox");
    // A published row is deleted with the batch that published it (the dead relay's
    // half batch came back when its transaction died): none is left, marked or not.
    let left: Count = diesel::sql_query(
        "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM outbox_batches) AS n",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(left.n, 0, "published rows left in the outbox");

    let messages = read_topic(
        &infra.brokers,
        &topic,
        EVENTS,
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in &messages {
        *seen.entry(m.headers["ce_id"].clone()).or_default() += 1;
    }
    let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicates.is_empty(),
        "duplicated events on the topic: {duplicates:?}"
    );
    assert_eq!(messages.len(), EVENTS, "every event exactly once");
    for id in &ids {
        assert_eq!(seen.get(&id.to_string()), Some(&1), "event {id} missing");
    }
    // Each key's events in the order they were written, whichever table held them.
    let mut on_topic: Vec<&ReadMessage> = messages.iter().collect();
    on_topic.sort_by_key(|m| (m.partition, m.offset));
    for key in keys.iter().collect::<std::collections::BTreeSet<_>>() {
        let written: Vec<String> = ids
            .iter()
            .zip(&keys)
            .filter(|(_, k)| *k == key)
            .map(|(id, _)| id.to_string())
            .collect();
        let published: Vec<String> = on_topic
            .iter()
            .filter(|m| m.key.as_deref() == Some(key.as_bytes()))
            .map(|m| m.headers["ce_id"].clone())
            .collect();
        assert_eq!(published, written, "{key}'s events out of order");
    }
    // CloudEvents binary-mode headers on every message.
    let m = &messages[0];
    assert_eq!(m.headers["ce_specversion"], "1.0");
    assert_eq!(m.headers["ce_type"], "expense_tracker.events.v1.UserRegistered");
    assert_eq!(m.headers["content-type"], "application/protobuf");
    assert!(m.headers.contains_key("ce_time") && m.headers.contains_key("ce_source"));
}
