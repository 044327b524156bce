//! Rows, and their conversion to and from the domain.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{prelude::*, sql_types};
use domain::{Category, Currency, Money};
use uuid::Uuid;

use super::schema::expenses;
use crate::domain::{Expense, Merchant, Note, Source};

#[derive(Debug, Clone, PartialEq, Insertable, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = expenses, check_for_backend(diesel::pg::Pg))]
pub struct ExpenseRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub merchant: String,
    pub category: String,
    pub occurred_on: NaiveDate,
    pub note: String,
    pub raw_text: String,
    pub source: String,
    pub confidence: f32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<&Expense> for ExpenseRow {
    fn from(e: &Expense) -> Self {
        Self {
            id: e.id,
            user_id: e.user_id,
            amount_minor: e.amount.minor(),
            currency: e.amount.currency().code().to_owned(),
            merchant: e.merchant.as_str().to_owned(),
            category: e.category.as_str().to_owned(),
            occurred_on: e.occurred_on,
            note: e.note.as_str().to_owned(),
            raw_text: e.raw_text.clone(),
            source: e.source.as_str().to_owned(),
            confidence: e.confidence,
            created_at: e.created_at,
            updated_at: e.updated_at,
            version: e.version,
        }
    }
}

/// Rows were written by this service, so a row that does not parse is a bug (or a hand
/// edit): an internal error, never shown to the client.
impl TryFrom<ExpenseRow> for Expense {
    type Error = platform::Error;
    fn try_from(r: ExpenseRow) -> Result<Self, Self::Error> {
        let bad =
            |what: &str| platform::Error::internal(format!("expense {}: stored {what} is invalid", r.id));
        let currency = Currency::parse(&r.currency).map_err(|_| bad("currency"))?;
        Ok(Expense {
            id: r.id,
            user_id: r.user_id,
            amount: Money::from_minor(r.amount_minor, currency).map_err(|_| bad("amount"))?,
            merchant: Merchant::parse(&r.merchant).map_err(|_| bad("merchant"))?,
            category: Category::parse(&r.category).map_err(|_| bad("category"))?,
            occurred_on: r.occurred_on,
            note: Note::parse(&r.note).map_err(|_| bad("note"))?,
            raw_text: r.raw_text,
            source: Source::parse(&r.source).ok_or_else(|| bad("source"))?,
            confidence: r.confidence,
            created_at: r.created_at,
            updated_at: r.updated_at,
            version: r.version,
        })
    }
}

/// Many rows as one set of column arrays, for `INSERT … SELECT * FROM UNNEST(…)`: one
/// statement with 14 parameters whatever the number of rows.
#[derive(Debug, Default)]
pub struct ExpenseColumns {
    pub id: Vec<Uuid>,
    pub user_id: Vec<Uuid>,
    pub amount_minor: Vec<i64>,
    pub currency: Vec<String>,
    pub merchant: Vec<String>,
    pub category: Vec<String>,
    pub occurred_on: Vec<NaiveDate>,
    pub note: Vec<String>,
    pub raw_text: Vec<String>,
    pub source: Vec<String>,
    pub confidence: Vec<f32>,
    pub created_at: Vec<DateTime<Utc>>,
    pub updated_at: Vec<DateTime<Utc>>,
    pub version: Vec<i32>,
}

impl FromIterator<ExpenseRow> for ExpenseColumns {
    fn from_iter<I: IntoIterator<Item = ExpenseRow>>(rows: I) -> Self {
        let mut c = ExpenseColumns::default();
        for r in rows {
            c.id.push(r.id);
            c.user_id.push(r.user_id);
            c.amount_minor.push(r.amount_minor);
            c.currency.push(r.currency);
            c.merchant.push(r.merchant);
            c.category.push(r.category);
            c.occurred_on.push(r.occurred_on);
            c.note.push(r.note);
            c.raw_text.push(r.raw_text);
            c.source.push(r.source);
            c.confidence.push(r.confidence);
            c.created_at.push(r.created_at);
            c.updated_at.push(r.updated_at);
            c.version.push(r.version);
        }
        c
    }
}

impl ExpenseColumns {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
}

/// A summary line as the database computes it.
#[derive(Debug, Clone, QueryableByName)]
pub struct SummaryRow {
    #[diesel(sql_type = sql_types::Text)]
    pub key: String,
    #[diesel(sql_type = sql_types::Text)]
    pub currency: String,
    /// `sum(amount_minor)` (a `numeric`, so it cannot overflow) as text.
    #[diesel(sql_type = sql_types::Text)]
    pub total_minor: String,
    #[diesel(sql_type = sql_types::BigInt)]
    pub count: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct IdRow {
    #[diesel(sql_type = sql_types::Uuid)]
    pub id: Uuid,
}
