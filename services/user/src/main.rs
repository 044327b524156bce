#[tokio::main]
async fn main() {
    // Exits as soon as the service has stopped (see `platform::app::exit`).
    platform::app::exit(user_service::run().await)
}
