#[tokio::main]
async fn main() {
    // Exits as soon as the service has stopped (see `platform::app::exit`).
    platform::app::exit(budget_service::run().await)
}
