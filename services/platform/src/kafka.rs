//! Kafka with protobuf values and CloudEvents binary-mode headers.
//!
//! - [`EventProducer`]: idempotent (`enable.idempotence`, `acks=all`), every publish awaits
//!   the broker's acknowledgement.
//! - [`consume`]: at-least-once consumer loop. The handler's effect is committed first, then
//!   the offset is stored; undecodable messages go to `<topic>.dlq` with the error in
//!   headers; transient failures are retried with backoff, never skipped.

use std::{collections::HashMap, future::Future, time::Duration};

use chrono::{DateTime, Utc};
use contracts::Event;
use opentelemetry::propagation::Extractor;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::ClientConfig,
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::{KafkaError, RDKafkaErrorCode},
    message::{Header, Headers, Message, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use tokio_util::sync::CancellationToken;
use tracing::{field::Empty, Instrument, Span};
use uuid::Uuid;

/// CloudEvents header names (Kafka protocol binding, binary content mode).
pub mod headers {
    pub const SPECVERSION: &str = "ce_specversion";
    pub const ID: &str = "ce_id";
    pub const TYPE: &str = "ce_type";
    pub const SOURCE: &str = "ce_source";
    pub const TIME: &str = "ce_time";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const PROTOBUF: &str = "application/protobuf";
    /// Why a message was dead-lettered.
    pub const DLQ_ERROR: &str = "dlq_error";
    pub const DLQ_TOPIC: &str = "dlq_original_topic";
    pub const DLQ_PARTITION: &str = "dlq_original_partition";
    pub const DLQ_OFFSET: &str = "dlq_original_offset";
    pub const DLQ_CONSUMER: &str = "dlq_consumer";
}

/// An event ready to be sent: what the outbox stores and the producer writes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    pub id: Uuid,
    pub topic: String,
    pub key: String,
    pub ce_type: String,
    pub payload: Vec<u8>,
    pub time: DateTime<Utc>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// The W3C trace context (`traceparent`, `tracestate`) an event carries: the current
/// span's, read once for the many events one transaction writes ([`RawEvent::with_trace`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceContext {
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The current span's context.
    pub fn current() -> Self {
        let mut trace: HashMap<String, String> = HashMap::new();
        crate::telemetry::inject(&Span::current(), &mut trace);
        Self {
            traceparent: trace.remove("traceparent"),
            tracestate: trace.remove("tracestate").filter(|s| !s.is_empty()),
        }
    }
}

impl RawEvent {
    /// Encodes `event` with a fresh UUIDv7 id and the current trace context.
    pub fn new<E: Event>(event: &E) -> Self {
        Self::with_trace(event, &TraceContext::current())
    }

    /// [`RawEvent::new`] with a trace context read beforehand: a transaction writing many
    /// events reads it once ([`TraceContext::current`]) instead of once per event.
    pub fn with_trace<E: Event>(event: &E, trace: &TraceContext) -> Self {
        Self {
            id: Uuid::now_v7(),
            topic: E::TOPIC.to_owned(),
            key: event.user_id().to_owned(),
            ce_type: E::TYPE.to_owned(),
            payload: event.encode_to_vec(),
            time: Utc::now(),
            traceparent: trace.traceparent.clone(),
            tracestate: trace.tracestate.clone(),
        }
    }

    fn headers(&self, source: &str) -> OwnedHeaders {
        let time = self.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let id = self.id.to_string();
        let mut h = OwnedHeaders::new()
            .insert(Header {
                key: headers::SPECVERSION,
                value: Some("1.0"),
            })
            .insert(Header {
                key: headers::ID,
                value: Some(&id),
            })
            .insert(Header {
                key: headers::TYPE,
                value: Some(&self.ce_type),
            })
            .insert(Header {
                key: headers::SOURCE,
                value: Some(source),
            })
            .insert(Header {
                key: headers::TIME,
                value: Some(&time),
            })
            .insert(Header {
                key: headers::CONTENT_TYPE,
                value: Some(headers::PROTOBUF),
            });
        if let Some(tp) = &self.traceparent {
            h = h.insert(Header {
                key: "traceparent",
                value: Some(tp),
            });
        }
        if let Some(ts) = &self.tracestate {
            h = h.insert(Header {
                key: "tracestate",
                value: Some(ts),
            });
        }
        h
    }
}

