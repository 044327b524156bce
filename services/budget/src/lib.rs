//! budget-service: budgets per week or month, their spending from a projection of the
//! owner's expenses (built from `ExpenseChanged`), and alerts once per (budget, period,
//! threshold), published as `BudgetAlert` through the outbox. `UserDeleted` purges.

pub mod alerts;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod page_token;
pub mod projection;
pub mod proto;
pub mod store;

use contracts::{budget::budget_service_server::BudgetServiceServer, topics};
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::{
    app::App,
    batch_consumer::{consume_batches, BatchSettings},
    config::Env,
    grpc::GrpcServer,
    kafka::{consume, ensure_topics_until_done, topic_name, ConsumerSettings},
    profile::Profiles,
    BoxError,
};

pub use config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A built service: bound, migrated; consumers and relay start with it.
pub struct Application {
    app: App,
    server: GrpcServer,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, BoxError> {
        platform::db::migrate(&config.database_url, MIGRATIONS).await?;
        let pool = platform::db::pool(&config.database_url, config.pool_size)?;
        let common = &config.common;
        let mut app = App::new(common.clone());
        // BudgetAlerts wait in the outbox while Kafka is away; the relay publishes them once
        // their topic exists (created below with the consumers').
        app.spawn_outbox_relay(pool.clone(), &config.outbox_instance);

        let alerts_topic = topic_name(topics::BUDGET_ALERT, &common.topic_suffix);
        for (base, name) in [
            (topics::EXPENSE_CHANGED, "expense-changed-consumer"),
            (topics::USER_DELETED, "user-deleted-consumer"),
        ] {
            let topic = topic_name(base, &common.topic_suffix);
            let settings = ConsumerSettings::new(&common.kafka_brokers, &config.consumer_group, &topic);
            let (dlq, stop, pool) = (app.producer()?, app.shutdown_token(), pool.clone());
            let brokers = common.kafka_brokers.clone();
            let alerts_topic = alerts_topic.clone();
            let (batch_size, batch_wait) = (config.batch_size, config.batch_wait);
            // Kafka may come up after the service: each consumer creates its topics when it can.
            app.spawn(name, async move {
                if !ensure_topics_until_done(&brokers, &[&topic, &alerts_topic], 3, &stop).await {
                    return Ok(());
                }
                if base == topics::EXPENSE_CHANGED {
                    // The hot path (every change of every expense): a chunk per transaction.
                    let settings = BatchSettings {
                        consumer: settings,
                        max_messages: batch_size,
                        max_wait: batch_wait,
                    };
                    let handler = move |batch| {
                        let pool = pool.clone();
                        async move { events::on_expenses_changed(&pool, batch).await }
                    };
                    Ok(consume_batches(settings, handler, stop).await?)
                } else {
                    let handler = move |env| {
                        let pool = pool.clone();
                        async move { events::on_user_deleted(&pool, env).await }
                    };
                    Ok(consume(settings, dlq, handler, stop).await?)
                }
            });
        }

        let profiles = Profiles::new(&config.user_service_addr, config.user_service_timeout)?;
        let server = GrpcServer::bind(common.grpc_addr)
            .await?
            .require_auth(config.jwt.clone(), &[])
            .add_service(BudgetServiceServer::new(grpc::BudgetGrpc::new(
                pool,
                profiles,
                config.default_timezone,
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
