//! Kong's request-size-limiting plugin, one instance per route: 413 for a body over the
//! route's limit, decided from `Content-Length` when there is one, else while the body is
//! read (the transcoder maps the length error of the wrapped body to the same 413). Sits
//! below the router, which has put the matched route in the request's extensions.

use std::sync::Arc;

use axum::body::Body;
use http::{Request, Response};

use crate::{
    config::Config,
    error::EdgeError,
    middleware::{middleware_layer, BoxFuture, Middleware, Next},
    router::Matched,
};

/// The limit, for the transcoder's error message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

#[derive(Clone)]
pub struct BodyLimitLayer {
    config: Arc<Config>,
}

impl BodyLimitLayer {
    /// Limits from `config.body_limit_bytes` and `config.body_limits`, the same numbers
    /// `edge kong-config` writes into each route's request-size-limiting plugin.
    pub fn new(config: &Config) -> Self {
        Self {
            config: Arc::new(config.clone()),
        }
    }
}

middleware_layer!(BodyLimitLayer);

impl Middleware for BodyLimitLayer {
    fn handle(&self, req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        let limit = match req.extensions().get::<Matched>() {
            Some(m) => self
                .config
                .body_limit(m.route.rpc.service_name(), m.route.rpc.method.name()),
            None => self.config.body_limit_bytes,
        };
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Box::pin(async move { EdgeError::too_large(limit).into_response() });
        }
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(BodyLimit(limit));
        let body = Body::new(http_body_util::Limited::new(body, limit));
        Box::pin(next.run(Request::from_parts(parts, body)))
    }
}
