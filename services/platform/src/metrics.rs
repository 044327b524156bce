//! Prometheus metrics, written once for every service and the edge: the OpenTelemetry
//! metrics SDK (the same SDK and version as the traces) with its Prometheus exporter, plus
//! the `prometheus` crate's process collector in the same registry, served as text on
//! `GET /metrics` by [`MetricsServer`] on a port of its own.
//!
//! Why this stack: `opentelemetry-prometheus` 0.33 is released with the workspace's
//! `opentelemetry` 0.33 (un-deprecated in 0.32) and names series after the semantic
//! conventions (`rpc.server.duration` in seconds → `rpc_server_duration_seconds`); its
//! registry is the `prometheus` crate's, which brings the standard `process_*` series. The
//! `metrics` + `metrics-exporter-prometheus` pair is as well maintained, but it would be a
//! second instrumentation API beside OpenTelemetry and needs yet another crate for the
//! process series.
//!
//! Every series, with its labels (all bounded: no user id, no raw path, no free text):
//!
//! | series | labels |
//! |---|---|
//! | `rpc_server_duration_seconds` (histogram) | `rpc_system`, `rpc_service`, `rpc_method`, `rpc_grpc_status_code` (unknown services and methods: `_OTHER`) |
//! | `rpc_client_duration_seconds` (histogram) | the same, for ds/budget → user-service |
//! | `http_server_request_duration_seconds` (histogram, edge) | `http_route` (the template), `http_request_method`, `http_response_status_code` |
//! | `messaging_kafka_consumer_lag` (gauge) | `messaging_destination_name`, `messaging_destination_partition_id`, `messaging_consumer_group_name` |
//! | `messaging_consumed_messages_total` | `messaging_destination_name` |
//! | `messaging_process_failures_total` (transient handler failures, retried) | `messaging_destination_name` |
//! | `messaging_dead_lettered_messages_total` | `messaging_destination_name` (the original topic) |
//! | `messaging_publish_duration_seconds` (histogram) | `messaging_destination_name`, `outcome` (`ok`, `error`) |
//! | `messaging_publish_failures_total` | `messaging_destination_name` |
//! | `outbox_pending_rows`, `outbox_oldest_age_seconds` (gauges, a periodic query) | — |
//! | `outbox_published_events_total` | — |
//! | `db_client_connections_usage` (gauge) | `state` (`used`, `idle`) |
//! | `db_client_connections_max`, `db_client_connections_pending_requests` (gauges) | — |
//! | `db_client_connections_timeouts_total` | — |
//! | `ds_extractions_total` | `extractor` (`rules`, `llm`), `outcome` (`ok`, `no_amount`, `not_an_expense`, `invalid`), `memory_rule` (`applied`, `none`) |
//! | `ds_llm_duration_seconds` (histogram) | `outcome` (`ok`, `error`) |
//! | `ds_llm_fallbacks_total` | `reason` (`unavailable`, `circuit_open`, `rejected`) |
//! | `ds_llm_breaker_open` (gauge, 0 or 1) | — |
//! | `build_info` (gauge, 1) | `service_name`, `version`, `git_commit` |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`, … | — |
//!
//! `METRICS_ADDR=off` switches the exporter off: the instruments then have no reader and
//! recording costs next to nothing (the benchmarks' "metrics off").

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, LazyLock, Mutex, OnceLock},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http::{Request, Response};
use opentelemetry::{
    metrics::{Counter, Gauge, Histogram, Meter, MeterProvider as _, ObservableGauge},
    KeyValue,
};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use rdkafka::{client::ClientContext, consumer::ConsumerContext, statistics::Statistics};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::db::PgPool;

/// Latency buckets in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// LLM calls take seconds: 50 ms to 30 s.
const LLM_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0];

/// The label value for anything outside a bounded set.
pub const OTHER: &str = "_OTHER";

/// The version and commit this binary was built from (`GIT_COMMIT` at build time, else
/// `git rev-parse`, else `unknown`; see `build.rs`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("ET_GIT_COMMIT");

// === the registry and the instruments ===

struct State {
    registry: prometheus::Registry,
    _provider: SdkMeterProvider,
    instruments: Instruments,
}

static STATE: LazyLock<State> = LazyLock::new(State::new);

/// (consumer id, topic, partition) → (group, lag).
type LagByPartition = HashMap<(u64, String, i32), (String, i64)>;