/// Base client settings shared by producers and consumers.
fn client_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        // librdkafka logs through our tracing subscriber via its own log; keep it terse.
        .set("log_level", "4");
    c
}

/// Idempotent producer of protobuf events with CloudEvents headers.
#[derive(Clone)]
pub struct EventProducer {
    producer: FutureProducer,
    source: String,
    timeout: Duration,
    topic_suffix: String,
}

impl EventProducer {
    /// `source` becomes `ce_source` (e.g. `/expense-tracker/auth-service`). A publish fails
    /// after `timeout` without an acknowledgement.
    pub fn new(brokers: &str, source: &str, timeout: Duration) -> Result<Self, KafkaError> {
        let producer = client_config(brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("message.timeout.ms", timeout.as_millis().to_string())
            .create()?;
        Ok(Self {
            producer,
            source: source.to_owned(),
            timeout,
            topic_suffix: String::new(),
        })
    }

    /// A transactional producer (for the outbox relay): `transactional_id` must be stable
    /// across restarts of the same relay, so a restarted relay fences its predecessor and
    /// aborts whatever batch it left open.
    pub fn transactional(
        brokers: &str,
        source: &str,
        transactional_id: &str,
        timeout: Duration,
    ) -> Result<Self, KafkaError> {
        let producer: FutureProducer = client_config(brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "2")
            .set("transactional.id", transactional_id)
            // An abandoned transaction blocks read_committed consumers until it times out.
            .set("transaction.timeout.ms", "15000")
            // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
            .set("message.timeout.ms", timeout.as_millis().min(15_000).to_string())
            .create()?;
        Ok(Self {
            producer,
            source: source.to_owned(),
            timeout,
            topic_suffix: String::new(),
        })
    }

    /// Appends `suffix` to every topic this producer writes to (see [`topic_name`]).
    pub fn with_topic_suffix(mut self, suffix: &str) -> Self {
        self.topic_suffix = suffix.to_owned();
        self
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Encodes and publishes `event`, returning its `ce_id` once the broker acknowledged it.
    pub async fn publish<E: Event>(&self, event: &E) -> Result<Uuid, KafkaError> {
        let raw = RawEvent::new(event);
        self.send(&raw).await?;
        Ok(raw.id)
    }

    /// Publishes a prepared event and waits for the acknowledgement.
    pub async fn send(&self, raw: &RawEvent) -> Result<(), KafkaError> {
        let topic = topic_name(&raw.topic, &self.topic_suffix);
        let record = FutureRecord::to(&topic)
            .key(raw.key.as_bytes())
            .payload(raw.payload.as_slice())
            .timestamp(raw.time.timestamp_millis())
            .headers(raw.headers(&self.source));
        let started = std::time::Instant::now();
        let sent = self
            .producer
            .send(record, self.timeout)
            .await
            .map(|_| ())
            .map_err(|(e, _)| e);
        crate::metrics::published(&raw.topic, sent.is_ok(), started);
        sent
    }

    /// Sends a message as-is (used for dead-lettering).
    async fn send_with_headers(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        headers: OwnedHeaders,
    ) -> Result<(), KafkaError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(headers);
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(p) = payload {
            record = record.payload(p);
        }
        self.producer
            .send(record, self.timeout)
            .await
            .map(|_| ())
            .map_err(|(e, _)| e)
    }

    /// The underlying producer, for transactions.
    pub(crate) fn inner(&self) -> &FutureProducer {
        &self.producer
    }
}

/// The actual name of topic `base` in a namespace: `KAFKA_TOPIC_SUFFIX` lets tests (and
/// shared clusters) give each app its own topics, e.g. `auth.user-registered.v1-3f2a…`.
pub fn topic_name(base: &str, suffix: &str) -> String {
    format!("{base}{suffix}")
}

/// [`ensure_topics`], retried with backoff (0.5 s doubling to 30 s) while the broker is
/// unreachable, so a service can start before Kafka and catch up. `false` if `stop` was
/// cancelled first.
pub async fn ensure_topics_until_done(
    brokers: &str,
    topics: &[&str],
    partitions: i32,
    stop: &tokio_util::sync::CancellationToken,
) -> bool {
    let mut delay = Duration::from_millis(500);
    loop {
        let attempt = tokio::time::timeout(
            Duration::from_secs(15),
            ensure_topics(brokers, topics, partitions),
        );
        let failure = tokio::select! {
            _ = stop.cancelled() => return false,
            r = attempt => match r {
                Ok(Ok(())) => return true,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "timed out".to_owned(),
            },
        };
        tracing::warn!(error = %failure, retry_in_ms = delay.as_millis() as u64, ?topics, "creating Kafka topics failed");
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// Creates the topics (and their dead-letter topics) that do not exist yet, with the
/// broker's default replication factor. In a cluster, Strimzi KafkaTopic objects do this;
/// locally and in tests, services call it at start-up.
pub async fn ensure_topics(brokers: &str, topics: &[&str], partitions: i32) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = client_config(brokers).create()?;
    let mut names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    names.extend(topics.iter().map(|t| contracts::topics::dlq(t)));
    let new: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(-1)))
        .collect();
    let results = admin
        .create_topics(
            &new,
            &AdminOptions::new()
                .operation_timeout(Some(Duration::from_secs(10)))
                .request_timeout(Some(Duration::from_secs(10))),
        )
        .await?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::AdminOp(code))
                    .inspect_err(|_| tracing::error!(%topic, "create topic"))
            }
        }
    }
    Ok(())
}

