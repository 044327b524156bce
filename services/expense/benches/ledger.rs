//! expense-service load generator (`cargo bench -p expense-service`), against the real
//! PostgreSQL and Kafka of `scripts/infra.sh` (skipped, with a message, when they are down):
//!
//! 1. consumer throughput: 100,000 `ExpenseExtracted` events for 1,000 users are produced
//!    to a fresh topic, then the service consumes them into a fresh database, writing an
//!    `ExpenseChanged` per expense to its outbox in each batch's transaction (one
//!    `outbox_batches` row per batch) while its relay publishes them; events/s is measured
//!    from the first stored row to the last (and to the last event published), against the
//!    same consumer writing one outbox row per event, in turn. Baselines in the same run, on
//!    the database alone: the handler's transaction with change events (either outbox
//!    form), against the previous transaction without them (the raw batched insert),
//!    against `pgbench` running the same 1,000-row INSERT into the same table (the
//!    database's ceiling for this insert);
//! 2. read latency for one user with 100,000 expenses (among 100,000 of other users): List
//!    (first page, a deep page by keyset token) and Summarize (each grouping) through gRPC,
//!    p50/p99; and the deep page as keyset SQL vs naive `OFFSET` SQL.
//!
//! Sizes: `BENCH_EVENTS` (100000), `BENCH_EXPENSES` (100000). `BENCH_CONSUMER_ROUNDS` (2):
//! rounds of the end-to-end A/B (the service, one outbox row per batch, against the same
//! consumer writing one outbox row per change event). `BENCH_CONSUMER_ONLY=1`: that A/B
//! alone; `BENCH_READS=0`: no read latencies. `BENCH_CPU_PIDS=postgres=<postmaster pid>,
//! kafka=<broker pid>`: their CPU per event beside the service's.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{NaiveDate, Utc};
use contracts::{
    events::ExpenseExtracted,
    expense::{expense_service_client::ExpenseServiceClient, ListExpensesRequest, SummarizeExpensesRequest},
};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use expense_service::{
    domain::{next_page_token, Cursor, Expense, ListFilter},
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
    idempotency::record_new_events,
    kafka::{ensure_topics, Envelope, EventProducer, RawEvent},
    testing::{
        bench::{env_usize, ms, percentile, reachable},
        tokens, unique, Infra,
    },
};
use tonic::transport::Channel;
use tracing::Instrument;
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
    let events = env_usize("BENCH_EVENTS", 100_000);
    // The service as it is, and the same consumer writing one outbox row per change event
    // (the design before `outbox_batches`), alternately: the best of each.
    let rounds = env_usize("BENCH_CONSUMER_ROUNDS", 2).max(1);
    let (mut consumer, mut per_event) = (0f64, 0f64);
    for _ in 0..rounds {
        consumer = consumer.max(consumer_throughput(&infra, events, Design::Service).await);
        per_event = per_event.max(consumer_throughput(&infra, events, Design::OutboxRowPerEvent).await);
    }
    println!(
        "\nconsumer, outbox row per batch / per event (best of {rounds} each): **{:.2}**",
        consumer / per_event
    );
    // `BENCH_CONSUMER_ONLY=1`: just the figures above (for profiling the consumer).
    if env_usize("BENCH_CONSUMER_ONLY", 0) == 1 {
        return;
    }
    let tx = batch_transactions(&infra, events).await;
    let (previous, with_changes) = (tx.previous, tx.with_changes);
    let ceiling = pgbench_ceiling(&infra).await;
    println!(
        "\n## consumer summary\n\n| | events/s | / previous transaction | / pgbench ceiling |\n|---|---|---|---|"
    );
    let ratio = |x: f64, base: Option<f64>| base.map_or("–".to_owned(), |b| format!("{:.2}", x / b));
    for (what, rate) in [
        ("consumer, Kafka → Postgres + outbox (relay running)", consumer),
        ("the same consumer, one outbox row per change event", per_event),
        ("batch transaction with change events", with_changes),
        ("batch transaction, one outbox row per change event", tx.per_event),
        ("previous batch transaction (raw batched insert)", previous),
    ] {
        println!(
            "| {what} | {rate:.0} | {} | {} |",
            ratio(rate, Some(previous)),
            ratio(rate, ceiling)
        );
    }
    if let Some(c) = ceiling {
        println!(
            "| pgbench, same INSERT of 1,000 rows | {c:.0} | {:.2} | 1.00 |",
            c / previous
        );
    }
    // `BENCH_READS=0`: the consumer's figures and baselines only.
    if env_usize("BENCH_READS", 1) == 1 {
        read_latency(&infra, env_usize("BENCH_EXPENSES", 100_000)).await;
    }
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
        ("OUTBOX_INSTANCE", suffix),
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

