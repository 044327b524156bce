//! What a budget is: a name, a positive amount in one currency, one category or all, a
//! period kind and the alert thresholds; and the parsers that are the only way to one.

use chrono::NaiveDate;
use domain::{Category, Currency, Money};
use uuid::Uuid;

use super::{error::FieldError, period::PeriodKind};

/// Thresholds when the request names none.
pub const DEFAULT_ALERT_PERCENTS: [i32; 2] = [80, 100];
/// Most budgets one user may have: enough for every category twice over, and a bound on
/// the work each expense change does (every budget of its owner is checked).
pub const MAX_BUDGETS_PER_USER: usize = 100;
const MAX_NAME_CHARS: usize = 100;
const MAX_THRESHOLDS: usize = 10;
const MAX_PERCENT: i32 = 1000;

/// A valid budget definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSpec {
    pub name: String,
    pub amount: Money,
    /// `None` counts every category.
    pub category: Option<Category>,
    pub period: PeriodKind,
    /// Ascending and unique.
    pub alert_percents: Vec<i32>,
}

impl BudgetSpec {
    /// A canonical text of the definition: equal definitions, equal fingerprints. A
    /// retried CreateBudget is compared with it.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{:?}",
            self.name,
            self.amount.minor(),
            self.amount.currency().code(),
            self.category.map_or("", Category::as_str),
            self.period.as_str(),
            self.alert_percents
        )
    }
}

/// 1–100 characters after trimming, no control characters.
pub fn parse_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(FieldError::new("name", "is required: 1 to 100 characters"));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "name",
            format!("is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// A currency code (field `currency`) and a positive amount in it (field `amount`).
pub fn parse_money(amount: &str, currency: &str) -> Result<Money, FieldError> {
    if currency.trim().is_empty() {
        return Err(FieldError::new(
            "currency",
            "is required: an ISO 4217 code such as USD",
        ));
    }
    let currency =
        Currency::parse(currency.trim()).map_err(|e| FieldError::new("currency", e.to_string()))?;
    if amount.trim().is_empty() {
        return Err(FieldError::new(
            "amount",
            "is required: a decimal string such as 250.00",
        ));
    }
    Money::parse(amount.trim(), currency).map_err(|e| FieldError::new("amount", e.to_string()))
}

/// The proto number: 0 (CATEGORY_UNSPECIFIED) is every category.
pub fn parse_category(number: i32) -> Result<Option<Category>, FieldError> {
    if number == 0 {
        return Ok(None);
    }
    Category::from_proto_number(number).map(Some).ok_or_else(|| {
        FieldError::new(
            "category",
            format!(
                "{number} is not a category; expected CATEGORY_UNSPECIFIED (every category) or one of {}",
                Category::NAMES.join(", ")
            ),
        )
    })
}

/// The proto number of `Period`: MONTHLY (1) or WEEKLY (2).
pub fn parse_period(number: i32) -> Result<PeriodKind, FieldError> {
    match number {
        1 => Ok(PeriodKind::Monthly),
        2 => Ok(PeriodKind::Weekly),
        0 => Err(FieldError::new("period", "is required: MONTHLY or WEEKLY")),
        n => Err(FieldError::new(
            "period",
            format!("{n} is not a period; expected MONTHLY or WEEKLY"),
        )),
    }
}

/// Empty means the default [80, 100]; otherwise 1–1000 each, unique, at most 10; the
/// result is ascending.
pub fn parse_alert_percents(raw: &[i32]) -> Result<Vec<i32>, FieldError> {
    let field = "alert_percents";
    if raw.is_empty() {
        return Ok(DEFAULT_ALERT_PERCENTS.to_vec());
    }
    if raw.len() > MAX_THRESHOLDS {
        return Err(FieldError::new(
            field,
            format!(
                "has {} thresholds; at most {MAX_THRESHOLDS} are allowed",
                raw.len()
            ),
        ));
    }
    if let Some(bad) = raw.iter().find(|p| !(1..=MAX_PERCENT).contains(*p)) {
        return Err(FieldError::new(
            field,
            format!("{bad} is out of range; each threshold is a percent from 1 to {MAX_PERCENT}"),
        ));
    }
    let mut sorted = raw.to_vec();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(FieldError::new(
            field,
            format!("{} appears twice; thresholds are unique", pair[0]),
        ));
    }
    Ok(sorted)
}

/// The `on` of a request: empty is `None` (today), else a real `YYYY-MM-DD` date.
pub fn parse_on(raw: &str) -> Result<Option<NaiveDate>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map(Some).map_err(|_| {
        FieldError::new(
            "on",
            format!("{raw:?} is not a date; write YYYY-MM-DD, e.g. 2026-12-01"),
        )
    })
}