/// Values the observable gauges read when Prometheus scrapes.
#[derive(Default)]
struct Shared {
    lag: Mutex<LagByPartition>,
    /// Weak handles of every pool of the process.
    pools: Mutex<Vec<deadpool::managed::WeakPool<PgManager>>>,
    /// Outbox backlog per outbox (one per service): (pending rows, oldest age in seconds).
    outbox: Mutex<HashMap<String, (i64, f64)>>,
    service: OnceLock<String>,
}

type PgManager =
    diesel_async::pooled_connection::AsyncDieselConnectionManager<diesel_async::AsyncPgConnection>;

static SHARED: LazyLock<Shared> = LazyLock::new(Shared::default);

struct Instruments {
    rpc_server: Histogram<f64>,
    rpc_client: Histogram<f64>,
    http_server: Histogram<f64>,
    consumed: Counter<u64>,
    process_failures: Counter<u64>,
    dead_lettered: Counter<u64>,
    publish: Histogram<f64>,
    publish_failures: Counter<u64>,
    outbox_published: Counter<u64>,
    pool_timeouts: Counter<u64>,
    extractions: Counter<u64>,
    llm: Histogram<f64>,
    llm_fallbacks: Counter<u64>,
    llm_breaker: Gauge<i64>,
    _observed: Vec<ObservableGauge<i64>>,
    _observed_f: Vec<ObservableGauge<f64>>,
}

/// Is the exporter on? `METRICS_ADDR=off` turns it off.
fn enabled() -> bool {
    !std::env::var("METRICS_ADDR").is_ok_and(|v| v.trim().eq_ignore_ascii_case("off"))
}

impl State {
    fn new() -> Self {
        let registry = prometheus::Registry::new();
        let mut builder = SdkMeterProvider::builder();
        if enabled() {
            match opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                // Series carry our labels only; `build_info` says which binary this is.
                .scope_info_enabled(false)
                .without_target_info()
                .build()
            {
                Ok(exporter) => builder = builder.with_reader(exporter),
                Err(e) => eprintln!("metrics exporter disabled: {e}"),
            }
            #[cfg(target_os = "linux")]
            {
                let _ = registry.register(Box::new(
                    prometheus::process_collector::ProcessCollector::for_self(),
                ));
            }
        }
        let provider = builder.build();
        let meter = provider.meter("expense-tracker");
        let instruments = Instruments::new(&meter);
        Self {
            registry,
            _provider: provider,
            instruments,
        }
    }
}

fn histogram(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
    buckets: &[f64],
) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(buckets.to_vec())
        .build()
}