/// Waits until the broker knows a leader for each of `topic`'s `partitions` (a producer
/// started right after the topic's creation may otherwise be told it does not exist).
async fn wait_for_leaders(brokers: &str, topic: &str, partitions: usize) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("kafka client");
    let topic = topic.to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    tokio::task::spawn_blocking(move || loop {
        let ready = client
            .fetch_metadata(Some(&topic), Duration::from_secs(5))
            .map(|m| {
                m.topics().iter().any(|t| {
                    t.error().is_none()
                        && t.partitions().len() == partitions
                        && t.partitions()
                            .iter()
                            .all(|p| p.leader() >= 0 && p.error().is_none())
                })
            })
            .unwrap_or(false);
        if ready || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    })
    .await
    .expect("metadata");
}

/// What consumes the events in [`consumer_throughput`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Design {
    /// The service (`Application`): change events as one `outbox_batches` row per batch.
    Service,
    /// The same batch consumer and relay, writing one `outbox` row per change event.
    OutboxRowPerEvent,
}

/// The batch consumer and relay as `Application` assembles them (batches of 1,000, relay
/// transactions of 2,000), with the handler writing the change events as `rows` says.
async fn spawn_consumer(infra: &Infra, suffix: &str, rows: expense_service::events::OutboxRows) -> Spawned {
    use platform::{
        batch_consumer::{consume_batches, BatchSettings},
        kafka::ConsumerSettings,
    };
    let db = migrated_database(infra).await;
    let pool = platform::db::pool(&db, 16).expect("pool");
    let stop = tokio_util::sync::CancellationToken::new();
    let (brokers, sfx) = (infra.brokers.clone(), suffix.to_owned());
    let tx_id = format!("expense-service-outbox{suffix}");
    let producer = move || {
        Ok(EventProducer::transactional(
            &brokers,
            "/expense-tracker/expense-service",
            &tx_id,
            Duration::from_secs(30),
        )?
        .with_topic_suffix(&sfx))
    };
    tokio::spawn(platform::outbox::run_relay(
        pool.clone(),
        producer,
        |r| r.with_batch_size(2000),
        stop.clone(),
    ));
    let settings = BatchSettings {
        consumer: ConsumerSettings::new(
            &infra.brokers,
            &format!("expense-service{suffix}"),
            &format!("{}{suffix}", contracts::topics::EXPENSE_EXTRACTED),
        ),
        max_messages: 1000,
        max_wait: Duration::from_millis(20),
    };
    let handler = move |batch| {
        let pool = pool.clone();
        async move { expense_service::events::on_expenses_extracted_with(&pool, batch, rows).await }
    };
    tokio::spawn(consume_batches(settings, handler, stop.clone()));
    Spawned { db, port: 0, stop }
}

