//! gRPC server assembly: every service gets the same stack, health, reflection and
//! graceful shutdown.
//!
//! ```text
//! request ─▶ TraceLayer ─▶ RpcMetricsLayer ─▶ AuthLayer ─▶ Routes (health, reflection, the service)
//! ```

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{Request, Response};
use tokio::net::TcpListener;
use tonic::{body::Body, server::NamedService, service::Routes, Status};
use tower::{Layer, Service};
use tracing::{field::Empty, Instrument};

use crate::jwt::{Caller, JwtVerifier};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Paths that never need a token: health checks and reflection.
const ALWAYS_PUBLIC: &[&str] = &["/grpc.health.v1.Health/", "/grpc.reflection."];

/// A gRPC server bound to its address, ready to take services.
pub struct GrpcServer {
    listener: TcpListener,
    routes: tonic::service::RoutesBuilder,
    health: tonic_health::server::HealthReporter,
    served: Vec<&'static str>,
    verifier: Option<Arc<JwtVerifier>>,
    public: Vec<String>,
}

impl GrpcServer {
    /// Binds `addr` (port 0 picks a free port; see [`GrpcServer::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let (health, health_service) = tonic_health::server::health_reporter();
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(contracts::FILE_DESCRIPTOR_SET)
            // grpc.health.v1 too, so reflection clients (grpcurl, grpcui) can call Check
            // without a local copy of health.proto.
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(std::io::Error::other)?;
        let mut routes = Routes::builder();
        routes.add_service(health_service).add_service(reflection);
        Ok(Self {
            listener,
            routes,
            health,
            served: vec![],
            verifier: None,
            public: vec![],
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Requires a valid RS256 bearer token on every RPC except health, reflection and the
    /// `public` method path prefixes (e.g. `/expense_tracker.auth.v1.AuthService/`).
    pub fn require_auth(mut self, verifier: JwtVerifier, public: &[&str]) -> Self {
        self.verifier = Some(Arc::new(verifier));
        self.public = public.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds a tonic service; health reports it SERVING once the server runs.
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.add_service(svc);
        self.served.push(S::NAME);
        self
    }

    /// The health reporter, to mark services NOT_SERVING (e.g. while a dependency is down).
    pub fn health(&self) -> tonic_health::server::HealthReporter {
        self.health.clone()
    }

    /// Serves until `shutdown` resolves, then drains in-flight calls.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), tonic::transport::Error> {
        for name in &self.served {
            self.health
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }
        self.health
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
        let auth = AuthLayer {
            verifier: self.verifier,
            public: Arc::new(self.public),
        };
        tonic::transport::Server::builder()
            // Outermost: every request, rejected or not, gets a span and an access log line.
            .layer(TraceLayer)
            // Then `rpc.server.duration`, so rejected calls (UNAUTHENTICATED) are counted too.
            .layer(crate::metrics::RpcMetricsLayer::new(
                ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]
                    .into_iter()
                    .chain(self.served.iter().copied()),
            ))
            // Then authentication, so handlers only ever see verified callers.
            .layer(auth)
            .serve_with_incoming_shutdown(
                self.routes.routes(),
                // tonic sets TCP_NODELAY only on sockets it binds itself; without it Nagle's
                // algorithm holds each response until the client's delayed ACK (~40 ms per RPC).
                tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true)),
                shutdown,
            )
            .await
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}

/// The verified caller of an RPC, put there by the auth layer.
#[allow(clippy::result_large_err)]
pub fn caller<T>(req: &tonic::Request<T>) -> Result<&Caller, Status> {
    req.extensions().get::<Caller>().ok_or_else(|| {
        Status::unauthenticated("missing bearer token: send 'authorization: Bearer <access_token>'")
    })
}

// === impl TraceLayer ===

/// Opens a server span per RPC, continuing the caller's W3C trace context, and logs one
/// access line with the gRPC status and latency.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        TraceService { inner }
    }
}

/// The `grpc-status` a response carries in its headers: every unary error is
/// "trailers-only", so its status is there; `None` for a success (or a status sent later
/// in trailers, which the handler that produced it logs).
pub(crate) fn header_status(res: &Response<Body>) -> Option<&str> {
    res.headers().get("grpc-status").and_then(|v| v.to_str().ok())
}

#[derive(Clone, Debug)]
pub struct TraceService<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for TraceService<S>
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
        let path = req.uri().path().to_owned();
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %path,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %path,
            trace_id = Empty,
            grpc.status = Empty,
        );
        crate::telemetry::adopt_remote_parent(&span, &crate::telemetry::HeaderExtractor(req.headers()));
        let mut inner = self.inner.clone();
        std::mem::swap(&mut self.inner, &mut inner);
        let started = Instant::now();
        Box::pin(
            async move {
                let res = inner.call(req).await?;
                // Unary errors are "trailers-only": the status is in the headers. A status sent
                // later in trailers is logged by the handler that produced it.
                let code = header_status(&res).unwrap_or("0").to_owned();
                tracing::Span::current().record("grpc.status", code.as_str());
                tracing::info!(
                    rpc = %path,
                    grpc_status = %code,
                    latency_ms = started.elapsed().as_secs_f64() * 1000.0,
                    "rpc"
                );
                Ok(res)
            }
            .instrument(span),
        )
    }
}

// === impl AuthLayer ===

/// Verifies the bearer token and hands the [`Caller`] to handlers through request
/// extensions; answers UNAUTHENTICATED itself, so no handler runs for a bad token.
#[derive(Clone, Debug, Default)]
pub struct AuthLayer {
    verifier: Option<Arc<JwtVerifier>>,
    public: Arc<Vec<String>>,
}

impl AuthLayer {
    pub fn new(verifier: JwtVerifier, public: &[&str]) -> Self {
        Self {
            verifier: Some(Arc::new(verifier)),
            public: Arc::new(public.iter().map(|s| s.to_string()).collect()),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Service<Request<Body>> for AuthService<S>
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

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let path = req.uri().path();
        let public = ALWAYS_PUBLIC.iter().any(|p| path.starts_with(p))
            || self.layer.public.iter().any(|p| path.starts_with(p.as_str()));
        if let (false, Some(verifier)) = (public, &self.layer.verifier) {
            let header = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match verifier.verify_header(header) {
                Ok(caller) => {
                    tracing::Span::current().record("user_id", caller.user_id.to_string());
                    req.extensions_mut().insert(caller);
                }
                Err(e) => {
                    tracing::info!(rpc = %path, reason = %e, "unauthenticated");
                    let res = Status::unauthenticated(e.to_string()).into_http();
                    return Box::pin(async move { Ok(res) });
                }
            }
        }
        let mut inner = self.inner.clone();
        std::mem::swap(&mut self.inner, &mut inner);
        Box::pin(inner.call(req))
    }
}

/// Starts `server` on a background task; for tests and binaries that embed several servers.
pub fn spawn(
    server: GrpcServer,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<Result<(), tonic::transport::Error>> {
    tokio::spawn(async move { server.serve(async move { shutdown.cancelled().await }).await })
}