/// A decoded event with its envelope.
#[derive(Debug, Clone)]
pub struct Envelope<E> {
    /// CloudEvents `ce_id`: the dedupe key.
    pub id: Uuid,
    pub event: E,
    pub time: Option<DateTime<Utc>>,
    pub source: Option<String>,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// How a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (database or dependency unreachable): retried with backoff, the
    /// partition waits.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (the event contradicts the data): dead-lettered.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<diesel::result::Error> for HandlerError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        match &e {
            D::DatabaseError(
                K::UniqueViolation | K::ForeignKeyViolation | K::NotNullViolation | K::CheckViolation,
                _,
            ) => HandlerError::Permanent(e.to_string()),
            _ => HandlerError::Transient(e.to_string()),
        }
    }
}

impl From<crate::db::PoolError> for HandlerError {
    fn from(e: crate::db::PoolError) -> Self {
        crate::metrics::pool_error(&e);
        HandlerError::Transient(e.to_string())
    }
}

impl From<crate::Error> for HandlerError {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Unavailable(m) => HandlerError::Transient(m),
            crate::Error::Internal(m) => HandlerError::Transient(m),
            other => HandlerError::Permanent(other.to_string()),
        }
    }
}

/// Where and as whom a consumer reads.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    pub brokers: String,
    pub group_id: String,
    pub topic: String,
    /// Bounds of the retry backoff for transient failures.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl ConsumerSettings {
    pub fn new(brokers: &str, group_id: &str, topic: &str) -> Self {
        Self {
            brokers: brokers.to_owned(),
            group_id: group_id.to_owned(),
            topic: topic.to_owned(),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// A message's headers as an OpenTelemetry extractor (W3C `traceparent`/`tracestate`).
pub struct HeaderCarrier<'a>(pub HashMap<&'a str, &'a str>);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).copied()
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().copied().collect()
    }
}

/// A message's UTF-8 headers by name (others are left out).
pub fn header_map<M: Message>(msg: &M) -> HashMap<&str, &str> {
    let mut map = HashMap::new();
    if let Some(h) = msg.headers() {
        for header in h.iter() {
            if let Some(v) = header.value.and_then(|v| std::str::from_utf8(v).ok()) {
                map.insert(header.key, v);
            }
        }
    }
    map
}

/// Decodes a message (with its [`header_map`]) into an envelope, or says why it cannot be:
/// the reason a dead letter carries.
pub fn decode<E: Event>(msg: &impl Message, headers: &HashMap<&str, &str>) -> Result<Envelope<E>, String> {
    let ce = CeHeaders {
        id: headers.get(headers::ID).copied(),
        ce_type: headers.get(headers::TYPE).copied(),
        time: headers.get(headers::TIME).copied(),
        source: headers.get(headers::SOURCE).copied(),
    };
    decode_with(msg, ce)
}

