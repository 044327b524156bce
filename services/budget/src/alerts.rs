//! Raising alerts, inside the transaction of the change that crossed the thresholds: the
//! alert row and its `BudgetAlert` (through the outbox) commit together or not at all.

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

/// Stores an alert for every threshold of `budget` that spending of `period` crossed from
/// `before` to `after`, and enqueues its `BudgetAlert`. A threshold already alerted for the
/// period stores and publishes nothing (the unique key), however often it is crossed:
/// redelivery, replays, and spending that drops and rises again. Returns the new alerts.
pub async fn raise(
    conn: &mut AsyncPgConnection,
    budget: &BudgetRow,
    period: Period,
    before: Level,
    after: Level,
) -> QueryResult<Vec<AlertRow>> {
    let mut raised = vec![];
    for threshold in crossed_thresholds(before, after, &budget.alert_percents) {
        let row = AlertRow {
            id: alert_id(budget.id, period.start, threshold),
            user_id: budget.user_id,
            budget_id: budget.id,
            budget_name: budget.name.clone(),
            period_start: period.start,
            percent_threshold: threshold,
            spent_minor: after.spent,
            amount_minor: after.amount,
            currency: budget.currency.clone(),
            created_at: chrono::Utc::now(),
        };
        let Some(stored) = queries::insert_alert(conn, &row).await? else {
            tracing::debug!(budget_id = %budget.id, %threshold, period_start = %period.start, "alert raised before; nothing new");
            continue;
        };
        let exponent = Currency::parse(&stored.currency).map_or(2, |c| c.exponent());
        let event = BudgetAlert {
            user_id: stored.user_id.to_string(),
            alert: Some(proto::alert(&stored, exponent)),
        };
        // The event's ce_id is the alert's id (UUIDv5 of budget, period and threshold): a
        // replay into an empty database republishes the same ids, which consumers ignore.
        let mut raw = RawEvent::new(&event);
        raw.id = stored.id;
        platform::outbox::enqueue_raw(conn, raw).await?;
        tracing::info!(budget_id = %budget.id, %threshold, period_start = %period.start, spent = after.spent, "budget alert");
        raised.push(stored);
    }
    Ok(raised)
}

/// The alert as its proto, for events and ListAlerts.
pub fn to_proto(row: &AlertRow) -> pb::Alert {
    let exponent = Currency::parse(&row.currency).map_or(2, |c| c.exponent());
    proto::alert(row, exponent)
}
