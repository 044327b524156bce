//! budget-service load generator (`cargo bench -p budget-service --bench projection`),
//! against the real PostgreSQL of `scripts/infra.sh` (skipped, with a message, when it is
//! down). `BENCH_PART=projection` or `BENCH_PART=list` runs one half.
//!
//! 1. projection throughput: `BENCH_EVENTS` (20,000) `ExpenseChanged` (RECORDED, then an
//!    UPDATED of every fourth) for 200 users with 3 budgets each go through the consumer's
//!    handler (`events::on_expenses_changed`: processed-event rows, then
//!    `projection::apply_chunk`, a fixed number of statements per chunk: user locks, held
//!    rows, one upsert, one day-total statement, budgets, day totals, alerts and outbox
//!    rows) in chunks of 1,000 per transaction as the batch consumer hands them over, on 1
//!    task (one replica's consumer) and on 3 (three partitions at once). Baselines in the
//!    same run, on the same events: the per-event path (`projection::apply`, 5–7 statements
//!    per event) inside the same chunk transactions (the handler before set-based chunks)
//!    and in one transaction per event (platform's `process_once`, the handler before
//!    batching); a plain INSERT of the same rows, one transaction per row and one per 1,000.
//!    Every path must leave the same alerts and spending, or the run fails.
//! 2. `ListBudgets` with 20 budgets and 10,000 expenses in the period, through gRPC on
//!    loopback, p50/p99 over `BENCH_CALLS` (500) calls; baselines in the same run:
//!    `GetBudget` of one of them, the list's query of per-day totals alone (direct SQL), and
//!    the same totals grouped from the expenses themselves (the design before the totals),
//!    and the list's two reads (budgets, day totals) one after the other (the handler
//!    before) vs pipelined on the connection (the handler now).

use std::time::{Duration, Instant};

use budget_service::{events, projection, store::queries, Application, Config};
use contracts::{
    budget::{
        budget_service_client::BudgetServiceClient, CreateBudgetRequest, GetBudgetRequest,
        ListBudgetsRequest, Period,
    },
    events::{ExpenseChangeKind, ExpenseChanged},
    expense::{Category, Expense},
};
use diesel::sql_types;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures::future::join_all;
use platform::{
    config::Env,
    db::PgPool,
    idempotency::{process_once, record_new_events},
    kafka::Envelope,
    testing::{
        bench::{env_usize, ms, percentile, reachable},
        tokens, unique, Infra,
    },
};
use tonic::transport::Channel;
use uuid::Uuid;

/// Parallelism: one task is one partition's chunks in order; three tasks are the three
/// partitions of `expense.expense-changed.v1`, which the batch consumer applies at once.
const TASKS: [usize; 2] = [1, 3];

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: not worth the load.
    if !std::env::args().any(|a| a == "--bench") {
        println!("projection bench: run it with `cargo bench -p budget-service --bench projection`");
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
    if !reachable(&infra.pg_url) {
        println!(
            "projection bench SKIPPED: PostgreSQL ({}) is not reachable. Start it with \
             `scripts/infra.sh up` and `eval \"$(scripts/infra.sh env)\"`.",
            infra.pg_url
        );
        return;
    }
    println!(
        "budget-service bench ({} cores; figures vary with whatever else runs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    if part != "list" {
        for tasks in TASKS {
            projection(&infra, tasks).await;
        }
    }
    if part != "projection" {
        list_latency(&infra).await;
    }
}

fn expense(id: Uuid, user: Uuid, minor: i64, category: Category, version: i32) -> Expense {
    Expense {
        id: id.to_string(),
        user_id: user.to_string(),
        amount: format!("{}.{:02}", minor / 100, minor % 100),
        currency: "EUR".into(),
        category: category as i32,
        occurred_on: "2026-12-10".into(),
        version,
        ..Default::default()
    }
}

fn envelope(event: ExpenseChanged) -> Envelope<ExpenseChanged> {
    Envelope {
        id: Uuid::now_v7(),
        event,
        time: None,
        source: None,
        topic: "expense.expense-changed.v1".into(),
        partition: 0,
        offset: 0,
    }
}

