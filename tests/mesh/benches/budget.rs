//! Budgets end to end (`cargo bench -p mesh-tests --bench budget`, part of `make bench`), on
//! the release binaries:
//!
//! 1. Expense extracted → budget status reflects it: from `POST /v1/extractions` at the edge
//!    until `GET /v1/budgets/{id}` counts the expense, across edge → ds-service → Kafka →
//!    expense-service (ledger, outbox) → Kafka (`expense.expense-changed.v1`) →
//!    budget-service's projection. Baselines in the same run: the extraction answered alone,
//!    and extraction → listable in the ledger (the same path without the outbox hop and
//!    budget-service), so the ratio says what the budget hop adds.
//! 2. `ListBudgets` of a user with 20 budgets and `BENCH_BUDGET_EXPENSES` (10,000) expenses
//!    in the period: direct gRPC vs `GET /v1/budgets` through the edge, 1 and
//!    `BENCH_CLIENTS` (8) clients, `BENCH_SECS` (5) seconds each. The expenses are seeded
//!    as `ExpenseChanged` events on the mesh's topic, so budget-service builds its
//!    projection the way it does in production.
//!
//! `BENCH_BUDGET_JOURNEYS` (200) journeys, one at a time. Needs `scripts/infra.sh up`.

use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use contracts::{
    budget::{budget_service_client::BudgetServiceClient, ListBudgetsRequest},
    events::{ExpenseChangeCause, ExpenseChangeKind, ExpenseChanged},
    expense::Expense,
};
use futures::{stream, StreamExt};
use mesh::{
    bench::{load, quantile, row},
    Mesh, Proc, User,
};
use platform::{kafka::EventProducer, testing::bench::env_usize};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// Polls `GET path` until `done(budget)`, 1 ms apart; panics after `WAIT`.
async fn until(
    mesh: &Mesh,
    path: &str,
    token: &str,
    started: Instant,
    done: impl Fn(&Value) -> bool,
) -> Duration {
    loop {
        let (status, body) = mesh.get(path, token).await;
        if status == 200 && done(&body) {
            return started.elapsed();
        }
        assert!(started.elapsed() < WAIT, "{path} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// POST /v1/extractions of expense `i` (today, INR); the answer's time and the expense.
async fn extract(mesh: &Mesh, user: &User, i: usize) -> (Instant, Duration, Value) {
    let started = Instant::now();
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&user.access_token),
            json!({"text": format!("lunch at Subway {} rupees today", 100 + i % 400),
                   "default_currency": "INR", "timezone": "UTC"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (started, started.elapsed(), body["expense"].clone())
}

/// Seeds `n` expenses of this month for `user` straight onto the mesh's ExpenseChanged
/// topic and waits until `budget` (over every category, monthly) counts them all.
async fn seed(mesh: &Mesh, user: &User, budget: &str, n: usize) -> Duration {
    let producer = EventProducer::new(&mesh.infra.brokers, "/bench", Duration::from_secs(30))
        .unwrap()
        .with_topic_suffix(&mesh.topic_suffix);
    let today = Utc::now().date_naive();
    let events: Vec<ExpenseChanged> = (0..n)
        .map(|i| {
            let e = Expense {
                id: uuid::Uuid::now_v7().to_string(),
                user_id: user.user_id.clone(),
                amount: format!("{}.{:02}", 1 + i % 900, i % 100),
                currency: "INR".into(),
                merchant: format!("Shop {}", i % 97),
                category: 1 + (i % 15) as i32,
                occurred_on: today.with_day(1 + (i % 28) as u32).unwrap().to_string(),
                source: 1,
                version: 1,
                ..Default::default()
            };
            ExpenseChanged {
                user_id: e.user_id.clone(),
                expense_id: e.id.clone(),
                kind: ExpenseChangeKind::Recorded as i32,
                cause: ExpenseChangeCause::Manual as i32,
                after: Some(e),
                ..Default::default()
            }
        })
        .collect();
    let started = Instant::now();
    let published = stream::iter(events.iter())
        .map(|e| producer.publish(e))
        .buffer_unordered(256)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(published, n);
    let path = format!("/v1/budgets/{budget}");
    loop {
        let (_, b) = mesh.get(&path, &user.access_token).await;
        if b["status"]["expense_count"].as_u64() == Some(n as u64) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the projection did not reach {n} expenses in 10 min: {b}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn list_budgets(mesh: std::sync::Arc<Mesh>, user: &User, budgets: usize, clients: usize, secs: u64) {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", mesh.port(Proc::Budget)))
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", user.access_token).parse().unwrap();
    let direct = {
        let (channel, bearer) = (channel.clone(), bearer.clone());
        move || {
            let mut client = BudgetServiceClient::new(channel.clone());
            let mut req = tonic::Request::new(ListBudgetsRequest { on: String::new() });
            req.metadata_mut().insert("authorization", bearer.clone());
            async move {
                let answer = client.list_budgets(req).await.expect("ListBudgets");
                assert_eq!(answer.get_ref().budgets.len(), budgets);
            }
        }
    };
    let via_edge = {
        let (mesh, token) = (mesh.clone(), user.access_token.clone());
        move || {
            let (mesh, token) = (mesh.clone(), token.clone());
            async move {
                let (status, body) = mesh.get("/v1/budgets", &token).await;
                assert_eq!(status, 200);
                assert_eq!(body["budgets"].as_array().map(Vec::len), Some(budgets));
            }
        }
    };
    let (d, dw) = load(clients, secs, direct).await;
    let (e, ew) = load(clients, secs, via_edge).await;
    println!(
        "{}",
        row(
            &format!("ListBudgets direct gRPC, {clients} clients"),
            d.clone(),
            dw
        )
    );
    println!(
        "{}",
        row(
            &format!("GET /v1/budgets via the edge, {clients} clients"),
            e.clone(),
            ew
        )
    );
    println!(
        "| edge / direct, {clients} clients | {:.2}× | | {:.2}× | | {:.2}× |",
        quantile(&e, 0.5) / quantile(&d, 0.5),
        quantile(&e, 0.99) / quantile(&d, 0.99),
        (e.len() as f64 / ew.as_secs_f64()) / (d.len() as f64 / dw.as_secs_f64()),
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("budget bench: run it with `cargo bench -p mesh-tests --bench budget`");
        return;
    }
    let n = env_usize("BENCH_BUDGET_JOURNEYS", 200);
    let seeded = env_usize("BENCH_BUDGET_EXPENSES", 10_000);
    let clients = env_usize("BENCH_CLIENTS", 8);
    let secs = env_usize("BENCH_SECS", 5) as u64;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mesh = std::sync::Arc::new(Mesh::start().await);
        let user = mesh.signup("budget-bench").await;
        let (s, _) = mesh
            .get_until("/v1/users/me", &user.access_token, WAIT, |s, _| s == 200)
            .await;
        assert_eq!(s, 200);
        // Every category, this month, in rupees; large enough to stay UNDER.
        let (status, budget) = mesh
            .post(
                "/v1/budgets",
                Some(&user.access_token),
                json!({"name": "All", "amount": "100000000", "currency": "INR", "period": "MONTHLY"}),
            )
            .await;
        assert_eq!(status, 200, "{budget}");
        let path = format!("/v1/budgets/{}", budget["id"].as_str().unwrap());

        // 1. Extracted → reflected in the budget, and extracted → listable in the ledger.
        let (mut answered, mut reflected) = (Vec::new(), Vec::new());
        for i in 0..n + 20 {
            let (started, a, _) = extract(&mesh, &user, i).await;
            // Expense i is the budget's (i + 1)th.
            let r = until(&mesh, &path, &user.access_token, started, |b| {
                b["status"]["expense_count"].as_u64() == Some(i as u64 + 1)
            })
            .await;
            // The first 20 warm up connections, caches and consumer assignments.
            if i >= 20 {
                answered.push(a);
                reflected.push(r);
            }
        }
        let mut listed = Vec::new();
        for i in 0..n {
            let (started, _, expense) = extract(&mesh, &user, i).await;
            let day = expense["occurred_on"].as_str().unwrap_or_default().to_owned();
            let list = format!("/v1/expenses?from={day}&to={day}&page_size=1");
            let id = expense["id"].clone();
            listed.push(
                until(&mesh, &list, &user.access_token, started, |b| {
                    b["expenses"][0]["id"] == id
                })
                .await,
            );
        }
        let wall = |v: &[Duration]| v.iter().sum::<Duration>();
        println!(
            "\nExpense extracted → budget status reflects it, release binaries, {} cores shared by the \
             client, the edge, five services, PostgreSQL and Kafka; {n} journeys one at a time\n",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        );
        println!("| measured | p50 | p90 | p99 | max | per second |\n|---|---|---|---|---|---|");
        println!(
            "{}",
            row(
                "POST /v1/extractions answered (baseline)",
                answered.clone(),
                wall(&answered)
            )
        );
        println!(
            "{}",
            row(
                "extraction → listable in the ledger (baseline)",
                listed.clone(),
                wall(&listed)
            )
        );
        println!(
            "{}",
            row(
                "extraction → budget status counts it",
                reflected.clone(),
                wall(&reflected)
            )
        );
        println!(
            "\nbudget / ledger: {:.2}× at p50, {:.2}× at p99; budget / extraction answered: {:.2}× at p50",
            quantile(&reflected, 0.5) / quantile(&listed, 0.5),
            quantile(&reflected, 0.99) / quantile(&listed, 0.99),
            quantile(&reflected, 0.5) / quantile(&answered, 0.5),
        );

        // 2. ListBudgets with 20 budgets over `seeded` expenses, direct vs through the edge.
        let heavy = mesh.signup("budget-bench-list").await;
        let (s, _) = mesh
            .get_until("/v1/users/me", &heavy.access_token, WAIT, |s, _| s == 200)
            .await;
        assert_eq!(s, 200);
        let mut specs: Vec<Value> = (1..=15)
            .map(|c| json!({"category": c, "period": "MONTHLY"}))
            .collect();
        specs.push(json!({"period": "MONTHLY"}));
        for c in [0, 1, 3, 5] {
            specs.push(json!({"category": c, "period": "WEEKLY"}));
        }
        let mut all = String::new();
        for (i, spec) in specs.iter().enumerate() {
            let mut body = json!({"name": format!("Budget {i}"), "amount": "500000", "currency": "INR"});
            body.as_object_mut()
                .unwrap()
                .extend(spec.as_object().unwrap().clone());
            let (status, b) = mesh.post("/v1/budgets", Some(&heavy.access_token), body).await;
            assert_eq!(status, 200, "{b}");
            if i == 15 {
                all = b["id"].as_str().unwrap().to_owned();
            }
        }
        let took = seed(&mesh, &heavy, &all, seeded).await;
        println!(
            "\nListBudgets: 20 budgets, {seeded} expenses in the period (seeded as ExpenseChanged: \
             published and projected in {:.1} s, {:.0} events/s end to end), {secs} s each\n",
            took.as_secs_f64(),
            seeded as f64 / took.as_secs_f64()
        );
        println!("| measured | p50 | p90 | p99 | max | per second |\n|---|---|---|---|---|---|");
        for c in [1, clients] {
            list_budgets(mesh.clone(), &heavy, specs.len(), c, secs).await;
        }
    });
}
