//! Raising alerts, inside the transaction of the change that crossed the thresholds: the
//! alert rows and their `BudgetAlert`s (through the outbox) commit together or not at all.

use chrono::{DateTime, Utc};
use contracts::{budget as pb, events::BudgetAlert};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use domain::Currency;
use platform::kafka::RawEvent;

use crate::{
    domain::{alert_id, crossed_thresholds, Level, Period},
    proto,
    store::{
        models::{AlertRow, BudgetRow},
        queries,
    },
};

/// The alert of `budget` reaching `threshold` in `period`, with the spending that did it.
pub fn row(budget: &BudgetRow, period: Period, threshold: i32, spent: i64, at: DateTime<Utc>) -> AlertRow {
    AlertRow {
        id: alert_id(budget.id, period.start, threshold),
        user_id: budget.user_id,
        budget_id: budget.id,
        budget_name: budget.name.clone(),
        period_start: period.start,
        percent_threshold: threshold,
        spent_minor: spent,
        amount_minor: budget.amount_minor,
        currency: budget.currency.clone(),
        created_at: at,
    }
}

/// The `BudgetAlert` of a stored alert. Its ce_id is the alert's id (UUIDv5 of budget,
/// period and threshold): a replay into an empty database republishes the same ids, which
/// consumers ignore.
fn event(stored: &AlertRow) -> RawEvent {
    let event = BudgetAlert {
        user_id: stored.user_id.to_string(),
        alert: Some(to_proto(stored)),
    };
    let mut raw = RawEvent::new(&event);
    raw.id = stored.id;
    raw
}

/// Stores the alerts of `rows` whose (budget, period, threshold) has none yet, and enqueues
/// their `BudgetAlert`s: one insert each, however many. A threshold already alerted for the
/// period stores and publishes nothing (the unique key), however often it is crossed:
/// redelivery, replays, and spending that drops and rises again. Returns the new alerts,
/// oldest first.
pub async fn store(conn: &mut AsyncPgConnection, rows: Vec<AlertRow>) -> QueryResult<Vec<AlertRow>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let asked = rows.len();
    let mut stored = queries::insert_alerts(conn, &rows).await?;
    stored.sort_by_key(|a| (a.created_at, a.id));
    if stored.len() < asked {
        tracing::debug!(
            raised_before = asked - stored.len(),
            "alerts raised before; nothing new for them"
        );
    }
    platform::outbox::enqueue_many(conn, stored.iter().map(event).collect()).await?;
    for a in &stored {
        tracing::info!(budget_id = %a.budget_id, threshold = a.percent_threshold, period_start = %a.period_start, spent = a.spent_minor, "budget alert");
    }
    Ok(stored)
}

/// Stores an alert for every threshold of `budget` that spending of `period` crossed from
/// `before` to `after` (a budget created or edited), as [`store`] does.
pub async fn raise(
    conn: &mut AsyncPgConnection,
    budget: &BudgetRow,
    period: Period,
    before: Level,
    after: Level,
) -> QueryResult<Vec<AlertRow>> {
    let now = Utc::now();
    let rows = crossed_thresholds(before, after, &budget.alert_percents)
        .into_iter()
        .zip(0..)
        .map(|(t, i)| {
            row(
                budget,
                period,
                t,
                after.spent,
                now + chrono::Duration::microseconds(i),
            )
        })
        .collect();
    store(conn, rows).await
}

/// The alert as its proto, for events and ListAlerts.
pub fn to_proto(row: &AlertRow) -> pb::Alert {
    let exponent = Currency::parse(&row.currency).map_or(2, |c| c.exponent());
    proto::alert(row, exponent)
}
