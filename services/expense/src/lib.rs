//! expense-service: the ledger. Expenses arrive from `ExpenseExtracted` (batched consumer)
//! or by hand (CreateExpense); their owner lists, edits, deletes and summarises them;
//! `UserDeleted` purges them. Every change is announced as `ExpenseChanged` through the
//! outbox, which the in-process relay publishes.

pub mod changes;
pub mod config;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod proto;
pub mod store;

use contracts::{expense::expense_service_server::ExpenseServiceServer, topics};
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::{
    app::App,
    batch_consumer::{consume_batches, BatchSettings},
    config::Env,
    grpc::GrpcServer,
    kafka::{consume, ensure_topics_until_done, topic_name, ConsumerSettings},
    BoxError,
};

pub use config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Most outbox rows the relay publishes per Kafka transaction.
const RELAY_BATCH: i64 = 2000;

/// A built service: bound, migrated, consumers and relay started on `run_until_stopped`.
pub struct Application {
    app: App,
    server: GrpcServer,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, BoxError> {
        platform::db::migrate(&config.database_url, MIGRATIONS).await?;
        let pool = platform::db::pool(&config.database_url, config.pool_size)?;
        let common = &config.common;
        let extracted = topic_name(topics::EXPENSE_EXTRACTED, &common.topic_suffix);
        let deleted = topic_name(topics::USER_DELETED, &common.topic_suffix);
        let changed = topic_name(topics::EXPENSE_CHANGED, &common.topic_suffix);
        let group = format!("expense-service{}", common.topic_suffix);

        let mut app = App::new(common.clone());
        // ExpenseChanged rows wait in the outbox while Kafka is away; the relay publishes
        // them once the topic exists (created below, with the consumer's). The consumer
        // fills the outbox a batch of up to 1,000 at a time: the relay takes as many per
        // Kafka transaction (platform's default, 500, suits a signup at a time).
        app.spawn_outbox_relay_with(pool.clone(), &config.outbox_instance, |r| {
            r.with_batch_size(RELAY_BATCH)
        });

        // ExpenseExtracted is the hot path (every text a user sends): batched, one
        // transaction per batch.
        let settings = BatchSettings {
            consumer: ConsumerSettings::new(&common.kafka_brokers, &group, &extracted),
            max_messages: config.batch_size,
            max_wait: config.batch_wait,
        };
        let (stop, consumer_pool) = (app.shutdown_token(), pool.clone());
        // Kafka may come up after the service: each consumer creates its topic when it can.
        let brokers = common.kafka_brokers.clone();
        app.spawn("expense-extracted-consumer", async move {
            let topic = settings.consumer.topic.clone();
            if !ensure_topics_until_done(&brokers, &[&topic, &changed], 3, &stop).await {
                return Ok(());
            }
            let handler = move |batch| {
                let pool = consumer_pool.clone();
                async move { events::on_expenses_extracted(&pool, batch).await }
            };
            Ok(consume_batches(settings, handler, stop).await?)
        });

        // UserDeleted is rare: platform's one-at-a-time consumer.
        let settings = ConsumerSettings::new(&common.kafka_brokers, &group, &deleted);
        let (dlq, stop, consumer_pool) = (app.producer()?, app.shutdown_token(), pool.clone());
        let brokers = common.kafka_brokers.clone();
        app.spawn("user-deleted-consumer", async move {
            if !ensure_topics_until_done(&brokers, &[&deleted], 3, &stop).await {
                return Ok(());
            }
            let handler = move |env| {
                let pool = consumer_pool.clone();
                async move { events::on_user_deleted(&pool, env).await }
            };
            Ok(consume(settings, dlq, handler, stop).await?)
        });

        let server = GrpcServer::bind(common.grpc_addr)
            .await?
            .require_auth(config.jwt.clone(), &[])
            .add_service(ExpenseServiceServer::new(grpc::ExpenseGrpc::new(pool.clone())));
        app.spawn_request_sweeper(pool);
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
