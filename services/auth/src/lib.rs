//! auth-service: accounts, sessions and the keys that verify access tokens.
//!
//! - Signup writes the user and a `UserRegistered` event in one transaction; the
//!   in-process outbox relay publishes it to `auth.user-registered.v1`.
//! - Login checks argon2id hashes, throttled per account and per client address.
//! - Access tokens are RS256 JWTs; refresh tokens are opaque, stored hashed, rotated on
//!   every use with reuse detection per family.
//! - `UserDeleted` from user-service disables the account and revokes its tokens.
//!
//! [`Application::build`] assembles everything on a bound port; [`run`] is `main`.

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod hashing;
pub mod service;
pub mod store;

use std::{net::SocketAddr, time::Duration};

use contracts::{auth::auth_service_server::AuthServiceServer, events::UserDeleted, topics};
use platform::{
    app::App,
    config::Env,
    grpc::GrpcServer,
    jwt::JwtVerifier,
    kafka::{consume, ensure_topics, ensure_topics_until_done, topic_name, ConsumerSettings},
    BoxError,
};
use tokio_util::sync::CancellationToken;

pub use crate::config::Config;
use crate::{
    domain::PasswordHasher,
    grpc::AuthGrpc,
    hashing::HashPool,
    service::{Auth, Throttling},
};

/// Partitions of the topics this service creates when they are missing.
const PARTITIONS: i32 = 3;
/// How long start-up waits for Kafka to create topics before going on without it (the
/// outbox keeps events until the broker is back).
const KAFKA_STARTUP_WAIT: Duration = Duration::from_secs(5);
/// The consumer group (before the topic suffix) and the `process_once` namespace. Fixed,
/// not derived from `SERVICE_NAME`: renaming the service must not replay or skip events.
pub const CONSUMER_GROUP: &str = "auth-service";
/// How often expired refresh tokens and old login failures are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// Reads the configuration from the environment, starts telemetry and serves until
/// SIGTERM/Ctrl-C; the process exit code (0 ok, 1 failed, 2 bad configuration).
pub async fn run() -> i32 {
    let config = match Config::from_env(&Env::process()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("auth-service: configuration error: {e}");
            return 2;
        }
    };
    let _telemetry = platform::telemetry::init(&config.common.service_name);
    let result = async { Application::build(config).await?.run_until_stopped().await }.await;
    match result {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "auth-service stopped with an error");
            eprintln!("auth-service: {e}");
            1
        }
    }
}

/// The assembled service, bound to its port but not serving yet.
pub struct Application {
    app: App,
    server: GrpcServer,
    addr: SocketAddr,
}

impl Application {
    /// Migrates the database, binds the gRPC port (`GRPC_ADDR`; port 0 picks a free one),
    /// and starts the background tasks: outbox relay, `UserDeleted` consumer and purge.
    pub async fn build(config: Config) -> Result<Self, BoxError> {
        let url = config.database_url.expose().to_owned();
        platform::db::migrate(&url, store::MIGRATIONS).await?;
        let pool = platform::db::pool(&url, config.database_pool_size)?;

        // Computing the dummy hash costs one argon2 run: off the runtime.
        let hasher = tokio::task::spawn_blocking(PasswordHasher::owasp).await?;
        let hashes = HashPool::new(hasher, config.password_hashing)
            .map_err(|e| format!("cannot start the password-hashing threads: {e}"))?;
        tracing::info!(
            workers = hashes.workers(),
            memory_mib = config.password_hashing.memory_mib,
            "password hashing pool started"
        );
        let throttling = Throttling {
            per_account: config.account_throttle,
            per_client: config.client_throttle,
        };
        let auth = Auth::new(
            pool.clone(),
            hashes,
            config.jwt.issuer(),
            config.refresh_token_ttl,
            throttling,
        );

        // All of this service's RPCs are public; the layer still guards anything added later.
        let verifier = JwtVerifier::new(&config.jwt.issuer, &config.jwt.audience)
            .with_jwks(&config.jwt.keys.jwks_json())?;
        let server = GrpcServer::bind(config.common.grpc_addr)
            .await
            .map_err(|e| format!("cannot listen on GRPC_ADDR={}: {e}", config.common.grpc_addr))?
            .require_auth(verifier, grpc::PUBLIC_PATHS)
            .add_service(AuthServiceServer::new(AuthGrpc::new(auth.clone())));
        let addr = server.local_addr();

        let common = config.common.clone();
        let mut app = App::new(common.clone());
        let produced = topic_name(topics::USER_REGISTERED, &common.topic_suffix);
        let consumed = topic_name(topics::USER_DELETED, &common.topic_suffix);
        let kafka_topics = vec![produced, consumed.clone()];
        match tokio::time::timeout(
            KAFKA_STARTUP_WAIT,
            ensure_topics(&common.kafka_brokers, &as_strs(&kafka_topics), PARTITIONS),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot create topics yet; retrying in the background"),
            Err(_) => tracing::warn!(
                "Kafka did not answer at start-up; signups are kept in the outbox until it does"
            ),
        }

        app.spawn_outbox_relay(pool.clone(), &config.outbox_instance);
        spawn_user_deleted_consumer(&mut app, pool, consumed, kafka_topics)?;
        spawn_purge(&mut app, auth);
        Ok(Self { app, server, addr })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cancel it to stop the service (tests; `run` stops on SIGTERM/Ctrl-C).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.app.shutdown_token()
    }

    /// Serves until shut down; in-flight calls drain and background tasks stop.
    pub async fn run_until_stopped(self) -> Result<(), BoxError> {
        self.app.serve(self.server).await
    }
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Consumes `UserDeleted` in group `auth-service<suffix>` once the topics exist.
fn spawn_user_deleted_consumer(
    app: &mut App,
    pool: platform::db::PgPool,
    topic: String,
    topics: Vec<String>,
) -> Result<(), BoxError> {
    let c = app.config.clone();
    let group = format!("{CONSUMER_GROUP}{}", c.topic_suffix);
    let dlq = app.producer()?;
    let stop = app.shutdown_token();
    app.spawn("user-deleted-consumer", async move {
        if !ensure_topics_until_done(&c.kafka_brokers, &as_strs(&topics), PARTITIONS, &stop).await {
            return Ok(());
        }
        let settings = ConsumerSettings::new(&c.kafka_brokers, &group, &topic);
        let consumer = group.clone();
        let handler = move |env: platform::kafka::Envelope<UserDeleted>| {
            let pool = pool.clone();
            let consumer = consumer.clone();
            async move { events::on_user_deleted(&pool, &consumer, env).await }
        };
        consume(settings, dlq, handler, stop).await?;
        Ok(())
    });
    Ok(())
}

/// Periodic clean-up of expired refresh tokens and stale login failures.
fn spawn_purge(app: &mut App, auth: Auth) {
    let stop = app.shutdown_token();
    app.spawn("purge", async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(PURGE_EVERY) => {}
            }
            match auth.purge_stale().await {
                Ok((tokens, attempts)) => tracing::debug!(tokens, attempts, "purged stale rows"),
                // Transient (database down): try again next round; never stop the service.
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        }
    });
}
