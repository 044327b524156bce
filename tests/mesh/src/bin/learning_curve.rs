//! The learning curve (`make eval`): how much a user's corrections improve their next
//! extractions, through the real mesh (edge → ds-service → Kafka → expense-service →
//! `ExpenseChanged` → ds-service's memory).
//!
//! For each labelled set (JSON lines `{"text", "reference_date", "default_currency", "expect":
//! {"merchant", "category", ...}}`; lines with `"split": "heldout"` are left out), one fresh
//! user replays every text in order through `POST /v1/extractions` (stored, not dry run).
//! Whenever the answer's merchant or category differs from the label, the user PATCHes the
//! stored expense to the label, as a person fixing it in an app would. A text is a *repeat*
//! when an earlier text with the same labelled merchant was corrected; on the repeats the
//! answers with memory (that user's) are scored against the answers without memory: the
//! same texts, in the same run, from a second fresh user who never corrects anything
//! (`dry_run`).
//!
//! Scoring follows scripts/eval.py: category exact; merchant with case and punctuation
//! folded, one containing the other, null only for null.
//!
//! Usage: `learning-curve [SET.jsonl ...]` (default: ../shared/eval/extraction-dev.jsonl and
//! services/ds/eval/corpus/*.jsonl when present). Needs `scripts/infra.sh up`, its `env`
//! in the environment, and the release binaries of the mesh (`make eval` builds them).
//! Exits non-zero only when the mesh misbehaves (an unexpected HTTP status), never on a low
//! score: the figure is the output.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use mesh::{Mesh, User};
use reqwest::Method;
use serde_json::{json, Value};

/// How long a correction may take to show in the next extraction of the same text before
/// the replay goes on without it (it is then counted as not learned).
const LEARN_WITHIN: Duration = Duration::from_secs(2);
/// How long a stored extraction may take to become readable (the expense consumer).
const STORED_WITHIN: Duration = Duration::from_secs(30);

/// One labelled text.
struct Case {
    text: String,
    reference_date: String,
    default_currency: String,
    /// `None`: not labelled; `Some(None)`: labelled "no merchant".
    merchant: Option<Option<String>>,
    category: Option<String>,
}

fn load(path: &Path) -> Vec<Case> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", path.display(), n + 1));
        if v["split"].as_str().is_some_and(|s| s != "dev") {
            continue;
        }
        let expect = &v["expect"];
        if expect["error"] == json!(true) {
            continue;
        }
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        out.push(Case {
            text: s(&v["text"]),
            reference_date: s(&v["reference_date"]),
            default_currency: s(&v["default_currency"]),
            merchant: expect.get("merchant").map(|m| m.as_str().map(str::to_owned)),
            category: expect["category"].as_str().map(str::to_owned),
        });
    }
    out
}

/// Lower-case letters and digits only (scripts/eval.py's folding).
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn merchant_right(label: &Option<String>, answer: &str) -> bool {
    match label {
        None => answer.trim().is_empty(),
        Some(want) => {
            let (a, b) = (fold(want), fold(answer));
            !a.is_empty() && !b.is_empty() && (a.contains(&b) || b.contains(&a))
        }
    }
}

/// An answer's merchant and category (`None` when the text was refused).
#[derive(Clone, Debug)]
struct Answer {
    id: String,
    merchant: String,
    category: String,
    rule_id: String,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {}", self.merchant, self.category)?;
        if !self.rule_id.is_empty() {
            write!(f, " (rule {})", self.rule_id)?;
        }
        Ok(())
    }
}

fn label(case: &Case) -> String {
    let merchant = match &case.merchant {
        None => "?".to_owned(),
        Some(m) => format!("{:?}", m.as_deref().unwrap_or("")),
    };
    format!("{merchant} {}", case.category.as_deref().unwrap_or("?"))
}

fn shown(answer: &Option<Answer>) -> String {
    answer.as_ref().map_or("refused".to_owned(), |a| a.to_string())
}

async fn extract(mesh: &Mesh, user: &User, case: &Case, dry_run: bool) -> Option<Answer> {
    let mut body = json!({"text": case.text, "dry_run": dry_run});
    if !case.default_currency.is_empty() {
        body["default_currency"] = json!(case.default_currency);
    }
    if !case.reference_date.is_empty() {
        body["reference_date"] = json!(case.reference_date);
    }
    let (status, answer) = mesh.post("/v1/extractions", Some(&user.access_token), body).await;
    match status {
        200 => {
            let e = &answer["expense"];
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            Some(Answer {
                id: s(&e["id"]),
                merchant: s(&e["merchant"]),
                category: s(&e["category"]),
                rule_id: s(&answer["rule_id"]),
            })
        }
        // Refused as not an expense, or a field the extractor could not find: no answer.
        400 => None,
        _ => panic!("POST /v1/extractions answered {status}: {answer}"),
    }
}

