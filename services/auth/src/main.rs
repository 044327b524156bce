//! auth-service: see the library for everything but the entry point.

#[tokio::main]
async fn main() {
    // Exits as soon as the service has stopped (see `platform::app::exit`).
    std::process::exit(auth_service::run().await)
}
