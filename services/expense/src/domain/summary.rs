//! Summaries: totals and counts per (key, currency) over a date range.

use chrono::NaiveDate;
use domain::Currency;

use super::{
    error::{ExpenseError, FieldError, Violations},
    listing::{date_range, optional_currency},
};

/// How a summary groups expenses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Category,
    /// "YYYY-MM" of occurred_on.
    Month,
    /// Case-insensitively: "Subway", "SUBWAY" and "subway" are one merchant.
    Merchant,
}

impl GroupBy {
    pub fn from_proto_number(n: i32) -> Result<Self, FieldError> {
        match n {
            1 => Ok(GroupBy::Category),
            2 => Ok(GroupBy::Month),
            3 => Ok(GroupBy::Merchant),
            0 => Err(FieldError::new(
                "group_by",
                "group_by is required: one of CATEGORY, MONTH, MERCHANT",
            )),
            n => Err(FieldError::new(
                "group_by",
                format!("group_by {n} is unknown; expected one of CATEGORY, MONTH, MERCHANT"),
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SummaryQuery {
    pub group_by: GroupBy,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub currency: Option<Currency>,
}

impl SummaryQuery {
    pub fn parse(group_by: i32, from: &str, to: &str, currency: &str) -> Result<Self, ExpenseError> {
        let mut v = Violations::default();
        let group_by = v.check(GroupBy::from_proto_number(group_by));
        let (from, to) = date_range(&mut v, from, to);
        let currency = optional_currency(&mut v, currency);
        v.finish()?;
        Ok(Self {
            group_by: group_by.expect("checked"),
            from,
            to,
            currency,
        })
    }
}

/// One line of a summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryGroup {
    pub key: String,
    pub currency: Currency,
    /// Exact decimal with the currency's decimals.
    pub total: String,
    pub count: i64,
}

/// Formats a sum of minor units, given as its decimal digits (Postgres `numeric` as text,
/// so it is exact whatever its size), with `exponent` decimals: ("125000", 3) → "125.000",
/// ("5", 2) → "0.05". `None` unless `digits` is a non-negative integer.
pub fn format_minor_total(digits: &str, exponent: u32) -> Option<String> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = digits.trim_start_matches('0');
    let e = exponent as usize;
    // Left-pad so there is at least one integer digit.
    let padded = format!("{digits:0>width$}", width = e + 1);
    if e == 0 {
        return Some(padded);
    }
    let (int, frac) = padded.split_at(padded.len() - e);
    Some(format!("{int}.{frac}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_formatted_exactly() {
        assert_eq!(format_minor_total("125000", 3).unwrap(), "125.000");
        assert_eq!(format_minor_total("5", 2).unwrap(), "0.05");
        assert_eq!(format_minor_total("0", 2).unwrap(), "0.00");
        assert_eq!(format_minor_total("1200", 0).unwrap(), "1200");
        assert_eq!(format_minor_total("0", 0).unwrap(), "0");
        // Beyond i64 and i128: still exact.
        let big = "123456789012345678901234567890123456789012";
        assert_eq!(
            format_minor_total(big, 2).unwrap(),
            "1234567890123456789012345678901234567890.12"
        );
        assert_eq!(format_minor_total("-5", 2), None);
        assert_eq!(format_minor_total("1.5", 2), None);
    }

    #[test]
    fn group_by_is_required() {
        let e = SummaryQuery::parse(0, "", "", "").unwrap_err();
        assert_eq!(e.fields(), vec!["group_by"]);
        let e = SummaryQuery::parse(9, "2025-01-02", "2025-01-01", "EURO").unwrap_err();
        assert_eq!(e.fields(), vec!["group_by", "from", "currency"]);
        assert_eq!(
            SummaryQuery::parse(2, "", "2025-01-01", "jpy").unwrap(),
            SummaryQuery {
                group_by: GroupBy::Month,
                from: None,
                to: NaiveDate::from_ymd_opt(2025, 1, 1),
                currency: Some(Currency::JPY),
            }
        );
    }
}