/// What the label says to change in `answer`: the update mask and body of the PATCH.
fn correction(case: &Case, answer: &Answer) -> Option<Value> {
    let mut body = json!({});
    let mut mask = Vec::new();
    // A label without a merchant is not corrected (clearing a merchant teaches nothing).
    if let Some(Some(want)) = &case.merchant {
        if !merchant_right(&Some(want.clone()), &answer.merchant) {
            body["merchant"] = json!(want);
            mask.push("merchant");
        }
    }
    if let Some(want) = &case.category {
        if *want != answer.category {
            body["category"] = json!(want);
            mask.push("category");
        }
    }
    if mask.is_empty() {
        return None;
    }
    body["update_mask"] = json!(mask);
    Some(body)
}

fn right(case: &Case, answer: &Option<Answer>) -> (Option<bool>, Option<bool>) {
    let merchant = case.merchant.as_ref().map(|label| {
        answer
            .as_ref()
            .is_some_and(|a| merchant_right(label, &a.merchant))
    });
    let category = case
        .category
        .as_ref()
        .map(|want| answer.as_ref().is_some_and(|a| a.category == *want));
    (merchant, category)
}

/// Right answers out of labelled ones.
#[derive(Default, Clone, Copy)]
struct Score {
    right: usize,
    of: usize,
}

impl Score {
    fn add(&mut self, r: Option<bool>) {
        if let Some(r) = r {
            self.of += 1;
            self.right += usize::from(r);
        }
    }
    fn pct(self) -> String {
        if self.of == 0 {
            return "–".into();
        }
        format!(
            "{:.1}% ({}/{})",
            100.0 * self.right as f64 / self.of as f64,
            self.right,
            self.of
        )
    }
}

#[derive(Default)]
struct Curve {
    texts: usize,
    refused: usize,
    corrections: usize,
    learned: usize,
    repeats: usize,
    with_memory: (Score, Score),
    without_memory: (Score, Score),
    all_with: (Score, Score),
    all_without: (Score, Score),
    /// Repeats answered wrong with memory, and corrections not learned: for the report.
    misses: Vec<String>,
}

async fn replay(mesh: &Mesh, cases: &[Case], name: &str) -> Curve {
    let remembering = mesh.signup(&format!("learner-{name}")).await;
    let forgetful = mesh.signup(&format!("baseline-{name}")).await;
    let mut corrected: std::collections::HashSet<String> = Default::default();
    let mut curve = Curve {
        texts: cases.len(),
        ..Default::default()
    };
    for case in cases {
        let with = extract(mesh, &remembering, case, false).await;
        let without = extract(mesh, &forgetful, case, true).await;
        if with.is_none() {
            curve.refused += 1;
        }
        let key = match &case.merchant {
            Some(Some(m)) => Some(fold(m)),
            _ => None,
        };
        let (wm, wc) = right(case, &with);
        let (om, oc) = right(case, &without);
        curve.all_with.0.add(wm);
        curve.all_with.1.add(wc);
        curve.all_without.0.add(om);
        curve.all_without.1.add(oc);
        if key.as_ref().is_some_and(|k| corrected.contains(k)) {
            curve.repeats += 1;
            curve.with_memory.0.add(wm);
            curve.with_memory.1.add(wc);
            curve.without_memory.0.add(om);
            curve.without_memory.1.add(oc);
            if wm == Some(false) || wc == Some(false) {
                curve.misses.push(format!(
                    "repeat answered {} (without memory {}), label {}: {}",
                    shown(&with),
                    shown(&without),
                    label(case),
                    case.text
                ));
            }
        }
        let Some(answer) = with else { continue };
        let Some(patch) = correction(case, &answer) else {
            continue;
        };
        curve.corrections += 1;
        if let Some(k) = key {
            corrected.insert(k);
        }
        match correct(mesh, &remembering, case, &answer, patch).await {
            Ok(()) => curve.learned += 1,
            Err(again) => curve.misses.push(format!(
                "correction not learned: answered {answer}, corrected to {}, then {}: {}",
                label(case),
                shown(&again),
                case.text
            )),
        }
    }
    // What the user's memory holds at the end, for the report.
    let (_, rules) = mesh.get("/v1/extraction-rules", &remembering.access_token).await;
    for r in rules["rules"].as_array().into_iter().flatten() {
        curve.misses.push(format!(
            "rule {} {:?} → {:?} {} ({}, {} hits)",
            r["id"].as_str().unwrap_or_default(),
            r["merchant_pattern"].as_str().unwrap_or_default(),
            r["merchant"].as_str().unwrap_or_default(),
            r["category"].as_str().unwrap_or_default(),
            r["origin"].as_str().unwrap_or_default(),
            r["hits"],
        ));
    }
    curve
}

