//! Faults survived, nothing lost: the real binaries on the real PostgreSQL and Kafka while
//! processes are killed and the infrastructure is stopped under load.
//!
//! These stop the broker and the database, so they must not share them with other tests:
//! `make chaos` starts a private PostgreSQL + Kafka (own data folder and ports), runs them
//! one at a time (`--ignored --test-threads=1`) and stops it. `make test` runs `make chaos`
//! after the rest. Figures are printed as `CHAOS ...` lines.

use std::{
    collections::BTreeMap,
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use contracts::events::ExpenseExtracted;
use futures::{stream, StreamExt};
use mesh::{Mesh, Options, Proc, User};
use platform::{kafka::EventProducer, testing::eventually};
use serde_json::{json, Value};

/// `scripts/infra.sh <command>` with this process's settings (ET_DATA_DIR, ports).
fn infra(command: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/infra.sh");
    let out = Command::new(script)
        .arg(command)
        .output()
        .expect("scripts/infra.sh");
    assert!(
        out.status.success(),
        "infra.sh {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One row of `psql -Atc <sql>` on a service's database.
fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-Atc", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Stops part of the infrastructure; starts it again when dropped, even if the test fails,
/// so that one failure does not take the next tests down with it.
struct Outage(&'static str);

impl Outage {
    fn begin(part: &'static str) -> Self {
        infra(&format!("{part}-down"));
        Outage(part)
    }

    fn end(self) {}
}

impl Drop for Outage {
    fn drop(&mut self) {
        infra(&format!("{}-up", self.0));
    }
}

fn options(extra: &[(&str, &str)]) -> Options {
    Options {
        env: extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Options::default()
    }
}

async fn profile_ready(mesh: &Mesh, user: &User, within: Duration) -> bool {
    let (status, _) = mesh
        .get_until("/v1/users/me", &user.access_token, within, |s, _| s == 200)
        .await;
    status == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills processes under load: run by `make chaos`"]
async fn expense_service_killed_mid_burst_loses_and_duplicates_nothing() {
    const EVENTS: usize = 5_000;
    // Small batches, so that the kill lands in the middle of the burst.
    let mesh = Mesh::start_with(options(&[("CONSUMER_BATCH_SIZE", "50")])).await;
    let db = mesh.database_url(Proc::Expense).to_owned();

    // The burst waits on the topic while expense-service is down...
    mesh.stop(Proc::Expense, libc::SIGTERM);
    let producer = EventProducer::new(&mesh.infra.brokers, "/chaos", Duration::from_secs(30))
        .unwrap()
        .with_topic_suffix(&mesh.topic_suffix);
    let users: Vec<String> = (0..10).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let events: Vec<ExpenseExtracted> = (0..EVENTS)
        .map(|i| ExpenseExtracted {
            expense_id: uuid::Uuid::now_v7().to_string(),
            user_id: users[i % users.len()].clone(),
            amount: format!("{}.{:02}", 1 + i % 500, i % 100),
            currency: "EUR".into(),
            merchant: format!("Shop {}", i % 37),
            category: 1 + (i % 15) as i32,
            occurred_on: "2026-11-20".into(),
            raw_text: format!("burst {i}"),
            source: 2,
            confidence: 0.9,
            extractor: "rules".into(),
            extracted_at: None,
        })
        .collect();
    let expected_cents: i64 = events
        .iter()
        .map(|e| {
            let (units, cents) = e.amount.split_once('.').unwrap();
            units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
        })
        .sum();
    let published = stream::iter(events.iter())
        .map(|e| producer.publish(e))
        .buffer_unordered(256)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(published, EVENTS, "every event acknowledged by the broker");

    // ... then it starts consuming and is SIGKILLed part-way through.
    mesh.start_again(Proc::Expense);
    let count = || {
        psql(&db, "SELECT count(*) FROM expenses")
            .parse::<usize>()
            .unwrap_or(0)
    };
    let started = Instant::now();
    let at_kill = loop {
        let n = count();
        if n >= 200 || started.elapsed() > Duration::from_secs(60) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    mesh.stop(Proc::Expense, libc::SIGKILL);
    let after_kill = count();
    assert!(
        at_kill > 0 && after_kill < EVENTS,
        "the kill should land mid-burst: {at_kill} stored when it was sent, {after_kill} after"
    );

    // Restarted, it finishes the burst from the last committed offsets.
    let restarted = Instant::now();
    mesh.start_again(Proc::Expense);
    while count() < EVENTS && restarted.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Redelivered events must not add rows either: give them a moment to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let row = psql(
        &db,
        "SELECT count(*), count(DISTINCT id), coalesce(sum(amount_minor), 0) FROM expenses",
    );
    let parts: Vec<&str> = row.split('|').collect();
    println!(
        "CHAOS sigkill: {EVENTS} events, {after_kill} stored at the kill, {} rows after restart \
         ({} distinct), recovered in {:.1}s",
        parts[0],
        parts[1],
        restarted.elapsed().as_secs_f64()
    );
    assert_eq!(parts[0], EVENTS.to_string(), "rows after the restart");
    assert_eq!(parts[1], EVENTS.to_string(), "distinct expense ids");
    assert_eq!(parts[2], expected_cents.to_string(), "total amount in cents");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops Kafka: run by `make chaos`"]
async fn kafka_down_signups_succeed_extractions_refuse_and_nothing_is_lost() {
    let mesh = Mesh::start_with(options(&[("KAFKA_PUBLISH_TIMEOUT_MS", "2000")])).await;
    let asha = mesh.signup("asha").await;
    assert!(profile_ready(&mesh, &asha, Duration::from_secs(30)).await);

    let kafka = Outage::begin("kafka");
    let outage = Instant::now();

    // Signups only need PostgreSQL: the event waits in the outbox.
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(mesh.signup(&format!("offline{i}")).await);
    }
    // The operator sees it: auth's outbox backlog and the age of its oldest row grow (the
    // backlog is measured every 5 s).
    let (pending_rows, oldest_age) = ("outbox_pending_rows", "outbox_oldest_age_seconds");
    assert!(
        eventually(Duration::from_secs(15), || async {
            mesh.metric(Proc::Auth, pending_rows, &[]).await >= 20.0
        })
        .await,
        "auth's {pending_rows} did not reach the 20 signups made while Kafka is down: {}",
        mesh.metric(Proc::Auth, pending_rows, &[]).await
    );
    let age = mesh.metric(Proc::Auth, oldest_age, &[]).await;
    assert!(
        eventually(Duration::from_secs(15), || async {
            mesh.metric(Proc::Auth, oldest_age, &[]).await > age + 1.0
        })
        .await,
        "auth's {oldest_age} did not grow from {age} while Kafka is down"
    );
    let published_before = mesh
        .metric(Proc::Auth, "outbox_published_events_total", &[])
        .await;

    // An extraction cannot be published: UNAVAILABLE, said plainly, nothing half-done.
    let mut refused = 0;
    for text in [
        "spent 250 on lunch at Subway",
        "uber 320 today",
        "coffee 4.50 at Starbucks",
    ] {
        let (status, body) = mesh
            .post("/v1/extractions", Some(&asha.access_token), json!({"text": text}))
            .await;
        assert_eq!(status, 503, "{text}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or("")
                .to_lowercase()
                .contains("try again"),
            "the message should say what to do: {body}"
        );
        refused += 1;
    }
    // Services (re)started while Kafka is away start anyway and catch up when it returns.
    for p in [Proc::User, Proc::Expense] {
        mesh.stop(p, libc::SIGTERM);
        mesh.start_again(p);
    }
    mesh.wait_healthy(Duration::from_secs(30)).await;

    // A dry run publishes nothing, so it still works.
    let (status, _) = mesh
        .post(
            "/v1/extractions",
            Some(&asha.access_token),
            json!({"text": "spent 250 on lunch at Subway", "dry_run": true}),
        )
        .await;
    assert_eq!(status, 200, "a dry run needs no broker");

    kafka.end();
    let back = Instant::now();
    let outage_secs = outage.elapsed().as_secs_f64();

    // Every user who signed up while Kafka was down gets a profile, exactly once.
    for u in &users {
        assert!(
            profile_ready(&mesh, u, Duration::from_secs(90)).await,
            "{} has no profile 90 s after Kafka returned; user-service log:\n{}",
            u.email,
            mesh.tail(Proc::User, 20)
        );
    }
    let caught_up = back.elapsed().as_secs_f64();
    let profiles = psql(
        mesh.database_url(Proc::User),
        "SELECT count(*), count(DISTINCT email) FROM profiles",
    );
    assert_eq!(profiles, "21|21", "profiles (rows|distinct emails)");
    let pending = psql(
        mesh.database_url(Proc::Auth),
        "SELECT count(*) FROM outbox WHERE published_at IS NULL",
    );
    assert_eq!(pending, "0", "auth's outbox drained");
    // ... and so do its gauges, while its published counter counts the 20.
    assert!(
        eventually(Duration::from_secs(15), || async {
            mesh.metric(Proc::Auth, pending_rows, &[]).await == 0.0
                && mesh.metric(Proc::Auth, oldest_age, &[]).await == 0.0
        })
        .await,
        "auth's outbox gauges did not come back to 0 once drained"
    );
    let published = mesh
        .metric(Proc::Auth, "outbox_published_events_total", &[])
        .await;
    assert!(
        published >= published_before + 20.0,
        "outbox_published_events_total went from {published_before} to {published}"
    );

    // The refused extractions never reach the ledger; a new one does.
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&asha.access_token),
            json!({"text": "tea 30 rupees today"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let id = body["expense"]["id"].clone();
    let (_, listed) = mesh
        .get_until(
            "/v1/expenses",
            &asha.access_token,
            Duration::from_secs(30),
            |_, b| b["expenses"].as_array().is_some_and(|e| !e.is_empty()),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, listed_later) = mesh.get("/v1/expenses", &asha.access_token).await;
    assert_eq!(listed["expenses"][0]["id"], id);
    assert_eq!(
        listed_later["expenses"].as_array().map(Vec::len),
        Some(1),
        "only the extraction made after Kafka returned is stored: {listed_later}"
    );
    println!(
        "CHAOS kafka-down: outage {outage_secs:.1}s (user and expense services restarted during it); \
         20 signups succeeded, {refused} extractions answered 503, 0 published; all 20 profiles \
         {caught_up:.1}s after Kafka returned, 0 duplicates"
    );
}

/// The broker frozen (SIGSTOP); thawed when dropped, even if the test fails. Only on the
/// fault tests' private instance (`make chaos` sets `ET_DATA_DIR`): never the shared one.
struct Freeze;

impl Freeze {
    fn begin() -> Self {
        assert!(
            std::env::var_os("ET_DATA_DIR").is_some(),
            "pausing Kafka needs the private instance of `make chaos` (ET_DATA_DIR and ports set)"
        );
        infra("kafka-pause");
        Freeze
    }

    fn end(self) {}
}

impl Drop for Freeze {
    fn drop(&mut self) {
        infra("kafka-resume");
    }
}

/// The caller's expenses whose raw text is `text`.
async fn stored_with_text(mesh: &Mesh, user: &User, text: &str) -> Vec<Value> {
    let (status, listed) = mesh.get("/v1/expenses?page_size=100", &user.access_token).await;
    assert_eq!(status, 200, "{listed}");
    listed["expenses"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e["raw_text"] == text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "pauses Kafka: run by `make chaos`"]
async fn late_broker_ack_then_a_retry_with_the_request_id_stores_one_expense() {
    const TIMEOUT_MS: u64 = 2000;
    let timeout = TIMEOUT_MS.to_string();
    let mesh = Mesh::start_with(options(&[("KAFKA_PUBLISH_TIMEOUT_MS", timeout.as_str())])).await;
    let asha = mesh.signup("asha").await;
    assert!(profile_ready(&mesh, &asha, Duration::from_secs(30)).await);
    // A first extraction: ds's producer is connected and knows the partition leaders.
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&asha.access_token),
            json!({"text": "tea 30 today", "request_id": uuid::Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let text = "spent 250 on lunch at Subway";
    let request = json!({"text": text, "request_id": uuid::Uuid::new_v4().to_string()});
    // The broker freezes with the produce request on its socket: it keeps the event when
    // it thaws, but its acknowledgement comes after the publish timeout.
    let freeze = Freeze::begin();
    let sent = Instant::now();
    let (status, refused) = mesh
        .post("/v1/extractions", Some(&asha.access_token), request.clone())
        .await;
    let answered = sent.elapsed();
    assert_eq!(status, 503, "{refused}");
    assert!(
        answered >= Duration::from_millis(TIMEOUT_MS),
        "503 only after the publish timeout: {answered:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    freeze.end();
    let paused = sent.elapsed();

    // The unacknowledged attempt may land after all: wait for it a while.
    let late = Instant::now();
    let (_, _) = mesh
        .get_until(
            "/v1/expenses?page_size=100",
            &asha.access_token,
            Duration::from_secs(20),
            |_, b| {
                b["expenses"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x["raw_text"] == text))
            },
        )
        .await;
    let landed = stored_with_text(&mesh, &asha, text).await;
    let late_secs = late.elapsed().as_secs_f64();
    // The owner corrects it before the client's retry: the retry must not undo that.
    if let Some(first) = landed.first() {
        let (status, body) = mesh
            .call(
                reqwest::Method::PATCH,
                &format!("/v1/expenses/{}", first["id"].as_str().unwrap_or_default()),
                Some(&asha.access_token),
                Some(json!({"merchant": "Subway Koramangala", "update_mask": ["merchant"]})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // The client retries with the same request_id: the first answer, one expense.
    let (status, retried) = mesh
        .post("/v1/extractions", Some(&asha.access_token), request.clone())
        .await;
    assert_eq!(status, 200, "{retried}");
    let id = retried["expense"]["id"].clone();
    if let Some(first) = landed.first() {
        assert_eq!(
            first["id"], id,
            "the retry answers the expense the late attempt stored"
        );
    }
    let (status, again) = mesh
        .post("/v1/extractions", Some(&asha.access_token), request)
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, retried, "every retry answers the same");
    let (_, _) = mesh
        .get_until(
            "/v1/expenses?page_size=100",
            &asha.access_token,
            Duration::from_secs(30),
            |_, b| {
                b["expenses"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x["id"] == id))
            },
        )
        .await;
    // Redeliveries and republished events have had time to arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stored = stored_with_text(&mesh, &asha, text).await;
    assert_eq!(stored.len(), 1, "exactly one expense: {stored:#?}");
    assert_eq!(stored[0]["id"], id);
    if !landed.is_empty() {
        assert_eq!(
            stored[0]["merchant"], "Subway Koramangala",
            "the retry's republished event did not undo the owner's edit"
        );
    }
    let rows = psql(
        mesh.database_url(Proc::Expense),
        &format!(
            "SELECT count(*) FROM expenses WHERE raw_text = '{text}' AND user_id = '{}'",
            asha.user_id
        ),
    );
    assert_eq!(rows, "1", "rows in the ledger");

    // The baseline, in the same run: the same fault and retry without a request_id.
    let plain = "coffee 4.50 at Starbucks";
    let freeze = Freeze::begin();
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&asha.access_token),
            json!({"text": plain}),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    freeze.end();
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&asha.access_token),
            json!({"text": plain}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, _) = mesh
        .get_until(
            "/v1/expenses?page_size=100",
            &asha.access_token,
            Duration::from_secs(30),
            |_, b| {
                b["expenses"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x["id"] == body["expense"]["id"]))
            },
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let without = stored_with_text(&mesh, &asha, plain).await.len();
    assert!(without >= 1, "the acknowledged retry is stored");
    println!(
        "CHAOS late-ack: broker paused {:.1}s (publish timeout {TIMEOUT_MS} ms); the client got 503 after {:.1}s; \
         the unacknowledged attempt {}; retry with the same request_id answered 200 with the same expense id; \
         1 expense stored (baseline without request_id, same fault: {without} stored)",
        paused.as_secs_f64(),
        answered.as_secs_f64(),
        if landed.is_empty() {
            "was not kept by the broker (the retry published it)".to_owned()
        } else {
            format!("was stored anyway, {late_secs:.1}s after the broker resumed")
        },
    );
}

/// `cents` as a decimal string with two places (EUR).
fn euros(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills processes under load: run by `make chaos`"]
async fn budget_service_killed_mid_burst_keeps_spending_exact_and_each_alert_once() {
    use contracts::{
        events::{ExpenseChangeCause, ExpenseChangeKind, ExpenseChanged},
        expense::Expense,
    };
    const RECORDED: usize = 4_000;
    const UPDATED: usize = 1_000;
    const EVENTS: usize = RECORDED + UPDATED;
    const THRESHOLDS: [i64; 4] = [50, 80, 100, 200];
    // Where each user's spending ends, in percent of their budget: below, at and past
    // every threshold.
    const TARGETS: [i64; 10] = [30, 50, 79, 80, 99, 100, 101, 150, 250, 1000];
    let mesh = Mesh::start().await;
    let db = mesh.database_url(Proc::Budget).to_owned();

    // Ten people, each with a monthly budget over every category, in euros.
    let mut users = Vec::new();
    for i in 0..TARGETS.len() {
        users.push(mesh.signup(&format!("burst{i}")).await);
    }
    let amount_of = |i: usize| 100 + (i as i64 * 7919) % 50_000;
    let mut expenses: Vec<Expense> = (0..RECORDED)
        .map(|i| Expense {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: users[i % users.len()].user_id.clone(),
            amount: euros(amount_of(i)),
            currency: "EUR".into(),
            merchant: format!("Shop {}", i % 37),
            category: 1 + (i % 15) as i32,
            occurred_on: format!("2026-11-{:02}", 1 + i % 30),
            source: 1,
            version: 1,
            ..Default::default()
        })
        .collect();
    let mut events: Vec<ExpenseChanged> = expenses
        .iter()
        .map(|e| ExpenseChanged {
            user_id: e.user_id.clone(),
            expense_id: e.id.clone(),
            kind: ExpenseChangeKind::Recorded as i32,
            cause: ExpenseChangeCause::Manual as i32,
            after: Some(e.clone()),
            ..Default::default()
        })
        .collect();
    // Edits only raise amounts, so each user's spending only grows whatever the order the
    // events are applied in: which thresholds are crossed depends on the end state alone.
    for j in 0..UPDATED {
        let before = expenses[j * 4].clone();
        let after = Expense {
            amount: euros(amount_of(j * 4) + 100),
            version: 2,
            ..before.clone()
        };
        expenses[j * 4] = after.clone();
        events.push(ExpenseChanged {
            user_id: before.user_id.clone(),
            expense_id: before.id.clone(),
            kind: ExpenseChangeKind::Updated as i32,
            cause: ExpenseChangeCause::Manual as i32,
            before: Some(before),
            after: Some(after),
            changed_fields: vec!["amount".into()],
            ..Default::default()
        });
    }
    let cents = |amount: &str| {
        let (units, cents) = amount.split_once('.').unwrap();
        units.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
    };
    let mut budgets = Vec::new();
    let mut expected_alerts = 0;
    for (user, target) in users.iter().zip(TARGETS) {
        let spent: i64 = expenses
            .iter()
            .filter(|e| e.user_id == user.user_id)
            .map(|e| cents(&e.amount))
            .sum();
        let amount = spent * 100 / target;
        let (status, budget) = mesh
            .post(
                "/v1/budgets",
                Some(&user.access_token),
                json!({"name": "Everything", "amount": euros(amount), "currency": "EUR",
                       "period": "MONTHLY", "alert_percents": THRESHOLDS}),
            )
            .await;
        assert_eq!(status, 200, "{budget}");
        // "At or past" a threshold, in exact integers.
        let crossed: Vec<i64> = THRESHOLDS
            .iter()
            .copied()
            .filter(|t| spent * 100 >= amount * t)
            .collect();
        expected_alerts += crossed.len();
        budgets.push((user, budget["id"].as_str().unwrap().to_owned(), spent, crossed));
    }

    // The burst waits on the topic while budget-service is down...
    mesh.stop(Proc::Budget, libc::SIGTERM);
    let producer = EventProducer::new(&mesh.infra.brokers, "/chaos", Duration::from_secs(30))
        .unwrap()
        .with_topic_suffix(&mesh.topic_suffix);
    let published = stream::iter(events.iter())
        .map(|e| producer.publish(e))
        .buffer_unordered(256)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    assert_eq!(published, EVENTS, "every event acknowledged by the broker");

    // ... then it starts applying it and is SIGKILLed part-way through. Each RECORDED
    // applied adds a row of version 1, each UPDATED one version more.
    mesh.start_again(Proc::Budget);
    let applied = || {
        psql(&db, "SELECT coalesce(sum(version), 0) FROM expenses")
            .parse::<usize>()
            .unwrap_or(0)
    };
    let started = Instant::now();
    let at_kill = loop {
        let n = applied();
        if n >= 300 || started.elapsed() > Duration::from_secs(60) {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    mesh.stop(Proc::Budget, libc::SIGKILL);
    let after_kill = applied();
    let alerts_at_kill = psql(&db, "SELECT count(*) FROM alerts");
    assert!(
        at_kill > 0 && after_kill < EVENTS,
        "the kill should land mid-burst: {at_kill} applied when it was sent, {after_kill} after"
    );

    // Restarted, it finishes from the last committed offsets.
    let restarted = Instant::now();
    mesh.start_again(Proc::Budget);
    mesh.wait_healthy(Duration::from_secs(60)).await;
    // As long as it takes while it makes progress: the killed consumer's partitions come
    // back only after its session times out (45 s), and how fast the rest is applied is
    // the projection bench's business, not this test's.
    let (mut last, mut last_progress) = (applied(), Instant::now());
    while last < EVENTS && last_progress.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = applied();
        if n != last {
            (last, last_progress) = (n, Instant::now());
        }
    }
    let recovered = restarted.elapsed();
    // Redelivered events must change nothing either: give them a moment to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(applied(), EVENTS, "events applied after the restart");

    // Spending is exact for everyone, and each crossed threshold raised one alert.
    let mut alerts_seen = 0;
    for (user, id, spent, crossed) in &budgets {
        let (status, b) = mesh
            .get(&format!("/v1/budgets/{id}?on=2026-11-15"), &user.access_token)
            .await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(b["status"]["spent"], json!(euros(*spent)), "{}: {b}", user.email);
        assert_eq!(b["status"]["expense_count"], json!(RECORDED / users.len()), "{b}");
        let (status, alerts) = mesh.get("/v1/alerts?page_size=100", &user.access_token).await;
        assert_eq!(status, 200, "{alerts}");
        let mut got: Vec<i64> = alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!(a["budget_id"], json!(id));
                assert_eq!(a["period_start"], "2026-11-01");
                a["percent_threshold"].as_i64().unwrap()
            })
            .collect();
        got.sort();
        assert_eq!(&got, crossed, "{}'s alerts: {alerts}", user.email);
        alerts_seen += got.len();
    }
    assert_eq!(alerts_seen, expected_alerts);

    // On the topic, once the relay has drained the outbox: each alert exactly once (a copy
    // the relay re-sent after the kill would carry the same ce_id, which consumers drop).
    let waited = Instant::now();
    while psql(&db, "SELECT count(*) FROM outbox") != "0" && waited.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let messages = platform::testing::read_topic(
        &mesh.infra.brokers,
        &mesh.topic(contracts::topics::BUDGET_ALERT),
        expected_alerts,
        Duration::from_secs(30),
        Duration::from_secs(3),
    )
    .await;
    let mut ids: Vec<&str> = messages.iter().map(|m| m.headers["ce_id"].as_str()).collect();
    ids.sort();
    ids.dedup();
    let stored = psql(&db, "SELECT count(*), count(DISTINCT id) FROM alerts");
    println!(
        "CHAOS budget-sigkill: {EVENTS} ExpenseChanged for {} users, {after_kill} applied and \
         {alerts_at_kill} alerts stored at the kill; after restart all applied in {:.1}s, spending \
         exact for every budget, {expected_alerts} alerts expected, stored (rows|distinct) {stored}, \
         {} BudgetAlert messages on the topic with {} distinct ids",
        users.len(),
        recovered.as_secs_f64(),
        messages.len(),
        ids.len()
    );
    assert_eq!(
        stored,
        format!("{expected_alerts}|{expected_alerts}"),
        "alerts stored"
    );
    assert_eq!(ids.len(), expected_alerts, "distinct BudgetAlert events");
}

/// What each request of a load run answered.
#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, usize>,
    /// Ids of expenses whose creation was acknowledged (200).
    acknowledged: Vec<String>,
    /// (time since start, status) of every failure.
    failures: Vec<(Duration, u16)>,
}

/// `clients` loops creating expenses through the edge until `stop` is set.
fn create_load(
    mesh: Arc<Mesh>,
    user: User,
    clients: usize,
    start: Instant,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let (mesh, user, stop, tally) = (mesh.clone(), user.clone(), stop.clone(), tally.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let (status, body) = mesh
                        .post(
                            "/v1/expenses",
                            Some(&user.access_token),
                            json!({"amount": format!("{}.{:02}", c + 1, i % 100), "currency": "EUR",
                                   "merchant": format!("client {c}"), "note": format!("request {i}")}),
                        )
                        .await;
                    {
                        let mut t = tally.lock().unwrap();
                        *t.by_status.entry(status).or_default() += 1;
                        if status == 200 {
                            t.acknowledged
                                .push(body["id"].as_str().unwrap_or_default().to_owned());
                        } else {
                            t.failures.push((start.elapsed(), status));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts PostgreSQL: run by `make chaos`"]
async fn postgres_restarted_under_load_no_acknowledged_write_is_lost() {
    let mesh = Arc::new(Mesh::start().await);
    let user = mesh.signup("pg").await;
    let start = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let load = create_load(mesh.clone(), user.clone(), 4, start, stop.clone(), tally.clone());

    tokio::time::sleep(Duration::from_secs(2)).await;
    let down_at = start.elapsed();
    let postgres = Outage::begin("pg");
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres.end();
    let up_at = start.elapsed();
    // Recovered on their own: a write succeeds again within 20 s.
    let recovered = loop {
        let last_failure = tally
            .lock()
            .unwrap()
            .failures
            .last()
            .map(|f| f.0)
            .unwrap_or_default();
        if start.elapsed() > up_at + Duration::from_secs(3)
            && start.elapsed() > last_failure + Duration::from_secs(2)
        {
            break Some(last_failure);
        }
        if start.elapsed() > up_at + Duration::from_secs(20) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for h in load {
        h.await.unwrap();
    }
    // Every load task has finished: the tally is complete.
    let t = std::mem::take(&mut *tally.lock().unwrap());
    let last_failure = recovered
        .unwrap_or_else(|| panic!("still failing 20 s after PostgreSQL returned: {:?}", t.by_status));

    // Failures only while the database was away, and only as UNAVAILABLE (503).
    for (at, status) in &t.failures {
        assert_eq!(
            *status, 503,
            "a failure at {at:?} answered {status}, not 503: {:?}",
            t.by_status
        );
        assert!(*at >= down_at, "a failure before the outage at {at:?}");
    }
    assert!(t.acknowledged.len() > 100, "too little load: {:?}", t.by_status);

    // Every acknowledged write is there.
    let ids = t.acknowledged.clone();
    let mut missing = Vec::new();
    for id in &ids {
        let (status, _) = mesh.get(&format!("/v1/expenses/{id}"), &user.access_token).await;
        if status != 200 {
            missing.push(id.clone());
        }
    }
    let stored = psql(mesh.database_url(Proc::Expense), "SELECT count(*) FROM expenses");
    println!(
        "CHAOS pg-restart: 4 clients, {:?} (status → requests); outage {:.1}s..{:.1}s, last failure \
         at {:.1}s; {} acknowledged, {} stored, {} lost",
        t.by_status,
        down_at.as_secs_f64(),
        up_at.as_secs_f64(),
        last_failure.as_secs_f64(),
        ids.len(),
        stored,
        missing.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert_eq!(stored, ids.len().to_string(), "rows = acknowledged creations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "restarts every service under load: run by `make chaos`"]
async fn rolling_restart_loses_no_event_and_fails_only_while_a_service_is_down() {
    let mesh = Arc::new(Mesh::start().await);
    let start = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // A steady stream: signups (auth → outbox → user) and extractions (ds → Kafka → expense).
    let stream = {
        let (mesh, stop) = (mesh.clone(), stop.clone());
        tokio::spawn(async move {
            let mut out: Vec<(Duration, &'static str, u16, Value, Option<User>)> = Vec::new();
            let extractor = mesh.signup("steady").await;
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let email = format!("{}@example.com", platform::testing::unique("rolling"));
                let (status, body) = mesh
                    .post(
                        "/v1/auth/signup",
                        None,
                        json!({"email": email, "password": "correct horse battery", "display_name": "R"}),
                    )
                    .await;
                let user = (status == 200).then(|| User {
                    email: email.clone(),
                    user_id: body["user_id"].as_str().unwrap_or_default().into(),
                    access_token: body["access_token"].as_str().unwrap_or_default().into(),
                    refresh_token: String::new(),
                });
                out.push((start.elapsed(), "signup", status, body, user));
                let (status, body) = mesh
                    .post(
                        "/v1/extractions",
                        Some(&extractor.access_token),
                        json!({"text": format!("coffee {}.50 EUR at Starbucks today", i % 50 + 1),
                               "default_currency": "EUR", "timezone": "UTC"}),
                    )
                    .await;
                out.push((start.elapsed(), "extract", status, body, None));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (extractor, out)
        })
    };

    // Restart each service in turn (SIGTERM: graceful), as a rollout would.
    let mut windows = Vec::new();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for p in Proc::SERVICES {
        let down = start.elapsed();
        mesh.stop(p, libc::SIGTERM);
        mesh.start_again(p);
        mesh.wait_healthy(Duration::from_secs(60)).await;
        windows.push((p, down, start.elapsed()));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (extractor, out) = stream.await.unwrap();

    // Failures only inside a restart window (plus the time to notice a ready upstream), and
    // only as 503.
    let slack = Duration::from_millis(1500);
    let mut failures = 0;
    for (at, what, status, body, _) in &out {
        if *status == 200 {
            continue;
        }
        failures += 1;
        assert_eq!(*status, 503, "{what} at {at:?}: {status} {body}");
        assert!(
            windows
                .iter()
                .any(|(_, from, to)| *at >= *from && *at <= *to + slack),
            "{what} failed at {at:?} outside every restart window {windows:?}: {body}"
        );
    }

    // Nothing acknowledged is lost: every signup gets its profile, every extraction is listed.
    let signed_up: Vec<&User> = out.iter().filter_map(|o| o.4.as_ref()).collect();
    for u in &signed_up {
        assert!(
            profile_ready(&mesh, u, Duration::from_secs(60)).await,
            "{} signed up but has no profile",
            u.email
        );
    }
    let extracted: Vec<String> = out
        .iter()
        .filter(|o| o.1 == "extract" && o.2 == 200)
        .map(|o| o.3["expense"]["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let db = mesh.database_url(Proc::Expense).to_owned();
    let stored = || {
        psql(
            &db,
            &format!(
                "SELECT count(*) FROM expenses WHERE user_id = '{}'",
                extractor.user_id
            ),
        )
    };
    let waited = Instant::now();
    while stored() != extracted.len().to_string() && waited.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let window_text: Vec<String> = windows
        .iter()
        .map(|(p, from, to)| format!("{} {:.1}s", p.binary(), (*to - *from).as_secs_f64()))
        .collect();
    println!(
        "CHAOS rolling-restart: {} requests, {failures} answered 503 (all inside restart windows: {}); \
         {} signups → {} profiles, {} extractions → {} stored",
        out.len(),
        window_text.join(", "),
        signed_up.len(),
        signed_up.len(),
        extracted.len(),
        stored()
    );
    assert_eq!(
        stored(),
        extracted.len().to_string(),
        "extractions acknowledged = stored"
    );
}