async fn migrated_pool(infra: &Infra, size: usize) -> (String, PgPool) {
    let db = infra.fresh_database().await;
    platform::db::migrate(&db, budget_service::MIGRATIONS)
        .await
        .expect("migrations");
    let pool = platform::db::pool(&db, size).expect("pool");
    (db, pool)
}

async fn projection(infra: &Infra, tasks: usize) {
    let n = env_usize("BENCH_EVENTS", 20_000);
    let users: Vec<Uuid> = (0..200).map(|_| Uuid::new_v4()).collect();
    let categories = [Category::Groceries, Category::FoodAndDrink, Category::Transport];
    // The events, in per-user order (as Kafka keeps them), dealt to `tasks` like partitions.
    let mut lanes: Vec<Vec<Envelope<ExpenseChanged>>> = vec![vec![]; tasks];
    let mut rows: Vec<Vec<(Uuid, Uuid, i64, String)>> = vec![vec![]; tasks];
    for i in 0..n {
        let user = users[i % users.len()];
        let lane = (user.as_u128() % tasks as u128) as usize;
        let id = Uuid::now_v7();
        let category = categories[i % categories.len()];
        let v1 = expense(id, user, 1000 + (i as i64 % 5000), category, 1);
        rows[lane].push((
            user,
            id,
            1000 + (i as i64 % 5000),
            category.as_str_name().to_owned(),
        ));
        lanes[lane].push(envelope(ExpenseChanged {
            user_id: user.to_string(),
            expense_id: id.to_string(),
            kind: ExpenseChangeKind::Recorded as i32,
            after: Some(v1.clone()),
            ..Default::default()
        }));
        if i % 4 == 3 {
            let v2 = expense(id, user, 2000, category, 2);
            lanes[lane].push(envelope(ExpenseChanged {
                user_id: user.to_string(),
                expense_id: id.to_string(),
                kind: ExpenseChangeKind::Updated as i32,
                before: Some(v1),
                after: Some(v2),
                ..Default::default()
            }));
        }
    }
    let total: usize = lanes.iter().map(Vec::len).sum();

    // Baselines: the same rows, a plain INSERT each, one transaction per row and one per
    // chunk of `CHUNK` rows.
    let plain_rate = n as f64 / plain_inserts(infra, tasks, &rows, 1).await.as_secs_f64();
    let chunked_rate = n as f64 / plain_inserts(infra, tasks, &rows, CHUNK).await.as_secs_f64();

    // The consumer's handler, then the per-event path in the same chunk transactions, then
    // one event per transaction, each on a fresh database with 3 budgets per user.
    let pool = seeded_pool(infra, tasks, &users).await;
    let started = Instant::now();
    join_all(lanes.iter().map(|lane| {
        let pool = pool.clone();
        async move {
            for chunk in lane.chunks(CHUNK) {
                let rejected = events::on_expenses_changed(&pool, chunk.to_vec().into())
                    .await
                    .expect("applied");
                assert!(rejected.is_empty(), "{rejected:?}");
            }
        }
    }))
    .await;
    let batched = total as f64 / started.elapsed().as_secs_f64();
    let batched_state = state(&pool).await;

    let pool = seeded_pool(infra, tasks, &users).await;
    let started = Instant::now();
    join_all(lanes.iter().map(|lane| {
        let pool = pool.clone();
        async move {
            for chunk in lane.chunks(CHUNK) {
                per_event_chunk(&pool, chunk).await;
            }
        }
    }))
    .await;
    let per_event_chunked = total as f64 / started.elapsed().as_secs_f64();
    let per_event_chunked_state = state(&pool).await;

    let pool = seeded_pool(infra, tasks, &users).await;
    let started = Instant::now();
    join_all(lanes.into_iter().map(|lane| {
        let pool = pool.clone();
        async move {
            for env in lane {
                one_event(&pool, env).await;
            }
        }
    }))
    .await;
    let single = total as f64 / started.elapsed().as_secs_f64();
    let single_state = state(&pool).await;
    // The same outcome every way, or the figures compare nothing.
    assert_eq!(
        batched_state, per_event_chunked_state,
        "(alerts, spent) set-based vs per event in chunks"
    );
    assert_eq!(
        batched_state, single_state,
        "(alerts, spent) set-based vs one at a time"
    );
    println!(
        "projection: {total} ExpenseChanged ({n} RECORDED + {} UPDATED) on {tasks} task(s), {} alerts raised every way",
        total - n,
        batched_state.0
    );
    println!(
        "  set-based chunks ({CHUNK} per transaction): {batched:.0} events/s = x{:.2} per event in the same chunks, \
         x{:.2} one event per transaction, x{:.2} plain INSERT per transaction, x{:.2} plain INSERTs {CHUNK} per transaction",
        batched / per_event_chunked,
        batched / single,
        batched / plain_rate,
        batched / chunked_rate
    );
    println!(
        "  baseline, per event in {CHUNK}-event transactions (the handler before set-based chunks): {per_event_chunked:.0} events/s"
    );
    println!("  baseline, one event per transaction (the handler before batching): {single:.0} events/s");
    println!(
        "  baselines: plain INSERT, one transaction each: {plain_rate:.0} rows/s; {CHUNK} per transaction: {chunked_rate:.0} rows/s"
    );
}

