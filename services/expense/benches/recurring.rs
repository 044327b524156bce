//! Recurring detection: the time to find the series in 5,000 expenses (criterion, and
//! p50/p99 of single runs), and the quality of what it finds on labelled synthetic ledgers
//! (precision and recall, printed). Pure computation: no database.
//!
//! `cargo bench -p expense-service --bench recurring`

#[path = "support/synthetic_ledger.rs"]
mod synthetic_ledger;

use std::{hint::black_box, time::Instant};

use criterion::{criterion_group, Criterion};
use expense_service::domain::recurring::detect;

fn today() -> chrono::NaiveDate {
    "2026-06-15".parse().expect("a date")
}

fn detection(c: &mut Criterion) {
    let l = synthetic_ledger::ledger(7, 5_000, today());
    c.bench_function("recurring_detect_5000", |b| {
        b.iter(|| detect(black_box(&l.expenses)))
    });
}

/// p50/p99 of single runs over ledgers of several seeds, and precision/recall over them.
fn figures() {
    let mut times = vec![];
    let (mut found, mut right, mut truth, mut recalled) = (0.0, 0.0, 0.0, 0.0);
    for seed in 1..=20 {
        let l = synthetic_ledger::ledger(seed, 5_000, today());
        let s = detect(&l.expenses);
        let (p, r, n_found, n_true) = synthetic_ledger::precision_recall(&s, &l.series);
        found += n_found as f64;
        right += p * n_found as f64;
        truth += n_true as f64;
        recalled += r * n_true as f64;
        for _ in 0..25 {
            let t = Instant::now();
            black_box(detect(black_box(&l.expenses)));
            times.push(t.elapsed());
        }
    }
    times.sort();
    let q = |f: f64| times[((times.len() - 1) as f64 * f).round() as usize];
    println!(
        "recurring detection over 5,000 expenses, {} runs on 20 ledgers: p50 {:.2} ms, p99 {:.2} ms",
        times.len(),
        q(0.50).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3
    );
    println!(
        "detection quality on 20 labelled ledgers: precision {:.3}, recall {:.3} ({found} series found, {truth} labelled)",
        right / found,
        recalled / truth
    );
}

criterion_group!(benches, detection);

fn main() {
    benches();
    figures();
    Criterion::default().configure_from_args().final_summary();
}