fn counter(meter: &Meter, name: &'static str, description: &'static str) -> Counter<u64> {
    meter.u64_counter(name).with_description(description).build()
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        let observed = vec![
            meter
                .i64_observable_gauge("messaging.kafka.consumer.lag")
                .with_description("Messages between the consumer's stored offset and the partition's high watermark (librdkafka statistics)")
                .with_callback(|o| {
                    let lag = SHARED.lag.lock().unwrap_or_else(|p| p.into_inner());
                    for ((_, topic, partition), (group, value)) in lag.iter() {
                        o.observe(
                            *value,
                            &[
                                KeyValue::new("messaging.destination.name", topic.clone()),
                                KeyValue::new("messaging.destination.partition.id", partition.to_string()),
                                KeyValue::new("messaging.consumer.group.name", group.clone()),
                            ],
                        );
                    }
                })
                .build(),
            meter
                .i64_observable_gauge("outbox.pending.rows")
                .with_description("Outbox rows not yet published")
                .with_callback(|o| {
                    let outbox = SHARED.outbox.lock().unwrap_or_else(|p| p.into_inner());
                    if !outbox.is_empty() {
                        o.observe(outbox.values().map(|(n, _)| *n).sum(), &[]);
                    }
                })
                .build(),
            meter
                .i64_observable_gauge("db.client.connections.usage")
                .with_description("Connections of the PostgreSQL pool, by state")
                .with_callback(|o| {
                    let (used, idle) = pool_totals(|s| {
                        let idle = s.available as i64;
                        ((s.size as i64 - idle).max(0), idle)
                    });
                    o.observe(used, &[KeyValue::new("state", "used")]);
                    o.observe(idle, &[KeyValue::new("state", "idle")]);
                })
                .build(),
            meter
                .i64_observable_gauge("db.client.connections.max")
                .with_description("Most connections the PostgreSQL pool opens")
                .with_callback(|o| o.observe(pool_totals(|s| (s.max_size as i64, 0)).0, &[]))
                .build(),
            meter
                .i64_observable_gauge("db.client.connections.pending_requests")
                .with_description("Requests waiting for a PostgreSQL connection")
                .with_callback(|o| o.observe(pool_totals(|s| (s.waiting as i64, 0)).0, &[]))
                .build(),
            meter
                .i64_observable_gauge("build_info")
                .with_description("The binary: its service, version and git commit (always 1)")
                .with_callback(|o| {
                    o.observe(
                        1,
                        &[
                            KeyValue::new(
                                "service.name",
                                SHARED.service.get().cloned().unwrap_or_else(|| "unknown".into()),
                            ),
                            KeyValue::new("version", VERSION),
                            KeyValue::new("git_commit", GIT_COMMIT),
                        ],
                    )
                })
                .build(),
        ];
        let observed_f = vec![meter
            .f64_observable_gauge("outbox.oldest.age")
            .with_unit("s")
            .with_description("Age of the oldest unpublished outbox row (0 when empty)")
            .with_callback(|o| {
                let outbox = SHARED.outbox.lock().unwrap_or_else(|p| p.into_inner());
                if !outbox.is_empty() {
                    o.observe(outbox.values().map(|(_, a)| *a).fold(0.0, f64::max), &[]);
                }
            })
            .build()];
        Self {
            rpc_server: histogram(
                meter,
                "rpc.server.duration",
                "Duration of inbound RPCs",
                LATENCY_BUCKETS,
            ),
            rpc_client: histogram(
                meter,
                "rpc.client.duration",
                "Duration of outbound RPCs",
                LATENCY_BUCKETS,
            ),
            http_server: histogram(
                meter,
                "http.server.request.duration",
                "Duration of HTTP requests at the edge",
                LATENCY_BUCKETS,
            ),
            consumed: counter(
                meter,
                "messaging.consumed.messages",
                "Kafka messages a consumer took",
            ),
            process_failures: counter(
                meter,
                "messaging.process.failures",
                "Transient failures handling a message or batch (each retried with backoff)",
            ),
            dead_lettered: counter(
                meter,
                "messaging.dead_lettered.messages",
                "Messages copied to <topic>.dlq, by original topic",
            ),
            publish: histogram(
                meter,
                "messaging.publish.duration",
                "Time from send to the broker's acknowledgement",
                LATENCY_BUCKETS,
            ),
            publish_failures: counter(meter, "messaging.publish.failures", "Publishes not acknowledged"),
            outbox_published: counter(
                meter,
                "outbox.published.events",
                "Events the outbox relay published",
            ),
            pool_timeouts: counter(
                meter,
                "db.client.connections.timeouts",
                "Requests that gave up waiting for a PostgreSQL connection",
            ),
            extractions: counter(meter, "ds.extractions", "Extractions by extractor and outcome"),
            llm: histogram(
                meter,
                "ds.llm.duration",
                "LLM calls, retries included",
                LLM_BUCKETS,
            ),
            llm_fallbacks: counter(
                meter,
                "ds.llm.fallbacks",
                "Extractions the rules answered because the LLM could not",
            ),
            llm_breaker: meter
                .i64_gauge("ds.llm.breaker.open")
                .with_description("1 while the LLM circuit breaker is open")
                .build(),
            _observed: observed,
            _observed_f: observed_f,
        }
    }
}

fn instruments() -> &'static Instruments {
    &STATE.instruments
}

/// Sums `f(status)` over the live pools (dead ones are forgotten).
fn pool_totals(f: impl Fn(deadpool::Status) -> (i64, i64)) -> (i64, i64) {
    let mut pools = SHARED.pools.lock().unwrap_or_else(|p| p.into_inner());
    pools.retain(|w| w.upgrade().is_some());
    pools
        .iter()
        .filter_map(|w| w.upgrade())
        .map(|p| f(p.status()))
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

/// The registry as Prometheus text (what `GET /metrics` answers).
pub fn render() -> String {
    let families = STATE.registry.gather();
    prometheus::TextEncoder::new()
        .encode_to_string(&families)
        .unwrap_or_else(|e| format!("# encoding failed: {e}\n"))
}

/// Names the process in `build_info` (the first call wins).
pub fn set_service(name: &str) {
    let _ = SHARED.service.set(name.to_owned());
    LazyLock::force(&STATE);
}

// === events ===

fn seconds(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}

/// An outbound RPC finished with `code` (ds/budget → user-service).
pub fn rpc_client(service: &'static str, method: &'static str, code: tonic::Code, started: Instant) {
    instruments().rpc_client.record(
        seconds(started),
        &[
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", service),
            KeyValue::new("rpc.method", method),
            KeyValue::new("rpc.grpc.status_code", code as i64),
        ],
    );
}

/// An edge request finished: `route` is the matched template (or a fixed name).
pub fn http_server(route: Arc<str>, method: &http::Method, status: u16, started: Instant) {
    let method = match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::HEAD => "HEAD",
        _ => OTHER,
    };
    instruments().http_server.record(
        seconds(started),
        &[
            KeyValue::new("http.route", opentelemetry::StringValue::from(route)),
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.response.status_code", status as i64),
        ],
    );
}

