#[tokio::main]
async fn main() -> Result<(), platform::BoxError> {
    user_service::run().await
}
