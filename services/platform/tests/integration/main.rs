//! Platform integration tests against the project's real PostgreSQL and Apache Kafka
//! (`scripts/infra.sh up`). One binary, test names read as sentences.

mod grpc_auth;
mod grpc_reflection;
mod kafka_consumer;
mod metrics;
mod outbox_relay;

use contracts::user::user_service_server::{UserService, UserServiceServer};
use platform::{grpc::GrpcServer, jwt::JwtVerifier, testing::Infra};
use tokio_util::sync::CancellationToken;

/// The public half of the fixture key the tests sign tokens with.
pub const SIGNING_PUB: &[u8] = include_bytes!("../fixtures/signing.pub.pem");

/// The infrastructure; also installs quiet telemetry (logs when TEST_LOG is set).
pub fn infra() -> Infra {
    Infra::from_env()
}

/// `service` behind platform's whole gRPC stack, JWT required (the fixture key as "k1"), on a
/// free port: its `http://` address and the token that stops it.
pub async fn spawn_user_service(service: impl UserService) -> (String, CancellationToken) {
    let _ = infra();
    let verifier = JwtVerifier::new("expense-tracker", "expense-tracker-api")
        .with_pem("k1", SIGNING_PUB)
        .unwrap();
    let server = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .require_auth(verifier, &[])
        .add_service(UserServiceServer::new(service));
    let addr = format!("http://{}", server.local_addr());
    let stop = CancellationToken::new();
    platform::grpc::spawn(server, stop.clone());
    (addr, stop)
}
