//! Full-journey latency (`cargo bench -p mesh-tests --bench journey`, part of `make bench`):
//! from `POST /v1/extractions` at the edge until the expense is listable through
//! `GET /v1/expenses`, across edge → ds-service → Kafka → expense-service → PostgreSQL, on
//! the release binaries. The baseline, measured in the same run, is the extraction request
//! alone (edge → ds → Kafka acknowledgement); the journey adds the consumer and the ledger.
//!
//! Then the edge's overhead on a real RPC: `GetExpense` on the real expense-service (token
//! check, PostgreSQL read) called directly over gRPC vs as `GET /v1/expenses/{id}` through
//! the edge, at the same concurrency, `BENCH_SECS` (5) seconds each.
//!
//! Sizes: `BENCH_JOURNEYS` (300 one at a time), `BENCH_CLIENTS` (8 concurrent clients,
//! each `BENCH_JOURNEYS / 4` journeys). Needs `scripts/infra.sh up`.

use std::time::{Duration, Instant};

use contracts::expense::{expense_service_client::ExpenseServiceClient, GetExpenseRequest};
use mesh::{
    bench::{load, quantile, row},
    Mesh, Proc, User,
};
use platform::testing::bench::{env_usize, percentile};
use serde_json::json;

const TEXTS: [&str; 6] = [
    "spent 250 rupees on lunch at Subway yesterday",
    "uber to the office 320 today",
    "coffee 4.50 at Starbucks",
    "Rs.1,299.00 debited from a/c **1234 to VPA swiggy@ybl (UPI Ref No 412345678901)",
    "groceries 1 234,56 at Carrefour",
    "movie tickets 600 at PVR",
];

