use std::time::Duration;

use budget_service::{Application, Config};
use contracts::{
    budget::{
        budget_service_client::BudgetServiceClient, Alert, Budget, CreateBudgetRequest, GetBudgetRequest,
        ListAlertsRequest, Period,
    },
    events::{BudgetAlert, ExpenseChangeKind, ExpenseChanged},
    expense::{Category, Expense},
    topics,
};
use platform::{
    config::Env,
    db::PgPool,
    kafka::{EventProducer, RawEvent},
    testing::{eventually, read_topic, tokens, unique, Infra, ReadMessage},
};
use prost::Message as _;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

/// A day in the middle of a month (and of an ISO week: Wednesday 2026-12-09).
pub const ON: &str = "2026-12-09";

pub struct TestApp {
    pub infra: Infra,
    pub db: String,
    pub suffix: String,
    pub group: String,
    pub producer: EventProducer,
    pub client: BudgetServiceClient<Channel>,
    /// The app's own database, for checks the API cannot make.
    pub pool: PgPool,
    pub stop: CancellationToken,
}

pub async fn spawn_app() -> TestApp {
    let infra = Infra::from_env();
    let db = infra.fresh_database().await;
    let suffix = format!("-{}", unique("t"));
    spawn_app_on(infra, db, suffix, unique("budget")).await
}

/// The app on an existing database and topic namespace, reading as consumer `group` (a
/// new group reads every topic from the beginning).
pub async fn spawn_app_on(infra: Infra, db: String, suffix: String, group: String) -> TestApp {
    let instance = unique("relay");
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix.as_str()),
        ("KAFKA_CONSUMER_GROUP", group.as_str()),
        ("DB_POOL_SIZE", "4"),
        ("OUTBOX_INSTANCE", instance.as_str()),
        // Nothing listens there: "today" falls back to DEFAULT_TIMEZONE at once.
        ("USER_SERVICE_ADDR", "http://127.0.0.1:9"),
        ("USER_SERVICE_TIMEOUT_MS", "200"),
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
        pool: platform::db::pool(&db, 2).unwrap(),
        db,
        suffix,
        group,
        producer,
        client: BudgetServiceClient::new(channel),
        stop,
    }
}

/// An expense as expense-service describes it.
pub fn expense(
    id: Uuid,
    user: Uuid,
    amount: &str,
    currency: &str,
    category: Category,
    on: &str,
    version: i32,
) -> Expense {
    Expense {
        id: id.to_string(),
        user_id: user.to_string(),
        amount: amount.into(),
        currency: currency.into(),
        category: category as i32,
        occurred_on: on.into(),
        version,
        ..Default::default()
    }
}

pub fn recorded(e: &Expense) -> ExpenseChanged {
    ExpenseChanged {
        user_id: e.user_id.clone(),
        expense_id: e.id.clone(),
        kind: ExpenseChangeKind::Recorded as i32,
        after: Some(e.clone()),
        ..Default::default()
    }
}

pub fn updated(before: &Expense, after: &Expense) -> ExpenseChanged {
    ExpenseChanged {
        user_id: after.user_id.clone(),
        expense_id: after.id.clone(),
        kind: ExpenseChangeKind::Updated as i32,
        before: Some(before.clone()),
        after: Some(after.clone()),
        ..Default::default()
    }
}

pub fn deleted(before: &Expense) -> ExpenseChanged {
    ExpenseChanged {
        user_id: before.user_id.clone(),
        expense_id: before.id.clone(),
        kind: ExpenseChangeKind::Deleted as i32,
        before: Some(before.clone()),
        ..Default::default()
    }
}

impl TestApp {
    pub fn topic(&self, base: &str) -> String {
        format!("{base}{}", self.suffix)
    }

    pub fn request<T>(&self, user_id: Uuid, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.metadata_mut()
            .insert("authorization", tokens::bearer(user_id));
        req
    }

    pub async fn create(&self, user: Uuid, req: CreateBudgetRequest) -> Result<Budget, tonic::Status> {
        self.client
            .clone()
            .create_budget(self.request(user, req))
            .await
            .map(|r| r.into_inner())
    }

    /// A monthly EUR budget of `amount` for `category` (0: every category).
    pub async fn budget(&self, user: Uuid, amount: &str, category: Category) -> Budget {
        self.create(
            user,
            CreateBudgetRequest {
                name: "Monthly".into(),
                amount: amount.into(),
                currency: "EUR".into(),
                category: category as i32,
                period: Period::Monthly as i32,
                ..Default::default()
            },
        )
        .await
        .expect("budget created")
    }

    pub async fn get(&self, user: Uuid, id: &str, on: &str) -> Result<Budget, tonic::Status> {
        self.client
            .clone()
            .get_budget(self.request(
                user,
                GetBudgetRequest {
                    id: id.into(),
                    on: on.into(),
                },
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// Publishes the change (a fresh ce_id) and returns what was sent, for redelivery.
    pub async fn publish(&self, change: &ExpenseChanged) -> RawEvent {
        let raw = RawEvent::new(change);
        self.producer.send(&raw).await.expect("published");
        raw
    }

    /// Waits until the budget's status on `on` satisfies `check`; panics with the last
    /// status otherwise.
    pub async fn wait_status(
        &self,
        user: Uuid,
        id: &str,
        on: &str,
        check: impl Fn(&Budget) -> bool,
    ) -> Budget {
        let ok = eventually(Duration::from_secs(30), || async {
            self.get(user, id, on).await.is_ok_and(|b| check(&b))
        })
        .await;
        let last = self.get(user, id, on).await;
        assert!(ok, "the status never got there: {last:#?}");
        last.unwrap()
    }

    /// `(spent, expense_count, other_currency_count)` of the budget on `on`.
    pub async fn spent(&self, user: Uuid, id: &str, on: &str) -> (String, i32, i32) {
        let s = self.get(user, id, on).await.unwrap().status.unwrap();
        (s.spent, s.expense_count, s.other_currency_count)
    }

    /// Every alert of the user, newest first, walking pages of `page_size`.
    pub async fn alerts(&self, user: Uuid, page_size: i32) -> Vec<Alert> {
        let mut out = vec![];
        let mut token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_alerts(self.request(
                    user,
                    ListAlertsRequest {
                        page_size,
                        page_token: token.clone(),
                    },
                ))
                .await
                .expect("alerts listed")
                .into_inner();
            out.extend(page.alerts);
            if page.next_page_token.is_empty() {
                return out;
            }
            token = page.next_page_token;
        }
    }

    /// The BudgetAlerts on the topic: reads until `expected` arrived, then listens 2 s
    /// more for any extra.
    pub async fn alert_events(&self, expected: usize) -> Vec<(ReadMessage, BudgetAlert)> {
        read_topic(
            &self.infra.brokers,
            &self.topic(topics::BUDGET_ALERT),
            expected,
            Duration::from_secs(20),
            Duration::from_secs(2),
        )
        .await
        .into_iter()
        .map(|m| {
            let event = BudgetAlert::decode(m.payload.as_deref().unwrap_or_default()).expect("a BudgetAlert");
            (m, event)
        })
        .collect()
    }
}
