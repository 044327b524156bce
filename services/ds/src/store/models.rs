//! Rows, and their conversion to the memory's types and to the API's `Rule`.

use chrono::{DateTime, Utc};
use contracts::ds::{Rule as RuleMessage, RuleOrigin};
use diesel::prelude::*;
use domain::Category;
use uuid::Uuid;

use super::schema::rules;
use crate::memory::{Rule, RuleKind, Strength};

pub const LEARNED: &str = "LEARNED";
pub const EXPLICIT: &str = "EXPLICIT";
/// `rules.strength` of an explicit rule (above every learned one).
pub const EXPLICIT_STRENGTH: i16 = 3;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = rules, check_for_backend(diesel::pg::Pg))]
pub struct RuleRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub pattern: String,
    pub merchant: String,
    pub category: String,
    pub origin: String,
    pub strength: i16,
    pub expense_id: Option<Uuid>,
    pub expense_version: Option<i32>,
    pub hits: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn strength_column(s: Strength) -> i16 {
    s as i16
}

impl RuleRow {
    fn category(&self) -> Result<Category, platform::Error> {
        Category::parse(&self.category)
            .map_err(|_| platform::Error::internal(format!("rule {}: stored category is invalid", self.id)))
    }

    fn kind(&self) -> RuleKind {
        match (self.origin.as_str(), self.strength) {
            (EXPLICIT, _) => RuleKind::Explicit,
            (_, s) if s >= Strength::Corrected as i16 => RuleKind::Corrected,
            _ => RuleKind::Entered,
        }
    }

    /// The rule as extraction uses it. Rows were written by this service, so one that does
    /// not parse is a bug: an internal error.
    pub fn to_rule(&self) -> Result<Rule, platform::Error> {
        Ok(Rule {
            id: self.id,
            pattern: self.pattern.clone(),
            merchant: self.merchant.clone(),
            category: self.category()?,
            kind: self.kind(),
            updated_at: self.updated_at,
        })
    }

    pub fn to_message(&self) -> Result<RuleMessage, platform::Error> {
        Ok(RuleMessage {
            id: self.id.to_string(),
            merchant_pattern: self.pattern.clone(),
            merchant: self.merchant.clone(),
            category: self.category()?.proto_number(),
            origin: if self.origin == EXPLICIT {
                RuleOrigin::Explicit
            } else {
                RuleOrigin::Learned
            } as i32,
            hits: self.hits,
            updated_at: Some(prost_types::Timestamp {
                seconds: self.updated_at.timestamp(),
                nanos: self.updated_at.timestamp_subsec_nanos() as i32,
            }),
        })
    }
}
