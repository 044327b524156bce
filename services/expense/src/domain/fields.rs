//! Parsers for the fields of an expense, each failing with a [`FieldError`] that names the
//! field. Shared by manual entry, updates, list filters and the event consumer.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{Category, Currency, Money};

use super::error::FieldError;

pub const MERCHANT_MAX_CHARS: usize = 200;
pub const NOTE_MAX_CHARS: usize = 1000;

/// The earliest date an expense can carry: anything older is a typo ("0024-05-01") or an
/// extractor's hallucination, not a purchase someone is tracking.
pub fn earliest_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date")
}

/// The latest `occurred_on` accepted at `now`: today in the easternmost time zone (UTC+14,
/// Kiribati). occurred_on is the date in the *user's* zone, which this service does not
/// know, so "not after tomorrow in any timezone" is the tightest rule that never refuses
/// a real purchase made today somewhere on Earth.
pub fn latest_occurred_on(now: DateTime<Utc>) -> NaiveDate {
    (now + Duration::hours(14)).date_naive()
}

/// An ISO 4217 code; empty means the field was not given.
pub fn currency(field: &'static str, s: &str) -> Result<Currency, FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::new(field, format!("{field} is required")));
    }
    Currency::parse(s).map_err(|e| FieldError::new(field, e.to_string()))
}

/// A positive decimal string with at most the currency's decimals, at most 1e12.
pub fn amount(field: &'static str, s: &str, currency: Currency) -> Result<Money, FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::new(
            field,
            format!("{field} is required: a positive decimal string such as \"12.50\""),
        ));
    }
    Money::parse(s.trim(), currency).map_err(|e| FieldError::new(field, e.to_string()))
}

/// A proto `Category` number; `CATEGORY_UNSPECIFIED` (0) is `None`.
pub fn category(field: &'static str, number: i32) -> Result<Option<Category>, FieldError> {
    if number == 0 {
        return Ok(None);
    }
    Category::from_proto_number(number).map(Some).ok_or_else(|| {
        FieldError::new(
            field,
            format!(
                "{field} {number} is not a Category; expected one of {}",
                Category::NAMES.join(", ")
            ),
        )
    })
}

/// A real calendar date written exactly `YYYY-MM-DD`, not before 1900-01-01.
pub fn date(field: &'static str, s: &str) -> Result<NaiveDate, FieldError> {
    let t = s.trim();
    let shape_ok = t.len() == 10
        && t.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let invalid = || {
        FieldError::new(
            field,
            format!("{field} {:?} is not a real date written YYYY-MM-DD", snippet(t)),
        )
    };
    if !shape_ok {
        return Err(invalid());
    }
    let n = |r: std::ops::Range<usize>| t[r].parse::<u32>().expect("digits");
    let d = NaiveDate::from_ymd_opt(n(0..4) as i32, n(5..7), n(8..10)).ok_or_else(invalid)?;
    if d < earliest_date() {
        return Err(FieldError::new(
            field,
            format!("{field} {d} is too far in the past; the earliest accepted date is 1900-01-01"),
        ));
    }
    Ok(d)
}

/// The date an expense happened: a real date not after tomorrow in any time zone; empty
/// means today (UTC: the service does not know the user's zone; ds-service, which does,
/// always sends the date).
pub fn occurred_on(s: &str, now: DateTime<Utc>) -> Result<NaiveDate, FieldError> {
    const FIELD: &str = "occurred_on";
    if s.trim().is_empty() {
        return Ok(now.date_naive());
    }
    let d = date(FIELD, s)?;
    let latest = latest_occurred_on(now);
    if d > latest {
        return Err(FieldError::new(
            FIELD,
            format!("{FIELD} {d} is in the future; the latest accepted date is {latest}"),
        ));
    }
    Ok(d)
}

/// Where the money went; empty when unknown. Trimmed, at most 200 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Merchant(String);

