//! What an `ExtractExpense` request asks for, parsed: the text and the settings the caller
//! chose to give (the rest comes from the profile or the defaults).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use domain::Currency;

/// The most characters `ExtractExpense` reads; longer texts are refused, not cut.
pub const MAX_REQUEST_CHARS: usize = 1000;

/// A request that can be extracted.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractionInput {
    /// 1..=1000 characters, as sent (not trimmed: it is stored as `raw_text`).
    pub text: String,
    pub currency: Option<Currency>,
    pub zone: Option<Tz>,
    pub reference_date: Option<NaiveDate>,
    pub dry_run: bool,
}

/// Why a request cannot be extracted; each message names the field and what it expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("text is empty; send 1 to {MAX_REQUEST_CHARS} characters describing the expense")]
    EmptyText,
    #[error("text is {0} characters long; the most is {MAX_REQUEST_CHARS}")]
    TextTooLong(usize),
    #[error("default_currency: {0}")]
    Currency(String),
    #[error("timezone: '{0}' is not an IANA time zone such as Europe/Warsaw")]
    TimeZone(String),
    #[error("reference_date: '{0}' is not a date; expected YYYY-MM-DD")]
    ReferenceDate(String),
    #[error("reference_date: {date} is in the future; the latest accepted date is {latest}")]
    FutureReferenceDate { date: NaiveDate, latest: NaiveDate },
    #[error("reference_date: {0} is too far in the past; the earliest accepted date is 1970-01-01")]
    AncientReferenceDate(NaiveDate),
}

/// The latest date that is "today" somewhere on Earth (UTC+14) at `now`; expense-service
/// refuses later dates.
pub fn latest_today(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(14)).date_naive()
}

impl ExtractionInput {
    /// Parses the request fields; empty optional fields mean "not given".
    pub fn parse(
        text: &str,
        default_currency: &str,
        timezone: &str,
        reference_date: &str,
        dry_run: bool,
        now: DateTime<Utc>,
    ) -> Result<Self, InputError> {
        if text.trim().is_empty() {
            return Err(InputError::EmptyText);
        }
        // Counting stops early: a 10 MB body costs no more than 1001 characters.
        let chars = text.chars().take(MAX_REQUEST_CHARS + 1).count();
        if chars > MAX_REQUEST_CHARS {
            return Err(InputError::TextTooLong(text.chars().count()));
        }
        let currency = match default_currency.trim() {
            "" => None,
            code => Some(Currency::parse(code).map_err(|e| InputError::Currency(e.to_string()))?),
        };
        let zone = match timezone.trim() {
            "" => None,
            name => Some(
                name.parse::<Tz>()
                    .map_err(|_| InputError::TimeZone(snippet(name)))?,
            ),
        };
        let reference_date = match reference_date.trim() {
            "" => None,
            s => {
                let date = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .filter(|_| s.len() == 10)
                    .ok_or_else(|| InputError::ReferenceDate(snippet(s)))?;
                let latest = latest_today(now);
                if date > latest {
                    return Err(InputError::FutureReferenceDate { date, latest });
                }
                if date < NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") {
                    return Err(InputError::AncientReferenceDate(date));
                }
                Some(date)
            }
        };
        Ok(Self {
            text: text.to_owned(),
            currency,
            zone,
            reference_date,
            dry_run,
        })
    }
}

/// At most 64 characters of `s`, for error messages.
fn snippet(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2024-05-15T12:00:00Z".parse().unwrap()
    }

    fn parse(text: &str, currency: &str, zone: &str, date: &str) -> Result<ExtractionInput, InputError> {
        ExtractionInput::parse(text, currency, zone, date, false, now())
    }

    #[test]
    fn empty_fields_mean_not_given() {
        let i = parse("lunch 12", "", " ", "").unwrap();
        assert_eq!((i.currency, i.zone, i.reference_date), (None, None, None));
        assert_eq!(i.text, "lunch 12");
    }

    #[test]
    fn given_fields_are_parsed() {
        let i = parse("lunch 12", " inr ", "Asia/Kolkata", "2024-05-01").unwrap();
        assert_eq!(i.currency, Some(Currency::INR));
        assert_eq!(i.zone, Some(chrono_tz::Asia::Kolkata));
        assert_eq!(i.reference_date, NaiveDate::from_ymd_opt(2024, 5, 1));
    }

    #[test]
    fn text_is_one_to_a_thousand_characters() {
        assert_eq!(parse("", "", "", ""), Err(InputError::EmptyText));
        assert_eq!(parse(" \n\t", "", "", ""), Err(InputError::EmptyText));
        // Characters, not bytes: 1000 rupee signs are 3000 bytes and fine.
        assert!(parse(&"₹".repeat(1000), "", "", "").is_ok());
        assert_eq!(
            parse(&"a".repeat(1001), "", "", ""),
            Err(InputError::TextTooLong(1001))
        );
        let msg = parse(&"a".repeat(5000), "", "", "").unwrap_err().to_string();
        assert_eq!(msg, "text is 5000 characters long; the most is 1000");
    }

    #[test]
    fn bad_settings_say_which_field_and_why() {
        let e = parse("x 1", "XYZ", "", "").unwrap_err().to_string();
        assert!(
            e.starts_with("default_currency: unknown currency code 'XYZ'"),
            "{e}"
        );
        let e = parse("x 1", "", "Mars/Base", "").unwrap_err().to_string();
        assert_eq!(
            e,
            "timezone: 'Mars/Base' is not an IANA time zone such as Europe/Warsaw"
        );
        let e = parse("x 1", "", "", "15/05/2024").unwrap_err().to_string();
        assert_eq!(
            e,
            "reference_date: '15/05/2024' is not a date; expected YYYY-MM-DD"
        );
        let e = parse("x 1", "", "", "2024-02-30").unwrap_err().to_string();
        assert!(e.contains("not a date"), "{e}");
        let e = parse("x 1", "", "", "2024-05-17").unwrap_err().to_string();
        assert_eq!(
            e,
            "reference_date: 2024-05-17 is in the future; the latest accepted date is 2024-05-16"
        );
        assert!(parse("x 1", "", "", "1969-12-31").is_err());
        // Tomorrow in UTC is today in Kiribati.
        assert!(parse("x 1", "", "", "2024-05-16").is_ok());
    }
}