/// Ids of budgets created with a `request_id`: UUIDv5 of (user, request) here, so the same
/// caller's retry addresses the same row and two callers never collide.
const REQUEST_NAMESPACE: Uuid = Uuid::from_u128(0x3b1f_8e52_6c0d_4a97_b2e4_51d9_0c7a_e613);
/// Ids of alerts: UUIDv5 of (budget, period start, threshold), so rebuilding from a replay
/// yields the same ids, and the BudgetAlert event (whose ce_id is the alert's id) too.
const ALERT_NAMESPACE: Uuid = Uuid::from_u128(0x9d47_20c3_15ab_4e8f_a6b0_7e2c_48d1_f935);

pub fn budget_id_for_request(user_id: Uuid, request_id: Uuid) -> Uuid {
    platform::requests::derive_id(
        REQUEST_NAMESPACE,
        platform::requests::RequestKey { user_id, request_id },
    )
}

pub fn alert_id(budget_id: Uuid, period_start: NaiveDate, threshold: i32) -> Uuid {
    Uuid::new_v5(
        &ALERT_NAMESPACE,
        format!("{budget_id}/{period_start}/{threshold}").as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Food ").unwrap(), "Food");
        assert_eq!(parse_name(&"é".repeat(100)).unwrap().chars().count(), 100);
        for bad in ["", "   ", "a\u{7}b"] {
            assert_eq!(parse_name(bad).unwrap_err().field, "name", "{bad:?}");
        }
        assert!(parse_name(&"x".repeat(101)).unwrap_err().message.contains("101"));
    }

    #[test]
    fn money_errors_name_their_field() {
        assert_eq!(parse_money("250.00", "EUR").unwrap().minor(), 25_000);
        assert_eq!(parse_money("250", "JPY").unwrap().minor(), 250);
        assert_eq!(parse_money("0", "USD").unwrap_err().field, "amount");
        assert_eq!(parse_money("-3", "USD").unwrap_err().field, "amount");
        assert_eq!(parse_money("1.001", "USD").unwrap_err().field, "amount");
        assert_eq!(parse_money("", "USD").unwrap_err().field, "amount");
        assert_eq!(parse_money("10", "").unwrap_err().field, "currency");
        assert_eq!(parse_money("10", "XYZ").unwrap_err().field, "currency");
    }

    #[test]
    fn thresholds_default_sort_and_refuse_nonsense() {
        assert_eq!(parse_alert_percents(&[]).unwrap(), vec![80, 100]);
        assert_eq!(
            parse_alert_percents(&[100, 50, 1000, 1]).unwrap(),
            vec![1, 50, 100, 1000]
        );
        for bad in [
            vec![0],
            vec![1001],
            vec![-5],
            vec![80, 80],
            (1..=11).collect::<Vec<_>>(),
        ] {
            assert_eq!(
                parse_alert_percents(&bad).unwrap_err().field,
                "alert_percents",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn category_and_period_numbers() {
        assert_eq!(parse_category(0).unwrap(), None);
        assert_eq!(parse_category(1).unwrap(), Some(Category::FoodAndDrink));
        assert_eq!(parse_category(16).unwrap_err().field, "category");
        assert_eq!(parse_period(1).unwrap(), PeriodKind::Monthly);
        assert_eq!(parse_period(2).unwrap(), PeriodKind::Weekly);
        assert_eq!(parse_period(0).unwrap_err().field, "period");
        assert_eq!(parse_period(3).unwrap_err().field, "period");
    }

    #[test]
    fn on_is_a_real_date_or_empty() {
        assert_eq!(parse_on("").unwrap(), None);
        assert_eq!(
            parse_on("2026-02-28").unwrap(),
            Some("2026-02-28".parse().unwrap())
        );
        for bad in ["2026-02-30", "yesterday", "2026/02/01"] {
            assert_eq!(parse_on(bad).unwrap_err().field, "on");
        }
    }

    #[test]
    fn ids_are_stable_and_per_user() {
        let (a, b, r) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(budget_id_for_request(a, r), budget_id_for_request(a, r));
        assert_ne!(budget_id_for_request(a, r), budget_id_for_request(b, r));
        let day: NaiveDate = "2026-12-01".parse().unwrap();
        assert_eq!(alert_id(a, day, 80), alert_id(a, day, 80));
        assert_ne!(alert_id(a, day, 80), alert_id(a, day, 100));
    }
}
