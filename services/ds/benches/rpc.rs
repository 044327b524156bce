//! ds-service load generator (`cargo bench -p ds --bench rpc`): `ExtractExpense` latency
//! p50/p99 and throughput with the offline extractor, the server in-process on port 0
//! against the real Kafka of `scripts/infra.sh` (skipped, with a message, when it is down).
//!
//! Scenarios, each over a mix of typed notes and bank SMS:
//! 1. `dry_run`: auth + extraction + gRPC, nothing published;
//! 2. `publish`: the event is published and acknowledged (`acks=all`) before the answer;
//! 3. `publish + GetUser`: the request omits currency and zone, so the profile is read from
//!    the real user-service (in-process, on PostgreSQL) first;
//! 4. `dry_run, 500 rules`: callers with a full memory (500 explicit rules each, the limit),
//!    so every extraction loads and matches 500 rules; against scenario 1 (callers without
//!    rules, the same one indexed query) in the same run.
//!
//! ds-service needs its database: without PostgreSQL the bench is skipped.
//!
//! The load generator, ds-service (and user-service) share the machine's cores, so the
//! figures are an upper bound on the service's own latency. Sizes: `BENCH_REQUESTS`
//! (5000), `BENCH_CONCURRENCY` (16).

use std::time::{Duration, Instant};

use contracts::{
    ds::{
        extraction_service_client::ExtractionServiceClient, CreateExtractionRuleRequest,
        ExtractExpenseRequest,
    },
    events::UserRegistered,
    user::{user_service_client::UserServiceClient, GetUserRequest},
};
use futures::StreamExt;
use platform::{
    config::Env,
    kafka::{EventProducer, RawEvent},
    testing::{
        bench::{env_usize, ms, reachable},
        eventually, tokens, unique, Infra,
    },
};
use tonic::{metadata::MetadataValue, transport::Channel};
use uuid::Uuid;

