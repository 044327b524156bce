//! Rows, and their conversion to the domain's types.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{prelude::*, sql_types};
use domain::{Category, Currency};
use uuid::Uuid;

use super::schema::{alerts, budgets, expense_totals, expenses};
use crate::domain::{BudgetSpec, Period, PeriodKind, Spending};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = budgets, check_for_backend(diesel::pg::Pg))]
pub struct BudgetRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub amount_minor: i64,
    pub currency: String,
    pub category: Option<String>,
    pub period: String,
    pub alert_percents: Vec<i32>,
    pub request_id: Option<Uuid>,
    pub request_fingerprint: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored value this version cannot read: a bug or a hand edit, never the client's fault.
#[derive(Debug, thiserror::Error)]
#[error("budget {id} holds an unreadable {what}: {value:?}")]
pub struct CorruptRow {
    pub id: Uuid,
    pub what: &'static str,
    pub value: String,
}

impl BudgetRow {
    /// A new row for `spec` (created and updated now).
    pub fn new(id: Uuid, user_id: Uuid, spec: &BudgetSpec, request_id: Option<Uuid>) -> Self {
        let now = Utc::now();
        let mut row = Self {
            id,
            user_id,
            name: String::new(),
            amount_minor: 0,
            currency: String::new(),
            category: None,
            period: String::new(),
            alert_percents: vec![],
            request_id,
            request_fingerprint: request_id.map(|_| spec.fingerprint()),
            created_at: now,
            updated_at: now,
        };
        row.set_spec(spec);
        row
    }

    /// Overwrites the definition with `spec`.
    pub fn set_spec(&mut self, spec: &BudgetSpec) {
        self.name = spec.name.clone();
        self.amount_minor = spec.amount.minor();
        self.currency = spec.amount.currency().code().to_owned();
        self.category = spec.category.map(|c| c.as_str().to_owned());
        self.period = spec.period.as_str().to_owned();
        self.alert_percents = spec.alert_percents.clone();
    }

    /// The definition as the domain sees it.
    pub fn spec(&self) -> Result<BudgetSpec, CorruptRow> {
        let corrupt = |what, value: &str| CorruptRow {
            id: self.id,
            what,
            value: value.to_owned(),
        };
        let currency = Currency::parse(&self.currency).map_err(|_| corrupt("currency", &self.currency))?;
        let amount = domain::Money::from_minor(self.amount_minor, currency)
            .map_err(|_| corrupt("amount", &self.amount_minor.to_string()))?;
        let category = match &self.category {
            None => None,
            Some(c) => Some(Category::parse(c).map_err(|_| corrupt("category", c))?),
        };
        let period = PeriodKind::from_name(&self.period).ok_or_else(|| corrupt("period", &self.period))?;
        Ok(BudgetSpec {
            name: self.name.clone(),
            amount,
            category,
            period,
            alert_percents: self.alert_percents.clone(),
        })
    }
}

/// One expense as the projection holds it (`deleted`: a tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = expenses, check_for_backend(diesel::pg::Pg))]
pub struct ExpenseRow {
    pub user_id: Uuid,
    pub expense_id: Uuid,
    pub version: i32,
    pub amount_minor: i64,
    pub currency: String,
    pub category: String,
    pub occurred_on: NaiveDate,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = alerts, check_for_backend(diesel::pg::Pg))]
pub struct AlertRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub budget_id: Uuid,
    pub budget_name: String,
    pub period_start: NaiveDate,
    pub percent_threshold: i32,
    pub spent_minor: i64,
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// A user's live expenses of one day, currency and category, summed.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = expense_totals, check_for_backend(diesel::pg::Pg))]
pub struct DayTotal {
    pub occurred_on: NaiveDate,
    pub currency: String,
    pub category: String,
    pub total: i64,
    pub count: i64,
}

/// A change of one user's day total (counts and minor units; negative: taken out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalDelta {
    pub user_id: Uuid,
    pub occurred_on: NaiveDate,
    pub currency: String,
    pub category: String,
    pub total: i64,
    pub count: i64,
}

impl DayTotal {
    /// The spending of `period` for a budget in `currency` and `category` (`None`: every
    /// category), from day totals that cover the period.
    pub fn spending_of(
        totals: &[DayTotal],
        currency: &str,
        category: Option<&str>,
        period: Period,
    ) -> Spending {
        let mut s = Spending::default();
        for t in totals.iter().filter(|t| period.contains(t.occurred_on)) {
            if category.is_some_and(|c| c != t.category) {
                continue;
            }
            if t.currency == currency {
                s.spent += t.total;
                s.count += t.count;
            } else {
                s.other_currency += t.count;
            }
        }
        s
    }
}

/// One budget's spending in one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct SpendingRow {
    #[diesel(sql_type = sql_types::BigInt)]
    pub spent: i64,
    #[diesel(sql_type = sql_types::BigInt)]
    pub count: i64,
    #[diesel(sql_type = sql_types::BigInt)]
    pub other_currency: i64,
}
