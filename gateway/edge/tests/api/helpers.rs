//! `spawn_app()`: fake gRPC services (the generated traits, fixed answers, every request
//! and its metadata recorded) on port 0, and the real edge on port 0 in front of them.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, Once},
};

use contracts::{auth, budget, ds, expense, user};
use edge::{Application, Config};
use platform::testing::tokens;
use prost_types::Timestamp;
use tokio_util::sync::CancellationToken;
use tonic::{metadata::MetadataMap, Code, Request, Response, Status};
use uuid::Uuid;

/// 2024-05-01T10:20:30Z (+ nanos, which Kong drops).
pub const CREATED_AT: Timestamp = Timestamp {
    seconds: 1_714_558_830,
    nanos: 123_000_000,
};

/// What the fake services saw.
#[derive(Default)]
pub struct Seen {
    pub metadata: Mutex<Option<MetadataMap>>,
    pub get: Mutex<Option<expense::GetExpenseRequest>>,
    pub list: Mutex<Option<expense::ListExpensesRequest>>,
    pub create: Mutex<Option<expense::CreateExpenseRequest>>,
    pub update: Mutex<Option<expense::UpdateExpenseRequest>>,
    pub summarize: Mutex<Option<expense::SummarizeExpensesRequest>>,
    pub extract: Mutex<Option<ds::ExtractExpenseRequest>>,
    pub create_rule: Mutex<Option<ds::CreateExtractionRuleRequest>>,
    pub delete_rule: Mutex<Option<ds::DeleteExtractionRuleRequest>>,
    pub create_budget: Mutex<Option<budget::CreateBudgetRequest>>,
    pub get_budget: Mutex<Option<budget::GetBudgetRequest>>,
    pub list_budgets: Mutex<Option<budget::ListBudgetsRequest>>,
    pub update_budget: Mutex<Option<budget::UpdateBudgetRequest>>,
    pub delete_budget: Mutex<Option<budget::DeleteBudgetRequest>>,
    pub list_alerts: Mutex<Option<budget::ListAlertsRequest>>,
}

impl Seen {
    fn record<T>(&self, req: Request<T>, slot: Option<&Mutex<Option<T>>>) {
        let (meta, _, msg) = req.into_parts();
        *self.metadata.lock().unwrap() = Some(meta);
        if let Some(slot) = slot {
            *slot.lock().unwrap() = Some(msg);
        }
    }

