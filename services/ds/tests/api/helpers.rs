use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use contracts::{
    ds::{
        extraction_service_client::ExtractionServiceClient, CreateExtractionRuleRequest,
        DeleteExtractionRuleRequest, ExtractExpenseRequest, ExtractExpenseResponse,
        ListExtractionRulesRequest, Rule,
    },
    events::UserRegistered,
    topics,
    user::{
        user_service_server::{UserService, UserServiceServer},
        DeleteMeRequest, DeleteMeResponse, GetMeRequest, GetUserRequest, UpdateMeRequest, UserProfile,
    },
    Event,
};
use ds::{Application, Config};
use platform::{
    config::Env,
    grpc::GrpcServer,
    kafka::{EventProducer, RawEvent},
    testing::{eventually, read_topic, tokens, unique, Infra, ReadMessage},
};
use tokio_util::sync::CancellationToken;
use tonic::{metadata::MetadataMap, transport::Channel, Request, Response, Status};
use uuid::Uuid;

/// A trace id the tests send in `traceparent` and look for downstream.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Nothing listens here: connections are refused at once.
pub const CLOSED_ADDR: &str = "http://127.0.0.1:1";

pub struct TestApp {
    pub infra: Infra,
    pub suffix: String,
    /// URL of the app's own database.
    pub db: String,
    pub client: ExtractionServiceClient<Channel>,
    /// Publishes on the app's topics, as expense-service and user-service would.
    pub producer: EventProducer,
    stop: CancellationToken,
}

/// ds-service on port 0 with its own topic suffix and a fresh database; `vars` override
/// the defaults (user-service unreachable, defaults EUR and Europe/Berlin, no LLM).
pub async fn spawn_app(vars: &[(&str, &str)]) -> TestApp {
    let infra = Infra::from_env();
    let suffix = vars
        .iter()
        .find(|(k, _)| *k == "KAFKA_TOPIC_SUFFIX")
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| format!("-{}", unique("t")));
    let db = infra.fresh_database().await;
    let mut env: Vec<(&str, &str)> = vec![
        ("DATABASE_URL", db.as_str()),
        ("DB_POOL_SIZE", "4"),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix.as_str()),
        ("USER_SERVICE_ADDR", CLOSED_ADDR),
        ("USER_SERVICE_TIMEOUT_MS", "1000"),
        ("DEFAULT_CURRENCY", "EUR"),
        ("DEFAULT_TIMEZONE", "Europe/Berlin"),
    ];
    env.extend(tokens::verifier_env());
    env.retain(|(k, _)| !vars.iter().any(|(o, _)| o == k));
    env.extend_from_slice(vars);
    let config = Config::from_env(&Env::from_pairs(env)).expect("config");
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
        db,
        client: ExtractionServiceClient::new(channel),
        producer,
        stop,
    }
}

/// A request with the given fields (empty strings mean "not given").
pub fn extraction(text: &str, currency: &str, zone: &str, reference_date: &str) -> ExtractExpenseRequest {
    ExtractExpenseRequest {
        text: text.into(),
        dry_run: false,
        default_currency: currency.into(),
        timezone: zone.into(),
        reference_date: reference_date.into(),
        request_id: String::new(),
    }
}

impl TestApp {
    /// `msg` as `user`, with a `traceparent` carrying [`TRACE_ID`].
    pub fn request<T>(&self, user: Uuid, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        req.metadata_mut().insert("authorization", tokens::bearer(user));
        req.metadata_mut().insert(
            "traceparent",
            format!("00-{TRACE_ID}-00f067aa0ba902b7-01").parse().unwrap(),
        );
        req
    }

    pub async fn extract(
        &self,
        user: Uuid,
        msg: ExtractExpenseRequest,
    ) -> Result<ExtractExpenseResponse, Status> {
        self.client
            .clone()
            .extract_expense(self.request(user, msg))
            .await
            .map(|r| r.into_inner())
    }

    /// Publishes `event` on the app's topic of its type; returns it as sent (for replays).
    pub async fn publish<E: Event>(&self, event: &E) -> RawEvent {
        let raw = RawEvent::new(event);
        self.producer.send(&raw).await.expect("event published");
        raw
    }

    pub async fn rules(&self, user: Uuid) -> Vec<Rule> {
        self.client
            .clone()
            .list_extraction_rules(self.request(user, ListExtractionRulesRequest {}))
            .await
            .expect("rules listed")
            .into_inner()
            .rules
    }

    /// Waits until `check` holds for `user`'s rules; returns them.
    pub async fn wait_rules(&self, user: Uuid, what: &str, check: impl Fn(&[Rule]) -> bool) -> Vec<Rule> {
        let held = eventually(Duration::from_secs(30), || async {
            check(&self.rules(user).await)
        })
        .await;
        let rules = self.rules(user).await;
        assert!(held, "{what}: never happened; rules are {rules:#?}");
        rules
    }

