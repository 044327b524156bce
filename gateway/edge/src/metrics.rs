//! `http.server.request.duration` at the edge, by route template, method and status
//! (platform's metrics; served on `METRICS_ADDR`, default `127.0.0.1:9080`).
//!
//! Two layers, because the route is known only below the router while every answer
//! (CORS preflights, 404s, 401s, 429s) must be timed from the top:
//! - [`HttpMetricsLayer`], outermost, starts the clock and leaves an empty [`RouteSlot`] in
//!   the request;
//! - [`RouteLabelLayer`], right below the router, writes the matched route's template
//!   (`/v1/expenses/{expense_id}`) into the slot.
//!
//! A request no route matched is labelled `_OTHER` (raw paths would be unbounded).

use std::{
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::body::Body;
use http::{Request, Response};

use crate::{
    middleware::{middleware_layer, BoxFuture, Middleware, Next},
    router::Matched,
};

/// The matched route's template, filled in below the router.
#[derive(Clone, Default)]
pub struct RouteSlot(Arc<OnceLock<Arc<str>>>);

/// Times every request and records it with the route the router found.
#[derive(Clone, Default)]
pub struct HttpMetricsLayer;

impl HttpMetricsLayer {
    pub fn new() -> Self {
        Self
    }
}

middleware_layer!(HttpMetricsLayer);

impl Middleware for HttpMetricsLayer {
    fn handle(&self, mut req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        let started = Instant::now();
        let slot = RouteSlot::default();
        req.extensions_mut().insert(slot.clone());
        let method = req.method().clone();
        let healthz = req.uri().path() == "/healthz";
        Box::pin(async move {
            let res = next.run(req).await;
            let route = match slot.0.get() {
                Some(r) => r.clone(),
                None if healthz => Arc::from("/healthz"),
                None => Arc::from(platform::metrics::OTHER),
            };
            platform::metrics::http_server(route, &method, res.status().as_u16(), started);
            res
        })
    }
}

/// Writes the matched route's template into the request's [`RouteSlot`].
#[derive(Clone, Default)]
pub struct RouteLabelLayer;

impl RouteLabelLayer {
    pub fn new() -> Self {
        Self
    }
}

middleware_layer!(RouteLabelLayer);

impl Middleware for RouteLabelLayer {
    fn handle(&self, req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        if let (Some(slot), Some(m)) = (
            req.extensions().get::<RouteSlot>(),
            req.extensions().get::<Matched>(),
        ) {
            let _ = slot.0.set(Arc::from(m.route.template.source.as_str()));
        }
        Box::pin(next.run(req))
    }
}
