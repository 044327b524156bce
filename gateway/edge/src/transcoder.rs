//! The innermost service: Kong's grpc-gateway plugin. Reads the body, builds the request
//! message, calls `POST /<package>.<Service>/<Method>` on the upstream with the client's
//! headers (plus `X-Forwarded-*` and the edge span's trace context), and answers the
//! response message as Kong's JSON, or the error as `{code, message}`.

use std::{convert::Infallible, net::IpAddr, task::Poll};

use axum::body::Body;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::DynamicMessage;
use tonic::{metadata::MetadataMap, Code};

use crate::{
    body_limit::BodyLimit,
    error::EdgeError,
    middleware::BoxFuture,
    rate_limit::client_ip,
    router::Matched,
    transcode::{request, response, TranscodeError},
    upstream::{CallError, Upstreams},
};

/// Which upstream served a request, for the access log.
#[derive(Debug, Clone)]
pub struct UpstreamInfo {
    pub rpc: String,
    pub address: String,
}

/// Request headers that describe the HTTP hop, not the call, and never go upstream.
const HOP_HEADERS: [&str; 12] = [
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
    "content-type",
    "accept-encoding",
    "expect",
];

/// Response metadata that belongs to the gRPC framing, not to the client. tonic merges
/// the trailers (`grpc-status: 0`) into a unary answer's metadata; behind Kong they are
/// HTTP/2 trailers, which an HTTP/1.1 client never sees.
const GRPC_FRAMING: [&str; 9] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "content-type",
    "content-length",
    "grpc-encoding",
    "grpc-accept-encoding",
    "te",
    "trailer",
];

#[derive(Clone)]
pub struct Transcoder {
    upstreams: Upstreams,
}

impl Transcoder {
    pub fn new(upstreams: Upstreams) -> Self {
        Self { upstreams }
    }

    async fn handle(self, req: Request<Body>) -> Response<Body> {
        let Some(matched) = req.extensions().get::<Matched>().cloned() else {
            return EdgeError::no_route().into_response();
        };
        let rpc = matched.route.rpc.clone();
        let Some(upstream) = self.upstreams.get(rpc.service_name()).cloned() else {
            return EdgeError::no_route().into_response();
        };
        let info = UpstreamInfo {
            rpc: rpc.full_name().to_owned(),
            address: upstream.address.clone(),
        };
        let peer = client_ip(&req);
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0);
        let (parts, body) = req.into_parts();
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                    || e.to_string().contains("length limit");
                let err = match (too_large, limit) {
                    (true, Some(limit)) => EdgeError::too_large(limit),
                    _ => EdgeError::with_status(StatusCode::BAD_REQUEST, format!("cannot read body: {e}")),
                };
                return with_info(err.into_response(), info);
            }
        };
        let msg = match request::build(&matched.route, &matched.vars, parts.uri.query(), &body) {
            Ok(m) => m,
            Err(e) => return with_info(transcode_error(e).into_response(), info),
        };
        let metadata = upstream_metadata(&parts.headers, peer);
        let res = match upstream
            .unary(&rpc.grpc_path, Bytes::from(msg.encode_to_vec()), metadata)
            .await
        {
            Ok((meta, bytes)) => match DynamicMessage::decode(rpc.method.output(), bytes) {
                Ok(out) => ok_response(response::to_json(&out), meta),
                Err(e) => EdgeError::new(
                    Code::Internal,
                    format!("cannot decode the upstream's answer: {e}"),
                )
                .into_response(),
            },
            Err(CallError::Status(status)) => EdgeError::from_upstream(&status).into_response(),
            Err(CallError::Unreachable(why)) => {
                tracing::warn!(upstream = %upstream.address, error = %why, "upstream unreachable");
                EdgeError::new(
                    Code::Unavailable,
                    format!("upstream {} is unavailable", rpc.service_name()),
                )
                .into_response()
            }
            Err(CallError::Timeout) => EdgeError::new(
                Code::DeadlineExceeded,
                format!(
                    "upstream {} did not answer within {:?}",
                    rpc.service_name(),
                    upstream.timeout
                ),
            )
            .into_response(),
        };
        with_info(res, info)
    }
}

fn with_info(mut res: Response<Body>, info: UpstreamInfo) -> Response<Body> {
    res.extensions_mut().insert(info);
    res
}

fn transcode_error(e: TranscodeError) -> EdgeError {
    EdgeError::new(Code::InvalidArgument, e.to_string())
}

fn ok_response(json: String, meta: MetadataMap) -> Response<Body> {
    let mut res = Response::new(Body::from(json));
    let headers = res.headers_mut();
    for (name, value) in meta.into_headers().iter() {
        if !GRPC_FRAMING.contains(&name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// The metadata of the upstream call: the client's headers (Kong forwards them all, the
/// `Authorization` header unchanged), `X-Forwarded-For` with the client appended,
/// `X-Real-IP`, `X-Forwarded-Proto`/`-Host`, and `traceparent`/`tracestate` of the edge's
/// server span (the client's own when tracing is off).
fn upstream_metadata(headers: &HeaderMap, peer: Option<IpAddr>) -> MetadataMap {
    let mut out = HeaderMap::with_capacity(headers.len() + 6);
    for (name, value) in headers {
        let n = name.as_str();
        if HOP_HEADERS.contains(&n) || n.starts_with("grpc-") || n.starts_with(':') {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if let Some(ip) = peer {
        let xff = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
            _ => ip.to_string(),
        };
        set(&mut out, "x-forwarded-for", &xff);
        set(&mut out, "x-real-ip", &ip.to_string());
    }
    set(&mut out, "x-forwarded-proto", "http");
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
        set(&mut out, "x-forwarded-host", host);
    }
    let mut meta = MetadataMap::from_headers(out);
    let span = tracing::Span::current();
    if platform::telemetry::trace_id(&span) != "00000000000000000000000000000000" {
        meta.remove("tracestate");
        platform::telemetry::inject(&span, &mut platform::telemetry::MetadataCarrier(&mut meta));
    }
    meta
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

impl tower::Service<Request<Body>> for Transcoder {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(req).await) })
    }
}
