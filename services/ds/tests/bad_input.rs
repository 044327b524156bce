//! Any input at all into ds-service's parsers: the offline extractor (texts up to its
//! 10,000-character limit), the request parser and the check of an LLM's answer. No panic,
//! every call answered in bounded time, and whatever is accepted satisfies the invariants
//! the rest of the system relies on.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use domain::Currency;
use ds::{
    domain::{extract, input::latest_today, ExtractContext, ExtractionInput, Rejection, MAX_REQUEST_CHARS},
    llm::answer,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// The extractor's own limit (`extract::MAX_TEXT_CHARS`).
const MAX_TEXT_CHARS: usize = 10_000;
/// Generous for an unoptimised test build on a busy 2-core machine; the release figure
/// is in `cargo bench -p ds --bench extract`.
const MAX_TIME: Duration = Duration::from_secs(1);

fn ctx(currency: &str) -> ExtractContext {
    ExtractContext::new(
        NaiveDate::from_ymd_opt(2024, 5, 15).unwrap(),
        Currency::parse(currency).unwrap(),
    )
}

fn any_currency() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["USD", "EUR", "JPY", "BHD", "INR", "SEK", "CLF"])
}

/// Words the extractor reacts to, and noise around them.
const WORDS: &[&str] = &[
    "paid",
    "spent",
    "at",
    "on",
    "for",
    "Rs",
    "rs.",
    "$",
    "€",
    "¥",
    "kr",
    "INR",
    "USD",
    "12",
    "1,234.56",
    "1.234,56",
    "0.5",
    "99999999999999999999",
    "2.5k",
    "lakh",
    "yesterday",
    "last",
    "friday",
    "19/09",
    "2024-02-29",
    "31/02/2023",
    "3rd",
    "May",
    "ago",
    "days",
    "7pm",
    "14:30",
    "Starbucks",
    "Uber",
    "debited",
    "credited",
    "OTP",
    "balance",
    "A/c",
    "XX1234",
    "%",
    "x",
    "2x",
    "and",
    "-",
    "/",
    ".",
    ",",
    "(",
    ")",
    "\"",
    "'",
    "🍕",
    "\u{a0}",
    "\u{0}",
    "\t",
    "\n",
    "'; DROP TABLE expenses; --",
];

/// Texts up to the extractor's limit: arbitrary characters, or its own vocabulary.
fn long_text() -> impl Strategy<Value = String> {
    let chars = prop::collection::vec(any::<char>(), 0..MAX_TEXT_CHARS);
    let words = prop::collection::vec(prop::sample::select(WORDS), 0..3000).prop_map(|w| w.join(" "));
    prop_oneof![chars.prop_map(|c| c.into_iter().collect::<String>()), words].prop_map(|s| {
        // At most the limit, counted in characters (the limit is in characters).
        s.chars().take(MAX_TEXT_CHARS).collect()
    })
}

