//! `ds-extract`: batch extraction, JSON lines in, JSON lines out.
//!
//! Each input line is `{"text", "reference_date", "default_currency", "timezone"}` (the last
//! three optional). Each output line, in the same order, is either
//! `{"amount", "currency", "merchant", "category", "date", "confidence", "extractor",
//! "warnings"}` or `{"error": "..."}`: a bad line (invalid JSON, unknown currency, a text
//! that is not an expense, even a blank line) gives an error line and the run goes on, so
//! output line N always answers input line N.
//!
//! Defaults: `reference_date` is today in `timezone` (IANA name, default UTC);
//! `default_currency` is `$DS_DEFAULT_CURRENCY`, else USD.
//!
//! It runs the service's extraction path: the offline rules, or, when `MISTRAL_API_KEY`
//! is set, the LLM first (same `MISTRAL_*`/`LLM_*` settings as ds-service) with the rules
//! as fallback; then up to `DS_EXTRACT_CONCURRENCY` (default 4) lines are in flight at
//! once, still answered in order.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use domain::Currency;
use ds::{domain::ExtractContext, extraction::Extractor, llm::LlmConfig};
use futures::StreamExt;
use platform::config::Env;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Input {
    text: Option<String>,
    reference_date: Option<String>,
    default_currency: Option<String>,
    timezone: Option<String>,
}

#[derive(Serialize)]
struct Output<'a> {
    amount: String,
    currency: &'a str,
    merchant: Option<String>,
    category: &'a str,
    date: Option<String>,
    confidence: f32,
    extractor: String,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct ErrorLine<'a> {
    error: &'a str,
}

struct Settings {
    default_currency: Currency,
    extractor: Extractor,
}

/// Reads one input line into text, context and zone.
fn parse_line(line: &str, settings: &Settings) -> Result<(String, ExtractContext, Tz), String> {
    if line.trim().is_empty() {
        return Err("blank input line; expected a JSON object with a \"text\" field".into());
    }
    let input: Input = serde_json::from_str(line).map_err(|e| format!("invalid JSON input: {e}"))?;
    let text = input.text.ok_or_else(|| "missing \"text\" field".to_owned())?;
    let timezone: Tz = match input.timezone.as_deref().map(str::trim) {
        None | Some("") => Tz::UTC,
        Some(name) => name
            .parse()
            .map_err(|_| format!("unknown timezone '{name}'; expected an IANA name such as Europe/Warsaw"))?,
    };
    let reference_date = match input.reference_date.as_deref().map(str::trim) {
        None | Some("") => Utc::now().with_timezone(&timezone).date_naive(),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| format!("invalid reference_date '{s}'; expected YYYY-MM-DD"))?,
    };
    let default_currency = match input.default_currency.as_deref().map(str::trim) {
        None | Some("") => settings.default_currency,
        Some(code) => Currency::parse(code).map_err(|e| e.to_string())?,
    };
    Ok((
        text,
        ExtractContext::new(reference_date, default_currency),
        timezone,
    ))
}