/// (extraction answered, expense listable) for one journey.
async fn journey(mesh: &Mesh, user: &User, i: usize) -> (Duration, Duration) {
    let started = Instant::now();
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&user.access_token),
            json!({"text": TEXTS[i % TEXTS.len()], "default_currency": "INR", "timezone": "Asia/Kolkata"}),
        )
        .await;
    let answered = started.elapsed();
    assert_eq!(status, 200, "{body}");
    let id = body["expense"]["id"].clone();
    // Newest first means latest `occurred_on` first: list the expense's own day, where the
    // newest entry comes first (ids are time-ordered).
    let day = body["expense"]["occurred_on"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = format!("/v1/expenses?from={day}&to={day}&page_size=1");
    loop {
        let (_, list) = mesh.get(&path, &user.access_token).await;
        if list["expenses"][0]["id"] == id {
            return (answered, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "expense {id} never listed"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn edge_overhead(mesh: std::sync::Arc<Mesh>, user: &User, id: String, clients: usize, secs: u64) {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", mesh.port(Proc::Expense)))
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", user.access_token).parse().unwrap();
    let direct = {
        let (channel, bearer, id) = (channel.clone(), bearer.clone(), id.clone());
        move || {
            let mut client = ExpenseServiceClient::new(channel.clone());
            let mut req = tonic::Request::new(GetExpenseRequest { id: id.clone() });
            req.metadata_mut().insert("authorization", bearer.clone());
            async move {
                client.get_expense(req).await.expect("GetExpense");
            }
        }
    };
    let via_edge = {
        let (mesh, token, path) = (
            mesh.clone(),
            user.access_token.clone(),
            format!("/v1/expenses/{id}"),
        );
        move || {
            let (mesh, token, path) = (mesh.clone(), token.clone(), path.clone());
            async move {
                let (status, _) = mesh.get(&path, &token).await;
                assert_eq!(status, 200);
            }
        }
    };
    let (d, dw) = load(clients, secs, direct).await;
    let (e, ew) = load(clients, secs, via_edge).await;
    let p = quantile;
    println!(
        "{}",
        row(
            &format!("GetExpense direct gRPC, {clients} clients"),
            d.clone(),
            dw
        )
    );
    println!(
        "{}",
        row(
            &format!("GET /v1/expenses/{{id}} via the edge, {clients} clients"),
            e.clone(),
            ew
        )
    );
    println!(
        "| edge / direct, {clients} clients | {:.2}× | | {:.2}× | | {:.2}× |",
        p(&e, 0.5) / p(&d, 0.5),
        p(&e, 0.99) / p(&d, 0.99),
        (e.len() as f64 / ew.as_secs_f64()) / (d.len() as f64 / dw.as_secs_f64()),
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("journey bench: run it with `cargo bench -p mesh-tests --bench journey`");
        return;
    }
    let n = env_usize("BENCH_JOURNEYS", 300);
    let clients = env_usize("BENCH_CLIENTS", 8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mesh = std::sync::Arc::new(Mesh::start().await);
        let mut users = Vec::new();
        for c in 0..clients.max(1) {
            let u = mesh.signup(&format!("bench{c}")).await;
            let (s, _) = mesh
                .get_until(
                    "/v1/users/me",
                    &u.access_token,
                    Duration::from_secs(30),
                    |s, _| s == 200,
                )
                .await;
            assert_eq!(s, 200);
            users.push(u);
        }
        // Warm-up: connections, caches, consumer assignment.
        for i in 0..20 {
            journey(&mesh, &users[0], i).await;
        }

        let (mut answered, mut listed) = (Vec::new(), Vec::new());
        let wall = Instant::now();
        for i in 0..n {
            let (a, l) = journey(&mesh, &users[0], i).await;
            answered.push(a);
            listed.push(l);
        }
        let wall1 = wall.elapsed();

        let per_client = (n / 4).max(1);
        let wall = Instant::now();
        let tasks: Vec<_> = users
            .iter()
            .cloned()
            .map(|u| {
                let mesh = mesh.clone();
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    for i in 0..per_client {
                        out.push(journey(&mesh, &u, i).await);
                    }
                    out
                })
            })
            .collect();
        let (mut answered_c, mut listed_c) = (Vec::new(), Vec::new());
        for t in tasks {
            for (a, l) in t.await.unwrap() {
                answered_c.push(a);
                listed_c.push(l);
            }
        }
        let wall_c = wall.elapsed();

        let p50 = |v: &[Duration]| {
            let mut v = v.to_vec();
            v.sort();
            percentile(&v, 0.5).as_secs_f64()
        };
        println!(
            "\nFull journey through the edge, release binaries, {} cores shared by the client, \
             the edge, five services, PostgreSQL and Kafka\n",
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
        );
        println!("| measured | p50 | p90 | p99 | max | per second |\n|---|---|---|---|---|---|");
        println!(
            "{}",
            row(
                "POST /v1/extractions answered (baseline), 1 client",
                answered.clone(),
                wall1
            )
        );
        println!(
            "{}",
            row("journey: extraction → listable, 1 client", listed.clone(), wall1)
        );
        println!(
            "{}",
            row(
                &format!("POST /v1/extractions answered, {clients} clients"),
                answered_c.clone(),
                wall_c
            )
        );
        println!(
            "{}",
            row(
                &format!("journey: extraction → listable, {clients} clients"),
                listed_c.clone(),
                wall_c
            )
        );
        println!(
            "\njourney / extraction at p50: {:.2}× (1 client), {:.2}× ({clients} clients)",
            p50(&listed) / p50(&answered),
            p50(&listed_c) / p50(&answered_c)
        );

        let secs = env_usize("BENCH_SECS", 5) as u64;
        let (status, created) = mesh
            .post(
                "/v1/expenses",
                Some(&users[0].access_token),
                json!({"amount": "12.50", "currency": "EUR", "merchant": "Bench"}),
            )
            .await;
        assert_eq!(status, 200, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        println!("\nThe edge's overhead on a real RPC (expense-service on PostgreSQL), {secs} s each\n");
        println!("| measured | p50 | p90 | p99 | max | per second |\n|---|---|---|---|---|---|");
        for c in [1, clients] {
            edge_overhead(mesh.clone(), &users[0], id.clone(), c, secs).await;
        }
    });
}