/// Returns events/s from the first stored row to the last.
async fn consumer_throughput(infra: &Infra, n: usize, design: Design) -> f64 {
    let suffix = format!("-{}", unique("bench"));
    let topic = format!("{}{suffix}", contracts::topics::EXPENSE_EXTRACTED);
    let changed = format!("{}{suffix}", contracts::topics::EXPENSE_CHANGED);
    ensure_topics(&infra.brokers, &[&topic, &changed], 3)
        .await
        .expect("topics");
    wait_for_leaders(&infra.brokers, &topic, 3).await;
    let producer = EventProducer::new(&infra.brokers, "/bench", Duration::from_secs(30))
        .expect("producer")
        .with_topic_suffix(&suffix);
    let events = extracted_events(n);
    let started = Instant::now();
    futures::stream::iter(events)
        .map(|event| {
            let producer = &producer;
            async move { producer.send(&RawEvent::new(&event)).await }
        })
        .buffer_unordered(5000)
        .for_each(|r| async move { r.expect("produce") })
        .await;
    let produced_in = started.elapsed();
    println!(
        "\n## consumer ({}): ExpenseExtracted → Postgres ({n} events, 1,000 users, 3 partitions)\n\
         produced in {:.1} s ({:.0} events/s, not part of the figure)",
        match design {
            Design::Service => "the service, one outbox row per batch",
            Design::OutboxRowPerEvent => "one outbox row per change event",
        },
        produced_in.as_secs_f64(),
        n as f64 / produced_in.as_secs_f64()
    );

    let app = match design {
        Design::Service => spawn(infra, &suffix).await,
        Design::OutboxRowPerEvent => {
            spawn_consumer(infra, &suffix, expense_service::events::OutboxRows::PerEvent).await
        }
    };
    let mut conn = connect(&app.db).await;
    // From the first stored row to the last: group join and start-up are not consumption.
    let deadline = Instant::now() + Duration::from_secs(600);
    let watched = watched_processes();
    let (t0, c0, cpu0, others0) = loop {
        let c = count(&mut conn).await;
        if c > 0 {
            let others: Vec<(String, u32, Duration)> = watched
                .iter()
                .map(|(name, pid)| (name.clone(), *pid, tree_cpu(*pid)))
                .collect();
            break (Instant::now(), c, process_cpu(), others);
        }
        assert!(Instant::now() < deadline, "nothing consumed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Each count scans the table, which competes with the consumer for the same 2 cores
    // (polled every 50 ms it took ~15% of the database's CPU): wait for most of the
    // remaining time at the rate so far, polling every 50 ms only near the end.
    loop {
        let c = count(&mut conn).await;
        if c as usize >= n {
            break;
        }
        assert!(Instant::now() < deadline, "stuck at {c} of {n}");
        tokio::time::sleep(until_near_end(t0, c0, c, n)).await;
    }
    let took = t0.elapsed();
    let cpu = process_cpu() - cpu0;
    let others: Vec<String> = others0
        .iter()
        .map(|(name, pid, at)| {
            format!(
                "{name} {:.0} µs",
                (tree_cpu(*pid) - *at).as_secs_f64() * 1e6 / (n as i64 - c0) as f64
            )
        })
        .collect();
    let rate = (n as i64 - c0) as f64 / took.as_secs_f64();
    println!(
        "consumed {} events in {:.2} s: **{:.0} events/s** (batches of up to 1,000 per partition, one \
         transaction each, with their ExpenseChanged in the outbox; the relay publishing meanwhile); \
         the service's process used {:.0} µs of CPU per event (consumer and relay; robust to other load)",
        n as i64 - c0,
        took.as_secs_f64(),
        rate,
        cpu.as_secs_f64() * 1e6 / (n as i64 - c0) as f64
    );
    if !others.is_empty() {
        println!(
            "CPU per event over the same time in the other processes (`BENCH_CPU_PIDS`; with \
             whatever else they served meanwhile): {}",
            others.join(", ")
        );
    }
    loop {
        let pending = platform::outbox::pending(&mut conn).await.expect("outbox");
        if pending == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} change events never published"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let published = t0.elapsed();
    println!(
        "every ExpenseChanged published {:.2} s after the first row: {:.0} events/s from stored to published",
        published.as_secs_f64(),
        (n as i64 - c0) as f64 / published.as_secs_f64()
    );
    app.stop.cancel();
    drop(conn);
    cleanup(infra, &app.db, &suffix).await;
    rate
}

/// The processes named in `BENCH_CPU_PIDS` (`name=pid,…`, e.g. the postmaster and the
/// Kafka broker), whose CPU per event the consumer figure reports beside the service's.
fn watched_processes() -> Vec<(String, u32)> {
    std::env::var("BENCH_CPU_PIDS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|kv| {
            let (name, pid) = kv.split_once('=')?;
            Some((name.trim().to_owned(), pid.trim().parse().ok()?))
        })
        .collect()
}

/// CPU time of process `pid` and its children: its own, its reaped children's (fields 16
/// and 17) and its live children's (PostgreSQL's server processes are the postmaster's).
fn tree_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let reaped: u64 = after_name
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    let children: Duration = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .map(pid_cpu)
        .sum();
    cpu_of(&stat) + Duration::from_millis(reaped * 10) + children
}