    pub async fn create_rule(
        &self,
        user: Uuid,
        pattern: &str,
        merchant: &str,
        category: i32,
    ) -> Result<Rule, Status> {
        let msg = CreateExtractionRuleRequest {
            merchant_pattern: pattern.into(),
            merchant: merchant.into(),
            category,
        };
        self.client
            .clone()
            .create_extraction_rule(self.request(user, msg))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn delete_rule(&self, user: Uuid, id: &str) -> Result<(), Status> {
        self.client
            .clone()
            .delete_extraction_rule(self.request(user, DeleteExtractionRuleRequest { id: id.into() }))
            .await
            .map(drop)
    }

    pub fn extracted_topic(&self) -> String {
        format!("{}{}", topics::EXPENSE_EXTRACTED, self.suffix)
    }

    /// Waits for `expected` events, then `linger` more for extra ones.
    pub async fn published(&self, expected: usize, linger: Duration) -> Vec<ReadMessage> {
        read_topic(
            &self.infra.brokers,
            &self.extracted_topic(),
            expected,
            Duration::from_secs(20),
            linger,
        )
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

// === the real user-service ===

/// user-service in-process, on a fresh database, reading registrations from the topics of
/// `suffix`.
pub struct UserApp {
    pub addr: String,
    producer: EventProducer,
    client: contracts::user::user_service_client::UserServiceClient<Channel>,
    stop: CancellationToken,
}

pub async fn spawn_user_service(infra: &Infra, suffix: &str) -> UserApp {
    let db = infra.fresh_database().await;
    let instance = unique("user");
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix),
        ("OUTBOX_INSTANCE", instance.as_str()),
        ("PROFILE_WAIT_MS", "300"),
    ];
    vars.extend(tokens::verifier_env());
    let config = user_service::Config::from_env(&Env::from_pairs(vars)).expect("user-service config");
    let app = user_service::Application::build(config)
        .await
        .expect("user-service builds");
    let addr = format!("http://127.0.0.1:{}", app.port());
    let stop = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    let channel = Channel::from_shared(addr.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let producer = EventProducer::new(&infra.brokers, "/tests", Duration::from_secs(10))
        .unwrap()
        .with_topic_suffix(suffix);
    UserApp {
        addr,
        producer,
        client: contracts::user::user_service_client::UserServiceClient::new(channel),
        stop,
    }
}

impl UserApp {
    /// Publishes a registration as auth-service would, and waits until the profile exists.
    pub async fn register(&self, user: Uuid, currency: &str, zone: &str) {
        let event = RawEvent::new(&UserRegistered {
            user_id: user.to_string(),
            email: format!("{}@example.com", user.simple()),
            display_name: "Asha".into(),
            default_currency: currency.into(),
            timezone: zone.into(),
            registered_at: None,
        });
        self.producer.send(&event).await.expect("registration published");
        let found = eventually(Duration::from_secs(30), || async {
            let mut req = Request::new(GetUserRequest {
                user_id: user.to_string(),
            });
            req.metadata_mut().insert("authorization", tokens::bearer(user));
            self.client.clone().get_user(req).await.is_ok()
        })
        .await;
        assert!(found, "the profile of {user} never appeared");
    }
}

impl Drop for UserApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

// === a fake user-service ===

/// Answers GetUser with a fixed profile after `delay`, and keeps the metadata it was sent.
#[derive(Clone)]
pub struct FakeUsers {
    pub seen: Arc<Mutex<Vec<MetadataMap>>>,
    currency: String,
    zone: String,
    delay: Duration,
}

pub struct FakeUserService {
    pub addr: String,
    pub users: FakeUsers,
    stop: CancellationToken,
}

pub async fn spawn_fake_user_service(currency: &str, zone: &str, delay: Duration) -> FakeUserService {
    let users = FakeUsers {
        seen: Arc::default(),
        currency: currency.into(),
        zone: zone.into(),
        delay,
    };
    let server = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .add_service(UserServiceServer::new(users.clone()));
    let addr = format!("http://{}", server.local_addr());
    let stop = CancellationToken::new();
    platform::grpc::spawn(server, stop.clone());
    FakeUserService { addr, users, stop }
}

impl FakeUserService {
    pub fn calls(&self) -> Vec<MetadataMap> {
        self.users.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeUserService {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[tonic::async_trait]
impl UserService for FakeUsers {
    async fn get_me(&self, _: Request<GetMeRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn update_me(&self, _: Request<UpdateMeRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn delete_me(&self, _: Request<DeleteMeRequest>) -> Result<Response<DeleteMeResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn get_user(&self, req: Request<GetUserRequest>) -> Result<Response<UserProfile>, Status> {
        self.seen.lock().unwrap().push(req.metadata().clone());
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(UserProfile {
            user_id: req.get_ref().user_id.clone(),
            email: "fake@example.com".into(),
            display_name: "Fake".into(),
            default_currency: self.currency.clone(),
            timezone: self.zone.clone(),
            created_at: None,
            updated_at: None,
        }))
    }
}
