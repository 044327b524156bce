#[tokio::main]
async fn main() -> Result<(), platform::BoxError> {
    expense_service::run().await
}