const TEXTS: [&str; 16] = [
    "spent 250 on lunch at Subway yesterday",
    "paid 9.95 zl at Starbucks for coffee last saturday",
    "Carrefour - groceries - 9.08 zł",
    "uber to office 320",
    "twenty bucks for pizza",
    "electricity bill 1 234,56 € on 03/05",
    "house rent 15,000 paid on 1st",
    "Rs.250/- for auto rickshaw",
    "2 coffees for 8 at Blue Bottle this morning",
    "flights 167.31 PLN @ Kiwi.com today",
    "Psychodela: 13.93 HRK (absinth and shots)",
    "train Malmö to Copenhagen 100.08 SEK yesterday",
    "Rs.250.00 debited from a/c **1234 on 12-05-24 to VPA swiggy@ybl (UPI Ref No 412345678901). Not you? Call 18002586161 -HDFC Bank",
    "You've spent Rs.2,340.00 on your HDFC Bank Credit Card xx9876 at AMAZON PAY on 2024-05-14. Avl Lmt Rs.45,000",
    "A/c *4455 debited INR 899.00 on 14/05/24. Info: UPI/P2M/412377778888/URBAN COMPANY. Bal INR 5,600.00",
    "Chase: You made a $42.17 transaction with TARGET on May 14, 2024 at 5:32 PM ET.",
];

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: a smoke run is not worth
    // a minute of load on shared infrastructure.
    if !std::env::args().any(|a| a == "--bench") {
        println!("rpc bench: run it with `cargo bench -p ds --bench rpc`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

struct Stats {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    per_sec: f64,
}

/// Sends `n` requests, `concurrency` at a time, and reports latency percentiles.
async fn measure(
    client: &ExtractionServiceClient<Channel>,
    n: usize,
    concurrency: usize,
    request: impl Fn(usize) -> tonic::Request<ExtractExpenseRequest>,
) -> Stats {
    let started = Instant::now();
    let mut latencies: Vec<Duration> = futures::stream::iter(0..n)
        .map(|i| {
            let req = request(i);
            let mut client = client.clone();
            async move {
                let t = Instant::now();
                client.extract_expense(req).await.expect("ExtractExpense");
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let wall = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Stats {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: *latencies.last().expect("some requests"),
        per_sec: n as f64 / wall.as_secs_f64(),
    }
}

fn line(what: &str, s: &Stats) {
    println!(
        "| {what} | {} | {} | {} | {} | {:.0} |",
        ms(s.p50),
        ms(s.p90),
        ms(s.p99),
        ms(s.max),
        s.per_sec
    );
}

fn bearer(user: Uuid) -> MetadataValue<tonic::metadata::Ascii> {
    tokens::bearer(user)
}

async fn spawn_ds(infra: &Infra, suffix: &str, user_service: &str) -> ExtractionServiceClient<Channel> {
    // An empty memory: every extraction still loads the caller's (no) rules.
    let db = infra.fresh_database().await;
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix),
        ("USER_SERVICE_ADDR", user_service),
    ];
    vars.extend(tokens::verifier_env());
    let config = ds::Config::from_env(&Env::from_pairs(vars)).expect("config");
    assert!(config.llm.is_none(), "the offline extractor is measured");
    let app = ds::Application::build(config).await.expect("ds-service builds");
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    ExtractionServiceClient::new(channel)
}

/// The real user-service with `users` registered; its address.
async fn spawn_users(infra: &Infra, suffix: &str, users: &[Uuid]) -> String {
    let db = infra.fresh_database().await;
    let instance = unique("user");
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix),
        ("OUTBOX_INSTANCE", instance.as_str()),
    ];
    vars.extend(tokens::verifier_env());
    let config = user_service::Config::from_env(&Env::from_pairs(vars)).expect("user-service config");
    let app = user_service::Application::build(config)
        .await
        .expect("user-service builds");
    let addr = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let producer = EventProducer::new(&infra.brokers, "/bench", Duration::from_secs(10))
        .unwrap()
        .with_topic_suffix(suffix);
    for user in users {
        let event = RawEvent::new(&UserRegistered {
            user_id: user.to_string(),
            email: format!("{}@example.com", user.simple()),
            display_name: "Bench".into(),
            default_currency: "INR".into(),
            timezone: "Asia/Kolkata".into(),
            registered_at: None,
        });
        producer.send(&event).await.expect("registration");
    }
    let client = UserServiceClient::new(Channel::from_shared(addr.clone()).unwrap().connect_lazy());
    let last = *users.last().expect("users");
    let ready = eventually(Duration::from_secs(60), || {
        let mut client = client.clone();
        async move {
            let mut req = tonic::Request::new(GetUserRequest {
                user_id: last.to_string(),
            });
            req.metadata_mut().insert("authorization", bearer(last));
            client.get_user(req).await.is_ok()
        }
    })
    .await;
    assert!(ready, "profiles never appeared");
    addr
}

async fn run() {
    let infra = Infra::from_env();
    if !reachable(&infra.brokers) {
        println!(
            "rpc bench skipped: Kafka is not reachable at {} (run `scripts/infra.sh up`)",
            infra.brokers
        );
        return;
    }
    let n = env_usize("BENCH_REQUESTS", 5000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 16);
    let suffix = format!("-{}", unique("bench"));

    // A few hundred callers, their tokens signed up front (RS256 signing is not what is
    // measured).
    let users: Vec<Uuid> = (0..200).map(|_| Uuid::now_v7()).collect();
    let bearers: Vec<_> = users.iter().map(|u| bearer(*u)).collect();
    if !reachable(&infra.pg_url) {
        println!(
            "rpc bench skipped: PostgreSQL is not reachable at {} (ds-service needs its database; run `scripts/infra.sh up`)",
            infra.pg_url
        );
        return;
    }
    let user_service = spawn_users(&infra, &suffix, &users).await;
    let client = spawn_ds(&infra, &suffix, &user_service).await;

    // Callers with a full memory: 500 rules each, none matching the texts, so every rule
    // is looked at and the extractor's answer stands.
    let full: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    let full_bearers: Vec<_> = full.iter().map(|u| bearer(*u)).collect();
    for b in &full_bearers {
        futures::stream::iter(0..500)
            .map(|i| {
                let mut client = client.clone();
                let mut req = tonic::Request::new(CreateExtractionRuleRequest {
                    merchant_pattern: format!("bench shop {i}"),
                    merchant: String::new(),
                    category: contracts::expense::Category::Shopping as i32,
                });
                req.metadata_mut().insert("authorization", b.clone());
                async move { client.create_extraction_rule(req).await.expect("rule written") }
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
    }

    let request = |i: usize, dry_run: bool, profile: bool| {
        let mut req = tonic::Request::new(ExtractExpenseRequest {
            text: TEXTS[i % TEXTS.len()].to_owned(),
            dry_run,
            default_currency: if profile { "" } else { "INR" }.to_owned(),
            timezone: if profile { "" } else { "Asia/Kolkata" }.to_owned(),
            reference_date: String::new(),
            request_id: String::new(),
        });
        req.metadata_mut()
            .insert("authorization", bearers[i % bearers.len()].clone());
        req
    };

    // Warm-up: connections, the producer's metadata, the extractor's word lists.
    measure(&client, 300, concurrency, |i| request(i, false, true)).await;

    println!(
        "\nExtractExpense, offline extractor, {n} requests, {concurrency} in flight, {} cores shared by client and server(s)\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| scenario | p50 | p90 | p99 | max | requests/s |\n|---|---|---|---|---|---|");
    let dry = measure(&client, n, concurrency, |i| request(i, true, false)).await;
    line("dry_run (no publish)", &dry);
    let publish = measure(&client, n, concurrency, |i| request(i, false, false)).await;
    line("publish, acks=all", &publish);
    let profile = measure(&client, n, concurrency, |i| request(i, false, true)).await;
    line("publish + GetUser", &profile);
    let single = measure(&client, n.min(2000), 1, |i| request(i, false, false)).await;
    line("publish, 1 in flight", &single);
    let full_memory = measure(&client, n, concurrency, |i| {
        let mut req = request(i, true, false);
        req.metadata_mut()
            .insert("authorization", full_bearers[i % full_bearers.len()].clone());
        req
    })
    .await;
    line("dry_run, callers with 500 rules", &full_memory);
    println!(
        "\n500 rules vs none (dry_run): p50 x{:.2}, p99 x{:.2}, throughput x{:.2}",
        full_memory.p50.as_secs_f64() / dry.p50.as_secs_f64(),
        full_memory.p99.as_secs_f64() / dry.p99.as_secs_f64(),
        full_memory.per_sec / dry.per_sec
    );
}