/// CPU time (user + system) this process has used so far: the service runs in it.
fn process_cpu() -> Duration {
    cpu_of(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// How long to wait before counting again: 70% of the time the rest should take at the
/// rate since `t0`, between 50 ms and 1 s.
fn until_near_end(t0: Instant, c0: i64, c: i64, n: usize) -> Duration {
    let rate = (c - c0).max(1) as f64 / t0.elapsed().as_secs_f64().max(0.001);
    let rest = (n as i64 - c).max(0) as f64 / rate;
    Duration::from_secs_f64((rest * 0.7).clamp(0.05, 1.0))
}

/// `n` extracted expenses of 1,000 users, as ds-service publishes them.
fn extracted_events(n: usize) -> Vec<ExpenseExtracted> {
    let users: Vec<Uuid> = (0..1000).map(|_| Uuid::now_v7()).collect();
    let today = Utc::now().date_naive();
    (0..n)
        .map(|i| ExpenseExtracted {
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
        })
        .collect()
}

/// A fresh database with the service's tables.
async fn migrated_database(infra: &Infra) -> String {
    let db = infra.fresh_database().await;
    platform::db::migrate(&db, expense_service::MIGRATIONS)
        .await
        .expect("migrations");
    db
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    /// `events::on_expenses_extracted`: the expenses and their change events, one outbox
    /// row for the batch.
    WithChanges,
    /// The same handler writing one outbox row per change event (the design before).
    OutboxRowPerEvent,
    /// The handler's transaction before change events existed: the raw batched insert.
    Previous,
}

/// Best events/s of each transaction in [`batch_transactions`].
struct Transactions {
    previous: f64,
    with_changes: f64,
    per_event: f64,
}

/// The batched consumer's database work alone (no Kafka, no relay), one batch of 1,000
/// after the other on one connection as the consumer does: with change events (one outbox
/// row per batch, and one per event), and the previous transaction without them, in turn
/// on fresh databases, twice. Returns the best events/s of each; prints the CPU the
/// connection's server process used per event too (a local server only).
async fn batch_transactions(infra: &Infra, n: usize) -> Transactions {
    println!(
        "\n## the batch transaction alone ({n} events in batches of 1,000, fresh database each)\n\n\
         | transaction | events/s | database CPU µs/event |\n|---|---|---|"
    );
    let mut best = [0f64; 3];
    let order = [Path::Previous, Path::WithChanges, Path::OutboxRowPerEvent];
    for (round, path) in order.iter().chain(order.iter()).copied().enumerate() {
        let db = migrated_database(infra).await;
        let pool = platform::db::pool(&db, 1).expect("pool");
        let backend = backend_pid(&pool).await;
        let topic = "bench".to_owned();
        let batches: Vec<Arc<[Envelope<ExpenseExtracted>]>> = extracted_events(n)
            .chunks(1000)
            .map(|chunk| {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(i, e)| Envelope {
                        id: Uuid::now_v7(),
                        event: e.clone(),
                        time: None,
                        source: None,
                        topic: topic.clone(),
                        partition: 0,
                        offset: i as i64,
                    })
                    .collect()
            })
            .collect();
        let cpu0 = backend.map(pid_cpu);
        let started = Instant::now();
        for batch in batches {
            // As in the consumer, whose batch span is current (change events carry its trace).
            let span = tracing::info_span!("bench.batch");
            let rows = match path {
                Path::WithChanges => expense_service::events::OutboxRows::PerBatch,
                Path::OutboxRowPerEvent => expense_service::events::OutboxRows::PerEvent,
                Path::Previous => {
                    previous_transaction(&pool, batch).instrument(span).await;
                    continue;
                }
            };
            let rejected = expense_service::events::on_expenses_extracted_with(&pool, batch, rows)
                .instrument(span)
                .await
                .expect("batch");
            assert!(rejected.is_empty());
        }
        let took = started.elapsed();
        let cpu = match (backend, cpu0) {
            (Some(pid), Some(c0)) => format!("{:.1}", (pid_cpu(pid) - c0).as_secs_f64() * 1e6 / n as f64),
            _ => "–".to_owned(),
        };
        let mut conn = connect(&db).await;
        assert_eq!(count(&mut conn).await as usize, n, "every expense stored");
        let outbox = platform::outbox::pending(&mut conn).await.expect("outbox") as usize;
        assert_eq!(outbox, if path == Path::Previous { 0 } else { n });
        let rate = n as f64 / took.as_secs_f64();
        let slot = order.iter().position(|p| *p == path).unwrap_or(0);
        best[slot] = best[slot].max(rate);
        println!(
            "| round {}: {} | {rate:.0} | {cpu} |",
            round / 3 + 1,
            match path {
                Path::WithChanges => "expenses + ExpenseChanged, one outbox row per batch (current handler)",
                Path::OutboxRowPerEvent => "expenses + ExpenseChanged, one outbox row per event",
                Path::Previous => "expenses only (previous transaction: the raw batched insert)",
            }
        );
        drop((pool, conn));
        drop_database(infra, &db).await;
    }
    println!(
        "\nwith change events / without (best of two each): **{:.2}** (one outbox row per event: {:.2})",
        best[1] / best[0],
        best[2] / best[0]
    );
    Transactions {
        previous: best[0],
        with_changes: best[1],
        per_event: best[2],
    }
}

/// The server process of the pool's (only) connection.
async fn backend_pid(pool: &platform::db::PgPool) -> Option<u32> {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = sql_types::Integer)]
        pid: i32,
    }
    let mut conn = pool.get().await.ok()?;
    let p: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(&mut *conn)
        .await
        .ok()?;
    let pid = u32::try_from(p.pid).ok()?;
    // Only a server on this machine has its process here.
    std::path::Path::new(&format!("/proc/{pid}/stat"))
        .exists()
        .then_some(pid)
}