/// PATCHes the stored expense to the label once it is readable; whether the next
/// extraction of the same text (dry run) answers the label within LEARN_WITHIN (else the
/// last answer).
async fn correct(
    mesh: &Mesh,
    user: &User,
    case: &Case,
    answer: &Answer,
    patch: Value,
) -> Result<(), Option<Answer>> {
    let path = format!("/v1/expenses/{}", answer.id);
    let (status, body) = mesh
        .get_until(&path, &user.access_token, STORED_WITHIN, |s, _| s == 200)
        .await;
    assert_eq!(status, 200, "expense {} never stored: {body}", answer.id);
    let (status, body) = mesh
        .call(
            Method::PATCH,
            &path,
            Some(&user.access_token),
            Some(patch.clone()),
        )
        .await;
    assert_eq!(status, 200, "PATCH {path} {patch}: {body}");
    let started = Instant::now();
    loop {
        let again = extract(mesh, user, case, true).await;
        if again.as_ref().is_some_and(|a| correction(case, a).is_none()) {
            return Ok(());
        }
        if started.elapsed() >= LEARN_WITHIN {
            return Err(again);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn default_sets() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut sets = vec![root.join("../shared/eval/extraction-dev.jsonl")];
    if let Ok(dir) = std::fs::read_dir(root.join("services/ds/eval/corpus")) {
        let mut corpus: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        corpus.sort();
        sets.extend(corpus);
    }
    sets.into_iter().filter(|p| p.exists()).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let sets = if args.is_empty() { default_sets() } else { args };
    if sets.is_empty() {
        eprintln!("learning-curve: no labelled set found (give one as an argument)");
        std::process::exit(2);
    }
    let mesh = Mesh::start().await;
    println!("Learning curve: one user replays each set through the mesh, correcting every wrong");
    println!("merchant or category; repeats = texts whose merchant was corrected before.");
    println!("Without memory = the same texts in the same run from a user who never corrects.");
    println!();
    println!("| set | texts | corrections (learned ≤ {}s) | repeats | category: memory / none | merchant: memory / none |", LEARN_WITHIN.as_secs());
    println!("|---|---|---|---|---|---|");
    let mut total = (
        Score::default(),
        Score::default(),
        Score::default(),
        Score::default(),
    );
    let mut all = Vec::new();
    for set in &sets {
        let cases = load(set);
        let name = set
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let started = Instant::now();
        let c = replay(&mesh, &cases, &name).await;
        println!(
            "| {name} | {} ({} refused) | {} ({}) | {} | {} / {} | {} / {} |",
            c.texts,
            c.refused,
            c.corrections,
            c.learned,
            c.repeats,
            c.with_memory.1.pct(),
            c.without_memory.1.pct(),
            c.with_memory.0.pct(),
            c.without_memory.0.pct(),
        );
        eprintln!("learning-curve: {name}: {:.0} s", started.elapsed().as_secs_f64());
        for (t, s) in [
            (&mut total.0, c.with_memory.1),
            (&mut total.1, c.without_memory.1),
            (&mut total.2, c.with_memory.0),
            (&mut total.3, c.without_memory.0),
        ] {
            t.right += s.right;
            t.of += s.of;
        }
        all.push((name, c));
    }
    if sets.len() > 1 {
        println!(
            "| all | | | | {} / {} | {} / {} |",
            total.0.pct(),
            total.1.pct(),
            total.2.pct(),
            total.3.pct()
        );
    }
    println!();
    println!("Every text (first sightings included), with memory / without:");
    for (name, c) in &all {
        println!(
            "  {name}: category {} / {}, merchant {} / {}",
            c.all_with.1.pct(),
            c.all_without.1.pct(),
            c.all_with.0.pct(),
            c.all_without.0.pct()
        );
    }
    if std::env::var_os("LEARNING_CURVE_VERBOSE").is_some() {
        for (name, c) in &all {
            for m in &c.misses {
                println!("  {name}: {m}");
            }
        }
    } else {
        let misses: usize = all.iter().map(|(_, c)| c.misses.len()).sum();
        if misses > 0 {
            println!("({misses} misses: LEARNING_CURVE_VERBOSE=1 lists them)");
        }
    }
    let repeats_right = total.0.right + total.2.right;
    let repeats_of = total.0.of + total.2.of;
    if repeats_of > 0 {
        let pct = 100.0 * repeats_right as f64 / repeats_of as f64;
        println!(
            "\nOn repeats (category and merchant together): {pct:.1}% with memory; target ≥ 98%: {}",
            if pct >= 98.0 { "met" } else { "NOT met" }
        );
    }
}
