//! `spawn_app()`: the real service on port 0, against a fresh database and its own Kafka
//! topics (a unique suffix), with typed helpers for each RPC.

use std::time::Duration;

use auth_service::{Application, Config};
use contracts::auth::{
    auth_service_client::AuthServiceClient, GetJwksRequest, LoginRequest, LogoutRequest, RefreshRequest,
    SignupRequest, TokenResponse,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use platform::{
    config::Env,
    jwt::JwtVerifier,
    testing::{unique, Infra},
};
use tokio_util::sync::CancellationToken;
use tonic::{transport::Channel, Request, Status};

pub const SIGNING_KEY: &str = include_str!("../fixtures/signing.key.pem");
pub const OTHER_KEY: &str = include_str!("../fixtures/other.key.pem");
pub const OTHER_PUB: &str = include_str!("../fixtures/other.pub.pem");
pub const KID: &str = "test-1";
pub const ISSUER: &str = "expense-tracker";
pub const AUDIENCE: &str = "expense-tracker-api";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn infra() -> Infra {
    // Logs stay quiet unless TEST_LOG is set.
    if std::env::var("TEST_LOG").is_ok() {
        let _ = platform::telemetry::init("auth-tests");
    }
    Infra::from_env()
}

/// Settings of a test app beyond the defaults.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Reuse this database instead of creating one.
    pub database_url: Option<String>,
    /// Kafka bootstrap servers instead of the real broker.
    pub brokers: Option<String>,
    /// Topic suffix instead of a fresh one.
    pub suffix: Option<String>,
    /// Further variables (e.g. throttling limits).
    pub env: Vec<(&'static str, String)>,
}

pub struct TestApp {
    pub database_url: String,
    pub infra: Infra,
    pub suffix: String,
    pub client: AuthServiceClient<Channel>,
    stop: CancellationToken,
    handle: Option<tokio::task::JoinHandle<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let infra = infra();
    let database_url = match opts.database_url {
        Some(url) => url,
        None => infra.fresh_database().await,
    };
    let suffix = opts.suffix.unwrap_or_else(|| format!("-{}", unique("t")));
    let brokers = opts.brokers.unwrap_or_else(|| infra.brokers.clone());
    let instance = unique("auth-test");
    let mut vars: Vec<(&str, String)> = vec![
        ("DATABASE_URL", database_url.clone()),
        ("DATABASE_POOL_SIZE", "4".into()),
        ("GRPC_ADDR", "127.0.0.1:0".into()),
        ("KAFKA_BROKERS", brokers),
        ("KAFKA_TOPIC_SUFFIX", suffix.clone()),
        // Every app in this process needs its own relay transactional id.
        ("OUTBOX_INSTANCE", instance),
        ("JWT_PRIVATE_KEY_PEM", SIGNING_KEY.into()),
        ("JWT_KEY_ID", KID.into()),
    ];
    vars.extend(opts.env);
    let env = Env::from_pairs(vars.iter().map(|(k, v)| (*k, v.as_str())));
    let config = Config::from_env(&env).expect("test configuration");
    let app = Application::build(config).await.expect("the application starts");
    let addr = format!("http://127.0.0.1:{}", app.port());
    let stop = app.shutdown_token();
    let handle = tokio::spawn(async move {
        app.run_until_stopped().await.expect("the application serves");
    });
    let client = connect(&addr).await;
    TestApp {
        database_url,
        infra,
        suffix,
        client,
        stop,
        handle: Some(handle),
    }
}

async fn connect(addr: &str) -> AuthServiceClient<Channel> {
    for _ in 0..100 {
        if let Ok(c) = AuthServiceClient::connect(addr.to_owned()).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("cannot connect to {addr}");
}

impl TestApp {
    /// Stops the service and waits until it has.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(h) = self.handle.take() {
            h.await.expect("the application task");
        }
    }

    pub fn topic(&self, base: &str) -> String {
        platform::kafka::topic_name(base, &self.suffix)
    }

    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.database_url)
            .await
            .expect("test database")
    }

    pub async fn signup_full(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        default_currency: &str,
        timezone: &str,
    ) -> Result<TokenResponse, Status> {
        let req = SignupRequest {
            email: email.into(),
            password: password.into(),
            display_name: display_name.into(),
            default_currency: default_currency.into(),
            timezone: timezone.into(),
        };
        self.client.clone().signup(req).await.map(|r| r.into_inner())
    }

    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> Result<TokenResponse, Status> {
        self.signup_full(email, password, display_name, "", "").await
    }

    /// A new account with [`PASSWORD`].
    pub async fn signup_ok(&self, email: &str) -> TokenResponse {
        self.signup(email, PASSWORD, "Test User").await.expect("signup")
    }

    /// Login as from client address `from` (sent as `x-forwarded-for`).
    pub async fn login_from(&self, email: &str, password: &str, from: &str) -> Result<TokenResponse, Status> {
        let mut req = Request::new(LoginRequest {
            email: email.into(),
            password: password.into(),
        });
        req.metadata_mut()
            .insert("x-forwarded-for", from.parse().unwrap());
        self.client.clone().login(req).await.map(|r| r.into_inner())
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<TokenResponse, Status> {
        let req = LoginRequest {
            email: email.into(),
            password: password.into(),
        };
        self.client.clone().login(req).await.map(|r| r.into_inner())
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, Status> {
        let req = RefreshRequest {
            refresh_token: refresh_token.into(),
        };
        self.client.clone().refresh(req).await.map(|r| r.into_inner())
    }

    pub async fn logout(&self, refresh_token: &str) -> Result<(), Status> {
        let req = LogoutRequest {
            refresh_token: refresh_token.into(),
        };
        self.client.clone().logout(req).await.map(|_| ())
    }

    /// The GetJwks answer as an RFC 7517 JSON document.
    pub async fn jwks_json(&self) -> String {
        let keys = self
            .client
            .clone()
            .get_jwks(GetJwksRequest {})
            .await
            .expect("jwks")
            .into_inner()
            .keys;
        let keys: Vec<_> = keys
            .iter()
            .map(|k| serde_json::json!({"kty": k.kty, "kid": k.kid, "alg": k.alg, "use": k.r#use, "n": k.n, "e": k.e}))
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    /// A verifier built only from what GetJwks publishes.
    pub async fn verifier(&self) -> JwtVerifier {
        JwtVerifier::new(ISSUER, AUDIENCE)
            .with_jwks(&self.jwks_json().await)
            .expect("a valid JWKS")
    }
}

/// Asserts `result` failed with `code` and a message containing `needle`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: tonic::Code,
    needle: &str,
) -> Status {
    let status = result.expect_err("the call should fail");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(needle),
        "message {:?} should contain {needle:?}",
        status.message()
    );
    status
}

/// Counts rows of `sql` (a `SELECT count(*) AS n ...`).
pub async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: N = diesel::sql_query(sql).get_result(conn).await.expect(sql);
    row.n
}
