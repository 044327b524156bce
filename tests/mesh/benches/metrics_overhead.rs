//! The cost of the metrics (`cargo bench -p mesh-tests --bench metrics_overhead`): two
//! meshes of the same binaries in the same run, one with metrics on (the default) and one
//! with `METRICS_ADDR=off` (no exporter: every instrument has no reader), measured in
//! alternating rounds so that both see the same machine load:
//! - the RPC: `GetExpense` on expense-service over gRPC (auth, PostgreSQL read, the RPC
//!   histogram), `BENCH_CLIENTS` (8) clients for `BENCH_SECS` (5) seconds a round;
//! - the journey: `POST /v1/extractions` at the edge until the expense is listable (edge →
//!   ds → Kafka → expense → PostgreSQL: every hop's series), `BENCH_JOURNEYS` (100) a round,
//!   one at a time.
//!
//! `BENCH_ROUNDS` (3) rounds; prints throughput on/off per round and overall. Needs
//! `scripts/infra.sh up`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use contracts::expense::{expense_service_client::ExpenseServiceClient, GetExpenseRequest};
use mesh::{bench::load, Mesh, Options, Proc, User};
use platform::testing::bench::env_usize;
use serde_json::json;

async fn signed_up(mesh: &Mesh) -> User {
    let u = mesh.signup("overhead").await;
    let (s, _) = mesh
        .get_until(
            "/v1/users/me",
            &u.access_token,
            Duration::from_secs(30),
            |s, _| s == 200,
        )
        .await;
    assert_eq!(s, 200);
    u
}

/// One journey: extraction answered, then listable.
async fn journey(mesh: &Mesh, user: &User, i: usize) -> String {
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&user.access_token),
            json!({"text": format!("lunch {} at Subway", 100 + i), "default_currency": "INR", "timezone": "Asia/Kolkata"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["expense"]["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    loop {
        let (s, _) = mesh.get(&format!("/v1/expenses/{id}"), &user.access_token).await;
        if s == 200 {
            return id;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "expense {id} never listed"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// GetExpense calls per second over `secs` from `clients` clients.
async fn rpc_rate(mesh: &Mesh, user: &User, id: &str, clients: usize, secs: u64) -> f64 {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", mesh.port(Proc::Expense)))
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", user.access_token).parse().unwrap();
    let id = id.to_owned();
    let call = move || {
        let mut client = ExpenseServiceClient::new(channel.clone());
        let mut req = tonic::Request::new(GetExpenseRequest { id: id.clone() });
        req.metadata_mut().insert("authorization", bearer.clone());
        async move {
            client.get_expense(req).await.expect("GetExpense");
        }
    };
    let (calls, wall) = load(clients, secs, call).await;
    calls.len() as f64 / wall.as_secs_f64()
}

/// Journeys per second, `n` one at a time.
async fn journey_rate(mesh: &Mesh, user: &User, n: usize) -> f64 {
    let started = Instant::now();
    for i in 0..n {
        journey(mesh, user, i).await;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("metrics overhead bench: run it with `cargo bench -p mesh-tests --bench metrics_overhead`");
        return;
    }
    let (rounds, clients) = (env_usize("BENCH_ROUNDS", 3), env_usize("BENCH_CLIENTS", 8));
    let (secs, journeys) = (
        env_usize("BENCH_SECS", 5) as u64,
        env_usize("BENCH_JOURNEYS", 100),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let on = Arc::new(Mesh::start().await);
        let off = Arc::new(
            Mesh::start_with(Options {
                env: vec![("METRICS_ADDR".into(), "off".into())],
                ..Default::default()
            })
            .await,
        );
        let (u_on, u_off) = (signed_up(&on).await, signed_up(&off).await);
        // Warm-up, and an expense for GetExpense in each.
        let (mut id_on, mut id_off) = (String::new(), String::new());
        for i in 0..20 {
            id_on = journey(&on, &u_on, i).await;
            id_off = journey(&off, &u_off, i).await;
        }
        let (status, _) = off.scrape(Proc::Expense).await;
        assert_ne!(status, 200, "metrics were not off");

        println!("\n| round | GetExpense/s on | off | on/off | journeys/s on | off | on/off |\n|---|---|---|---|---|---|---|");
        let (mut rpc, mut jr) = ((0.0, 0.0), (0.0, 0.0));
        for r in 0..rounds {
            // Alternate which goes first, so a drift in machine load hits both alike.
            let (a, b) = if r % 2 == 0 {
                let a = rpc_rate(&on, &u_on, &id_on, clients, secs).await;
                (a, rpc_rate(&off, &u_off, &id_off, clients, secs).await)
            } else {
                let b = rpc_rate(&off, &u_off, &id_off, clients, secs).await;
                (rpc_rate(&on, &u_on, &id_on, clients, secs).await, b)
            };
            let (c, d) = if r % 2 == 0 {
                let c = journey_rate(&on, &u_on, journeys).await;
                (c, journey_rate(&off, &u_off, journeys).await)
            } else {
                let d = journey_rate(&off, &u_off, journeys).await;
                (journey_rate(&on, &u_on, journeys).await, d)
            };
            println!("| {} | {a:.0} | {b:.0} | {:.3} | {c:.1} | {d:.1} | {:.3} |", r + 1, a / b, c / d);
            rpc = (rpc.0 + a, rpc.1 + b);
            jr = (jr.0 + c, jr.1 + d);
        }
        println!(
            "| all | {:.0} | {:.0} | {:.3} | {:.1} | {:.1} | {:.3} |",
            rpc.0 / rounds as f64,
            rpc.1 / rounds as f64,
            rpc.0 / rpc.1,
            jr.0 / rounds as f64,
            jr.1 / rounds as f64,
            jr.0 / jr.1
        );
        println!(
            "({} cores, shared by both meshes, the load generator and whatever else runs)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    });
}