/// Events per transaction in the batched run: the consumer's default `CONSUMER_BATCH_SIZE`.
const CHUNK: usize = 1000;

/// Inserts `rows` (one lane per task) with a plain INSERT each, `per_tx` per transaction,
/// into a fresh database; returns how long it took.
async fn plain_inserts(
    infra: &Infra,
    tasks: usize,
    rows: &[Vec<(Uuid, Uuid, i64, String)>],
    per_tx: usize,
) -> Duration {
    let (_, pool) = migrated_pool(infra, tasks + 1).await;
    let started = Instant::now();
    join_all(rows.iter().map(|lane| {
        let pool = pool.clone();
        async move {
            let mut conn = pool.get().await.unwrap();
            for chunk in lane.chunks(per_tx) {
                let chunk = chunk.to_vec();
                conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
                    for (user, id, minor, category) in chunk {
                        diesel::sql_query(
                            "INSERT INTO expenses (user_id, expense_id, version, amount_minor, currency, category, occurred_on) \
                             VALUES ($1, $2, 1, $3, 'EUR', $4, '2026-12-10')",
                        )
                        .bind::<sql_types::Uuid, _>(user)
                        .bind::<sql_types::Uuid, _>(id)
                        .bind::<sql_types::BigInt, _>(minor)
                        .bind::<sql_types::Text, _>(category)
                        .execute(conn)
                        .await?;
                    }
                    Ok(())
                })
                .await
                .unwrap();
            }
        }
    }))
    .await;
    started.elapsed()
}

/// A fresh database with 3 monthly budgets per user (all, groceries, transport).
async fn seeded_pool(infra: &Infra, tasks: usize, users: &[Uuid]) -> PgPool {
    let (_, pool) = migrated_pool(infra, tasks + 1).await;
    let mut conn = pool.get().await.unwrap();
    for (u, user) in users.iter().enumerate() {
        for (c, category) in [None, Some("GROCERIES"), Some("TRANSPORT")]
            .into_iter()
            .enumerate()
        {
            diesel::sql_query(
                "INSERT INTO budgets (id, user_id, name, amount_minor, currency, category, period, alert_percents) \
                 VALUES ($1, $2, 'b', $3, 'EUR', $4, 'MONTHLY', '{50,80,100}')",
            )
            .bind::<sql_types::Uuid, _>(Uuid::now_v7())
            .bind::<sql_types::Uuid, _>(*user)
            .bind::<sql_types::BigInt, _>(100_000 + (u * 3 + c) as i64 * 1000)
            .bind::<sql_types::Nullable<sql_types::Text>, _>(category)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
    pool
}

/// The handler before set-based chunks: the chunk's event ids recorded at once, then
/// `projection::apply` (its statements per event) for each new one, in one transaction.
async fn per_event_chunk(pool: &PgPool, chunk: &[Envelope<ExpenseChanged>]) {
    let changes: Vec<_> = chunk
        .iter()
        .map(|env| (env.id, events::parse(&env.event).expect("valid")))
        .collect();
    let topic = chunk[0].topic.clone();
    let mut conn = pool.get().await.unwrap();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let ids = changes.iter().map(|(id, _)| *id).collect();
        let fresh: std::collections::HashSet<Uuid> = record_new_events(conn, events::CONSUMER, &topic, ids)
            .await?
            .into_iter()
            .collect();
        for (id, change) in &changes {
            if fresh.contains(id) {
                projection::apply(conn, change).await?;
            }
        }
        Ok(())
    })
    .await
    .expect("applied");
}

