use std::time::Duration;

use contracts::{events::UserRegistered, topics, user::user_service_client::UserServiceClient};
use platform::{
    config::Env,
    kafka::{EventProducer, RawEvent},
    testing::{tokens, unique, Infra},
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use user_service::{Application, Config};
use uuid::Uuid;

pub struct TestApp {
    pub infra: Infra,
    pub suffix: String,
    pub producer: EventProducer,
    pub client: UserServiceClient<Channel>,
    pub stop: CancellationToken,
}

pub async fn spawn_app() -> TestApp {
    let infra = Infra::from_env();
    let db = infra.fresh_database().await;
    let suffix = format!("-{}", unique("t"));
    let instance = unique("user");
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix.as_str()),
        ("OUTBOX_INSTANCE", instance.as_str()),
        ("PROFILE_WAIT_MS", "300"),
        ("DEFAULT_CURRENCY", "EUR"),
        ("DEFAULT_TIMEZONE", "Europe/Berlin"),
    ];
    vars.extend(tokens::verifier_env());
    let config = Config::from_env(&Env::from_pairs(vars)).expect("config");
    let app = Application::build(config).await.expect("app builds");
    let port = app.port();
    let stop = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let producer = EventProducer::new(&infra.brokers, "/tests", Duration::from_secs(10))
        .unwrap()
        .with_topic_suffix(&suffix);
    TestApp {
        infra,
        suffix,
        producer,
        client: UserServiceClient::new(channel),
        stop,
    }
}

impl TestApp {
    pub fn topic(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    /// A registration event as auth-service would publish it.
    pub fn registration(&self, user_id: Uuid, currency: &str, zone: &str) -> RawEvent {
        RawEvent::new(&UserRegistered {
            user_id: user_id.to_string(),
            email: format!("{}@Example.com", user_id.simple()),
            display_name: "Asha".into(),
            default_currency: currency.into(),
            timezone: zone.into(),
            registered_at: None,
        })
    }

    pub async fn register(&self, user_id: Uuid) -> RawEvent {
        let ev = self.registration(user_id, "INR", "Asia/Kolkata");
        self.producer.send(&ev).await.unwrap();
        ev
    }

    pub fn request<T>(&self, user_id: Uuid, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.metadata_mut()
            .insert("authorization", tokens::bearer(user_id));
        req
    }

    pub fn registered_topic(&self) -> String {
        self.topic(topics::USER_REGISTERED)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
