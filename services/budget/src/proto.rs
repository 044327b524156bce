//! Rows and domain values as proto messages.

use chrono::{DateTime, Utc};
use contracts::budget as pb;

use crate::{
    domain::{format_minor, Period, Spending, State, Status},
    store::models::{AlertRow, BudgetRow},
};

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn state(s: State) -> pb::BudgetState {
    match s {
        State::Under => pb::BudgetState::Under,
        State::Warning => pb::BudgetState::Warning,
        State::Over => pb::BudgetState::Over,
    }
}

/// A budget with the spending of `period`; `exponent` is its currency's.
pub fn budget(row: &BudgetRow, exponent: u32, period: Period, spending: Spending) -> pb::Budget {
    let status = Status::of(spending.spent, row.amount_minor, &row.alert_percents);
    let period_enum = match row.period.as_str() {
        "WEEKLY" => pb::Period::Weekly,
        _ => pb::Period::Monthly,
    };
    pb::Budget {
        id: row.id.to_string(),
        name: row.name.clone(),
        amount: format_minor(row.amount_minor, exponent),
        currency: row.currency.clone(),
        category: row
            .category
            .as_deref()
            .and_then(|c| domain::Category::parse(c).ok())
            .map_or(0, |c| c.proto_number()),
        period: period_enum as i32,
        alert_percents: row.alert_percents.clone(),
        status: Some(pb::BudgetStatus {
            period_start: period.start.to_string(),
            period_end: period.end.to_string(),
            spent: format_minor(status.spent, exponent),
            remaining: format_minor(status.remaining, exponent),
            percent: status.percent,
            state: state(status.state) as i32,
            expense_count: i32::try_from(spending.count).unwrap_or(i32::MAX),
            other_currency_count: i32::try_from(spending.other_currency).unwrap_or(i32::MAX),
        }),
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
    }
}

pub fn alert(row: &AlertRow, exponent: u32) -> pb::Alert {
    pb::Alert {
        id: row.id.to_string(),
        budget_id: row.budget_id.to_string(),
        budget_name: row.budget_name.clone(),
        period_start: row.period_start.to_string(),
        percent_threshold: row.percent_threshold,
        spent: format_minor(row.spent_minor, exponent),
        amount: format_minor(row.amount_minor, exponent),
        currency: row.currency.clone(),
        created_at: Some(timestamp(row.created_at)),
    }
}