/// CPU time (user + system) process `pid` has used so far.
fn pid_cpu(pid: u32) -> Duration {
    cpu_of(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default())
}

/// CPU time from a `/proc/<pid>/stat` line: fields 14 and 15, in clock ticks (100 per
/// second on Linux).
fn cpu_of(stat: &str) -> Duration {
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// The transaction `on_expenses_extracted` ran before it wrote change events (commit
/// 447f743^): validate, record the event ids, lock the users, insert the new expenses.
async fn previous_transaction(pool: &platform::db::PgPool, batch: Arc<[Envelope<ExpenseExtracted>]>) {
    use diesel_async::AsyncConnection;
    let now = expense_service::domain::now();
    let mut event_ids = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for env in batch.iter() {
        let e = &env.event;
        let input = expense_service::proto::extracted_input(e);
        event_ids.push(env.id);
        rows.push(ExpenseRow::from(&Expense::extracted(input, now).expect("valid")));
    }
    let topic = batch[0].topic.clone();
    let mut conn = pool.get().await.expect("connection");
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let fresh: std::collections::HashSet<Uuid> =
            record_new_events(conn, "expense-service", &topic, event_ids.clone())
                .await?
                .into_iter()
                .collect();
        let new: ExpenseColumns = event_ids
            .iter()
            .zip(rows)
            .filter(|(id, _)| fresh.contains(id))
            .map(|(_, row)| row)
            .collect();
        queries::lock_users_shared(conn, new.user_id.iter().copied()).await?;
        queries::insert_new_batch(conn, new).await
    })
    .await
    .expect("batch");
}

