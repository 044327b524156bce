use std::{collections::HashMap, time::Duration};

use chrono::{NaiveDate, Utc};
use contracts::{
    events::ExpenseExtracted,
    expense::{
        expense_service_client::ExpenseServiceClient, CreateExpenseRequest, Expense, GetExpenseRequest,
        ListExpensesRequest,
    },
    topics,
};
use domain::Currency;
use expense_service::{
    store::{
        models::{ExpenseColumns, ExpenseRow},
        queries,
    },
    Application, Config,
};
use platform::{
    config::Env,
    db::PgPool,
    kafka::{EventProducer, RawEvent},
    testing::{eventually, tokens, unique, Infra},
};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

pub struct TestApp {
    pub infra: Infra,
    /// URL of the app's own database.
    pub db: String,
    pub suffix: String,
    pub producer: EventProducer,
    pub client: ExpenseServiceClient<Channel>,
    /// The app's own database, for seeding and for checks the API cannot make.
    pub pool: PgPool,
    pub stop: CancellationToken,
}

pub async fn spawn_app() -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        let _ = platform::telemetry::init("expense-service-tests");
    }
    let infra = Infra::from_env();
    let db = infra.fresh_database().await;
    let suffix = format!("-{}", unique("t"));
    // Tests run in parallel: each app's relay needs its own transactional id.
    let instance = unique("relay");
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix.as_str()),
        ("DB_POOL_SIZE", "8"),
        ("OUTBOX_INSTANCE", instance.as_str()),
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
        db: db.clone(),
        suffix,
        producer,
        client: ExpenseServiceClient::new(channel),
        pool: platform::db::pool(&db, 4).unwrap(),
        stop,
    }
}

impl TestApp {
    pub fn topic(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    pub fn db_name(&self) -> String {
        self.db.rsplit('/').next().unwrap().to_owned()
    }

    pub fn extracted_topic(&self) -> String {
        self.topic(topics::EXPENSE_EXTRACTED)
    }

    pub fn request<T>(&self, user_id: Uuid, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.metadata_mut()
            .insert("authorization", tokens::bearer(user_id));
        req
    }

    pub async fn create(&self, user: Uuid, req: CreateExpenseRequest) -> Result<Expense, tonic::Status> {
        self.client
            .clone()
            .create_expense(self.request(user, req))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn get(&self, user: Uuid, id: &str) -> Result<Expense, tonic::Status> {
        self.client
            .clone()
            .get_expense(self.request(user, GetExpenseRequest { id: id.into() }))
            .await
            .map(|r| r.into_inner())
    }

    /// Waits until the expense is visible to its owner (events are consumed asynchronously).
    pub async fn wait_expense(&self, user: Uuid, id: &str) -> Expense {
        assert!(
            eventually(Duration::from_secs(30), || async {
                self.get(user, id).await.is_ok()
            })
            .await,
            "expense {id} never appeared"
        );
        self.get(user, id).await.unwrap()
    }

    /// Every page of a listing, walked with `page_size`.
    pub async fn list_all(&self, user: Uuid, mut req: ListExpensesRequest) -> Vec<Expense> {
        let mut out = vec![];
        loop {
            let page = self
                .client
                .clone()
                .list_expenses(self.request(user, req.clone()))
                .await
                .unwrap()
                .into_inner();
            out.extend(page.expenses);
            if page.next_page_token.is_empty() {
                return out;
            }
            req.page_token = page.next_page_token;
        }
    }

    /// Publishes an event as ds-service would, returning it (for replays).
    pub async fn publish(&self, event: &ExpenseExtracted) -> RawEvent {
        let raw = RawEvent::new(event);
        self.producer.send(&raw).await.unwrap();
        raw
    }

    /// Inserts expenses straight into the database (fast seeding of large sets).
    pub async fn seed(&self, rows: Vec<ExpenseRow>) {
        let mut conn = self.pool.get().await.unwrap();
        let n = rows.len();
        let cols: ExpenseColumns = rows.into_iter().collect();
        assert_eq!(queries::insert_new_batch(&mut conn, cols).await.unwrap(), n);
    }

    /// How many expenses the user has in the database.
    pub async fn count_rows(&self, user: Uuid) -> i64 {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use expense_service::store::schema::expenses;
        let mut conn = self.pool.get().await.unwrap();
        expenses::table
            .filter(expenses::user_id.eq(user))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// An extracted expense as ds-service publishes it.
pub fn extracted(user: Uuid, amount: &str, currency: &str, occurred_on: &str) -> ExpenseExtracted {
    ExpenseExtracted {
        expense_id: Uuid::now_v7().to_string(),
        user_id: user.to_string(),
        amount: amount.into(),
        currency: currency.into(),
        merchant: "Subway".into(),
        category: 1,
        occurred_on: occurred_on.into(),
        raw_text: format!("spent {amount} {currency} on lunch at Subway"),
        source: 2,
        confidence: 0.87,
        extractor: "rules".into(),
        extracted_at: None,
    }
}

pub fn create_req(
    amount: &str,
    currency: &str,
    merchant: &str,
    category: i32,
    occurred_on: &str,
) -> CreateExpenseRequest {
    CreateExpenseRequest {
        amount: amount.into(),
        currency: currency.into(),
        merchant: merchant.into(),
        category,
        occurred_on: occurred_on.into(),
        note: String::new(),
        request_id: String::new(),
    }
}

/// A row for seeding, with a fresh UUIDv7 id.
pub fn row(
    user: Uuid,
    minor: i64,
    currency: &str,
    merchant: &str,
    category: &str,
    occurred_on: NaiveDate,
) -> ExpenseRow {
    let now = Utc::now();
    ExpenseRow {
        id: Uuid::now_v7(),
        user_id: user,
        amount_minor: minor,
        currency: currency.into(),
        merchant: merchant.into(),
        category: category.into(),
        occurred_on,
        note: String::new(),
        raw_text: String::new(),
        source: "MANUAL".into(),
        confidence: 1.0,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn days_ago(n: i64) -> NaiveDate {
    today() - chrono::Duration::days(n)
}

/// Minor units of a decimal string in `currency`, exactly; for totals (which may exceed
/// what one expense can hold) as well as amounts.
pub fn minor_units(amount: &str, currency: &str) -> i128 {
    let c = Currency::parse(currency).unwrap();
    let exp = c.exponent() as usize;
    let (int, frac) = amount.split_once('.').unwrap_or((amount, ""));
    assert_eq!(
        frac.len(),
        exp,
        "{amount} {currency} has exactly the currency's decimals"
    );
    format!("{int}{frac}").parse().unwrap()
}

/// Sum of minor units per currency.
pub fn sums_by_currency<'a>(items: impl IntoIterator<Item = (&'a str, &'a str)>) -> HashMap<String, i128> {
    let mut out = HashMap::new();
    for (amount, currency) in items {
        *out.entry(currency.to_owned()).or_default() += minor_units(amount, currency);
    }
    out
}