fn topic(t: &str) -> [KeyValue; 1] {
    [KeyValue::new("messaging.destination.name", t.to_owned())]
}

/// A consumer of `topic` starts: its counters exist from now on at 0, so the first dead
/// letter is an increase Prometheus sees (a counter born at 1 has no increase).
pub fn consumer_started(topic_name: &str) {
    let i = instruments();
    i.consumed.add(0, &topic(topic_name));
    i.process_failures.add(0, &topic(topic_name));
    i.dead_lettered.add(0, &topic(topic_name));
}

/// `n` messages of `topic` were taken by a consumer.
pub fn consumed(topic_name: &str, n: usize) {
    instruments().consumed.add(n as u64, &topic(topic_name));
}

/// A handler failed transiently on `topic` (it is retried).
pub fn process_failure(topic_name: &str) {
    instruments().process_failures.add(1, &topic(topic_name));
}

/// A message of `topic` was dead-lettered.
pub fn dead_lettered(topic_name: &str) {
    instruments().dead_lettered.add(1, &topic(topic_name));
}

/// A publish to `topic` ended (acknowledged or not).
pub fn published(topic_name: &str, ok: bool, started: Instant) {
    let i = instruments();
    i.publish.record(
        seconds(started),
        &[
            KeyValue::new("messaging.destination.name", topic_name.to_owned()),
            KeyValue::new("outcome", if ok { "ok" } else { "error" }),
        ],
    );
    if !ok {
        i.publish_failures.add(1, &topic(topic_name));
    }
}

/// The outbox relay published a batch of `n`.
pub fn outbox_published(n: usize) {
    instruments().outbox_published.add(n as u64, &[]);
}

/// Watches `pool` for the `db_client_connection_*` gauges.
pub fn watch_pool(pool: &PgPool) {
    SHARED
        .pools
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(pool.weak());
}

/// A pool error on its way to a caller: counted when it is a timeout.
pub fn pool_error(err: &crate::db::PoolError) {
    if matches!(err, deadpool::managed::PoolError::Timeout(_)) {
        instruments().pool_timeouts.add(1, &[]);
    }
}

/// An extraction's result: `extractor` `rules` or `llm`; `outcome` `ok`, `no_amount`,
/// `not_an_expense` or `invalid`; whether one of the caller's rules changed it.
pub fn extraction(extractor: &'static str, outcome: &'static str, memory_rule: bool) {
    instruments().extractions.add(
        1,
        &[
            KeyValue::new("extractor", extractor),
            KeyValue::new("outcome", outcome),
            KeyValue::new("memory_rule", if memory_rule { "applied" } else { "none" }),
        ],
    );
}

/// An LLM call ended (retries included); `breaker_open` is the breaker's state after it.
pub fn llm_call(ok: bool, started: Instant, breaker_open: bool) {
    let i = instruments();
    i.llm.record(
        seconds(started),
        &[KeyValue::new("outcome", if ok { "ok" } else { "error" })],
    );
    i.llm_breaker.record(breaker_open as i64, &[]);
}

/// The LLM circuit breaker's state, as seen by a call it turned away.
pub fn llm_breaker(open: bool) {
    instruments().llm_breaker.record(open as i64, &[]);
}

/// The rules answered because the LLM could not: `unavailable`, `circuit_open`, `rejected`.
pub fn llm_fallback(reason: &'static str) {
    instruments()
        .llm_fallbacks
        .add(1, &[KeyValue::new("reason", reason)]);
}

// === outbox backlog ===

/// How often the outbox backlog is measured.
pub const OUTBOX_SAMPLE_EVERY: Duration = Duration::from_secs(5);

#[derive(diesel::QueryableByName)]
struct Backlog {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pending: i64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    oldest: f64,
}

