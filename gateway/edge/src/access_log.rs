//! One server span per request, continuing the client's W3C trace context (the
//! transcoder injects this span's context upstream), and one JSON access log line when
//! the response is ready: method, path, status, latency, rpc, upstream, trace id, client
//! address and request id.

use std::time::Instant;

use axum::body::Body;
use http::{Request, Response};
use tracing::{field::Empty, Instrument};

use crate::{
    middleware::{middleware_layer, BoxFuture, Middleware, Next},
    rate_limit::client_ip,
    transcoder::UpstreamInfo,
};

#[derive(Clone)]
pub struct AccessLogLayer {
    request_id_header: http::HeaderName,
}

impl AccessLogLayer {
    pub fn new(request_id_header: http::HeaderName) -> Self {
        Self { request_id_header }
    }
}

middleware_layer!(AccessLogLayer);

impl Middleware for AccessLogLayer {
    fn handle(&self, req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let span = tracing::info_span!(
            "http.server",
            otel.name = %format!("{method} {path}"),
            otel.kind = "server",
            http.request.method = %method,
            url.path = %path,
            trace_id = Empty,
            http.response.status_code = Empty,
        );
        platform::telemetry::adopt_remote_parent(&span, &platform::telemetry::HeaderExtractor(req.headers()));
        let trace_id = platform::telemetry::trace_id(&span);
        let client = client_ip(&req).map(|ip| ip.to_string()).unwrap_or_default();
        let request_id = req
            .headers()
            .get(&self.request_id_header)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let started = Instant::now();
        Box::pin(
            async move {
                let res = next.run(req).await;
                let status = res.status().as_u16();
                tracing::Span::current().record("http.response.status_code", status);
                let info = res.extensions().get::<UpstreamInfo>();
                tracing::info!(
                    target: "edge::access",
                    method = %method,
                    path = %path,
                    status,
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    rpc = info.map_or("", |i| i.rpc.as_str()),
                    upstream = info.map_or("", |i| i.address.as_str()),
                    trace_id = %trace_id,
                    client = %client,
                    request_id = %request_id,
                    "access"
                );
                res
            }
            .instrument(span),
        )
    }
}