    /// A metadata value of the last call.
    pub fn header(&self, name: &str) -> Option<String> {
        self.metadata
            .lock()
            .unwrap()
            .as_ref()?
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Every fake service at once.
#[derive(Clone, Default)]
pub struct Fakes {
    pub seen: Arc<Seen>,
}

type Res<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl auth::auth_service_server::AuthService for Fakes {
    async fn signup(&self, req: Request<auth::SignupRequest>) -> Res<auth::TokenResponse> {
        self.seen.record(req, None);
        Ok(Response::new(auth::TokenResponse {
            user_id: "u1".into(),
            access_token: "access".into(),
            refresh_token: "refresh".into(),
            expires_in: 900,
            token_type: "Bearer".into(),
        }))
    }

    /// `email: "status:N"` answers gRPC status N (with a `retry-after` for 8).
    async fn login(&self, req: Request<auth::LoginRequest>) -> Res<auth::TokenResponse> {
        let email = req.get_ref().email.clone();
        self.seen.record(req, None);
        if let Some(n) = email.strip_prefix("status:") {
            let code = Code::from_i32(n.parse().unwrap());
            let mut status = Status::new(code, format!("failed with {n}: ü"));
            if code == Code::ResourceExhausted {
                status.metadata_mut().insert("retry-after", "7".parse().unwrap());
            }
            return Err(status);
        }
        Ok(Response::new(auth::TokenResponse::default()))
    }

    async fn refresh(&self, req: Request<auth::RefreshRequest>) -> Res<auth::TokenResponse> {
        self.seen.record(req, None);
        Ok(Response::new(auth::TokenResponse::default()))
    }

    async fn logout(&self, req: Request<auth::LogoutRequest>) -> Res<auth::LogoutResponse> {
        self.seen.record(req, None);
        Ok(Response::new(auth::LogoutResponse {}))
    }

    async fn get_jwks(&self, req: Request<auth::GetJwksRequest>) -> Res<auth::GetJwksResponse> {
        self.seen.record(req, None);
        Ok(Response::new(auth::GetJwksResponse { keys: vec![] }))
    }
}

#[tonic::async_trait]
impl user::user_service_server::UserService for Fakes {
    async fn get_me(&self, req: Request<user::GetMeRequest>) -> Res<user::UserProfile> {
        self.seen.record(req, None);
        Ok(Response::new(user::UserProfile {
            user_id: "u1".into(),
            email: "a@example.com".into(),
            display_name: "A".into(),
            default_currency: "INR".into(),
            timezone: "Asia/Kolkata".into(),
            created_at: Some(CREATED_AT),
            updated_at: None,
        }))
    }

    async fn update_me(&self, req: Request<user::UpdateMeRequest>) -> Res<user::UserProfile> {
        let display_name = req.get_ref().display_name.clone();
        self.seen.record(req, None);
        Ok(Response::new(user::UserProfile {
            display_name,
            ..Default::default()
        }))
    }

    async fn delete_me(&self, req: Request<user::DeleteMeRequest>) -> Res<user::DeleteMeResponse> {
        self.seen.record(req, None);
        Ok(Response::new(user::DeleteMeResponse {}))
    }

    async fn get_user(&self, _req: Request<user::GetUserRequest>) -> Res<user::UserProfile> {
        Err(Status::unimplemented("internal"))
    }
}

fn expense_of(id: &str) -> expense::Expense {
    expense::Expense {
        id: id.into(),
        user_id: "u1".into(),
        amount: "12.50".into(),
        currency: "USD".into(),
        merchant: "Subway".into(),
        category: expense::Category::FoodAndDrink as i32,
        occurred_on: "2024-05-01".into(),
        note: String::new(),
        raw_text: String::new(),
        source: expense::Source::TextRules as i32,
        confidence: 0.9,
        created_at: Some(CREATED_AT),
        updated_at: None,
        version: 1,
    }
}

#[tonic::async_trait]
impl expense::expense_service_server::ExpenseService for Fakes {
    async fn create_expense(&self, req: Request<expense::CreateExpenseRequest>) -> Res<expense::Expense> {
        let r = req.get_ref().clone();
        self.seen.record(req, Some(&self.seen.create));
        Ok(Response::new(expense::Expense {
            amount: r.amount,
            currency: r.currency,
            merchant: r.merchant,
            category: r.category,
            note: r.note,
            source: expense::Source::Manual as i32,
            confidence: 1.0,
            ..expense_of("e-new")
        }))
    }

    async fn get_expense(&self, req: Request<expense::GetExpenseRequest>) -> Res<expense::Expense> {
        let id = req.get_ref().id.clone();
        self.seen.record(req, Some(&self.seen.get));
        Ok(Response::new(expense_of(&id)))
    }

    async fn list_expenses(
        &self,
        req: Request<expense::ListExpensesRequest>,
    ) -> Res<expense::ListExpensesResponse> {
        self.seen.record(req, Some(&self.seen.list));
        Ok(Response::new(expense::ListExpensesResponse {
            expenses: vec![],
            next_page_token: String::new(),
        }))
    }

    async fn update_expense(&self, req: Request<expense::UpdateExpenseRequest>) -> Res<expense::Expense> {
        let r = req.get_ref().clone();
        self.seen.record(req, Some(&self.seen.update));
        Ok(Response::new(expense::Expense {
            merchant: r.merchant,
            ..expense_of(&r.id)
        }))
    }

    async fn delete_expense(
        &self,
        req: Request<expense::DeleteExpenseRequest>,
    ) -> Res<expense::DeleteExpenseResponse> {
        self.seen.record(req, None);
        Ok(Response::new(expense::DeleteExpenseResponse {}))
    }

    async fn summarize_expenses(
        &self,
        req: Request<expense::SummarizeExpensesRequest>,
    ) -> Res<expense::SummarizeExpensesResponse> {
        self.seen.record(req, Some(&self.seen.summarize));
        Ok(Response::new(expense::SummarizeExpensesResponse {
            groups: vec![expense::SummaryGroup {
                key: "2024-05".into(),
                currency: "USD".into(),
                total: "12.50".into(),
                count: 2,
            }],
        }))
    }

    async fn export_expenses(
        &self,
        req: Request<expense::ExportExpensesRequest>,
    ) -> Res<expense::ExportExpensesResponse> {
        self.seen.record(req, None);
        Err(Status::unimplemented("not faked"))
    }

    async fn list_recurring_expenses(
        &self,
        req: Request<expense::ListRecurringExpensesRequest>,
    ) -> Res<expense::ListRecurringExpensesResponse> {
        self.seen.record(req, None);
        Err(Status::unimplemented("not faked"))
    }
}

#[tonic::async_trait]
impl ds::extraction_service_server::ExtractionService for Fakes {
    async fn extract_expense(
        &self,
        req: Request<ds::ExtractExpenseRequest>,
    ) -> Res<ds::ExtractExpenseResponse> {
        self.seen.record(req, Some(&self.seen.extract));
        Ok(Response::new(ds::ExtractExpenseResponse {
            expense: None,
            extractor: "rules".into(),
            confidence: 0.5,
            warnings: vec![],
            rule_id: String::new(),
        }))
    }

    async fn list_extraction_rules(
        &self,
        req: Request<ds::ListExtractionRulesRequest>,
    ) -> Res<ds::ListExtractionRulesResponse> {
        self.seen.record(req, None);
        Ok(Response::new(ds::ListExtractionRulesResponse {
            rules: vec![rule_of("r1", "kumaran stores", ds::RuleOrigin::Learned)],
        }))
    }

    /// `merchant_pattern: ""` answers INVALID_ARGUMENT and `"full"` RESOURCE_EXHAUSTED, as
    /// ds-service does.
    async fn create_extraction_rule(&self, req: Request<ds::CreateExtractionRuleRequest>) -> Res<ds::Rule> {
        let r = req.get_ref().clone();
        self.seen.record(req, Some(&self.seen.create_rule));
        match r.merchant_pattern.as_str() {
            "" => Err(Status::invalid_argument("merchant_pattern: must not be empty")),
            "full" => Err(Status::resource_exhausted(
                "you already have 500 extraction rules; delete one first",
            )),
            pattern => Ok(Response::new(ds::Rule {
                merchant: r.merchant,
                category: r.category,
                hits: 0,
                ..rule_of("r-new", pattern, ds::RuleOrigin::Explicit)
            })),
        }
    }

    /// Only rule `r1` exists.
    async fn delete_extraction_rule(
        &self,
        req: Request<ds::DeleteExtractionRuleRequest>,
    ) -> Res<ds::DeleteExtractionRuleResponse> {
        let id = req.get_ref().id.clone();
        self.seen.record(req, Some(&self.seen.delete_rule));
        if id != "r1" {
            return Err(Status::not_found("no such extraction rule"));
        }
        Ok(Response::new(ds::DeleteExtractionRuleResponse {}))
    }
}

fn rule_of(id: &str, pattern: &str, origin: ds::RuleOrigin) -> ds::Rule {
    ds::Rule {
        id: id.into(),
        merchant_pattern: pattern.into(),
        merchant: "Kumaran Stores".into(),
        category: expense::Category::Groceries as i32,
        origin: origin as i32,
        hits: 3,
        updated_at: Some(CREATED_AT),
    }
}

/// A food budget of 5000.00 INR a month, 80% spent in May 2024.
pub fn budget_of(id: &str) -> budget::Budget {
    budget::Budget {
        id: id.into(),
        name: "Food".into(),
        amount: "5000.00".into(),
        currency: "INR".into(),
        category: expense::Category::FoodAndDrink as i32,
        period: budget::Period::Monthly as i32,
        alert_percents: vec![80, 100],
        status: Some(budget::BudgetStatus {
            period_start: "2024-05-01".into(),
            period_end: "2024-05-31".into(),
            spent: "4000.00".into(),
            remaining: "1000.00".into(),
            percent: 80,
            state: budget::BudgetState::Warning as i32,
            expense_count: 3,
            other_currency_count: 1,
        }),
        created_at: Some(CREATED_AT),
        updated_at: Some(CREATED_AT),
    }
}

/// Budget `b1` is the only one (another id answers NOT_FOUND, as for another user's);
/// `name: ""` answers INVALID_ARGUMENT and `name: "full"` RESOURCE_EXHAUSTED, as
/// budget-service does.
#[tonic::async_trait]
impl budget::budget_service_server::BudgetService for Fakes {
    async fn create_budget(&self, req: Request<budget::CreateBudgetRequest>) -> Res<budget::Budget> {
        let r = req.get_ref().clone();
        self.seen.record(req, Some(&self.seen.create_budget));
        match r.name.as_str() {
            "" => Err(Status::invalid_argument("name: must be 1 to 100 characters")),
            "full" => Err(Status::resource_exhausted(
                "you already have 100 budgets; delete one first",
            )),
            name => Ok(Response::new(budget::Budget {
                name: name.into(),
                amount: r.amount,
                currency: r.currency,
                category: r.category,
                period: r.period,
                alert_percents: r.alert_percents,
                ..budget_of("b-new")
            })),
        }
    }

    async fn get_budget(&self, req: Request<budget::GetBudgetRequest>) -> Res<budget::Budget> {
        let id = req.get_ref().id.clone();
        self.seen.record(req, Some(&self.seen.get_budget));
        if id != "b1" {
            return Err(Status::not_found("no such budget"));
        }
        Ok(Response::new(budget_of("b1")))
    }

    /// `on: "empty"` answers no budgets.
    async fn list_budgets(
        &self,
        req: Request<budget::ListBudgetsRequest>,
    ) -> Res<budget::ListBudgetsResponse> {
        let on = req.get_ref().on.clone();
        self.seen.record(req, Some(&self.seen.list_budgets));
        let budgets = if on == "empty" {
            vec![]
        } else {
            vec![budget_of("b1")]
        };
        Ok(Response::new(budget::ListBudgetsResponse { budgets }))
    }

    async fn update_budget(&self, req: Request<budget::UpdateBudgetRequest>) -> Res<budget::Budget> {
        let r = req.get_ref().clone();
        self.seen.record(req, Some(&self.seen.update_budget));
        if r.id != "b1" {
            return Err(Status::not_found("no such budget"));
        }
        if r.update_mask.is_empty() {
            return Err(Status::invalid_argument("update_mask: name at least one field"));
        }
        Ok(Response::new(budget::Budget {
            amount: r.amount,
            ..budget_of("b1")
        }))
    }

    async fn delete_budget(
        &self,
        req: Request<budget::DeleteBudgetRequest>,
    ) -> Res<budget::DeleteBudgetResponse> {
        let id = req.get_ref().id.clone();
        self.seen.record(req, Some(&self.seen.delete_budget));
        if id != "b1" {
            return Err(Status::not_found("no such budget"));
        }
        Ok(Response::new(budget::DeleteBudgetResponse {}))
    }

    async fn list_alerts(&self, req: Request<budget::ListAlertsRequest>) -> Res<budget::ListAlertsResponse> {
        self.seen.record(req, Some(&self.seen.list_alerts));
        Ok(Response::new(budget::ListAlertsResponse {
            alerts: vec![budget::Alert {
                id: "a1".into(),
                budget_id: "b1".into(),
                budget_name: "Food".into(),
                period_start: "2024-05-01".into(),
                percent_threshold: 80,
                spent: "4000.00".into(),
                amount: "5000.00".into(),
                currency: "INR".into(),
                created_at: Some(CREATED_AT),
            }],
            next_page_token: "next".into(),
        }))
    }
}

/// The edge and its fakes, stopped when dropped.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub seen: Arc<Seen>,
    /// Stops the ExtractionService's own server (for /healthz).
    pub ds_stop: CancellationToken,
    stop: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
        self.ds_stop.cancel();
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    /// A request with a valid bearer token.
    pub fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(tokens::access_token(Uuid::new_v4()))
    }
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Quiet tracing with OpenTelemetry ids (so trace context propagates); logs with TEST_LOG.
fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            std::mem::forget(platform::telemetry::init("edge-tests"));
            return;
        }
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let tracer = provider.tracer("edge-tests");
        let _ = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .try_init();
    });
}

