//! A batching at-least-once Kafka consumer: the semantics of `platform::kafka::consume`,
//! with many messages per database transaction instead of one (throughput: one commit per
//! batch instead of one per event).
//!
//! For each batch (up to `max_messages` per assigned partition, or whatever arrived within
//! `max_wait` of the first; the next batch is read while this one is in the database), and
//! within it for each partition at once, a task each (so decoding and the handler's own work
//! use every core), in chunks of up to `max_messages` (partitions hold disjoint users, so
//! their transactions never touch the same rows):
//! 1. decode every message; one that cannot be decoded is dead-lettered;
//! 2. drop repeats of a `ce_id` inside the batch (a producer retry, a replay);
//! 3. call the handler once with the rest. It applies them in one transaction, skipping
//!    events already recorded in `processed_events`, and names the ones it refuses for good
//!    (dead-lettered). A transient failure retries the whole batch with backoff, never
//!    skipping it; a permanent failure of the batch as a whole splits it into one-event
//!    batches, so only the culprit is dead-lettered;
//! 4. only when every partition's chunks are committed, store the batch's offsets
//!    (committed in the background and on shutdown).
//!
//! Dead letters go to `<topic>.dlq` with the original key, payload and headers, plus
//! `dlq_error` and the original topic/partition/offset: platform's `DeadLetters`, group
//! consumer, header reading, envelope decoding and transient-failure retry.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    sync::Arc,
    time::Duration,
};

use contracts::Event;
use futures::{FutureExt, StreamExt};
use opentelemetry::trace::TraceContextExt;
use rdkafka::{
    consumer::{CommitMode, Consumer},
    error::KafkaError,
    message::{Message, OwnedMessage},
    Offset, TopicPartitionList,
};
use tokio_util::sync::CancellationToken;
use tracing::{field::Empty, Instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

use crate::kafka::{
    decode_message, group_consumer, header_map, retry_transient, ConsumerSettings, DeadLetters, Envelope,
    EventProducer, HandlerError, HeaderCarrier,
};

/// Where, as whom and how much at a time a batching consumer reads.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    pub consumer: ConsumerSettings,
    /// Most messages handed to the handler at once.
    pub max_messages: usize,
    /// How long to wait for more messages once the first one arrived.
    pub max_wait: Duration,
}

/// An event the handler refuses for good (its content contradicts the rules): it is
/// dead-lettered with `reason`. `index` is its position in the batch given to the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
}

/// What every partition's task of a batch shares.
struct Lanes<H> {
    settings: BatchSettings,
    handler: H,
    dlq: DeadLetters,
    shutdown: CancellationToken,
}

/// Runs the consumer until `shutdown` is cancelled. `handler` gets each batch as a shared
/// slice (retries reuse it) and answers the events it refused.
pub async fn consume_batches<E, H, Fut>(
    settings: BatchSettings,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), KafkaError>
where
    E: Event,
    H: Fn(Arc<[Envelope<E>]>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<Rejected>, HandlerError>> + Send + 'static,
{
    let s = &settings.consumer;
    // The loop stores offsets only after the batch's effect is committed.
    let consumer = group_consumer(s)?;
    // A dead letter waits at most 10 s for its acknowledgement before a retry.
    let producer = EventProducer::new(
        &s.brokers,
        "/expense-tracker/dead-letters",
        Duration::from_secs(10),
    )?;
    let dlq = DeadLetters::new(producer, s);
    tracing::info!(topic = %s.topic, group = %s.group_id, max_messages = settings.max_messages, "batch consumer started");
    let lanes = Arc::new(Lanes {
        settings: settings.clone(),
        handler,
        dlq,
        shutdown: shutdown.clone(),
    });

    // The next batch is read while the current one is in the database: a bounded hand-over
    // of one batch, so at most two batches are in memory and unstored.
    let (ready, mut batches) = tokio::sync::mpsc::channel::<Vec<OwnedMessage>>(1);
    let fetch = async {
        while let Some(batch) = next_batch(&consumer, &settings, &shutdown).await {
            if ready.send(batch).await.is_err() {
                break; // the processor stopped: what was read is redelivered
            }
        }
        drop(ready);
    };
    let apply = async {
        while let Some(batch) = batches.recv().await {
            let span = tracing::info_span!(
                "kafka.consume_batch",
                otel.name = %format!("{} process", s.topic),
                otel.kind = "consumer",
                messaging.system = "kafka",
                messaging.destination = %s.topic,
                messaging.batch.message_count = batch.len(),
                trace_id = Empty,
            );
            link_producers(&span, &batch);
            // One transaction per partition, all at once: partitions hold disjoint users
            // (the key is the user id), so they cannot contend for the same rows, and one
            // partition's events stay in order within its transaction. The database works
            // on one while the others' statements travel, and each partition is a task of
            // its own, so decoding and the handler's own work run on every core.
            let offsets = next_offsets(&batch);
            let tasks: Vec<_> = by_partition(batch, settings.max_messages)
                .into_iter()
                .map(|lane| {
                    let lanes = lanes.clone();
                    tokio::spawn(
                        async move {
                            for chunk in &lane {
                                let l = &*lanes;
                                if !process(&l.settings, &l.handler, &l.dlq, chunk, &l.shutdown).await {
                                    return false;
                                }
                            }
                            true
                        }
                        .instrument(span.clone()),
                    )
                })
                .collect();
            let mut done = true;
            for joined in futures::future::join_all(tasks).await {
                match joined {
                    Ok(d) => done &= d,
                    Err(e) => {
                        tracing::error!(error = %e, topic = %s.topic, "a partition's batch task failed; stopping");
                        done = false;
                    }
                }
            }
            // Shut down mid-batch (or a handler panicked): leave the offsets unstored so the
            // batch is redelivered (the partitions already committed change nothing then).
            if !done {
                break;
            }
            store_offsets(&consumer, offsets);
        }
        // Dropping the receiver ends the fetcher's wait to hand over.
        batches.close();
    };
    futures::future::join(fetch, apply).await;
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "final commit");
    }
    tracing::info!(topic = %s.topic, "batch consumer stopped");
    crate::kafka::close_consumer(consumer).await;
    Ok(())
}

