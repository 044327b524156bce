//! Kong's request-size-limiting plugin: 413 for a body over the limit, decided from
//! `Content-Length` when there is one, else while the body is read (the transcoder maps
//! the length error of the wrapped body to the same 413).

use axum::body::Body;
use http::{Request, Response};

use crate::{
    error::EdgeError,
    middleware::{middleware_layer, BoxFuture, Middleware, Next},
};

/// The limit, for the transcoder's error message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

#[derive(Clone)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

middleware_layer!(BodyLimitLayer);

impl Middleware for BodyLimitLayer {
    fn handle(&self, req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        let limit = self.limit;
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
