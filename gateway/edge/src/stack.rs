//! The edge, assembled. Reads top to bottom in request order; each layer stands for the
//! Kong plugin named in its comment, in the order Kong runs them.

use std::{str::FromStr, time::Duration};

use axum::{routing::get, Router};
use http::{HeaderName, Method};
use tower::ServiceBuilder;
use tower_http::{
    cors::{AllowHeaders, AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};

use crate::{
    access_log::AccessLogLayer,
    auth::JwtLayer,
    body_limit::BodyLimitLayer,
    config::{Config, CorsConfig},
    health::healthz,
    rate_limit::RateLimitLayer,
    router::{RouteLayer, RouteTable},
    transcoder::Transcoder,
    upstream::Upstreams,
};

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("correlation_id.header_name {0:?} is not a header name")]
    RequestIdHeader(String),
    #[error("cors: {0}")]
    Cors(String),
}

/// The HTTP application: `/healthz`, `/openapi.json` (the document, public) plus every
/// route of the descriptor set.
pub fn app(
    config: &Config,
    routes: RouteTable,
    upstreams: Upstreams,
    jwt: JwtLayer,
    openapi: bytes::Bytes,
) -> Result<Router, StackError> {
    let request_id = HeaderName::from_str(&config.correlation_id.header_name.to_ascii_lowercase())
        .map_err(|_| StackError::RequestIdHeader(config.correlation_id.header_name.clone()))?;
    let rate_limit = config
        .rate_limit
        .is_enabled()
        .then(|| RateLimitLayer::new(&config.rate_limit));

    let gateway = ServiceBuilder::new()
        // Kong's router: the route and its path variables, or 404 for anything else.
        .layer(RouteLayer::new(routes))
        // (metrics: the matched route's template, for the duration recorded at the top.)
        .layer(crate::metrics::RouteLabelLayer::new())
        // jwt (non-public routes): 401 before anything is read or counted.
        .layer(jwt)
        // rate-limiting: after jwt, so a signed-in client counts as its consumer; its
        // headers go on every answer below, errors included.
        .option_layer(rate_limit)
        // request-size-limiting: 413 for a body over the matched route's limit.
        .layer(BodyLimitLayer::new(config))
        // grpc-gateway: JSON → protobuf, the upstream call, protobuf → JSON.
        .service(Transcoder::new(upstreams.clone()));

    let edge = ServiceBuilder::new()
        // metrics: first, so every answer is timed (preflights, 404s and 401s included).
        .layer(crate::metrics::HttpMetricsLayer::new())
        // correlation-id: an id for every request (kept when the client sent one), first,
        // so the log line and the upstream both see it.
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        // correlation-id's echo_downstream: the id goes back on the response.
        .option_layer(
            config
                .correlation_id
                .echo_downstream
                .then(|| PropagateRequestIdLayer::new(request_id.clone())),
        )
        // The server span (continuing the client's trace) and the access log line; outside
        // CORS so preflights are logged too.
        .layer(AccessLogLayer::new(request_id))
        // cors: preflights are answered here, before jwt (run_on_preflight: false).
        .layer(cors(&config.cors)?);

    Ok(Router::new()
        .route("/healthz", get(healthz))
        .with_state(upstreams)
        .route(
            "/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], doc) }
            }),
        )
        .fallback_service(gateway)
        .layer(edge))
}

fn cors(c: &CorsConfig) -> Result<CorsLayer, StackError> {
    let origin = if c.origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            c.origins
                .iter()
                .map(|o| {
                    o.parse()
                        .map_err(|_| StackError::Cors(format!("bad origin {o:?}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    let methods = c
        .methods
        .iter()
        .map(|m| Method::from_str(m).map_err(|_| StackError::Cors(format!("bad method {m:?}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let names = |list: &[String]| {
        list.iter()
            .map(|h| HeaderName::from_str(h).map_err(|_| StackError::Cors(format!("bad header {h:?}"))))
            .collect::<Result<Vec<_>, _>>()
    };
    let headers = if c.headers.is_empty() {
        // Kong's default: allow what the preflight asks for.
        AllowHeaders::mirror_request()
    } else {
        AllowHeaders::list(names(&c.headers)?)
    };
    Ok(CorsLayer::new()
        .allow_origin(origin)
        .allow_methods(methods)
        .allow_headers(headers)
        .expose_headers(names(&c.exposed_headers)?)
        .allow_credentials(c.credentials)
        .max_age(Duration::from_secs(c.max_age_secs)))
}
