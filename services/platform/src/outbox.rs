//! Transactional outbox: a service writes its change and the event in one database
//! transaction ([`enqueue`]); the [`Relay`] publishes the rows and deletes them in the
//! database transaction that took them, committed after the Kafka one.
//!
//! The relay takes rows with `FOR UPDATE SKIP LOCKED`, so several replicas share the work
//! without publishing a row twice at once, and publishes each batch inside a Kafka
//! transaction whose `transactional.id` is stable across restarts: a relay killed
//! mid-batch leaves an open transaction that its successor aborts (fencing), and
//! `read_committed` consumers never see the half batch. The one remaining window is a crash
//! between the Kafka commit and the database commit; the batch is then published again
//! with the same `ce_id`s, which idempotent consumers ignore.

use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::Event;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rdkafka::producer::Producer;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    db::PgPool,
    kafka::{EventProducer, RawEvent},
    schema::outbox,
};

#[derive(Debug, Insertable, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
struct OutboxRow {
    id: Uuid,
    topic: String,
    key: String,
    ce_type: String,
    payload: Vec<u8>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<RawEvent> for OutboxRow {
    fn from(e: RawEvent) -> Self {
        Self {
            id: e.id,
            topic: e.topic,
            key: e.key,
            ce_type: e.ce_type,
            payload: e.payload,
            traceparent: e.traceparent,
            tracestate: e.tracestate,
            created_at: e.time,
        }
    }
}

impl From<OutboxRow> for RawEvent {
    fn from(r: OutboxRow) -> Self {
        Self {
            id: r.id,
            topic: r.topic,
            key: r.key,
            ce_type: r.ce_type,
            payload: r.payload,
            time: r.created_at,
            traceparent: r.traceparent,
            tracestate: r.tracestate,
        }
    }
}

/// Writes `event` to the outbox on `conn`; call it inside the transaction that makes the
/// change the event announces. Returns the event's `ce_id`.
pub async fn enqueue<E: Event>(conn: &mut AsyncPgConnection, event: &E) -> QueryResult<Uuid> {
    enqueue_raw(conn, RawEvent::new(event)).await
}

/// Writes a prepared event to the outbox (e.g. one bound for a non-default topic).
pub async fn enqueue_raw(conn: &mut AsyncPgConnection, raw: RawEvent) -> QueryResult<Uuid> {
    let id = raw.id;
    diesel::insert_into(outbox::table)
        .values(OutboxRow::from(raw))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Writes many events to the outbox in one statement (column arrays through `UNNEST`: 8
/// parameters however many events), for a transaction that makes many changes at once,
/// e.g. a batch consumer. Returns how many it wrote.
pub async fn enqueue_many(conn: &mut AsyncPgConnection, events: Vec<RawEvent>) -> QueryResult<usize> {
    use diesel::sql_types::{Array, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    if events.is_empty() {
        return Ok(0);
    }
    let n = events.len();
    let (mut id, mut topic, mut key, mut ce_type) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut payload, mut traceparent, mut tracestate, mut created_at) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for e in events {
        id.push(e.id);
        topic.push(e.topic);
        key.push(e.key);
        ce_type.push(e.ce_type);
        payload.push(e.payload);
        traceparent.push(e.traceparent);
        tracestate.push(e.tracestate);
        created_at.push(e.time);
    }
    diesel::sql_query(
        "INSERT INTO outbox (id, topic, key, ce_type, payload, traceparent, tracestate, created_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], \
                              $6::text[], $7::text[], $8::timestamptz[])",
    )
    .bind::<Array<SqlUuid>, _>(id)
    .bind::<Array<Text>, _>(topic)
    .bind::<Array<Text>, _>(key)
    .bind::<Array<Text>, _>(ce_type)
    .bind::<Array<Bytea>, _>(payload)
    .bind::<Array<Nullable<Text>>, _>(traceparent)
    .bind::<Array<Nullable<Text>>, _>(tracestate)
    .bind::<Array<Timestamptz>, _>(created_at)
    .execute(conn)
    .await
}

/// Number of events not yet published (for health and tests). The relay deletes what it
/// publishes; the filter skips rows a relay of the previous release (which marked rows
/// instead) may still publish while a rollout replaces it.
pub async fn pending(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::published_at.is_null())
        .count()
        .get_result(conn)
        .await
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database pool: {0}")]
    Pool(#[from] crate::db::PoolError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("kafka transaction: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Publishes outbox rows in Kafka transactions.
pub struct Relay {
    pool: PgPool,
    producer: EventProducer,
    batch_size: i64,
    idle_poll: Duration,
    send_delay: Option<Duration>,
}

impl Relay {
    /// `producer` must be transactional ([`EventProducer::transactional`]).
    pub async fn new(pool: PgPool, producer: EventProducer) -> Result<Self, RelayError> {
        let p = producer.clone();
        // Fences any predecessor with the same transactional.id and aborts its open batch.
        tokio::task::spawn_blocking(move || p.inner().init_transactions(Duration::from_secs(30))).await??;
        Ok(Self {
            pool,
            producer,
            batch_size: 500,
            idle_poll: Duration::from_millis(100),
            send_delay: None,
        })
    }

    pub fn with_batch_size(mut self, n: i64) -> Self {
        self.batch_size = n;
        self
    }

    /// Fault injection for tests: sends a batch's events one by one with this pause, so a
    /// test can kill the relay while a batch is half sent.
    pub fn with_send_delay(mut self, delay: Duration) -> Self {
        self.send_delay = Some(delay);
        self
    }

    /// Publishes one batch; returns how many events it published.
    ///
    /// One statement takes the batch: it deletes the oldest unpublished rows that no other
    /// relay holds (`FOR UPDATE SKIP LOCKED`) and returns them. The delete commits only
    /// after the Kafka transaction has: if publishing fails the transaction rolls back and
    /// the rows are there again; while it is open, the deleted rows stay locked, so no
    /// other relay can take them. A published row is of no further use, and deleting it
    /// writes a fraction of what marking it did (an UPDATE of `published_at` rewrote the
    /// whole row and its index entries), keeping the table as small as its backlog.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        use diesel::sql_types::BigInt;
        let mut conn = self.pool.get().await?;
        let producer = self.producer.clone();
        let batch_size = self.batch_size;
        let send_delay = self.send_delay;
        conn.transaction::<usize, RelayError, _>(async move |conn| {
            let mut rows: Vec<OutboxRow> = diesel::sql_query(
                "WITH batch AS MATERIALIZED ( \
                     SELECT id FROM outbox WHERE published_at IS NULL \
                     ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                 DELETE FROM outbox o USING batch WHERE o.id = batch.id \
                 RETURNING o.id, o.topic, o.key, o.ce_type, o.payload, o.traceparent, \
                           o.tracestate, o.created_at",
            )
            .bind::<BigInt, _>(batch_size)
            .load(conn)
            .await?;
            if rows.is_empty() {
                return Ok(0);
            }
            // RETURNING has no order; events of one key must go out in the order written.
            rows.sort_unstable_by_key(|r| r.id);
            let n = rows.len();
            let events: Vec<RawEvent> = rows.into_iter().map(RawEvent::from).collect();

            producer.inner().begin_transaction()?;
            let sent = match send_delay {
                None => futures::future::join_all(events.iter().map(|e| producer.send(e))).await,
                Some(d) => {
                    let mut sent = Vec::with_capacity(events.len());
                    for e in &events {
                        sent.push(producer.send(e).await);
                        tokio::time::sleep(d).await;
                    }
                    sent
                }
            };
            if let Some(Err(e)) = sent.into_iter().find(|r| r.is_err()) {
                let p = producer.clone();
                let _ =
                    tokio::task::spawn_blocking(move || p.inner().abort_transaction(Duration::from_secs(10)))
                        .await;
                return Err(e.into());
            }
            let p = producer.clone();
            tokio::task::spawn_blocking(move || p.inner().commit_transaction(Duration::from_secs(30)))
                .await??;
            Ok(n)
        })
        .await
    }

    /// Relays until `shutdown` (→ [`RelayExit::Shutdown`]), backing off while the database
    /// is down. A Kafka failure ends the run (→ [`RelayExit::ProducerFailed`]): a
    /// transaction whose abort timed out while the broker was away leaves the producer
    /// unusable ("conflicting abort_transaction call in progress"), so the caller starts a
    /// new one, whose `init_transactions` aborts whatever the old one left open.
    /// [`run_relay`] does that loop.
    pub async fn run(self, shutdown: CancellationToken) -> RelayExit {
        let mut failures = 0u32;
        loop {
            let wait = match self.relay_once().await {
                Ok(n) if n > 0 => {
                    crate::metrics::outbox_published(n);
                    failures = 0;
                    tracing::debug!(published = n, "outbox batch published");
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    self.idle_poll
                }
                Err(e @ (RelayError::Kafka(_) | RelayError::Join(_))) => {
                    tracing::warn!(error = %e, "outbox relay: Kafka failed; starting a new producer");
                    // Destroying a producer can block while librdkafka winds down.
                    let _ = tokio::task::spawn_blocking(move || drop(self)).await;
                    return RelayExit::ProducerFailed;
                }
                Err(e) => {
                    failures += 1;
                    let delay = Duration::from_millis(200 * 2u64.pow(failures.min(6)));
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "outbox relay failed");
                    delay
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("outbox relay stopped");
        RelayExit::Shutdown
    }
}

/// Why [`Relay::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayExit {
    Shutdown,
    ProducerFailed,
}

/// Runs the relay until `shutdown`: creates a transactional producer with `producer`,
/// shapes the relay with `configure`, and whenever Kafka is unreachable or the producer
/// fails, backs off (1 s doubling to 60 s) and starts over with a new producer.
pub async fn run_relay(
    pool: PgPool,
    producer: impl Fn() -> Result<EventProducer, rdkafka::error::KafkaError>,
    configure: impl Fn(Relay) -> Relay,
    shutdown: CancellationToken,
) -> Result<(), RelayError> {
    let mut delay = Duration::from_secs(1);
    loop {
        let relay = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = Relay::new(pool.clone(), producer()?) => r,
        };
        match relay {
            Ok(relay) => {
                tracing::info!("outbox relay started");
                if configure(relay).run(shutdown.clone()).await == RelayExit::Shutdown {
                    return Ok(());
                }
                delay = Duration::from_secs(1);
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "outbox relay cannot start yet");
                delay = (delay * 2).min(Duration::from_secs(60));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}
