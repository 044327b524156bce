//! Platform integration tests against the project's real PostgreSQL and Apache Kafka
//! (`scripts/infra.sh up`). One binary, test names read as sentences.

mod grpc_auth;
mod kafka_consumer;
mod outbox_relay;

use platform::testing::Infra;

pub fn infra() -> Infra {
    // Logs stay quiet unless TEST_LOG is set.
    if std::env::var("TEST_LOG").is_ok() {
        let _ = platform::telemetry::init("platform-tests");
    }
    Infra::from_env()
}
