//! user-service: profiles built from `UserRegistered`, read and edited by their owner,
//! deleted with `UserDeleted` (via the outbox).

pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use contracts::{topics, user::user_service_server::UserServiceServer};
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::{
    app::App,
    config::Env,
    grpc::GrpcServer,
    kafka::{consume, topic_name, ConsumerSettings},
    BoxError,
};

pub use config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A built service: bound, migrated, consumers and relay started on `run_until_stopped`.
pub struct Application {
    app: App,
    server: GrpcServer,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, BoxError> {
        platform::db::migrate(&config.database_url, MIGRATIONS).await?;
        let pool = platform::db::pool(&config.database_url, 16)?;
        let common = &config.common;
        let registered = topic_name(topics::USER_REGISTERED, &common.topic_suffix);
        let deleted = topic_name(topics::USER_DELETED, &common.topic_suffix);
        // Kafka may come up after the service: the consumer creates the topics when it can.
        let topics = [registered.clone(), deleted];

        let mut app = App::new(common.clone());
        app.spawn_outbox_relay(pool.clone(), &config.outbox_instance);

        let settings = ConsumerSettings::new(
            &common.kafka_brokers,
            &format!("user-service{}", common.topic_suffix),
            &registered,
        );
        let (dlq, stop, consumer_pool) = (app.producer()?, app.shutdown_token(), pool.clone());
        let defaults = (config.default_currency, config.default_timezone);
        let brokers = common.kafka_brokers.clone();
        app.spawn("user-registered-consumer", async move {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            if !platform::kafka::ensure_topics_until_done(&brokers, &names, 3, &stop).await {
                return Ok(());
            }
            let handler = move |env| {
                let pool = consumer_pool.clone();
                async move { events::on_user_registered(&pool, defaults, env).await }
            };
            Ok(consume(settings, dlq, handler, stop).await?)
        });

        let server = GrpcServer::bind(common.grpc_addr)
            .await?
            .require_auth(config.jwt.clone(), &[])
            .add_service(UserServiceServer::new(grpc::UserGrpc::new(
                pool,
                config.profile_wait,
            )));
        Ok(Self { app, server })
    }

    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    pub async fn run_until_stopped(self) -> Result<(), BoxError> {
        self.app.serve(self.server).await
    }

    /// Stops the service when cancelled (tests).
    pub fn shutdown_token(&self) -> tokio_util::sync::CancellationToken {
        self.app.shutdown_token()
    }
}

pub async fn run() -> Result<(), BoxError> {
    let config = Config::from_env(&Env::process())?;
    let _telemetry = platform::telemetry::init(&config.common.service_name);
    Application::build(config).await?.run_until_stopped().await
}
