//! A batching at-least-once Kafka consumer: the semantics of `platform::kafka::consume`,
//! with many messages per database transaction instead of one (throughput: one commit per
//! batch instead of one per event). Written to move into platform as-is.
//!
//! For each batch (up to `max_messages`, or whatever arrived within `max_wait` of the first):
//! 1. decode every message; one that cannot be decoded is dead-lettered;
//! 2. drop repeats of a `ce_id` inside the batch (a producer retry, a replay);
//! 3. call the handler once with the rest. It applies them in one transaction, skipping
//!    events already recorded in `processed_events`, and names the ones it refuses for good
//!    (dead-lettered). A transient failure retries the whole batch with backoff, never
//!    skipping it; a permanent failure of the batch as a whole splits it into one-event
//!    batches, so only the culprit is dead-lettered;
//! 4. only then store the offsets (committed in the background and on shutdown).
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
use opentelemetry::trace::TraceContextExt;
use platform::kafka::{
    decode, group_consumer, header_map, retry_transient, ConsumerSettings, DeadLetters, Envelope,
    EventProducer, HandlerError, HeaderCarrier,
};
use rdkafka::{
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::KafkaError,
    message::{Message, OwnedMessage},
    Offset, TopicPartitionList,
};
use tokio_util::sync::CancellationToken;
use tracing::{field::Empty, Instrument};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use uuid::Uuid;

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

/// Runs the consumer until `shutdown` is cancelled. `handler` gets each batch as a shared
/// slice (retries reuse it) and answers the events it refused.
pub async fn consume_batches<E, H, Fut>(
    settings: BatchSettings,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), KafkaError>
where
    E: Event,
    H: Fn(Arc<[Envelope<E>]>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Vec<Rejected>, HandlerError>> + Send,
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

    while let Some(batch) = next_batch(&consumer, &settings, &shutdown).await {
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
        let done = process(&settings, &handler, &dlq, &batch, &shutdown)
            .instrument(span)
            .await;
        // Shut down mid-batch: leave the offsets unstored so the batch is redelivered.
        if !done {
            break;
        }
        store_offsets(&consumer, &batch);
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "final commit");
    }
    tracing::info!(topic = %s.topic, "batch consumer stopped");
    platform::kafka::close_consumer(consumer).await;
    Ok(())
}

/// How long a batch waits for the next message of a burst.
const BURST_GAP: Duration = Duration::from_millis(2);

/// Waits for a first message (or shutdown: `None`), then takes whatever else arrives
/// within `max_wait` without a pause longer than `BURST_GAP`, up to `max_messages`.
async fn next_batch(
    consumer: &StreamConsumer,
    settings: &BatchSettings,
    shutdown: &CancellationToken,
) -> Option<Vec<OwnedMessage>> {
    let first = loop {
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            m = consumer.recv() => match m {
                Ok(m) => break m.detach(),
                Err(e) => {
                    tracing::warn!(error = %e, topic = %settings.consumer.topic, "kafka receive error");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
    };
    let mut batch = Vec::with_capacity(settings.max_messages.min(4096));
    batch.push(first);
    // Take what keeps arriving, up to `max_wait` in all; a pause of `BURST_GAP` means the
    // burst is over. Under load batches fill up; a lone event goes through at once instead
    // of waiting out `max_wait`.
    let deadline = tokio::time::Instant::now() + settings.max_wait;
    while batch.len() < settings.max_messages {
        let until = (tokio::time::Instant::now() + BURST_GAP).min(deadline);
        match tokio::time::timeout_at(until, consumer.recv()).await {
            Ok(Ok(m)) => batch.push(m.detach()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, topic = %settings.consumer.topic, "kafka receive error");
                break;
            }
            Err(_) => break,
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
    let mut dead: Vec<(usize, String)> = vec![];
    let mut positions: Vec<usize> = vec![];
    let mut envelopes: Vec<Envelope<E>> = vec![];
    let mut seen: HashSet<Uuid> = HashSet::with_capacity(batch.len());
    for (i, msg) in batch.iter().enumerate() {
        match decode::<E>(msg, &header_map(msg)) {
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

/// Stores, per partition, the offset after the batch's last message.
fn store_offsets(consumer: &StreamConsumer, batch: &[OwnedMessage]) {
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
    // Fails for partitions revoked meanwhile: their new owner redelivers, which changes nothing.
    if let Err(e) = consumer.store_offsets(&tpl) {
        tracing::warn!(error = %e, "storing offsets failed; the batch may be redelivered");
    }
}

fn link_producers(span: &tracing::Span, batch: &[OwnedMessage]) {
    if let [only] = batch {
        platform::telemetry::adopt_remote_parent(span, &HeaderCarrier(header_map(only)));
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
    span.record("trace_id", platform::telemetry::trace_id(span).as_str());
}
