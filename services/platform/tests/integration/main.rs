//! Platform integration tests against the project's real PostgreSQL and Apache Kafka
//! (`scripts/infra.sh up`). One binary, test names read as sentences.

mod grpc_auth;
mod grpc_reflection;
mod kafka_consumer;
mod metrics;
mod outbox_relay;

use platform::testing::Infra;

/// The infrastructure; also installs quiet telemetry (logs when TEST_LOG is set).
pub fn infra() -> Infra {
    Infra::from_env()
}
