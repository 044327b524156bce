//! The at-least-once consumer: idempotent effects, dead-lettering, and retry of transient
//! database failures, all against the real broker and database.

use std::{
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use contracts::events::UserRegistered;
use diesel::{sql_types::Text, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use platform::{
    db::PgPool,
    idempotency::process_once,
    kafka::{consume, ConsumerSettings, EventProducer, HandlerError, RawEvent},
    testing::{eventually, read_topic, unique, Infra},
};
use rdkafka::message::{Header, OwnedHeaders};
use tokio_util::sync::CancellationToken;

#[derive(QueryableByName)]
struct Effect {
    #[diesel(sql_type = Text)]
    email: String,
}

struct Fixture {
    infra: Infra,
    db: String,
    pool: PgPool,
    topic: String,
    producer: EventProducer,
    attempts: Arc<AtomicU32>,
    stop: CancellationToken,
}

impl Fixture {
    async fn new() -> Self {
        let infra = crate::infra();
        let db = infra.fresh_database().await;
        platform::db::migrate(&db, platform::db::PLATFORM_MIGRATIONS)
            .await
            .unwrap();
        let mut conn = AsyncPgConnection::establish(&db).await.unwrap();
        diesel::sql_query("CREATE TABLE effects (email TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        let topic = unique("consumer-test");
        platform::kafka::ensure_topics(&infra.brokers, &[&topic], 1)
            .await
            .unwrap();
        let producer = EventProducer::new(&infra.brokers, "/tests", Duration::from_secs(10)).unwrap();
        let pool = platform::db::pool(&db, 4).unwrap();
        Self {
            infra,
            db,
            pool,
            topic,
            producer,
            attempts: Arc::default(),
            stop: CancellationToken::new(),
        }
    }

    /// Starts a consumer whose effect is one row in `effects` per event, recorded with the
    /// idempotency helper.
    fn start_consumer(&self, group: &str) -> tokio::task::JoinHandle<()> {
        let mut settings = ConsumerSettings::new(&self.infra.brokers, group, &self.topic);
        settings.max_backoff = Duration::from_millis(500);
        let pool = self.pool.clone();
        let attempts = self.attempts.clone();
        let dlq = self.producer.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let handler = move |env: platform::kafka::Envelope<UserRegistered>| {
                let pool = pool.clone();
                let attempts = attempts.clone();
                async move {
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let mut conn = pool.get().await?;
                    let email = env.event.email.clone();
                    process_once(&mut conn, "test-consumer", &env.topic, env.id, move |conn| {
                        Box::pin(async move {
                            diesel::sql_query("INSERT INTO effects (email) VALUES ($1)")
                                .bind::<Text, _>(email)
                                .execute(conn)
                                .await?;
                            Ok::<(), HandlerError>(())
                        })
                    })
                    .await?;
                    Ok(())
                }
            };
            consume(settings, dlq, handler, stop).await.unwrap();
        })
    }

    fn attempts(&self) -> u32 {
        AtomicU32::load(&self.attempts, Ordering::SeqCst)
    }

    fn event(&self, email: &str) -> RawEvent {
        let mut raw = RawEvent::new(&UserRegistered {
            user_id: "u1".into(),
            email: email.into(),
            ..Default::default()
        });
        raw.topic = self.topic.clone();
        raw
    }

    async fn effects(&self) -> Vec<String> {
        let mut conn = AsyncPgConnection::establish(&self.db).await.unwrap();
        let rows: Vec<Effect> = diesel::sql_query("SELECT email FROM effects ORDER BY email")
            .load(&mut conn)
            .await
            .unwrap();
        rows.into_iter().map(|r| r.email).collect()
    }

    async fn wait_for_effects(&self, n: usize) -> Vec<String> {
        eventually(Duration::from_secs(30), || async {
            self.effects().await.len() >= n
        })
        .await;
        // Give a duplicate the chance to show up.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.effects().await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivered_event_has_no_second_effect() {
    let f = Fixture::new().await;
    let group = unique("g");
    let consumer = f.start_consumer(&group);
    let first = f.event("a@example.com");
    f.producer.send(&first).await.unwrap();
    // The very same event (same ce_id) delivered again, as after a producer retry.
    f.producer.send(&first).await.unwrap();
    f.producer.send(&f.event("b@example.com")).await.unwrap();
    assert_eq!(f.wait_for_effects(2).await, ["a@example.com", "b@example.com"]);
    assert!(f.attempts() >= 3, "all three deliveries reached the handler");

    // A restarted consumer of the same group resumes after the committed offsets.
    f.stop.cancel();
    consumer.await.unwrap();
    let f2 = Fixture {
        stop: CancellationToken::new(),
        attempts: Arc::default(),
        ..f
    };
    let consumer = f2.start_consumer(&group);
    f2.producer.send(&f2.event("c@example.com")).await.unwrap();
    assert_eq!(
        f2.wait_for_effects(3).await,
        ["a@example.com", "b@example.com", "c@example.com"]
    );
    assert_eq!(f2.attempts(), 1, "nothing before c was consumed again");
    f2.stop.cancel();
    consumer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_message_lands_in_the_dlq_and_the_next_message_is_still_processed() {
    let f = Fixture::new().await;
    let consumer = f.start_consumer(&unique("g"));
    f.producer.send(&f.event("before@example.com")).await.unwrap();

    // Undecodable payload with valid CloudEvents headers.
    let mut garbage = f.event("ignored");
    garbage.payload = vec![0xff, 0xff, 0xff, 0x07, 0x01];
    f.producer.send(&garbage).await.unwrap();
    // No CloudEvents headers at all.
    let raw_producer: rdkafka::producer::FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &f.infra.brokers)
        .create()
        .unwrap();
    raw_producer
        .send(
            rdkafka::producer::FutureRecord::to(&f.topic)
                .key("u1")
                .payload("hello")
                .headers(OwnedHeaders::new().insert(Header {
                    key: "x",
                    value: Some("y"),
                })),
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    f.producer.send(&f.event("after@example.com")).await.unwrap();
    assert_eq!(
        f.wait_for_effects(2).await,
        ["after@example.com", "before@example.com"]
    );

    let dlq = read_topic(
        &f.infra.brokers,
        &contracts::topics::dlq(&f.topic),
        2,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(dlq.len(), 2, "both poison messages dead-lettered");
    assert!(
        dlq[0].headers["dlq_error"].contains("undecodable"),
        "{:?}",
        dlq[0].headers
    );
    assert_eq!(dlq[0].headers["ce_id"], garbage.id.to_string());
    assert_eq!(
        dlq[0].payload.as_deref(),
        Some(&[0xff, 0xff, 0xff, 0x07, 0x01][..])
    );
    assert!(
        dlq[1].headers["dlq_error"].contains("ce_id"),
        "{:?}",
        dlq[1].headers
    );
    assert_eq!(dlq[1].headers["dlq_original_topic"], f.topic);
    f.stop.cancel();
    consumer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_database_failure_is_retried_not_skipped() {
    let f = Fixture::new().await;
    let consumer = f.start_consumer(&unique("g"));
    f.producer.send(&f.event("first@example.com")).await.unwrap();
    assert_eq!(f.wait_for_effects(1).await, ["first@example.com"]);

    // Take the database away: no new connections, existing ones terminated.
    let db_name = f.db.rsplit('/').next().unwrap().to_owned();
    let admin_url = format!("{}/postgres", f.infra.pg_url.trim_end_matches('/'));
    let mut admin = AsyncPgConnection::establish(&admin_url).await.unwrap();
    diesel::sql_query(format!("ALTER DATABASE \"{db_name}\" ALLOW_CONNECTIONS false"))
        .execute(&mut admin)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db_name}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .await
    .unwrap();

    let before = f.attempts();
    f.producer.send(&f.event("during@example.com")).await.unwrap();
    f.producer.send(&f.event("later@example.com")).await.unwrap();
    let retried = eventually(Duration::from_secs(20), || async { f.attempts() >= before + 3 }).await;
    assert!(retried, "the handler was retried while the database was down");

    diesel::sql_query(format!("ALTER DATABASE \"{db_name}\" ALLOW_CONNECTIONS true"))
        .execute(&mut admin)
        .await
        .unwrap();
    assert_eq!(
        f.wait_for_effects(3).await,
        ["during@example.com", "first@example.com", "later@example.com"],
        "nothing skipped, nothing doubled"
    );
    f.stop.cancel();
    consumer.await.unwrap();
}