/// Measures the outbox of `pool` every [`OUTBOX_SAMPLE_EVERY`] until `stop`: rows not yet
/// published (in `outbox` and `outbox_batches`) and the age of the oldest. While the database is down the last values stay.
pub async fn sample_outbox(name: String, pool: PgPool, stop: CancellationToken) {
    use diesel_async::RunQueryDsl;
    loop {
        let measured = async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            diesel::sql_query(
                // Both outboxes: rows of one event, and a batch consumer's rows of many
                // (`outbox_batches`, whose first event is its oldest).
                "SELECT ((SELECT count(*) FROM outbox WHERE published_at IS NULL) \
                         + (SELECT COALESCE(sum(events), 0) FROM outbox_batches))::bigint AS pending, \
                        COALESCE(EXTRACT(EPOCH FROM now() - LEAST( \
                            (SELECT min(created_at) FROM outbox WHERE published_at IS NULL), \
                            (SELECT min(times[1]) FROM outbox_batches))), 0)::float8 AS oldest",
            )
            .get_result::<Backlog>(&mut conn)
            .await
            .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(5), measured).await {
            Ok(Ok(b)) => {
                SHARED
                    .outbox
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.clone(), (b.pending, b.oldest.max(0.0)));
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "measuring the outbox backlog"),
            Err(_) => tracing::debug!("measuring the outbox backlog timed out"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(OUTBOX_SAMPLE_EVERY) => {}
        }
    }
}

// === Kafka consumer lag ===

/// How often librdkafka reports a consumer's statistics (its lag per partition), unless
/// `KAFKA_STATISTICS_INTERVAL_MS` says otherwise ([`set_kafka_statistics_interval`]).
pub const KAFKA_STATISTICS_INTERVAL: Duration = Duration::from_secs(2);

static STATISTICS_INTERVAL_MS: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(KAFKA_STATISTICS_INTERVAL.as_millis() as u64);

/// Sets the statistics interval of the consumers created from now on (at least 1 ms).
pub fn set_kafka_statistics_interval(every: Duration) {
    let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1);
    STATISTICS_INTERVAL_MS.store(ms, std::sync::atomic::Ordering::Relaxed);
}

/// The consumers' `statistics.interval.ms`.
pub fn kafka_statistics_interval_ms() -> String {
    STATISTICS_INTERVAL_MS
        .load(std::sync::atomic::Ordering::Relaxed)
        .min(86_400_000)
        .to_string()
}

/// The context of platform's group consumers: reads each statistics report into the
/// `messaging_kafka_consumer_lag` gauge; dropping the consumer drops its series.
pub struct KafkaStats {
    id: u64,
    group: String,
}

impl KafkaStats {
    pub fn new(group: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            group: group.to_owned(),
        }
    }
}

impl ClientContext for KafkaStats {
    fn stats(&self, statistics: Statistics) {
        let mut lag = SHARED.lag.lock().unwrap_or_else(|p| p.into_inner());
        lag.retain(|(id, _, _), _| *id != self.id);
        for (name, topic) in statistics.topics {
            for (partition, p) in topic.partitions {
                // -1 is librdkafka's internal "unassigned" partition; a negative lag means
                // "not known" (a partition this member does not own, or no offset yet).
                let value = if p.consumer_lag_stored >= 0 {
                    p.consumer_lag_stored
                } else {
                    p.consumer_lag
                };
                if partition >= 0 && value >= 0 {
                    lag.insert((self.id, name.clone(), partition), (self.group.clone(), value));
                }
            }
        }
    }
}

impl ConsumerContext for KafkaStats {}

impl Drop for KafkaStats {
    fn drop(&mut self) {
        SHARED
            .lag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _, _), _| *id != self.id);
    }
}

// === the gRPC server layer ===

/// Records `rpc.server.duration` for every RPC by service, method and status code. Only
/// the methods of the services the server routes (from the contracts' descriptor set, plus
/// health and reflection) are named; any other path is `_OTHER`, so a scanner sending
/// random paths cannot grow the series.
#[derive(Clone, Debug)]
pub struct RpcMetricsLayer {
    known: Arc<std::collections::HashSet<String>>,
}

