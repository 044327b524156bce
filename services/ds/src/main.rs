#[tokio::main]
async fn main() -> Result<(), platform::BoxError> {
    ds::run().await
}
