//! Runs the outbox relay of one service database on its own, e.g. as a sidecar or to
//! drain an outbox by hand. Every service also runs the same relay in-process.
//!
//! Environment: `DATABASE_URL`, `KAFKA_BROKERS`, `OUTBOX_TRANSACTIONAL_ID` (stable per
//! relay instance), `OUTBOX_SOURCE` (CloudEvents source), `OUTBOX_BATCH_SIZE` (default
//! 500), `OUTBOX_SEND_DELAY_MS` (fault injection for tests; default none).

use std::time::Duration;

use platform::{
    config::Env,
    db,
    kafka::EventProducer,
    outbox::{run_relay, Relay},
    BoxError,
};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let _telemetry = platform::telemetry::init("outbox-relay");
    let env = Env::process();
    let url: String = env.required("DATABASE_URL", "a postgres:// URL of the service database")?;
    let brokers: String = env.or("KAFKA_BROKERS", "127.0.0.1:59092".into(), "host:port[,host:port]")?;
    let tx_id: String = env.required(
        "OUTBOX_TRANSACTIONAL_ID",
        "a Kafka transactional.id stable per relay",
    )?;
    let source: String = env.or(
        "OUTBOX_SOURCE",
        "/expense-tracker/outbox-relay".into(),
        "a URI reference",
    )?;
    let batch: i64 = env.or("OUTBOX_BATCH_SIZE", 500, "a positive number")?;
    let delay = env.optional::<u64>("OUTBOX_SEND_DELAY_MS", "milliseconds")?;

    let pool = db::pool(&url, 2)?;
    let producer = || EventProducer::transactional(&brokers, &source, &tx_id, Duration::from_secs(30));
    let configure = |relay: Relay| {
        let relay = relay.with_batch_size(batch);
        match delay {
            Some(ms) => relay.with_send_delay(Duration::from_millis(ms)),
            None => relay,
        }
    };
    let stop = CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(async move {
        platform::grpc::shutdown_signal().await;
        s.cancel();
    });
    tracing::info!(transactional_id = %tx_id, "starting the outbox relay");
    run_relay(pool, producer, configure, stop).await?;
    Ok(())
}