async fn grpc_server(fakes: &Fakes, main: bool, stop: CancellationToken) -> String {
    use platform::grpc::{spawn, GrpcServer};
    let server = GrpcServer::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = server.local_addr();
    let server = if main {
        server
            .add_service(auth::auth_service_server::AuthServiceServer::new(fakes.clone()))
            .add_service(user::user_service_server::UserServiceServer::new(fakes.clone()))
            .add_service(expense::expense_service_server::ExpenseServiceServer::new(
                fakes.clone(),
            ))
            .add_service(budget::budget_service_server::BudgetServiceServer::new(
                fakes.clone(),
            ))
    } else {
        server.add_service(ds::extraction_service_server::ExtractionServiceServer::new(
            fakes.clone(),
        ))
    };
    spawn(server, stop);
    format!("http://{addr}")
}

/// The test configuration; `extra` is appended (YAML) to change settings.
pub fn config(main: &str, ds: &str, extra: &str) -> Config {
    let yaml = format!(
        r#"
listen: 127.0.0.1:0
upstreams:
  expense_tracker.auth.v1.AuthService: {{ address: "{main}" }}
  expense_tracker.user.v1.UserService: {{ address: "{main}" }}
  expense_tracker.expense.v1.ExpenseService: {{ address: "{main}", timeout_ms: 5000 }}
  expense_tracker.ds.v1.ExtractionService: {{ address: "{ds}" }}
  expense_tracker.budget.v1.BudgetService: {{ address: "{main}" }}
public: [expense_tracker.auth.v1.AuthService]
jwt:
  issuers:
    - iss: {iss}
      audience: {aud}
      public_key_file: ../../services/platform/tests/fixtures/signing.pub.pem
      kid: {kid}
body_limit_bytes: 1024
{extra}
"#,
        iss = tokens::ISSUER,
        aud = tokens::AUDIENCE,
        kid = tokens::KID,
    );
    Config::from_yaml_str(&yaml, &manifest_dir()).expect("test config")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with("", |_| {}).await
}

/// Spawns the fakes and the edge; `extra` YAML and `tweak` adjust the config.
pub async fn spawn_app_with(extra: &str, tweak: impl FnOnce(&mut Config)) -> TestApp {
    init_tracing();
    let fakes = Fakes::default();
    let stop = CancellationToken::new();
    let ds_stop = CancellationToken::new();
    let main = grpc_server(&fakes, true, stop.clone()).await;
    let ds = grpc_server(&fakes, false, ds_stop.clone()).await;
    let mut config = config(&main, &ds, extra);
    tweak(&mut config);
    let app = Application::build(&config).await.expect("edge builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let s = stop.clone();
    tokio::spawn(app.run_until_stopped(async move { s.cancelled().await }));
    TestApp {
        base,
        client: http_client(),
        seen: fakes.seen,
        ds_stop,
        stop,
    }
}

/// Decodes a JSON response body.
pub async fn json(res: reqwest::Response) -> serde_json::Value {
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A plain-HTTP client. In a workspace build reqwest carries ds-service's
/// `rustls-no-provider` feature, so building any client needs a process-wide rustls crypto
/// provider, even one that never speaks TLS: install ring's (once; later calls are no-ops).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