/// [`decode`] for a consumer that needs no other header: the CloudEvents headers are
/// picked in one pass over the message's, without building a map (a batch consumer decodes
/// thousands of messages per batch).
pub fn decode_message<E: Event>(msg: &impl Message) -> Result<Envelope<E>, String> {
    let mut ce = CeHeaders::default();
    if let Some(h) = msg.headers() {
        for header in h.iter() {
            let slot = match header.key {
                headers::ID => &mut ce.id,
                headers::TYPE => &mut ce.ce_type,
                headers::TIME => &mut ce.time,
                headers::SOURCE => &mut ce.source,
                _ => continue,
            };
            // As in `header_map`: a non-UTF-8 value is no value, the last one wins.
            if let Some(v) = header.value.and_then(|v| std::str::from_utf8(v).ok()) {
                *slot = Some(v);
            }
        }
    }
    decode_with(msg, ce)
}

/// The CloudEvents headers [`decode`] reads.
#[derive(Default)]
struct CeHeaders<'a> {
    id: Option<&'a str>,
    ce_type: Option<&'a str>,
    time: Option<&'a str>,
    source: Option<&'a str>,
}

fn decode_with<E: Event>(msg: &impl Message, ce: CeHeaders<'_>) -> Result<Envelope<E>, String> {
    let id = ce.id.ok_or("missing ce_id header")?;
    let id = Uuid::parse_str(id).map_err(|e| format!("ce_id {id:?} is not a UUID: {e}"))?;
    match ce.ce_type {
        Some(t) if t == E::TYPE => {}
        Some(t) => return Err(format!("ce_type {t:?} is not {}", E::TYPE)),
        None => return Err("missing ce_type header".into()),
    }
    let payload = msg.payload().ok_or("empty payload")?;
    let event = E::decode(payload).map_err(|e| format!("undecodable {}: {e}", E::TYPE))?;
    let time = ce
        .time
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(Envelope {
        id,
        event,
        time,
        source: ce.source.map(str::to_owned),
        topic: msg.topic().to_owned(),
        partition: msg.partition(),
        offset: msg.offset(),
    })
}

/// Runs an at-least-once consumer of `E` until `shutdown` is cancelled.
///
/// For each message: decode (failure → DLQ), call `handler` (transient failure → retry with
/// backoff until it succeeds or shutdown; permanent → DLQ), then store the offset. Offsets
/// are committed in the background and once more on shutdown.
pub async fn consume<E, H, Fut>(
    settings: ConsumerSettings,
    dlq: EventProducer,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), KafkaError>
where
    E: Event,
    H: Fn(Envelope<E>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    let consumer = group_consumer(&settings)?;
    let dlq = DeadLetters::new(dlq, &settings);
    tracing::info!(topic = %settings.topic, group = %settings.group_id, "consumer started");

    loop {
        let msg = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = consumer.recv() => m,
        };
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, topic = %settings.topic, "kafka receive error");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        crate::metrics::consumed(&settings.topic, 1);
        let headers = header_map(&msg);
        let span = tracing::info_span!(
            "kafka.consume",
            otel.name = %format!("{} process", settings.topic),
            otel.kind = "consumer",
            messaging.system = "kafka",
            messaging.destination = %settings.topic,
            messaging.kafka.partition = msg.partition(),
            messaging.kafka.offset = msg.offset(),
            event_id = Empty,
            trace_id = Empty,
        );
        crate::telemetry::adopt_remote_parent(&span, &HeaderCarrier(headers.clone()));

        let outcome = async {
            match decode::<E>(&msg, &headers) {
                Ok(envelope) => {
                    Span::current().record("event_id", envelope.id.to_string());
                    retry_transient(&settings, "event", &shutdown, || handler(envelope.clone())).await
                }
                Err(reason) => Some(Err(reason)),
            }
        }
        .instrument(span.clone())
        .await;

        match outcome {
            // Shut down mid-retry: leave the offset unstored so the message is redelivered.
            None => break,
            Some(Ok(())) => {}
            Some(Err(reason)) => {
                let _g = span.enter();
                tracing::warn!(reason = %reason, dlq = %dlq.topic(), "dead-lettering message");
                drop(_g);
                if !dlq.send(&msg, &reason, &shutdown).await {
                    break;
                }
            }
        }
        if let Err(e) = consumer.store_offset_from_message(&msg) {
            tracing::warn!(error = %e, "storing offset failed; the message may be redelivered");
        }
    }
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        tracing::debug!(error = %e, "final commit");
    }
    tracing::info!(topic = %settings.topic, "consumer stopped");
    close_consumer(consumer).await;
    Ok(())
}

