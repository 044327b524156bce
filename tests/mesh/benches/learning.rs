//! Correction → visible (`cargo bench -p mesh-tests --bench learning`, part of `make bench`):
//! how long after a user's `PATCH /v1/expenses/{id}` of a category the next extraction of
//! that merchant comes back corrected, across expense-service's outbox relay → Kafka
//! (`expense.expense-changed.v1`) → ds-service's consumer → its rules table, on the release
//! binaries. Each of `BENCH_CORRECTIONS` (60) corrections is of a merchant of its own: the
//! clock starts when the PATCH is sent and stops at the first dry-run extraction that
//! answers the corrected category with a `rule_id`; polls are 5 ms apart, so the figure is
//! at most one extraction round trip and 5 ms late.
//!
//! Baselines in the same run: the plain dry-run extraction round trip (what a poll costs)
//! and the PATCH round trip alone. Target: p99 of the delay < 2 s on 2 cores.
//! Needs `scripts/infra.sh up`.

use std::time::{Duration, Instant};

use mesh::{Mesh, User};
use platform::testing::bench::{env_usize, ms, percentile};
use reqwest::Method;
use serde_json::{json, Value};

const GIVEN: [&str; 10] = [
    "Golden", "Silver", "Banyan", "Coral", "Maple", "Saffron", "Indigo", "Juniper", "Lotus", "Cedar",
];
const FAMILY: [&str; 10] = [
    "Traders",
    "Provisions",
    "Emporium",
    "Mart",
    "Depot",
    "Bazaar",
    "Outlet",
    "Supplies",
    "Corner",
    "Market",
];

/// A merchant of its own for correction `i` (letters only: store numbers are folded away).
fn merchant(i: usize) -> String {
    format!(
        "{} {} {}",
        GIVEN[i % 10],
        GIVEN[(i / 10) % 10],
        FAMILY[(i / 100 + i) % 10]
    )
}

async fn extract(mesh: &Mesh, user: &User, text: &str, dry_run: bool) -> Value {
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(&user.access_token),
            json!({"text": text, "dry_run": dry_run, "default_currency": "INR", "timezone": "Asia/Kolkata"}),
        )
        .await;
    assert_eq!(status, 200, "{text}: {body}");
    body
}

/// (PATCH round trip, PATCH sent → corrected extraction) for one new merchant.
async fn correction(mesh: &Mesh, user: &User, i: usize) -> (Duration, Duration) {
    let text = format!("paid {} to {}", 100 + i, merchant(i));
    let first = extract(mesh, user, &text, false).await;
    let guessed = first["expense"]["category"].as_str().unwrap_or_default();
    let corrected = if guessed == "GIFTS_AND_DONATIONS" {
        "EDUCATION"
    } else {
        "GIFTS_AND_DONATIONS"
    };
    let path = format!("/v1/expenses/{}", first["expense"]["id"].as_str().unwrap());
    let (status, body) = mesh
        .get_until(&path, &user.access_token, Duration::from_secs(30), |s, _| {
            s == 200
        })
        .await;
    assert_eq!(status, 200, "never stored: {body}");

    let started = Instant::now();
    let (status, body) = mesh
        .call(
            Method::PATCH,
            &path,
            Some(&user.access_token),
            Some(json!({"category": corrected, "update_mask": ["category"]})),
        )
        .await;
    let patched = started.elapsed();
    assert_eq!(status, 200, "{body}");
    loop {
        let again = extract(mesh, user, &text, true).await;
        if again["expense"]["category"] == corrected && again["rule_id"] != "" {
            return (patched, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "correction {i} ({text} → {corrected}) never learned: {again}"
        );
        // A short pause leaves the two cores to the relay and the consumer being measured.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn row(name: &str, mut v: Vec<Duration>) -> String {
    v.sort();
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        v.len(),
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.9)),
        ms(percentile(&v, 0.99)),
        ms(*v.last().unwrap()),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("learning bench: run it with `cargo bench -p mesh-tests --bench learning`");
        return;
    }
    let n = env_usize("BENCH_CORRECTIONS", 60).max(50);
    let mesh = Mesh::start().await;
    let user = mesh.signup("learner").await;

    // Warm-up (connections, the consumer's first poll), not counted.
    for i in 0..3 {
        correction(&mesh, &user, 900 + i).await;
    }
    // Baseline: the poll itself, a dry-run extraction of a merchant with no rule.
    let mut baseline = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        extract(
            &mesh,
            &user,
            &format!("paid {} to {}", 100 + i, merchant(500 + i)),
            true,
        )
        .await;
        baseline.push(t.elapsed());
    }
    let (mut patches, mut delays) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (p, d) = correction(&mesh, &user, i).await;
        patches.push(p);
        delays.push(d);
    }

    let p = |v: &[Duration], q: f64| {
        let mut v = v.to_vec();
        v.sort();
        percentile(&v, q)
    };
    println!("\nCorrection → visible in the next extraction ({n} corrections, one merchant each)");
    println!("| measured | n | p50 | p90 | p99 | max |");
    println!("|---|---|---|---|---|---|");
    println!(
        "{}",
        row("baseline: dry-run extraction round trip", baseline.clone())
    );
    println!("{}", row("baseline: PATCH round trip", patches.clone()));
    println!("{}", row("PATCH sent → corrected extraction", delays.clone()));
    let ratio = |q| p(&delays, q).as_secs_f64() / p(&baseline, q).as_secs_f64();
    println!(
        "delay / extraction round trip: p50 ×{:.1}, p99 ×{:.1}; target p99 < 2 s: {}",
        ratio(0.5),
        ratio(0.99),
        if p(&delays, 0.99) < Duration::from_secs(2) {
            "met"
        } else {
            "NOT met"
        }
    );
}
