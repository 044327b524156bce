//! Service assembly shared by every binary: background tasks (outbox relay, consumers)
//! and the gRPC server share one shutdown token; SIGTERM/Ctrl-C or a failed task stops
//! everything, in-flight calls drain, consumers commit their offsets.

use std::{future::Future, time::Duration};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{config::CommonConfig, db::PgPool, grpc::GrpcServer, kafka::EventProducer, BoxError};

/// A running service: its settings, its shutdown token and its background tasks.
pub struct App {
    pub config: CommonConfig,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

impl App {
    pub fn new(config: CommonConfig) -> Self {
        crate::metrics::set_service(&config.service_name);
        crate::metrics::set_kafka_statistics_interval(config.kafka_statistics_interval);
        Self {
            config,
            shutdown: CancellationToken::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Cancelled when the service stops; hand it to loops.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs `task` in the background; if it ends with an error the whole service stops
    /// (a consumer that cannot run must not leave a half-working service behind).
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let stop = self.shutdown.clone();
        self.tasks.spawn(async move {
            if let Err(e) = task.await {
                tracing::error!(task = name, error = %e, "background task failed; stopping the service");
                stop.cancel();
            }
        });
    }

    /// A producer for this service's events (`ce_source` = `/expense-tracker/<service>`).
    pub fn producer(&self) -> Result<EventProducer, BoxError> {
        Ok(EventProducer::new(
            &self.config.kafka_brokers,
            &self.source(),
            Duration::from_secs(10),
        )?
        .with_topic_suffix(&self.config.topic_suffix))
    }

    fn source(&self) -> String {
        format!("/expense-tracker/{}", self.config.service_name)
    }

    /// Deletes expired `request_records` of `pool` in the background (`requests::sweep`):
    /// every service whose RPCs take a `request_id` starts it.
    pub fn spawn_request_sweeper(&mut self, pool: PgPool) {
        self.tasks
            .spawn(crate::requests::sweep(pool, self.shutdown.clone()));
    }

    /// Starts the outbox relay of `pool` in the background. Its transactional id is
    /// `<service>-outbox-<instance>`: `instance` must be stable across restarts of this
    /// replica (e.g. the pod name, `HOSTNAME`). The relay's `init_transactions` needs the
    /// broker, and a service must keep accepting writes while Kafka is down (that is what
    /// the outbox is for), so the start is retried with backoff in the background.
    pub fn spawn_outbox_relay(&mut self, pool: PgPool, instance: &str) {
        self.spawn_outbox_relay_with(pool, instance, |r| r);
    }

    /// As [`App::spawn_outbox_relay`], with the relay shaped by `configure` (e.g. a larger
    /// batch for a service whose outbox fills thousands of rows a second).
    pub fn spawn_outbox_relay_with(
        &mut self,
        pool: PgPool,
        instance: &str,
        configure: impl Fn(crate::outbox::Relay) -> crate::outbox::Relay + Send + 'static,
    ) {
        // The backlog gauges (`outbox_pending_rows`, `outbox_oldest_age_seconds`).
        let sampled = (
            self.config.service_name.clone(),
            pool.clone(),
            self.shutdown.clone(),
        );
        self.tasks
            .spawn(crate::metrics::sample_outbox(sampled.0, sampled.1, sampled.2));
        let c = self.config.clone();
        let tx_id = format!("{}-outbox-{instance}", c.service_name);
        let source = self.source();
        let stop = self.shutdown.clone();
        self.spawn("outbox-relay", async move {
            let producer = || {
                Ok(
                    EventProducer::transactional(&c.kafka_brokers, &source, &tx_id, Duration::from_secs(30))?
                        .with_topic_suffix(&c.topic_suffix),
                )
            };
            tracing::info!(transactional_id = %tx_id, "starting the outbox relay");
            Ok(crate::outbox::run_relay(pool, producer, configure, stop).await?)
        });
    }

    /// Serves `server` until SIGTERM/Ctrl-C, the token is cancelled, or a background task
    /// fails; then stops the background tasks (waiting at most 10 s).
    pub async fn serve(mut self, server: GrpcServer) -> Result<(), BoxError> {
        if let Some(addr) = self.config.metrics_addr {
            let metrics = crate::metrics::MetricsServer::bind(addr).await?;
            tracing::info!(url = %format!("http://{}/metrics", metrics.local_addr()), "serving metrics");
            self.tasks.spawn(metrics.serve(self.shutdown.clone()));
        }
        let stop = self.shutdown.clone();
        let signal = async move {
            tokio::select! {
                _ = crate::grpc::shutdown_signal() => {},
                _ = stop.cancelled() => {},
            }
        };
        tracing::info!(addr = %server.local_addr(), service = %self.config.service_name, "serving");
        let result = server.serve(signal).await;
        self.shutdown.cancel();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            tracing::warn!("background tasks did not stop in 10 s; aborting them");
            self.tasks.abort_all();
        }
        tracing::info!(service = %self.config.service_name, "stopped");
        Ok(result?)
    }
}

/// This replica's stable name: `HOSTNAME` (the pod name in Kubernetes), else `local`.
pub fn instance_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// Ends the process once a service's `run` has returned, with exit code 0 on `Ok` and 1
/// (the error printed) otherwise. A stopped service must not linger: Kafka clients dropped
/// after their tasks were aborted close on the runtime's threads, and a consumer closing
/// while every broker is down waits for ever (librdkafka's consumer close), which would
/// keep the runtime, and the process, alive. Telemetry has been flushed by then (`run`'s
/// guard), and every effect was committed before the shutdown finished.
pub fn exit(result: Result<(), BoxError>) -> ! {
    match result {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(1)
        }
    }
}