fn now() -> DateTime<Utc> {
    "2024-05-15T12:00:00Z".parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_extractor_answers_any_text_up_to_its_limit_quickly(text in long_text(), c in any_currency()) {
        let ctx = ctx(c);
        let started = Instant::now();
        let res = extract(&text, &ctx);
        let took = started.elapsed();
        prop_assert!(took < MAX_TIME, "{} chars took {took:?}", text.chars().count());
        match res {
            Ok(x) => {
                prop_assert!(x.amount > Decimal::ZERO);
                prop_assert_eq!(x.amount.scale(), x.currency.exponent());
                let _ = x.money();
                prop_assert!(x.date.is_none_or(|d| d <= ctx.reference_date));
                prop_assert!((0.0..=1.0).contains(&x.confidence));
                if let Some(m) = &x.merchant {
                    prop_assert!(!m.contains('\0'), "{m:?}");
                }
            }
            Err(r) => prop_assert_ne!(r, Rejection::TooLong),
        }
    }

    #[test]
    fn texts_over_the_limit_are_refused_at_once(extra in 1usize..5000, c in prop::sample::select(vec!['a', '€', '1', ' '])) {
        let text: String = std::iter::repeat_n(c, MAX_TEXT_CHARS + extra).collect();
        let started = Instant::now();
        prop_assert_eq!(extract(&text, &ctx("EUR")), Err(Rejection::TooLong));
        prop_assert!(started.elapsed() < MAX_TIME);
    }

    #[test]
    fn request_fields_of_any_shape_parse_or_name_the_field(
        text in prop_oneof![".{0,1200}", "\\PC{990,1010}"],
        currency in prop_oneof![".{0,8}", "[a-zA-Z]{3}"],
        zone in prop_oneof![".{0,40}", Just("Asia/Kolkata".to_owned())],
        date in prop_oneof![".{0,12}", "[0-9]{4}-[0-9]{2}-[0-9]{2}", "[+-]?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}"],
        dry_run in any::<bool>(),
    ) {
        match ExtractionInput::parse(&text, &currency, &zone, &date, dry_run, now()) {
            Ok(input) => {
                prop_assert_eq!(&input.text, &text, "kept as sent");
                prop_assert!(input.text.chars().count() <= MAX_REQUEST_CHARS);
                if let Some(d) = input.reference_date {
                    prop_assert!(d <= latest_today(now()));
                    prop_assert!(d >= NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
                }
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(
                    ["text", "default_currency", "timezone", "reference_date"]
                        .iter()
                        .any(|f| message.starts_with(f)),
                    "{}", message
                );
                prop_assert!(message.chars().count() < 300, "{}", message);
            }
        }
    }

    /// The model is not trusted: whatever it answers is either checked into a valid
    /// extraction or refused (and the rules are used instead).
    #[test]
    fn any_llm_answer_is_checked_or_refused(
        // Weighted towards plausible answers, so that many are accepted and checked.
        amount in prop_oneof![
            1 => Just(None),
            4 => Just(Some("250".to_owned())),
            1 => ".{0,12}".prop_map(Some),
            1 => "[0-9]{1,30}(\\.[0-9]{0,6})?".prop_map(Some),
        ],
        currency in prop_oneof![
            1 => Just(None),
            1 => ".{0,5}".prop_map(Some),
            3 => any_currency().prop_map(|c| Some(c.to_owned())),
        ],
        merchant in prop_oneof![Just(None), ".{0,300}".prop_map(Some)],
        category in prop_oneof![1 => ".{0,20}", 3 => Just("FOOD_AND_DRINK".to_owned())],
        date in prop_oneof![
            2 => Just(None),
            1 => ".{0,12}".prop_map(Some),
            2 => "20[0-9]{2}-[0-1][0-9]-[0-3][0-9]".prop_map(Some),
        ],
        shape in prop_oneof![3 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        text in prop_oneof![3 => Just("spent 250 on lunch at Subway in 2023".to_owned()), 1 => ".{0,200}"],
    ) {
        let mut obj = serde_json::json!({
            "amount": amount, "currency": currency, "merchant": merchant, "category": category, "date": date,
        });
        let content = match shape {
            0 => obj.to_string(),
            1 => format!("```json\n{obj}\n```"),
            2 => {
                // Wrong types and unknown keys.
                obj["amount"] = serde_json::json!(250.5);
                obj["extra"] = serde_json::json!({"nested": [1, 2, 3]});
                obj.to_string()
            }
            _ => obj.to_string().chars().take(20).collect(), // truncated
        };
        let ctx = ctx("INR");
        if let Ok(x) = answer::validate(&content, &text, &ctx, None) {
            prop_assert!(x.amount > Decimal::ZERO);
            prop_assert_eq!(x.amount.scale(), x.currency.exponent());
            let _ = x.money();
            prop_assert!(x.date.is_none_or(|d| d <= ctx.reference_date));
            prop_assert!((0.0..=1.0).contains(&x.confidence));
        }
    }
}

#[test]
fn the_property_inputs_really_reach_the_limit() {
    // The strategies above are only as good as their sizes: make sure 10k-character texts
    // are among them (a regression here would make the time bound vacuous).
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let longest = (0..64)
        .map(|_| {
            long_text()
                .new_tree(&mut runner)
                .unwrap()
                .current()
                .chars()
                .count()
        })
        .max()
        .unwrap();
    assert!(longest > MAX_TEXT_CHARS / 2, "{longest}");
}