/// `batch` split by partition, in offset order, each partition's messages in chunks of at
/// most `max` (one transaction each).
fn by_partition(batch: Vec<OwnedMessage>, max: usize) -> Vec<Vec<Vec<OwnedMessage>>> {
    let max = max.max(1);
    let mut lanes: Vec<(i32, Vec<Vec<OwnedMessage>>)> = vec![];
    for m in batch {
        let lane = match lanes.iter().position(|(p, _)| *p == m.partition()) {
            Some(i) => &mut lanes[i].1,
            None => {
                lanes.push((m.partition(), vec![]));
                &mut lanes.last_mut().expect("just pushed").1
            }
        };
        match lane.last_mut() {
            Some(chunk) if chunk.len() < max => chunk.push(m),
            _ => lane.push(vec![m]),
        }
    }
    lanes.into_iter().map(|(_, lane)| lane).collect()
}

/// How long a batch waits for the next message of a burst.
const BURST_GAP: Duration = Duration::from_millis(2);

/// Waits for a first message (or shutdown: `None`), then takes whatever else arrives
/// within `max_wait` without a pause longer than `BURST_GAP`, up to `max_messages`.
async fn next_batch(
    consumer: &crate::kafka::GroupConsumer,
    settings: &BatchSettings,
    shutdown: &CancellationToken,
) -> Option<Vec<OwnedMessage>> {
    // One stream for the whole batch (each `recv` registers and drops a waker slot).
    let mut stream = consumer.stream();
    let first = loop {
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            m = stream.next() => match m {
                Some(Ok(m)) => break m.detach(),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, topic = %settings.consumer.topic, "kafka receive error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => return None, // a consumer's stream never ends
            },
        }
    };
    // Up to `max_messages` per assigned partition: each partition gets its own transaction.
    let partitions = consumer.assignment().map_or(1, |a| a.count().max(1));
    let max = settings.max_messages.saturating_mul(partitions);
    let mut batch = Vec::with_capacity(max.min(16_384));
    batch.push(first);
    // Take what keeps arriving, up to `max_wait` in all; a pause of `BURST_GAP` means the
    // burst is over. Under load batches fill up; a lone event goes through at once instead
    // of waiting out `max_wait`.
    let deadline = tokio::time::Instant::now() + settings.max_wait;
    'fill: while batch.len() < max {
        // What librdkafka has already fetched is taken without a timer or a clock read per
        // message; only an empty queue waits (for at most `BURST_GAP`).
        while batch.len() < max {
            match stream.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(m.detach()),
                Some(Some(Err(e))) => {
                    tracing::warn!(error = %e, topic = %settings.consumer.topic, "kafka receive error");
                    break 'fill;
                }
                Some(None) => break 'fill,
                None => break,
            }
        }
        if batch.len() >= max {
            break;
        }
        let until = (tokio::time::Instant::now() + BURST_GAP).min(deadline);
        match tokio::time::timeout_at(until, stream.next()).await {
            Ok(Some(Ok(m))) => batch.push(m.detach()),
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, topic = %settings.consumer.topic, "kafka receive error");
                break;
            }
            Ok(None) | Err(_) => break,
        }
    }
    Some(batch)
}

