//! Transactional outbox: a service writes its change and the event in one database
//! transaction ([`enqueue`]); the [`Relay`] publishes the rows and deletes them in the
//! database transaction that took them, committed after the Kafka one. A transaction that
//! writes many events at once (a batch consumer) writes them as one row of `outbox_batches`
//! ([`enqueue_batch`]); the relay publishes both tables' rows merged in id order.
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

/// Writes many events to the outbox as one row of `outbox_batches` per run of events that
/// share topic, type and trace context (a batch consumer's events all do: one row), in one
/// statement per row. The relay publishes them as [`enqueue_many`]'s, one Kafka message per
/// event with its own `ce_id`, key, time and payload, in the order given. What it saves is
/// the database's work per event: one heap tuple and one index entry for the whole batch,
/// written here and deleted by the relay, instead of one of each per event. Returns how
/// many events it wrote.
pub async fn enqueue_batch(conn: &mut AsyncPgConnection, events: Vec<RawEvent>) -> QueryResult<usize> {
    use diesel::sql_types::{Array, Bytea, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    let total = events.len();
    let mut events = events.into_iter().peekable();
    while let Some(first) = events.next() {
        let mut ids = vec![first.id];
        let mut keys = vec![first.key];
        let mut times = vec![first.time];
        let mut payloads = vec![first.payload];
        while let Some(e) = events.next_if(|e| {
            e.topic == first.topic
                && e.ce_type == first.ce_type
                && e.traceparent == first.traceparent
                && e.tracestate == first.tracestate
        }) {
            ids.push(e.id);
            keys.push(e.key);
            times.push(e.time);
            payloads.push(e.payload);
        }
        let n = i32::try_from(ids.len()).unwrap_or(i32::MAX);
        diesel::sql_query(
            "INSERT INTO outbox_batches (id, topic, ce_type, traceparent, tracestate, events, \
                                         event_ids, keys, times, payloads) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<Text, _>(first.topic)
        .bind::<Text, _>(first.ce_type)
        .bind::<Nullable<Text>, _>(first.traceparent)
        .bind::<Nullable<Text>, _>(first.tracestate)
        .bind::<Integer, _>(n)
        .bind::<Array<SqlUuid>, _>(ids)
        .bind::<Array<Text>, _>(keys)
        .bind::<Array<Timestamptz>, _>(times)
        .bind::<Array<Bytea>, _>(payloads)
        .execute(conn)
        .await?;
    }
    Ok(total)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Number of events not yet published (for health and tests), in both tables. The relay
/// deletes what it publishes; the filter skips rows a relay of the previous release (which
/// marked rows instead) may still publish while a rollout replaces it.
pub async fn pending(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    let c: Count = diesel::sql_query(
        "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL) \
              + (SELECT coalesce(sum(events), 0) FROM outbox_batches)::int8 AS n",
    )
    .get_result(conn)
    .await?;
    Ok(c.n)
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
    /// [`take`] deletes the oldest unpublished events that no other relay holds (`FOR
    /// UPDATE SKIP LOCKED`) and returns them. The delete commits only after the Kafka
    /// transaction has: if publishing fails the transaction rolls back and the rows are
    /// there again; while it is open, the deleted rows stay locked, so no other relay can
    /// take them. A published row is of no further use, and deleting it writes a fraction of
    /// what marking it did (an UPDATE of `published_at` rewrote the whole row and its index
    /// entries), keeping the tables as small as their backlog.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let mut conn = self.pool.get().await?;
        let producer = self.producer.clone();
        let batch_size = self.batch_size;
        let send_delay = self.send_delay;
        conn.transaction::<usize, RelayError, _>(async move |conn| {
            let events = take(conn, batch_size).await?;
            if events.is_empty() {
                return Ok(0);
            }
            let n = events.len();

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

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    packed: bool,
}

/// A row of `outbox_batches`: many events sharing topic, type and trace context.
#[derive(QueryableByName)]
struct BatchRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    topic: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    ce_type: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    traceparent: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    tracestate: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Uuid>)]
    event_ids: Vec<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
    keys: Vec<String>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Timestamptz>)]
    times: Vec<DateTime<Utc>>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Bytea>)]
    payloads: Vec<Vec<u8>>,
}

