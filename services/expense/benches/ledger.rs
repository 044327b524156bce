//! expense-service load generator (`cargo bench -p expense-service`), against the real
//! PostgreSQL and Kafka of `scripts/infra.sh` (skipped, with a message, when they are down):
//!
//! 1. consumer throughput: 100,000 `ExpenseExtracted` events for 1,000 users are produced
//!    to a fresh topic, then the service consumes them into a fresh database; events/s is
//!    measured from the first stored row to the last;
//! 2. read latency for one user with 100,000 expenses (among 100,000 of other users): List
//!    (first page, a deep page by keyset token) and Summarize (each grouping) through gRPC,
//!    p50/p99; and the deep page as keyset SQL vs naive `OFFSET` SQL.
//!
//! Sizes: `BENCH_EVENTS` (100000), `BENCH_EXPENSES` (100000).

use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use contracts::{
    events::ExpenseExtracted,
    expense::{expense_service_client::ExpenseServiceClient, ListExpensesRequest, SummarizeExpensesRequest},
};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use expense_service::{
    domain::{next_page_token, Cursor, ListFilter},
    store::{
        models::{ExpenseColumns, ExpenseRow},
        queries,
        schema::expenses,
    },
    Application, Config,
};
use futures::StreamExt;
use platform::{
    config::Env,
    kafka::{ensure_topics, EventProducer, RawEvent},
    testing::{
        bench::{env_usize, ms, percentile, reachable},
        tokens, unique, Infra,
    },
};
use tonic::transport::Channel;
use uuid::Uuid;

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: a smoke run is not worth
    // minutes of load on shared infrastructure.
    if !std::env::args().any(|a| a == "--bench") {
        println!("ledger bench: run it with `cargo bench -p expense-service`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let infra = Infra::from_env();
    if !reachable(&infra.pg_url) || !reachable(&infra.brokers) {
        println!(
            "ledger bench SKIPPED: PostgreSQL ({}) or Kafka ({}) is not reachable. \
             Start them with `scripts/infra.sh up` and `eval \"$(scripts/infra.sh env)\"`.",
            infra.pg_url, infra.brokers
        );
        return;
    }
    println!(
        "expense-service ledger bench ({} cores; figures vary with whatever else runs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    consumer_throughput(&infra, env_usize("BENCH_EVENTS", 100_000)).await;
    read_latency(&infra, env_usize("BENCH_EXPENSES", 100_000)).await;
}

struct Spawned {
    db: String,
    port: u16,
    stop: tokio_util::sync::CancellationToken,
}

async fn spawn(infra: &Infra, suffix: &str) -> Spawned {
    let db = infra.fresh_database().await;
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("KAFKA_TOPIC_SUFFIX", suffix),
    ];
    vars.extend(tokens::verifier_env());
    let app = Application::build(Config::from_env(&Env::from_pairs(vars)).expect("config"))
        .await
        .expect("app builds");
    let (port, stop) = (app.port(), app.shutdown_token());
    tokio::spawn(app.run_until_stopped());
    Spawned { db, port, stop }
}

async fn connect(url: &str) -> AsyncPgConnection {
    use diesel_async::AsyncConnection;
    AsyncPgConnection::establish(url).await.expect("database")
}

async fn count(conn: &mut AsyncPgConnection) -> i64 {
    expenses::table.count().get_result(conn).await.expect("count")
}

// === 1. consumer throughput ===

async fn consumer_throughput(infra: &Infra, n: usize) {
    let suffix = format!("-{}", unique("bench"));
    let topic = format!("{}{suffix}", contracts::topics::EXPENSE_EXTRACTED);
    ensure_topics(&infra.brokers, &[&topic], 3).await.expect("topics");
    let producer = EventProducer::new(&infra.brokers, "/bench", Duration::from_secs(30))
        .expect("producer")
        .with_topic_suffix(&suffix);
    let users: Vec<Uuid> = (0..1000).map(|_| Uuid::now_v7()).collect();
    let today = Utc::now().date_naive();
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let producer = &producer;
            let event = ExpenseExtracted {
                expense_id: Uuid::now_v7().to_string(),
                user_id: users[i % users.len()].to_string(),
                amount: format!("{}.{:02}", 1 + i % 500, i % 100),
                currency: ["USD", "EUR", "INR"][i % 3].into(),
                merchant: ["Subway", "Whole Foods", "Uber", "Amazon"][i % 4].into(),
                category: 1 + (i % 15) as i32,
                occurred_on: (today - chrono::Duration::days((i % 365) as i64)).to_string(),
                raw_text: format!("spent {} on lunch at Subway", 1 + i % 500),
                source: 2,
                confidence: 0.9,
                extractor: "rules".into(),
                extracted_at: None,
            };
            async move { producer.send(&RawEvent::new(&event)).await }
        })
        .buffer_unordered(5000)
        .for_each(|r| async move { r.expect("produce") })
        .await;
    let produced_in = started.elapsed();
    println!(
        "\n## consumer: ExpenseExtracted → Postgres ({n} events, 1,000 users, 3 partitions)\n\
         produced in {:.1} s ({:.0} events/s, not part of the figure)",
        produced_in.as_secs_f64(),
        n as f64 / produced_in.as_secs_f64()
    );

    let app = spawn(infra, &suffix).await;
    let mut conn = connect(&app.db).await;
    // From the first stored row to the last: group join and start-up are not consumption.
    let deadline = Instant::now() + Duration::from_secs(600);
    let (t0, c0) = loop {
        let c = count(&mut conn).await;
        if c > 0 {
            break (Instant::now(), c);
        }
        assert!(Instant::now() < deadline, "nothing consumed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    loop {
        let c = count(&mut conn).await;
        if c as usize >= n {
            break;
        }
        assert!(Instant::now() < deadline, "stuck at {c} of {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t0.elapsed();
    println!(
        "consumed {} events in {:.2} s: **{:.0} events/s** (batches of up to 1,000, one transaction each)",
        n as i64 - c0,
        took.as_secs_f64(),
        (n as i64 - c0) as f64 / took.as_secs_f64()
    );
    app.stop.cancel();
    drop(conn);
    cleanup(infra, &app.db, &suffix).await;
}

// === 2. read latency ===

fn rows(user: Uuid, n: usize, start_day: NaiveDate) -> Vec<ExpenseRow> {
    let now = Utc::now();
    (0..n)
        .map(|i| ExpenseRow {
            id: Uuid::now_v7(),
            user_id: user,
            amount_minor: 100 + (i as i64 * 7919) % 100_000,
            currency: ["USD", "EUR", "JPY", "BHD"][i % 4].into(),
            merchant: [
                "Subway",
                "subway",
                "Whole Foods",
                "Uber",
                "Amazon",
                "",
                "Café Nero",
            ][i % 7]
                .into(),
            category: domain::Category::ALL[i % 15].as_str().into(),
            // ~90 a day over three years.
            occurred_on: start_day - chrono::Duration::days((i % 1100) as i64),
            note: String::new(),
            raw_text: "spent 12.50 on lunch at Subway".into(),
            source: "TEXT_RULES".into(),
            confidence: 0.9,
            created_at: now,
            updated_at: now,
            version: 1,
        })
        .collect()
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

async fn measure<F, Fut>(iterations: usize, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..iterations.div_ceil(10) {
        f().await;
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    Stats {
        p50: percentile(&times, 0.50),
        p99: percentile(&times, 0.99),
    }
}

fn line(what: &str, s: &Stats) {
    println!("| {what} | {} | {} |", ms(s.p50), ms(s.p99));
}

async fn read_latency(infra: &Infra, n: usize) {
    let suffix = format!("-{}", unique("bench"));
    let app = spawn(infra, &suffix).await;
    let user = Uuid::now_v7();
    let today = Utc::now().date_naive();
    let mut conn = connect(&app.db).await;
    // The user's rows interleaved with other users' (as in production, where one user's
    // expenses are scattered over the table).
    let others: Vec<Uuid> = (0..100).map(|_| Uuid::now_v7()).collect();
    let seeding = Instant::now();
    for chunk in 0..n.div_ceil(10_000) {
        let size = 10_000.min(n - chunk * 10_000);
        let mut batch = rows(user, size, today);
        batch.extend(rows(others[chunk % others.len()], size, today));
        let cols: ExpenseColumns = batch.into_iter().collect();
        queries::insert_new_batch(&mut conn, cols).await.expect("seed");
    }
    // What autovacuum does in production: statistics, and the visibility map that lets
    // summaries scan the index alone.
    diesel::sql_query("VACUUM ANALYZE expenses")
        .execute(&mut conn)
        .await
        .expect("vacuum");
    println!(
        "\n## reads: one user with {n} expenses (plus {n} of 100 other users), seeded in {:.1} s\n\n\
         | operation | p50 | p99 |\n|---|---|---|",
        seeding.elapsed().as_secs_f64()
    );

    // A page 90% of the way down, by keyset token.
    let depth = n * 9 / 10;
    let (d, id): (NaiveDate, Uuid) = expenses::table
        .filter(expenses::user_id.eq(user))
        .order((expenses::occurred_on.desc(), expenses::id.desc()))
        .offset(depth as i64 - 1)
        .select((expenses::occurred_on, expenses::id))
        .first(&mut conn)
        .await
        .expect("cursor row");
    let token = next_page_token(&ListFilter::default(), Cursor { occurred_on: d, id });
    grpc_latency(app.port, user, &token, depth, n, today, "").await;
    // The same handlers behind a server whose sockets have TCP_NODELAY (see the note at
    // `nodelay_server`): what platform's GrpcServer should do.
    let (port, stop) = nodelay_server(&app.db).await;
    grpc_latency(port, user, &token, depth, n, today, ", TCP_NODELAY").await;
    stop.cancel();

    // The same deep page in SQL: keyset against the naive OFFSET.
    let pool = platform::db::pool(&app.db, 1).expect("pool");
    let keyset_sql = measure(100, || {
        let pool = &pool;
        async move {
            let conn = &mut pool.get().await.unwrap();
            let rows: Vec<Row> = diesel::sql_query(
                "SELECT id FROM expenses WHERE user_id = $1 AND (occurred_on, id) < ($2, $3) \
                 ORDER BY occurred_on DESC, id DESC LIMIT 51",
            )
            .bind::<sql_types::Uuid, _>(user)
            .bind::<sql_types::Date, _>(d)
            .bind::<sql_types::Uuid, _>(id)
            .load(conn)
            .await
            .unwrap();
            assert_eq!(rows.len(), 51);
        }
    })
    .await;
    let offset_sql = measure(40, || {
        let pool = &pool;
        async move {
            let conn = &mut pool.get().await.unwrap();
            let rows: Vec<Row> = diesel::sql_query(
                "SELECT id FROM expenses WHERE user_id = $1 ORDER BY occurred_on DESC, id DESC \
                 OFFSET $2 LIMIT 51",
            )
            .bind::<sql_types::Uuid, _>(user)
            .bind::<sql_types::BigInt, _>(depth as i64)
            .load(conn)
            .await
            .unwrap();
            assert_eq!(rows.len(), 51);
        }
    })
    .await;
    line(&format!("SQL: page at row {depth}, keyset"), &keyset_sql);
    line(&format!("SQL: page at row {depth}, OFFSET (naive)"), &offset_sql);
    println!(
        "\nOFFSET / keyset at row {depth}: **{:.0}x** at p50, {:.0}x at p99",
        offset_sql.p50.as_secs_f64() / keyset_sql.p50.as_secs_f64(),
        offset_sql.p99.as_secs_f64() / keyset_sql.p99.as_secs_f64()
    );
    app.stop.cancel();
    drop(pool);
    drop(conn);
    cleanup(infra, &app.db, &suffix).await;
}

/// Drops the bench's database and topics (they hold hundreds of thousands of rows and
/// messages on the shared infrastructure).
async fn cleanup(infra: &Infra, db_url: &str, suffix: &str) {
    use rdkafka::admin::{AdminClient, AdminOptions};
    tokio::time::sleep(Duration::from_millis(500)).await;
    let name = db_url.rsplit('/').next().unwrap_or_default().to_owned();
    let base = infra.pg_url.trim_end_matches('/').trim_end_matches("/postgres");
    let mut admin = connect(&format!("{base}/postgres")).await;
    if let Err(e) = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
    {
        println!("(could not drop bench database {name}: {e})");
    }
    let client: AdminClient<_> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &infra.brokers)
        .create()
        .expect("kafka admin");
    let all: Vec<String> = [
        contracts::topics::EXPENSE_EXTRACTED,
        contracts::topics::USER_DELETED,
    ]
    .iter()
    .flat_map(|t| {
        let name = format!("{t}{suffix}");
        [contracts::topics::dlq(&name), name]
    })
    .collect();
    let names: Vec<&str> = all.iter().map(String::as_str).collect();
    if let Err(e) = client.delete_topics(&names, &AdminOptions::new()).await {
        println!("(could not delete bench topics: {e})");
    }
}

/// gRPC latencies of List and Summarize against the server on `port`.
#[allow(clippy::too_many_arguments)]
async fn grpc_latency(
    port: u16,
    user: Uuid,
    token: &str,
    depth: usize,
    n: usize,
    today: NaiveDate,
    tag: &str,
) {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = ExpenseServiceClient::new(channel);
    let bearer = tokens::bearer(user);
    fn authorized<T>(
        bearer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
        msg: T,
    ) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.metadata_mut().insert("authorization", bearer.clone());
        req
    }

    let first = measure(300, || {
        let mut c = client.clone();
        let req = authorized(&bearer, ListExpensesRequest::default());
        async move {
            let r = c.list_expenses(req).await.unwrap().into_inner();
            assert_eq!(r.expenses.len(), 50);
        }
    })
    .await;
    line(&format!("ListExpenses, first page (50), gRPC{tag}"), &first);

    let deep = measure(300, || {
        let mut c = client.clone();
        let req = authorized(
            &bearer,
            ListExpensesRequest {
                page_token: token.to_owned(),
                ..Default::default()
            },
        );
        async move {
            let r = c.list_expenses(req).await.unwrap().into_inner();
            assert_eq!(r.expenses.len(), 50);
        }
    })
    .await;
    line(
        &format!("ListExpenses, page at row {depth} by token, gRPC{tag}"),
        &deep,
    );

    for (g, name) in [(1, "CATEGORY"), (2, "MONTH"), (3, "MERCHANT")] {
        let all = measure(40, || {
            let mut c = client.clone();
            let req = authorized(
                &bearer,
                SummarizeExpensesRequest {
                    group_by: g,
                    ..Default::default()
                },
            );
            async move {
                c.summarize_expenses(req).await.unwrap();
            }
        })
        .await;
        line(&format!("SummarizeExpenses by {name}, all {n}, gRPC{tag}"), &all);
    }
    let from = (today - chrono::Duration::days(30)).to_string();
    let month = measure(100, || {
        let mut c = client.clone();
        let req = authorized(
            &bearer,
            SummarizeExpensesRequest {
                group_by: 1,
                from: from.clone(),
                ..Default::default()
            },
        );
        async move {
            c.summarize_expenses(req).await.unwrap();
        }
    })
    .await;
    line(
        &format!("SummarizeExpenses by CATEGORY, last 30 days, gRPC{tag}"),
        &month,
    );
}

/// platform's `GrpcServer` serves a `TcpListenerStream`, so tonic's `tcp_nodelay` never
/// applies: Nagle's algorithm holds the second write of each response (DATA after HEADERS)
/// until the client's delayed ACK, about 40 ms on Linux. This server is the same stack
/// (trace and auth layers, the same handlers) over `TcpIncoming::with_nodelay(Some(true))`.
async fn nodelay_server(db: &str) -> (u16, tokio_util::sync::CancellationToken) {
    use contracts::expense::expense_service_server::ExpenseServiceServer;
    use platform::grpc::{AuthLayer, TraceLayer};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let verifier = platform::jwt::verifier_from_env(&Env::from_pairs(tokens::verifier_env())).unwrap();
    let service = ExpenseServiceServer::new(expense_service::grpc::ExpenseGrpc::new(
        platform::db::pool(db, 16).unwrap(),
    ));
    let stop = tokio_util::sync::CancellationToken::new();
    let until = stop.clone();
    tokio::spawn(
        tonic::transport::Server::builder()
            .layer(TraceLayer)
            .layer(AuthLayer::new(verifier, &[]))
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async move { until.cancelled().await }),
    );
    (port, stop)
}

#[derive(QueryableByName)]
struct Row {
    #[allow(dead_code)]
    #[diesel(sql_type = sql_types::Uuid)]
    id: Uuid,
}
