//! Any input at all into the domain parsers: no panic, an answer in bounded time, and an
//! error whose message stays short however long the input (messages quote the input, and
//! they end up in gRPC statuses and logs).

use std::time::{Duration, Instant};

use domain::{Category, Currency, Email, Money, MAX_MAJOR_UNITS};
use proptest::prelude::*;

/// Longer than any message quoting a shortened input (the category list is the longest).
const MAX_MESSAGE: usize = 600;
/// A generous bound for one parse of a 10k-character input.
const MAX_TIME: Duration = Duration::from_secs(1);

fn any_currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec!["USD", "JPY", "BHD", "EUR", "CLF", "INR", "KWD"])
        .prop_map(|c| Currency::parse(c).unwrap())
}

/// Arbitrary text: any characters (controls and NUL included), short or long.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,64}",
        "\\PC{0,2000}",
        prop::collection::vec(any::<char>(), 0..10_000).prop_map(|c| c.into_iter().collect()),
    ]
}

/// Strings that look like amounts: digits, dots and signs, up to hundreds of digits.
fn amount_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{0,400}(\\.[0-9]{0,400})?",
        "[-+]?[0-9.,eE ]{0,60}",
        "0{0,300}[1-9][0-9]{0,20}(\\.[0-9]{0,6}0{0,300})?",
    ]
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn money_parse_answers_any_text_quickly_with_a_short_message(s in any_text(), c in any_currency()) {
        let (res, took) = timed(|| Money::parse(&s, c));
        prop_assert!(took < MAX_TIME, "{took:?}");
        if let Err(e) = res {
            prop_assert!(e.to_string().chars().count() < MAX_MESSAGE, "{}", e);
        }
    }

    #[test]
    fn money_parse_of_amount_like_text_is_exact_or_refused(s in amount_like(), c in any_currency()) {
        match Money::parse(&s, c) {
            Ok(m) => {
                prop_assert!(m.minor() > 0);
                prop_assert!(m.minor() <= MAX_MAJOR_UNITS * 10i64.pow(c.exponent()));
                // What was accepted prints back to the same value, with the currency's decimals.
                let printed = m.to_decimal_string();
                prop_assert_eq!(Money::parse(&printed, c).unwrap(), m);
                let decimals = printed.split_once('.').map_or(0, |(_, f)| f.len());
                prop_assert_eq!(decimals as u32, c.exponent());
            }
            Err(e) => prop_assert!(e.to_string().chars().count() < MAX_MESSAGE, "{}", e),
        }
    }

    #[test]
    fn currency_parse_accepts_only_three_letter_codes(s in any_text()) {
        let (res, took) = timed(|| Currency::parse(&s));
        prop_assert!(took < MAX_TIME, "{took:?}");
        match res {
            Ok(c) => {
                prop_assert_eq!(c.code(), s.trim().to_ascii_uppercase());
                prop_assert!(c.exponent() <= 4);
            }
            Err(e) => prop_assert!(e.to_string().chars().count() < MAX_MESSAGE, "{}", e),
        }
    }

    #[test]
    fn currency_parse_of_any_three_letters_never_panics(s in "[a-zA-Z]{3}") {
        if let Ok(c) = Currency::parse(&s) {
            prop_assert_eq!(Currency::parse(c.code()).unwrap(), c);
        }
    }

    #[test]
    fn category_parse_accepts_only_category_names(s in any_text()) {
        match Category::parse(&s) {
            Ok(c) => prop_assert!(c.as_str().eq_ignore_ascii_case(s.trim())),
            Err(e) => prop_assert!(e.to_string().chars().count() < MAX_MESSAGE, "{}", e),
        }
    }

    #[test]
    fn category_proto_numbers_never_panic(n in any::<i32>()) {
        match Category::from_proto_number(n) {
            Some(c) => prop_assert_eq!(c.proto_number(), n),
            None => prop_assert!(!(1..=15).contains(&n)),
        }
    }

    #[test]
    fn email_parse_answers_any_text_quickly_and_never_keeps_controls(s in any_text()) {
        let (res, took) = timed(|| Email::parse(&s));
        prop_assert!(took < MAX_TIME, "{took:?}");
        match res {
            Ok(e) => {
                prop_assert!(e.as_str().chars().count() <= Email::MAX_LEN);
                // NUL and other controls would break storage (Postgres TEXT refuses NUL).
                prop_assert!(!e.as_str().chars().any(char::is_control));
            }
            Err(e) => prop_assert!(e.to_string().chars().count() < MAX_MESSAGE, "{}", e),
        }
    }
}