/// Decodes, dedupes, handles and dead-letters one batch. `false` when shutdown interrupted
/// it before everything was committed or dead-lettered.
async fn process<E, H, Fut>(
    settings: &BatchSettings,
    handler: &H,
    dlq: &DeadLetters,
    batch: &[OwnedMessage],
    shutdown: &CancellationToken,
) -> bool
where
    E: Event,
    H: Fn(Arc<[Envelope<E>]>) -> Fut,
    Fut: Future<Output = Result<Vec<Rejected>, HandlerError>>,
{
    crate::metrics::consumed(&settings.consumer.topic, batch.len());
    let mut dead: Vec<(usize, String)> = vec![];
    let mut positions: Vec<usize> = vec![];
    let mut envelopes: Vec<Envelope<E>> = vec![];
    let mut seen: HashSet<Uuid> = HashSet::with_capacity(batch.len());
    for (i, msg) in batch.iter().enumerate() {
        match decode_message::<E>(msg) {
            Ok(env) if seen.insert(env.id) => {
                positions.push(i);
                envelopes.push(env);
            }
            Ok(env) => tracing::debug!(event_id = %env.id, "repeated in the batch; skipping"),
            Err(reason) => dead.push((i, reason)),
        }
    }
    let total = envelopes.len();
    if total > 0 {
        let envelopes: Arc<[Envelope<E>]> = envelopes.into();
        match retry(settings, handler, envelopes.clone(), shutdown).await {
            None => return false,
            Some(Ok(rejected)) => dead.extend(located(rejected, &positions)),
            Some(Err(reason)) if total == 1 => dead.push((positions[0], reason)),
            Some(Err(reason)) => {
                tracing::warn!(%reason, events = total, "batch failed permanently; retrying its events one by one");
                for (k, env) in envelopes.iter().enumerate() {
                    let one: Arc<[Envelope<E>]> = Arc::from(vec![env.clone()]);
                    match retry(settings, handler, one, shutdown).await {
                        None => return false,
                        Some(Ok(rejected)) => dead.extend(located(rejected, &positions[k..=k])),
                        Some(Err(reason)) => dead.push((positions[k], reason)),
                    }
                }
            }
        }
    }
    dead.sort_by_key(|(i, _)| *i);
    for (i, reason) in dead {
        tracing::warn!(%reason, partition = batch[i].partition(), offset = batch[i].offset(), dlq = %dlq.topic(), "dead-lettering message");
        if !dlq.send(&batch[i], &reason, shutdown).await {
            return false;
        }
    }
    true
}

/// Hands `batch` to the handler, retrying transient failures (platform's rules).
async fn retry<E, H, Fut>(
    settings: &BatchSettings,
    handler: &H,
    batch: Arc<[Envelope<E>]>,
    shutdown: &CancellationToken,
) -> Option<Result<Vec<Rejected>, String>>
where
    E: Event,
    H: Fn(Arc<[Envelope<E>]>) -> Fut,
    Fut: Future<Output = Result<Vec<Rejected>, HandlerError>>,
{
    let what = format!("batch of {} events", batch.len());
    retry_transient(&settings.consumer, &what, shutdown, || handler(batch.clone())).await
}

/// The batch positions of rejected events. An index outside the batch is a handler bug:
/// logged and ignored.
fn located(rejected: Vec<Rejected>, positions: &[usize]) -> Vec<(usize, String)> {
    rejected
        .into_iter()
        .filter_map(|r| match positions.get(r.index) {
            Some(&i) => Some((i, r.reason)),
            None => {
                tracing::error!(index = r.index, reason = %r.reason, "handler rejected an event outside the batch");
                None
            }
        })
        .collect()
}

/// Per partition, the offset after the batch's last message.
fn next_offsets(batch: &[OwnedMessage]) -> TopicPartitionList {
    let mut next: HashMap<(&str, i32), i64> = HashMap::new();
    for m in batch {
        let e = next.entry((m.topic(), m.partition())).or_insert(0);
        *e = (*e).max(m.offset() + 1);
    }
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in next {
        if let Err(e) = tpl.add_partition_offset(topic, partition, Offset::Offset(offset)) {
            tracing::warn!(error = %e, "building the offset list");
        }
    }
    tpl
}

/// Stores the offsets of a batch whose effect is committed.
fn store_offsets(consumer: &crate::kafka::GroupConsumer, tpl: TopicPartitionList) {
    // Fails for partitions revoked meanwhile: their new owner redelivers, which changes nothing.
    if let Err(e) = consumer.store_offsets(&tpl) {
        tracing::warn!(error = %e, "storing offsets failed; the batch may be redelivered");
    }
}

fn link_producers(span: &tracing::Span, batch: &[OwnedMessage]) {
    if let [only] = batch {
        crate::telemetry::adopt_remote_parent(span, &HeaderCarrier(header_map(only)));
        return;
    }
    opentelemetry::global::get_text_map_propagator(|propagator| {
        for msg in batch.iter().take(128) {
            let cx = propagator.extract(&HeaderCarrier(header_map(msg)));
            let sc = cx.span().span_context().clone();
            if sc.is_valid() {
                span.add_link(sc);
            }
        }
    });
    span.record("trace_id", crate::telemetry::trace_id(span).as_str());
}
