//! Accuracy of the offline extractor on labelled sets, scored like `scripts/eval.py`.
//!
//! `tests/data/heldout*.jsonl` were written for this crate (other people's diaries, bank
//! SMS from several countries, non-expenses), never tuned line by line; the dev set in
//! `../shared/eval/` is scored too when it is there. A drop below the floors means a
//! change made the extractor less general.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use domain::Currency;
use ds::domain::{extract, ExtractContext};
use rust_decimal::Decimal;
use serde_json::Value;

#[derive(Default)]
struct Score {
    ok: usize,
    total: usize,
}

impl Score {
    fn merge(&mut self, o: Score) {
        self.ok += o.ok;
        self.total += o.total;
    }

    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += usize::from(ok);
    }

    fn ratio(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.ok as f64 / self.total as f64
        }
    }
}

/// Lower case, letters and digits only, single spaces.
fn fold(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct Report {
    amount: Score,
    merchant: Score,
    category: Score,
    date: Score,
    rejected: Score,
    failures: Vec<String>,
}

impl Report {
    fn merge(&mut self, o: Report) {
        self.amount.merge(o.amount);
        self.merchant.merge(o.merchant);
        self.category.merge(o.category);
        self.date.merge(o.date);
        self.rejected.merge(o.rejected);
        self.failures.extend(o.failures);
    }
}

fn score_file(path: &Path) -> Report {
    score_lines(path, None)
}

/// Scores the lines of `path`, only those whose `"split"` is `split` when given (the corpus
/// files mix "dev" and "heldout" lines).
fn score_lines(path: &Path, split: Option<&str>) -> Report {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = Report {
        amount: Score::default(),
        merchant: Score::default(),
        category: Score::default(),
        date: Score::default(),
        rejected: Score::default(),
        failures: Vec::new(),
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let ex: Value = serde_json::from_str(line).expect("valid JSON line");
        if split.is_some_and(|want| ex["split"].as_str().unwrap_or("dev") != want) {
            continue;
        }
        let expect = &ex["expect"];
        let reference: NaiveDate = ex["reference_date"].as_str().unwrap().parse().unwrap();
        let default = Currency::parse(ex["default_currency"].as_str().unwrap()).unwrap();
        let ctx = ExtractContext::new(reference, default);
        let text = ex["text"].as_str().unwrap();
        let got = extract(text, &ctx);
        let mut fail = |field: &str, want: String, have: String| {
            r.failures.push(format!(
                "{} {field}: expected {want}, got {have} | {text}",
                ex["id"]
            ));
        };
        if expect.get("error").is_some() {
            r.rejected.add(got.is_err());
            if let Ok(x) = &got {
                fail(
                    "rejected",
                    "an error".into(),
                    format!("{} {}", x.amount, x.currency),
                );
            }
            continue;
        }
        let x = match got {
            Ok(x) => x,
            Err(e) => {
                for score in [&mut r.amount, &mut r.merchant, &mut r.date] {
                    score.add(false);
                }
                if expect.get("category").is_some() {
                    r.category.add(false);
                }
                fail("all", "an expense".into(), e.to_string());
                continue;
            }
        };
        let want_amount: Decimal = expect["amount"].as_str().unwrap().parse().unwrap();
        let ok = x.amount == want_amount && expect["currency"] == x.currency.code();
        r.amount.add(ok);
        if !ok {
            fail(
                "amount",
                format!("{} {}", expect["amount"], expect["currency"]),
                format!("{} {}", x.amount, x.currency),
            );
        }
        if let Some(want) = expect.get("merchant") {
            let ok = match (want.as_str(), &x.merchant) {
                (None, None) => true,
                (Some(w), Some(h)) => {
                    let (w, h) = (fold(w), fold(h));
                    !w.is_empty() && !h.is_empty() && (w.contains(&h) || h.contains(&w))
                }
                _ => false,
            };
            r.merchant.add(ok);
            if !ok {
                fail("merchant", want.to_string(), format!("{:?}", x.merchant));
            }
        }
        if let Some(want) = expect.get("category") {
            let ok = want == x.category.as_str();
            r.category.add(ok);
            if !ok {
                fail("category", want.to_string(), x.category.to_string());
            }
        }
        if let Some(want) = expect.get("date") {
            let have = x.date.map(|d| d.to_string());
            let ok = want.as_str() == have.as_deref();
            r.date.add(ok);
            if !ok {
                fail("date", want.to_string(), format!("{have:?}"));
            }
        }
    }
    r
}

fn check(path: &Path, floors: [f64; 5]) {
    check_report(path, score_file(path), floors);
}

fn check_report(path: &Path, r: Report, floors: [f64; 5]) {
    let scores = [&r.amount, &r.merchant, &r.category, &r.date, &r.rejected];
    let names = ["amount+currency", "merchant", "category", "date", "rejected"];
    let mut summary = String::new();
    for (name, s) in names.iter().zip(scores) {
        summary.push_str(&format!("{name} {}/{} ", s.ok, s.total));
    }
    eprintln!("{}: {summary}", path.display());
    for (k, (s, floor)) in scores.iter().zip(floors).enumerate() {
        assert!(
            s.ratio() >= floor,
            "{}: {} {:.3} below {floor}\n{}",
            path.display(),
            names[k],
            s.ratio(),
            r.failures.join("\n")
        );
    }
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn held_out_personal_notes_and_bank_messages() {
    check(&data("heldout.jsonl"), [0.99, 0.97, 0.97, 0.99, 1.0]);
}

#[test]
fn held_out_travel_diary_styles() {
    check(&data("heldout2.jsonl"), [0.99, 0.97, 0.97, 0.99, 1.0]);
    check(&data("heldout3.jsonl"), [0.99, 0.97, 0.97, 0.99, 1.0]);
}

#[test]
fn held_out_voices_from_many_countries() {
    check(&data("heldout4.jsonl"), [0.99, 0.97, 0.97, 0.99, 1.0]);
}

/// The shared dev set, when the checkout has `../shared` beside it: the targets.
#[test]
fn dev_set_meets_the_targets() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/extraction-dev.jsonl");
    if !path.exists() {
        eprintln!("skipping: {} not found", path.display());
        return;
    }
    check(&path, [0.99, 0.97, 0.97, 0.99, 1.0]);
}

#[test]
fn written_bank_messages_in_five_languages() {
    check(&data("languages.jsonl"), [0.97, 0.85, 0.90, 0.90, 1.0]);
}

/// Issue 14's corpus (`services/ds/eval/corpus/*.jsonl`: bank SMS, card alerts, statement
/// descriptors and non-expenses of many countries and languages). The "heldout" lines were
/// never looked at while developing: their floors are what the extractor reached on text it
/// was not tuned on, so a drop means it became less general.
#[test]
fn corpus_dev_and_heldout() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipping: {} not found", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    // The floors were measured file by file as the corpus grew: the first pass's files
    // together, then each later file on its own (a harder file added later must not hide a
    // regression on the earlier ones, nor fail the floors they were set on).
    let (mut dev, mut heldout) = (Report::default(), Report::default());
    let (mut later_dev, mut later_heldout) = (Report::default(), Report::default());
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if FIRST_PASS_FILES.contains(&name) {
            dev.merge(score_lines(file, Some("dev")));
            heldout.merge(score_lines(file, Some("heldout")));
        } else {
            later_dev.merge(score_lines(file, Some("dev")));
            later_heldout.merge(score_lines(file, Some("heldout")));
        }
    }
    check_report(
        &dir.join("{cards-world,south-asia-africa}.jsonl (dev)"),
        dev,
        DEV_FLOORS,
    );
    check_report(
        &dir.join("{cards-world,south-asia-africa}.jsonl (heldout)"),
        heldout,
        HELDOUT_FLOORS,
    );
    check_report(&dir.join("later files (dev)"), later_dev, LATER_DEV_FLOORS);
    check_report(
        &dir.join("later files (heldout)"),
        later_heldout,
        LATER_HELDOUT_FLOORS,
    );
}

/// The corpus files the first floors were measured on.
const FIRST_PASS_FILES: [&str; 2] = ["cards-world.jsonl", "south-asia-africa.jsonl"];

/// amount+currency, merchant, category, date, rejected.
const DEV_FLOORS: [f64; 5] = [0.97, 0.90, 0.92, 0.96, 0.94];
const HELDOUT_FLOORS: [f64; 5] = [0.95, 0.78, 0.73, 0.94, 0.84];
/// The files added after the first pass (world-2.jsonl: statement and export rows, mobile
/// money, multi-line alerts): what the second pass reached.
const LATER_DEV_FLOORS: [f64; 5] = [0.91, 0.76, 0.69, 0.85, 0.84];
const LATER_HELDOUT_FLOORS: [f64; 5] = [0.80, 0.58, 0.56, 0.81, 0.59];
