//! The local edge: an HTTP/JSON gateway in front of the gRPC services that behaves like
//! Kong's grpc-gateway, jwt, rate-limiting, request-size-limiting, cors and
//! correlation-id plugins (see `../shared/KONG.md` beside the repository), and the generator of the
//! production Kong configuration from the same descriptor set and settings.
//!
//! ```text
//! request ─▶ request id ─▶ access log/span ─▶ CORS ─▶ /healthz, /openapi.json
//!                                                  └▶ route ─▶ jwt ─▶ rate limit ─▶ size limit ─▶ transcoder ─▶ gRPC
//! ```

pub mod access_log;
pub mod api;
pub mod auth;
pub mod body_limit;
pub mod config;
pub mod error;
pub mod health;
pub mod kong;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod rate_limit;
pub mod router;
pub mod stack;
pub mod transcode;
pub mod transcoder;
pub mod upstream;

use std::{future::Future, net::SocketAddr};

use tokio::net::TcpListener;

pub use config::Config;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The edge, bound to its listener and ready to serve.
pub struct Application {
    listener: TcpListener,
    app: axum::Router,
    routes: usize,
}

impl Application {
    /// Loads descriptors and keys, opens (lazy) upstream channels and binds
    /// `config.listen` (port 0 picks a free port; see [`Application::local_addr`]).
    pub async fn build(config: &Config) -> Result<Self, BoxError> {
        let pool = api::load_pool(config)?;
        let all = api::routes(&pool, |s, m| config.is_public(s, m))?;
        let (served, skipped): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|r| config.upstreams.contains_key(r.rpc.service_name()));
        for r in &skipped {
            tracing::warn!(route = %r.name(), service = r.rpc.service_name(), "no upstream configured; route not served");
        }
        let routes = served.len();
        let upstreams = upstream::Upstreams::new(config)?;
        let jwt = auth::JwtLayer::new(config)?;
        let openapi = serde_json::to_vec(&openapi::document(config, &pool)?)?;
        let app = stack::app(
            config,
            router::RouteTable::new(served),
            upstreams,
            jwt,
            openapi.into(),
        )?;
        let listener = TcpListener::bind(config.listen).await?;
        Ok(Self {
            listener,
            app,
            routes,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        tracing::info!(addr = %self.local_addr(), routes = self.routes, "edge listening");
        // Small JSON answers go out at once rather than waiting on Nagle's algorithm.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(
            listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}