/// The consumer's path before batching: platform's `process_once` per event, the
/// projection applied inside (user lock included).
async fn one_event(pool: &PgPool, env: Envelope<ExpenseChanged>) {
    let change = events::parse(&env.event).expect("valid");
    let mut conn = pool.get().await.unwrap();
    process_once(&mut conn, events::CONSUMER, &env.topic, env.id, move |conn| {
        Box::pin(async move {
            projection::apply(conn, &change).await?;
            Ok(())
        })
    })
    .await
    .expect("applied");
}

/// What the run left: alerts raised and the sum of the day totals.
async fn state(pool: &PgPool) -> (i64, i64) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = sql_types::BigInt)]
        alerts: i64,
        #[diesel(sql_type = sql_types::BigInt)]
        spent: i64,
    }
    let mut conn = pool.get().await.unwrap();
    let r: Row = diesel::sql_query(
        "SELECT (SELECT count(*) FROM alerts) AS alerts, \
         (SELECT coalesce(sum(total), 0)::int8 FROM expense_totals) AS spent",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    (r.alerts, r.spent)
}

/// `msg` with `user`'s token.
fn authed<T>(user: Uuid, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut().insert("authorization", tokens::bearer(user));
    r
}

async fn list_latency(infra: &Infra) {
    let calls = env_usize("BENCH_CALLS", 500);
    let (db, pool) = migrated_pool(infra, 2).await;
    let mut vars = vec![
        ("DATABASE_URL", db.as_str()),
        ("GRPC_ADDR", "127.0.0.1:0"),
        ("KAFKA_BROKERS", infra.brokers.as_str()),
        ("DB_POOL_SIZE", "4"),
        ("USER_SERVICE_ADDR", "http://127.0.0.1:9"),
    ];
    let suffix = format!("-{}", unique("bench"));
    vars.push(("KAFKA_TOPIC_SUFFIX", suffix.as_str()));
    vars.extend(tokens::verifier_env());
    let app = Application::build(Config::from_env(&Env::from_pairs(vars)).unwrap())
        .await
        .expect("app");
    let port = app.port();
    let stop = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = BudgetServiceClient::new(channel);
    let user = Uuid::new_v4();
    let mut first = String::new();
    for i in 0..20 {
        let b = client
            .create_budget(authed(
                user,
                CreateBudgetRequest {
                    name: format!("budget {i}"),
                    amount: "100000.00".into(),
                    currency: "EUR".into(),
                    category: i % 16,
                    period: if i % 2 == 0 {
                        Period::Monthly
                    } else {
                        Period::Weekly
                    } as i32,
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        if i == 0 {
            first = b.id;
        }
    }
    // 10,000 expenses of the user in December 2026 (some in USD), and 90,000 of others.
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(
        "INSERT INTO expenses (user_id, expense_id, version, amount_minor, currency, category, occurred_on) \
         SELECT CASE WHEN g <= 10000 THEN $1 ELSE gen_random_uuid() END, gen_random_uuid(), 1, 100 + g % 900, \
                CASE WHEN g % 10 = 0 THEN 'USD' ELSE 'EUR' END, \
                (ARRAY['FOOD_AND_DRINK','GROCERIES','TRANSPORT','SHOPPING','HOUSING','UTILITIES','HEALTH','ENTERTAINMENT', \
                       'TRAVEL','EDUCATION','PERSONAL_CARE','GIFTS_AND_DONATIONS','FEES_AND_CHARGES','INSURANCE','OTHER'])[1 + g % 15], \
                DATE '2026-12-01' + (g % 31) \
         FROM generate_series(1, 100000) g",
    )
    .bind::<sql_types::Uuid, _>(user)
    .execute(&mut conn)
    .await
    .unwrap();
    // The per-day totals the projection keeps as it applies changes, built the way the
    // migration backfills them.
    diesel::sql_query(
        "INSERT INTO expense_totals (user_id, occurred_on, currency, category, total, count) \
         SELECT user_id, occurred_on, currency, category, SUM(amount_minor), COUNT(*) FROM expenses \
         GROUP BY user_id, occurred_on, currency, category",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    diesel::sql_query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .unwrap();

    let on = "2026-12-16".to_string();
    let mut list = vec![];
    let mut get = vec![];
    let mut sql = vec![];
    let mut raw = vec![];
    let mut reads_in_turn = vec![];
    let mut reads_pipelined = vec![];
    for _ in 0..20 {
        client
            .list_budgets(authed(user, ListBudgetsRequest { on: on.clone() }))
            .await
            .unwrap();
    }
    for _ in 0..calls {
        // Requests are signed before the clock starts: the client's RSA signing is not the
        // service's latency (the server's verification is).
        let list_req = authed(user, ListBudgetsRequest { on: on.clone() });
        let get_req = authed(
            user,
            GetBudgetRequest {
                id: first.clone(),
                on: on.clone(),
            },
        );
        let t = Instant::now();
        let r = client.list_budgets(list_req).await.unwrap().into_inner();
        list.push(t.elapsed());
        assert_eq!(r.budgets.len(), 20);
        let t = Instant::now();
        client.get_budget(get_req).await.unwrap();
        get.push(t.elapsed());
        let t = Instant::now();
        let totals = queries::day_totals(
            &conn,
            user,
            "2026-12-01".parse().unwrap(),
            "2026-12-31".parse().unwrap(),
        )
        .await
        .unwrap();
        sql.push(t.elapsed());
        assert!(!totals.is_empty());
        // The same totals grouped from the expenses themselves (the design before the
        // per-day totals table).
        let t = Instant::now();
        diesel::sql_query(
            "SELECT occurred_on, currency, category, SUM(amount_minor)::BIGINT AS total, COUNT(*) AS count \
             FROM expenses WHERE user_id = $1 AND NOT deleted AND occurred_on BETWEEN '2026-12-01' AND '2026-12-31' \
             GROUP BY occurred_on, currency, category",
        )
        .bind::<sql_types::Uuid, _>(user)
        .execute(&mut conn)
        .await
        .unwrap();
        raw.push(t.elapsed());
        // The list's two reads (budgets; the day totals of the month and week containing
        // the day) one after the other, as the handler did, and pipelined, as it does.
        let (from, to) = ("2026-11-30".parse().unwrap(), "2026-12-31".parse().unwrap());
        let t = Instant::now();
        queries::budgets_of(&conn, user).await.unwrap();
        queries::day_totals(&conn, user, from, to).await.unwrap();
        reads_in_turn.push(t.elapsed());
        let t = Instant::now();
        futures::try_join!(
            queries::budgets_of(&conn, user),
            queries::day_totals(&conn, user, from, to)
        )
        .unwrap();
        reads_pipelined.push(t.elapsed());
    }
    stop.cancel();
    let report = |what: &str, mut v: Vec<Duration>| {
        v.sort();
        println!(
            "  {what}: p50 {} p99 {} (n={})",
            ms(percentile(&v, 0.5)),
            ms(percentile(&v, 0.99)),
            v.len()
        );
        percentile(&v, 0.99)
    };
    println!("ListBudgets, 20 budgets, 10,000 expenses of the user in the month (100,000 in the table), gRPC on loopback:");
    let l = report("ListBudgets", list);
    let g = report("baseline GetBudget (1 budget, its period's one aggregate)", get);
    let s = report(
        "baseline: the list's query of per-day totals alone, direct SQL",
        sql,
    );
    let r = report(
        "baseline: the same totals grouped from the 10,000 expenses, direct SQL",
        raw,
    );
    let seq = report(
        "baseline: the list's two reads one after the other, direct SQL",
        reads_in_turn,
    );
    let pip = report(
        "the list's two reads pipelined (as the handler sends them), direct SQL",
        reads_pipelined,
    );
    println!(
        "  p99 ratios: ListBudgets / GetBudget = {:.2}, ListBudgets / its bare query = {:.2}, grouping the expenses / the totals query = {:.2}, \
         pipelined / in turn = {:.2}",
        l.as_secs_f64() / g.as_secs_f64(),
        l.as_secs_f64() / s.as_secs_f64(),
        r.as_secs_f64() / s.as_secs_f64(),
        pip.as_secs_f64() / seq.as_secs_f64()
    );
}