/// Drops a consumer off the async worker threads, waiting at most 5 s. Dropping closes it
/// (leaves the group), and librdkafka's close waits for ever while every broker is down: on
/// a worker thread that would stall the runtime, and with it the service's shutdown.
pub async fn close_consumer<C: Send + 'static>(consumer: C) {
    let closing = tokio::task::spawn_blocking(move || drop(consumer));
    if tokio::time::timeout(Duration::from_secs(5), closing)
        .await
        .is_err()
    {
        tracing::warn!("the Kafka consumer did not close within 5 s (brokers down?); leaving it behind");
    }
}

/// Runs `attempt` until it succeeds (`Some(Ok)`), fails permanently (`Some(Err)`), or
/// shutdown interrupts a retry (`None`); transient failures are retried with jittered
/// exponential backoff between `settings.min_backoff` and `max_backoff`, never given up.
/// `what` names the work in the retry log (e.g. "batch of 12 events").
pub async fn retry_transient<T, F, Fut>(
    settings: &ConsumerSettings,
    what: &str,
    shutdown: &CancellationToken,
    mut attempt: F,
) -> Option<Result<T, String>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, HandlerError>>,
{
    use backon::BackoffBuilder;
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(settings.min_backoff)
        .with_max_delay(settings.max_backoff)
        .with_jitter()
        .without_max_times()
        .build();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        match attempt().await {
            Ok(done) => return Some(Ok(done)),
            Err(HandlerError::Permanent(reason)) => return Some(Err(reason)),
            Err(HandlerError::Transient(reason)) => {
                crate::metrics::process_failure(&settings.topic);
                let delay = backoff.next().unwrap_or(settings.max_backoff);
                tracing::warn!(attempt = attempts, error = %reason, %what, retry_in_ms = delay.as_millis() as u64, "transient failure; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// Platform's group consumer: its statistics feed `messaging_kafka_consumer_lag`.
pub type GroupConsumer = StreamConsumer<crate::metrics::KafkaStats>;

/// A consumer group's member, subscribed to `settings.topic`: at-least-once (offsets stored
/// by the caller only after the effect commits, committed in the background and on
/// shutdown), reading only committed transactions.
pub fn group_consumer(settings: &ConsumerSettings) -> Result<GroupConsumer, KafkaError> {
    let consumer: GroupConsumer = client_config(&settings.brokers)
        .set("group.id", &settings.group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "500")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set(
            "statistics.interval.ms",
            crate::metrics::kafka_statistics_interval_ms(),
        )
        .create_with_context(crate::metrics::KafkaStats::new(&settings.group_id))?;
    consumer.subscribe(&[&settings.topic])?;
    Ok(consumer)
}

/// A consumer's dead-letter topic, `<topic>.dlq`: a message that cannot be handled is
/// copied there as-is (key, payload, headers) plus `dlq_error`, the original topic,
/// partition and offset, and the consumer group.
pub struct DeadLetters {
    producer: EventProducer,
    topic: String,
    group_id: String,
}

impl DeadLetters {
    pub fn new(producer: EventProducer, settings: &ConsumerSettings) -> Self {
        crate::metrics::consumer_started(&settings.topic);
        Self {
            producer,
            topic: contracts::topics::dlq(&settings.topic),
            group_id: settings.group_id.clone(),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Copies `msg` with `reason`, retrying every second until the broker acknowledges;
    /// `false` when shutdown came first.
    pub async fn send<M: Message>(&self, msg: &M, reason: &str, shutdown: &CancellationToken) -> bool {
        loop {
            let mut h = OwnedHeaders::new();
            if let Some(orig) = msg.headers() {
                for header in orig.iter() {
                    h = h.insert(Header {
                        key: header.key,
                        value: header.value,
                    });
                }
            }
            let partition = msg.partition().to_string();
            let offset = msg.offset().to_string();
            for (key, value) in [
                (headers::DLQ_ERROR, reason),
                (headers::DLQ_TOPIC, msg.topic()),
                (headers::DLQ_PARTITION, partition.as_str()),
                (headers::DLQ_OFFSET, offset.as_str()),
                (headers::DLQ_CONSUMER, self.group_id.as_str()),
            ] {
                h = h.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            match self
                .producer
                .send_with_headers(&self.topic, msg.key(), msg.payload(), h)
                .await
            {
                Ok(()) => {
                    crate::metrics::dead_lettered(msg.topic());
                    return true;
                }
                Err(e) => {
                    tracing::error!(error = %e, "dead-lettering failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return false,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }
}
