//! The plumbing every edge layer shares: a layer is a value implementing [`Middleware`]
//! (look at the request, answer or call `next`), wrapped into a tower service by
//! [`MiddlewareService`]. Each layer type then only says what it does.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::body::Body;
use http::{Request, Response};
use tower::{util::BoxCloneSyncService, Service, ServiceExt};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The rest of the stack below a middleware.
pub struct Next(BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>);

impl Next {
    pub async fn run(self, req: Request<Body>) -> Response<Body> {
        match self.0.oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }
}

/// One step of the edge's request pipeline.
pub trait Middleware: Clone + Send + Sync + 'static {
    fn handle(&self, req: Request<Body>, next: Next) -> BoxFuture<Response<Body>>;
}

/// A [`Middleware`] in front of an inner service.
#[derive(Clone)]
pub struct MiddlewareService<M> {
    middleware: M,
    inner: BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>,
}

impl<M> MiddlewareService<M> {
    pub fn new<S>(middleware: M, inner: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self {
            middleware,
            inner: BoxCloneSyncService::new(inner),
        }
    }
}

impl<M: Middleware> Service<Request<Body>> for MiddlewareService<M> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // `Next` drives the inner service's readiness itself (oneshot).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let next = Next(self.inner.clone());
        let fut = self.middleware.handle(req, next);
        Box::pin(async move { Ok(fut.await) })
    }
}

/// Implements `tower::Layer` for a [`Middleware`] type.
macro_rules! middleware_layer {
    ($ty:ty) => {
        impl<S> tower::Layer<S> for $ty
        where
            S: tower::Service<
                    http::Request<axum::body::Body>,
                    Response = http::Response<axum::body::Body>,
                    Error = std::convert::Infallible,
                > + Clone
                + Send
                + Sync
                + 'static,
            S::Future: Send + 'static,
        {
            type Service = $crate::middleware::MiddlewareService<$ty>;
            fn layer(&self, inner: S) -> Self::Service {
                $crate::middleware::MiddlewareService::new(self.clone(), inner)
            }
        }
    };
}
pub(crate) use middleware_layer;