/// `pgbench` running the consumer's INSERT of 1,000 rows into the same table (service
/// migrations, same index), one client like the consumer: what the database can do for
/// this insert alone, with nothing computed or sent by a client. Returns rows/s.
async fn pgbench_ceiling(infra: &Infra) -> Option<f64> {
    let seconds = env_usize("BENCH_PGBENCH_SECONDS", 10);
    println!("\n## pgbench: the same 1,000-row INSERT, {seconds} s, 1 client\n");
    if std::process::Command::new("pgbench")
        .arg("--version")
        .output()
        .is_err()
    {
        println!(
            "pgbench SKIPPED: not installed (`apt-get install postgresql-client` provides it; \
             `scripts/infra.sh` installs it with PostgreSQL)"
        );
        return None;
    }
    let db = migrated_database(infra).await;
    // Time-ordered ids like the UUIDv7 ds-service generates (random ones would scatter the
    // primary key's inserts): microseconds, then the row number.
    let script = "INSERT INTO expenses (id, user_id, amount_minor, currency, merchant, category, \
                  occurred_on, note, raw_text, source, confidence, created_at, updated_at, version) \
                  SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000000)::int8), 16, '0') \
                          || lpad(to_hex(g), 16, '0'))::uuid, \
                         ('00000000-0000-7000-8000-' || lpad(to_hex(g % 1000), 12, '0'))::uuid, \
                         100 + g, (ARRAY['USD', 'EUR', 'INR'])[1 + g % 3], \
                         (ARRAY['Subway', 'Whole Foods', 'Uber', 'Amazon'])[1 + g % 4], 'FOOD_AND_DRINK', \
                         current_date - g % 365, '', 'spent ' || g || ' on lunch at Subway', 'TEXT_RULES', \
                         0.9, now(), now(), 1 \
                  FROM generate_series(1, 1000) g \
                  WHERE NOT EXISTS (SELECT 1 FROM deleted_users d \
                                    WHERE d.user_id = ('00000000-0000-7000-8000-' || lpad(to_hex(g % 1000), 12, '0'))::uuid) \
                  ON CONFLICT (id) DO NOTHING;\n";
    let file = std::env::temp_dir().join(format!("{}.sql", unique("pgbench")));
    std::fs::write(&file, script).expect("pgbench script");
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-c", "1", "-j", "1", "-T", &seconds.to_string(), "-f"])
        .arg(&file)
        .arg(&db)
        .output()
        .expect("pgbench runs");
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok());
    let rows = tps.map(|tps| tps * 1000.0);
    match (tps, rows) {
        (Some(tps), Some(rows)) => {
            println!("pgbench: {tps:.1} transactions/s of 1,000 rows: **{rows:.0} rows/s**")
        }
        _ => println!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr)),
    }
    drop_database(infra, &db).await;
    rows
}

async fn drop_database(infra: &Infra, db_url: &str) {
    let name = db_url.rsplit('/').next().unwrap_or_default().to_owned();
    let base = infra.pg_url.trim_end_matches('/').trim_end_matches("/postgres");
    let mut admin = connect(&format!("{base}/postgres")).await;
    if let Err(e) = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
    {
        println!("(could not drop bench database {name}: {e})");
    }
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
    drop_database(infra, db_url).await;
    let client: AdminClient<_> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &infra.brokers)
        .create()
        .expect("kafka admin");
    let all: Vec<String> = [
        contracts::topics::EXPENSE_EXTRACTED,
        contracts::topics::USER_DELETED,
        contracts::topics::EXPENSE_CHANGED,
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