impl Merchant {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "merchant";
        let t = s.trim();
        let n = t.chars().count();
        if n > MERCHANT_MAX_CHARS {
            return Err(FieldError::new(
                FIELD,
                format!("{FIELD} is {n} characters; at most {MERCHANT_MAX_CHARS} are allowed"),
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(FieldError::new(
                FIELD,
                format!("{FIELD} must not contain control characters"),
            ));
        }
        Ok(Self(t.to_owned()))
    }

    /// Makes any text a merchant: control characters become spaces, then it is trimmed and
    /// cut to 200 characters. For extracted expenses, where losing the expense over an
    /// over-long merchant would be worse than shortening it.
    pub fn sanitize(s: &str) -> Self {
        let cleaned: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        Self(
            cleaned
                .trim()
                .chars()
                .take(MERCHANT_MAX_CHARS)
                .collect::<String>()
                .trim_end()
                .to_owned(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text note. Trimmed, at most 1000 characters; line breaks are allowed (a note is
/// typed in a text area), other control characters are not. `\r\n` is stored as `\n`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Note(String);

impl Note {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "note";
        let t = s.trim().replace("\r\n", "\n");
        let n = t.chars().count();
        if n > NOTE_MAX_CHARS {
            return Err(FieldError::new(
                FIELD,
                format!("{FIELD} is {n} characters; at most {NOTE_MAX_CHARS} are allowed"),
            ));
        }
        if t.chars().any(|c| c.is_control() && c != '\n') {
            return Err(FieldError::new(
                FIELD,
                format!("{FIELD} must not contain control characters other than line breaks"),
            ));
        }
        Ok(Self(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Stored text must not contain NUL (Postgres `TEXT` cannot hold it).
pub fn without_nul(s: &str) -> String {
    s.replace('\0', "")
}

/// The input as quoted in a message: at most 40 characters.
pub(crate) fn snippet(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        s.chars().take(40).chain(std::iter::once('…')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn dates_must_be_real_and_exactly_shaped() {
        assert_eq!(
            date("from", "2024-02-29").unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-5",
            "24-01-05",
            "2024/01/05",
            "2024-01-05T00:00:00Z",
            "yesterday",
            "+2024-01-05",
            "2024-00-10",
        ] {
            let e = date("from", bad).unwrap_err();
            assert_eq!(e.field, "from", "{bad}");
        }
        assert!(date("to", "1899-12-31")
            .unwrap_err()
            .message
            .contains("1900-01-01"));
    }

    #[test]
    fn occurred_on_allows_today_anywhere_on_earth_and_nothing_later() {
        // 11:00 UTC on 1 May is already 01:00 on 2 May in Kiribati (UTC+14).
        let now = at(2025, 5, 1, 11);
        assert_eq!(occurred_on("2025-05-02", now).unwrap().to_string(), "2025-05-02");
        assert!(occurred_on("2025-05-03", now).is_err());
        // 09:00 UTC: it is 23:00 on 1 May in Kiribati, so 2 May is the future everywhere.
        let now = at(2025, 5, 1, 9);
        let e = occurred_on("2025-05-02", now).unwrap_err();
        assert!(e.message.contains("latest accepted date is 2025-05-01"), "{e}");
        assert_eq!(occurred_on("", now).unwrap().to_string(), "2025-05-01");
    }

    #[test]
    fn merchants_are_trimmed_bounded_and_printable() {
        assert_eq!(Merchant::parse("  Subway ").unwrap().as_str(), "Subway");
        assert!(Merchant::parse(&"é".repeat(200)).is_ok());
        assert!(Merchant::parse(&"é".repeat(201)).is_err());
        assert!(Merchant::parse("Sub\u{0}way").is_err());
        assert_eq!(Merchant::sanitize(" Sub\nway\u{0} ").as_str(), "Sub way");
        assert_eq!(Merchant::sanitize(&"x".repeat(500)).as_str().len(), 200);
    }

    #[test]
    fn notes_keep_line_breaks_but_no_other_control_characters() {
        assert_eq!(Note::parse(" a\r\nb ").unwrap().as_str(), "a\nb");
        assert!(Note::parse("a\u{7}b").is_err());
        assert!(Note::parse(&"n".repeat(1000)).is_ok());
        let e = Note::parse(&"n".repeat(1001)).unwrap_err();
        assert_eq!(e.to_string(), "note is 1001 characters; at most 1000 are allowed");
    }

    #[test]
    fn currency_and_amount_name_their_field() {
        assert_eq!(
            currency("currency", " ").unwrap_err().to_string(),
            "currency is required"
        );
        assert!(currency("currency", "XYZ")
            .unwrap_err()
            .to_string()
            .starts_with("currency: unknown currency code"));
        let e = amount("max_amount", "1.234", Currency::USD).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("max_amount: amount '1.234' has 3 decimal places"));
        assert_eq!(amount("amount", "1.5", Currency::USD).unwrap().minor(), 150);
    }

    #[test]
    fn category_zero_means_unspecified() {
        assert_eq!(category("category", 0).unwrap(), None);
        assert_eq!(category("category", 1).unwrap(), Some(Category::FoodAndDrink));
        assert!(category("category", 16)
            .unwrap_err()
            .to_string()
            .starts_with("category 16 is not a Category"));
    }
}