impl BatchRow {
    /// Its events, in the order they were written. The table's CHECK keeps the arrays the
    /// same length; a row that is not (a hand edit) is published as far as it is whole.
    fn events(self) -> Vec<RawEvent> {
        let n = self.event_ids.len();
        if self.keys.len() != n || self.times.len() != n || self.payloads.len() != n {
            tracing::error!(row = %self.id, "outbox batch row with arrays of different lengths");
        }
        let (topic, ce_type, traceparent, tracestate) =
            (self.topic, self.ce_type, self.traceparent, self.tracestate);
        self.event_ids
            .into_iter()
            .zip(self.keys)
            .zip(self.times)
            .zip(self.payloads)
            .map(|(((id, key), time), payload)| RawEvent {
                id,
                topic: topic.clone(),
                key,
                ce_type: ce_type.clone(),
                payload,
                time,
                traceparent: traceparent.clone(),
                tracestate: tracestate.clone(),
            })
            .collect()
    }
}

/// Deletes and returns the oldest unpublished events, about `budget` of them, from `outbox`
/// (one event a row) and `outbox_batches` (many a row) merged in id order, so the events of
/// one key go out in the order they were written whichever table holds them. A batch row is
/// taken whole: the first row always, then rows while fewer than `budget` events are taken.
/// Rows another relay holds are skipped.
async fn take(conn: &mut AsyncPgConnection, budget: i64) -> QueryResult<Vec<RawEvent>> {
    use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
    // Unlocked: which rows come first. The deletes below lock them, skipping held ones.
    let chosen: Vec<Candidate> = diesel::sql_query(
        "WITH candidates AS ( \
             (SELECT id, 1 AS events, false AS packed FROM outbox WHERE published_at IS NULL \
              ORDER BY id LIMIT $1) \
             UNION ALL \
             (SELECT id, events, true FROM outbox_batches ORDER BY id LIMIT $1)) \
         SELECT id, packed FROM ( \
             SELECT id, packed, sum(events) OVER (ORDER BY id) - events AS before FROM candidates) c \
         WHERE before < $1",
    )
    .bind::<BigInt, _>(budget.max(1))
    .load(conn)
    .await?;
    let (packed, single): (Vec<Candidate>, Vec<Candidate>) = chosen.into_iter().partition(|c| c.packed);
    let mut rows: Vec<(Uuid, Vec<RawEvent>)> = Vec::with_capacity(single.len() + packed.len());
    if !single.is_empty() {
        let taken: Vec<OutboxRow> = diesel::sql_query(
            "WITH batch AS MATERIALIZED ( \
                 SELECT id FROM outbox WHERE id = ANY($1) AND published_at IS NULL \
                 FOR UPDATE SKIP LOCKED) \
             DELETE FROM outbox o USING batch WHERE o.id = batch.id \
             RETURNING o.id, o.topic, o.key, o.ce_type, o.payload, o.traceparent, \
                       o.tracestate, o.created_at",
        )
        .bind::<Array<SqlUuid>, _>(single.iter().map(|c| c.id).collect::<Vec<_>>())
        .load(conn)
        .await?;
        rows.extend(taken.into_iter().map(|r| (r.id, vec![RawEvent::from(r)])));
    }
    if !packed.is_empty() {
        let taken: Vec<BatchRow> = diesel::sql_query(
            "WITH batch AS MATERIALIZED ( \
                 SELECT id FROM outbox_batches WHERE id = ANY($1) FOR UPDATE SKIP LOCKED) \
             DELETE FROM outbox_batches o USING batch WHERE o.id = batch.id \
             RETURNING o.id, o.topic, o.ce_type, o.traceparent, o.tracestate, o.event_ids, \
                       o.keys, o.times, o.payloads",
        )
        .bind::<Array<SqlUuid>, _>(packed.iter().map(|c| c.id).collect::<Vec<_>>())
        .load(conn)
        .await?;
        rows.extend(taken.into_iter().map(|r| (r.id, r.events())));
    }
    // RETURNING has no order.
    rows.sort_unstable_by_key(|(id, _)| *id);
    Ok(rows.into_iter().flat_map(|(_, events)| events).collect())
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
