//! Structured JSON logs carrying trace ids, OpenTelemetry traces exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and W3C trace-context propagation helpers for
//! gRPC metadata and Kafka headers.
//!
//! Spans always get OpenTelemetry ids (the SDK provider is installed even without an
//! exporter), so log lines can be joined with traces and with each other.

use std::sync::OnceLock;

use opentelemetry::{
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::{TraceContextExt, TracerProvider as _},
    Context,
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider, Resource};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Flushes spans on drop; keep it alive for the life of `main`.
#[must_use = "dropping the guard flushes and shuts tracing down"]
pub struct TelemetryGuard;

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = PROVIDER.get() {
            let _ = p.shutdown();
        }
    }
}

/// Installs the global subscriber: JSON lines on stdout (level from `RUST_LOG`, default
/// `info`), each with the current span's `trace_id`, plus the OpenTelemetry layer.
/// Safe to call more than once (tests): later calls keep the first subscriber.
pub fn init(service_name: &str) -> TelemetryGuard {
    init_with(service_name, true)
}

/// As [`init`]; `logs: false` keeps stdout quiet (tests) while spans still get trace ids.
pub fn init_with(service_name: &str, logs: bool) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|v| !v.trim().is_empty()) {
        // Endpoint, headers and protocol details come from the standard OTEL_* variables.
        match opentelemetry_otlp::SpanExporter::builder().with_tonic().build() {
            Ok(exporter) => builder = builder.with_batch_exporter(exporter),
            Err(e) => eprintln!("OTLP exporter disabled: {e}"),
        }
    }
    let provider = builder.build();
    let tracer = provider.tracer(service_name.to_owned());
    let _ = PROVIDER.set(provider.clone());
    opentelemetry::global::set_tracer_provider(provider);

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // tokio-postgres logs every statement's parameters at debug: password hashes, token
        // hashes, emails. They never belong in the logs, whatever RUST_LOG asks for.
        .add_directive("tokio_postgres::query=info".parse().expect("a valid directive"));
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true);
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_opentelemetry::layer().with_tracer(tracer));
    let _ = if logs {
        registry.with(fmt).try_init()
    } else {
        registry.try_init()
    };
    TelemetryGuard
}

/// The trace id of `span` as 32 hex digits, for log fields and tests.
pub fn trace_id(span: &Span) -> String {
    span.context().span().span_context().trace_id().to_string()
}

/// Makes `span` a child of the remote context found in `carrier` (if any) and records its
/// `trace_id` field, so every log line inside the span carries it.
pub fn adopt_remote_parent(span: &Span, carrier: &dyn Extractor) {
    let parent = TraceContextPropagator::new().extract(carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span.record("trace_id", trace_id(span).as_str());
}

/// Writes the context of `span` into `carrier` as `traceparent`/`tracestate`.
pub fn inject(span: &Span, carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(&span.context(), carrier);
}

/// Writes the current OpenTelemetry context into `carrier`.
pub fn inject_current(carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(&Context::current(), carrier);
}

/// `tonic::metadata::MetadataMap` as an OpenTelemetry carrier.
pub struct MetadataCarrier<'a>(pub &'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Adds the current span's trace context to an outgoing gRPC request. Use it as a tonic
/// interceptor on clients: `Client::with_interceptor(channel, platform::telemetry::propagate)`.
#[allow(clippy::result_large_err)]
pub fn propagate(mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    inject(&Span::current(), &mut MetadataCarrier(req.metadata_mut()));
    Ok(req)
}

pub use opentelemetry_http::HeaderExtractor;
