//! ds-service: turns a sentence about a purchase into a structured expense.
//!
//! `ExtractExpense` settles the caller's currency and time zone (request, else their
//! profile from user-service, else the configured defaults), extracts with the LLM when
//! one is configured and its answer checks out, else with the offline rules, publishes
//! `ExpenseExtracted` and answers once the broker has acknowledged it; expense-service
//! stores the expense from the event. Its database holds each user's memory: rules learned
//! from `ExpenseChanged` (corrections, manual entries) and rules the user wrote; the
//! caller's rules correct every answer of the extractor. `UserDeleted` purges them.

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod extraction;
pub mod grpc;
pub mod llm;
pub mod memory;
// The user-service profile client lives in platform (budget-service needs it too).
pub use platform::profile;
pub mod rulebook;
pub mod store;

use std::{sync::Arc, time::Duration};

use contracts::{ds::extraction_service_server::ExtractionServiceServer, topics};
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use platform::{
    app::App,
    config::Env,
    grpc::GrpcServer,
    kafka::{consume, ensure_topics, ensure_topics_until_done, topic_name, ConsumerSettings, EventProducer},
    BoxError,
};

pub use config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// How long start-up waits for the topic to be created before going on without it.
const ENSURE_TOPICS_WAIT: Duration = Duration::from_secs(5);

/// A built service: bound and ready to serve.
pub struct Application {
    app: App,
    server: GrpcServer,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, BoxError> {
        platform::db::migrate(&config.database_url, MIGRATIONS).await?;
        let pool = platform::db::pool(&config.database_url, config.pool_size)?;
        let common = &config.common;
        let topic = topic_name(topics::EXPENSE_EXTRACTED, &common.topic_suffix);
        // With Kafka down the service still starts, answers dry runs, and answers
        // UNAVAILABLE to the rest until the broker is back; its consumers start when it
        // returns. (In a cluster Strimzi creates the topics; this is for local runs and tests.)
        match tokio::time::timeout(
            ENSURE_TOPICS_WAIT,
            ensure_topics(&common.kafka_brokers, &[&topic], 3),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, %topic, "cannot create the topic; publishing may fail"),
            Err(_) => tracing::warn!(%topic, "Kafka did not answer in time; publishing may fail"),
        }

        let mut app = App::new(common.clone());
        let group = config.consumer_group.clone();
        for (base, name) in [
            (topics::EXPENSE_CHANGED, "expense-changed-consumer"),
            (topics::USER_DELETED, "user-deleted-consumer"),
        ] {
            let topic = topic_name(base, &common.topic_suffix);
            let settings = ConsumerSettings::new(&common.kafka_brokers, &group, &topic);
            let (dlq, stop, pool) = (app.producer()?, app.shutdown_token(), pool.clone());
            let brokers = common.kafka_brokers.clone();
            app.spawn(name, async move {
                if !ensure_topics_until_done(&brokers, &[&topic], 3, &stop).await {
                    return Ok(());
                }
                if base == topics::EXPENSE_CHANGED {
                    let handler = move |env| {
                        let pool = pool.clone();
                        async move { events::on_expense_changed(&pool, env).await }
                    };
                    Ok(consume(settings, dlq, handler, stop).await?)
                } else {
                    let handler = move |env| {
                        let pool = pool.clone();
                        async move { events::on_user_deleted(&pool, env).await }
                    };
                    Ok(consume(settings, dlq, handler, stop).await?)
                }
            });
        }
        // Not `App::producer`: its 10 s acknowledgement timeout is too long for an RPC.
        let producer = EventProducer::new(
            &common.kafka_brokers,
            &format!("/expense-tracker/{}", common.service_name),
            config.publish_timeout,
        )?
        .with_topic_suffix(&common.topic_suffix);
        let extractor = Arc::new(extraction::Extractor::new(config.llm.clone())?);
        match extractor.llm() {
            Some(llm) => tracing::info!(model = %llm.model(), "extraction: LLM first, rules as fallback"),
            None => tracing::info!("extraction: offline rules (MISTRAL_API_KEY not set)"),
        }
        let profiles = profile::Profiles::new(&config.user_service_addr, config.user_service_timeout)?;
        let defaults = grpc::Defaults {
            currency: config.default_currency,
            zone: config.default_timezone,
        };

        let server = GrpcServer::bind(common.grpc_addr)
            .await?
            .require_auth(config.jwt.clone(), &[])
            .add_service(ExtractionServiceServer::new(grpc::ExtractionGrpc::new(
                extractor,
                profiles,
                producer,
                defaults,
                rulebook::Rulebook::new(pool.clone(), config.memory_timeout),
                pool.clone(),
            )));
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
