//! auth-service: see the library for everything but the entry point.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    auth_service::run().await
}
