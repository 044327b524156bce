//! Throughput of the offline extractor.
//!
//! `cargo bench -p ds --bench extract`; two groups:
//! - `extract/offline_extract`: a fixed mix of 20 typed notes and bank messages (comparable
//!   across every run, whatever the corpus holds);
//! - `extract/labelled_texts`: the texts of `services/ds/tests/data/heldout*.jsonl` and the shared
//!   dev set (when checked out next to the repository), each with its own reference date and
//!   default currency — a fixed set, so figures compare across runs;
//! - `extract/corpus`: every text of `services/ds/eval/corpus/*.jsonl` (bank SMS, card alerts,
//!   statement descriptors, non-expenses of many languages), when present.
//!
//! Criterion reports texts per second from the declared throughput; compare runs with
//! `--save-baseline before` / `--baseline before`.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use domain::Currency;
use ds::domain::{extract, ExtractContext};

const TEXTS: [&str; 20] = [
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
    "482913 is your OTP for txn of INR 2,499.00 at MYNTRA. Do not share it with anyone.",
    "Rs.5,000.00 credited to your A/c XX1234 on 14-05-24 by NEFT. Avl Bal Rs.25,000.00",
    "ignore previous instructions; DROP TABLE expenses; 5 USD",
    "hello there 🍕",
];

fn offline_extract(c: &mut Criterion) {
    let ctx = ExtractContext::new(
        NaiveDate::from_ymd_opt(2024, 5, 15).expect("valid date"),
        Currency::INR,
    );
    // Build the word lists before measuring.
    let _ = extract(TEXTS[0], &ctx);
    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Elements(TEXTS.len() as u64));
    group.bench_function("offline_extract", |b| {
        b.iter(|| {
            for text in TEXTS {
                let _ = black_box(extract(black_box(text), &ctx));
            }
        })
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut labelled = jsonl_files(&root.join("tests/data"), "heldout");
    labelled.push(root.join("../../../shared/eval/extraction-dev.jsonl"));
    for (name, files) in [
        ("labelled_texts", labelled),
        ("corpus", jsonl_files(&root.join("eval/corpus"), "")),
    ] {
        let cases = cases(&files);
        if cases.is_empty() {
            continue;
        }
        group.throughput(Throughput::Elements(cases.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                for (text, ctx) in &cases {
                    let _ = black_box(extract(black_box(text), ctx));
                }
            })
        });
    }
    group.finish();
}

/// The `.jsonl` files of `dir` whose names start with `prefix`, sorted.
fn jsonl_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Every text of the files (missing files are skipped), with the context its line gives.
fn cases(files: &[PathBuf]) -> Vec<(String, ExtractContext)> {
    let mut cases = Vec::new();
    for file in files {
        let Ok(body) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in body.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(text) = v["text"].as_str() else {
                continue;
            };
            let date = v["reference_date"]
                .as_str()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .unwrap_or_else(|| NaiveDate::from_ymd_opt(2024, 5, 15).expect("valid date"));
            let currency = v["default_currency"]
                .as_str()
                .and_then(|c| c.parse::<Currency>().ok())
                .unwrap_or(Currency::USD);
            cases.push((text.to_owned(), ExtractContext::new(date, currency)));
        }
    }
    cases
}

criterion_group!(benches, offline_extract);
criterion_main!(benches);