impl RpcMetricsLayer {
    /// `services`: the full names the server routes (`expense_tracker.user.v1.UserService`).
    pub fn new<'a>(services: impl IntoIterator<Item = &'a str>) -> Self {
        use prost::Message;
        let services: Vec<&str> = services.into_iter().collect();
        let mut known: std::collections::HashSet<String> = [
            "grpc.health.v1.Health/Check",
            "grpc.health.v1.Health/Watch",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        if let Ok(set) = prost_types::FileDescriptorSet::decode(contracts::FILE_DESCRIPTOR_SET) {
            for file in &set.file {
                for service in &file.service {
                    let full = format!("{}.{}", file.package(), service.name());
                    if services.contains(&full.as_str()) {
                        known.extend(service.method.iter().map(|m| format!("{full}/{}", m.name())));
                    }
                }
            }
        }
        Self {
            known: Arc::new(known),
        }
    }
}

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            known: self.known.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RpcMetrics<S> {
    inner: S,
    known: Arc<std::collections::HashSet<String>>,
}

use crate::grpc::BoxFuture;

/// `(service, method)` of `/pkg.Service/Method` when the method is known.
fn split_path<'a>(path: &'a str, known: &std::collections::HashSet<String>) -> Option<(&'a str, &'a str)> {
    let full = path.strip_prefix('/')?;
    let (service, method) = full.split_once('/')?;
    known.contains(full).then_some((service, method))
}

impl<S> Service<Request<Body>> for RpcMetrics<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let names = split_path(req.uri().path(), &self.known).map(|(s, m)| (s.to_owned(), m.to_owned()));
        let mut inner = self.inner.clone();
        std::mem::swap(&mut self.inner, &mut inner);
        let started = Instant::now();
        Box::pin(async move {
            let res = inner.call(req).await?;
            // Unary errors are "trailers-only": the status is in the headers (as TraceLayer).
            let code: i64 = crate::grpc::header_status(&res)
                .and_then(|v| v.parse().ok())
                .filter(|c| (0..=16).contains(c))
                .unwrap_or(0);
            let (service, method) = names.unwrap_or_else(|| (OTHER.to_owned(), OTHER.to_owned()));
            instruments().rpc_server.record(
                seconds(started),
                &[
                    KeyValue::new("rpc.system", "grpc"),
                    KeyValue::new("rpc.service", service),
                    KeyValue::new("rpc.method", method),
                    KeyValue::new("rpc.grpc.status_code", code),
                ],
            );
            Ok(res)
        })
    }
}

// === the /metrics endpoint ===

/// The HTTP server of `GET /metrics` (anything else: 404), on its own port.
pub struct MetricsServer {
    listener: TcpListener,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free port; see [`MetricsServer::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        LazyLock::force(&STATE);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("metrics on {addr} (METRICS_ADDR): {e}")))?;
        Ok(Self { listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Serves until `stop` is cancelled.
    pub async fn serve(self, stop: CancellationToken) {
        use hyper_util::rt::TokioIo;
        loop {
            let (stream, _) = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    Ok::<_, Infallible>(answer(req.method(), req.uri().path()))
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "metrics connection");
                }
            });
        }
    }
}

fn answer(method: &http::Method, path: &str) -> Response<http_body_util::Full<bytes::Bytes>> {
    let (status, content_type, body) = match (method, path) {
        (&http::Method::GET, "/metrics") => (
            http::StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            render(),
        ),
        _ => (
            http::StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n".to_owned(),
        ),
    };
    let mut res = Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    res
}

/// Where metrics are served by default: the gRPC address's port + 1000 (auth 51051 …
/// budget 51055), port 0 when the gRPC port is 0 (tests) or has no room.
pub fn default_addr(grpc: SocketAddr) -> SocketAddr {
    let port = match grpc.port() {
        0 => 0,
        p => p.checked_add(1000).unwrap_or(0),
    };
    SocketAddr::new(grpc.ip(), port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_methods_are_named() {
        let known = ["a.v1.S/Get".to_owned()].into_iter().collect();
        assert_eq!(split_path("/a.v1.S/Get", &known), Some(("a.v1.S", "Get")));
        assert_eq!(split_path("/b.v1.T/Get", &known), None);
        assert_eq!(split_path("/a.v1.S/Put", &known), None);
        assert_eq!(split_path("/a.v1.S/", &known), None);
        assert_eq!(split_path("/a.v1.S/Get/x", &known), None);
        assert_eq!(split_path("nothing", &known), None);
    }

    #[test]
    fn the_metrics_port_is_the_grpc_port_plus_1000() {
        let a: SocketAddr = "127.0.0.1:50053".parse().unwrap();
        assert_eq!(default_addr(a).port(), 51053);
        assert_eq!(default_addr("0.0.0.0:0".parse().unwrap()).port(), 0);
        assert_eq!(default_addr("0.0.0.0:65000".parse().unwrap()).port(), 0);
    }
}