/// One input line to one output line (without the newline).
async fn answer(line: &str, settings: &Settings) -> String {
    let result = match parse_line(line, settings) {
        Ok((text, ctx, zone)) => settings
            .extractor
            .extract(&text, &ctx, zone.name())
            .await
            .map_err(|r| r.to_string()),
        Err(e) => Err(e),
    };
    let json = match result {
        Ok(extracted) => {
            let x = extracted.extraction;
            serde_json::to_string(&Output {
                amount: x.amount.to_string(),
                currency: x.currency.code(),
                merchant: x.merchant,
                category: x.category.as_str(),
                date: x.date.map(|d| d.format("%Y-%m-%d").to_string()),
                confidence: x.confidence,
                extractor: extracted.by.name(),
                warnings: x.warnings,
            })
        }
        Err(error) => serde_json::to_string(&ErrorLine { error: &error }),
    };
    json.unwrap_or_else(|_| r#"{"error":"could not encode the result"}"#.to_owned())
}

fn main() -> ExitCode {
    let env = Env::process();
    let default_currency = match env.raw("DS_DEFAULT_CURRENCY") {
        Some(code) => match Currency::parse(&code) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("ds-extract: DS_DEFAULT_CURRENCY: {e}");
                return ExitCode::from(2);
            }
        },
        None => Currency::USD,
    };
    let extractor = match LlmConfig::from_env(&env).and_then(Extractor::new) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("ds-extract: {e}");
            return ExitCode::from(2);
        }
    };
    let concurrency = match env.or("DS_EXTRACT_CONCURRENCY", 4usize, "a number of lines in flight") {
        Ok(n) => n.max(1),
        Err(e) => {
            eprintln!("ds-extract: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(llm) = extractor.llm() {
        eprintln!("ds-extract: LLM {} first, rules as fallback", llm.model());
    }
    let settings = Settings {
        default_currency,
        extractor,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ds-extract: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(&settings, concurrency))
}

/// Reads stdin on a thread of its own (it blocks), answers up to `concurrency` lines at a
/// time and writes the answers in input order.
async fn run(settings: &Settings, concurrency: usize) -> ExitCode {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Vec<u8>>>(1024);
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut buf = Vec::new();
            match input.read_until(b'\n', &mut buf) {
                Ok(0) => return,
                Ok(_) => {
                    if tx.blocking_send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let lines = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|l| (l, rx)) });
    let answers = lines
        .map(|line| async move {
            match line {
                Ok(buf) => Ok(match std::str::from_utf8(&buf) {
                    Ok(s) => answer(s.trim_end_matches(['\n', '\r']), settings).await,
                    Err(_) => r#"{"error":"input line is not valid UTF-8"}"#.to_owned(),
                }),
                Err(e) => Err(e),
            }
        })
        .buffered(concurrency);
    let mut answers = std::pin::pin!(answers);

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    while let Some(line) = answers.next().await {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                let _ = out.flush();
                eprintln!("ds-extract: reading stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        if writeln!(out, "{line}").is_err() {
            // The reader went away (e.g. `| head`): stop quietly.
            return ExitCode::SUCCESS;
        }
    }
    let _ = out.flush();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            default_currency: Currency::USD,
            extractor: Extractor::offline(),
        }
    }

    fn json(line: &str) -> serde_json::Value {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        serde_json::from_str(&runtime.block_on(answer(line, &settings()))).unwrap()
    }

    #[test]
    fn answers_an_expense() {
        let v = json(r#"{"text":"paid 12.5 EUR at Starbucks yesterday","reference_date":"2024-05-15"}"#);
        assert_eq!(v["amount"], "12.50");
        assert_eq!(v["currency"], "EUR");
        assert_eq!(v["merchant"], "Starbucks");
        assert_eq!(v["category"], "FOOD_AND_DRINK");
        assert_eq!(v["date"], "2024-05-14");
        assert_eq!(v["extractor"], "rules");
        assert!(v["confidence"].as_f64().unwrap() > 0.5);
        assert!(v["warnings"].is_array());
    }

    #[test]
    fn null_merchant_and_date_are_null() {
        let v = json(r#"{"text":"lunch 7.97","reference_date":"2024-05-15","default_currency":"pln"}"#);
        assert_eq!(v["currency"], "PLN");
        assert!(v["merchant"].is_null());
        assert!(v["date"].is_null());
    }

    #[test]
    fn bad_lines_answer_errors() {
        assert!(json("").get("error").is_some());
        assert!(json("not json").get("error").is_some());
        assert!(json(r#"{"text":"5 coffee","default_currency":"XYZ"}"#)["error"]
            .as_str()
            .unwrap()
            .contains("unknown currency code 'XYZ'"));
        assert!(json(r#"{"text":"5 coffee","timezone":"Mars/Base"}"#)["error"]
            .as_str()
            .unwrap()
            .contains("unknown timezone"));
        assert!(
            json(r#"{"text":"5 coffee","reference_date":"15/05/2024"}"#)["error"]
                .as_str()
                .unwrap()
                .contains("YYYY-MM-DD")
        );
        assert_eq!(
            json(r#"{"text":"123456 is your OTP"}"#)["error"],
            "not an expense: OTP"
        );
        assert_eq!(json(r#"{"text":"hello"}"#)["error"], "no amount found in text");
    }

    #[test]
    fn timezone_sets_today() {
        let v = json(r#"{"text":"coffee 3 today","timezone":"Asia/Kolkata"}"#);
        let today = Utc::now().with_timezone(&chrono_tz::Asia::Kolkata).date_naive();
        assert_eq!(v["date"], today.format("%Y-%m-%d").to_string());
    }
}
