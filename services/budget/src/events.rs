//! The Kafka adapters: `ExpenseChanged` moves the projection (and raises alerts), a chunk
//! of events per transaction (platform's batch consumer); `UserDeleted` purges the user,
//! one event per transaction (`process_once`). Each event takes effect once, then its
//! offset is stored. A change that makes no sense is dead-lettered.

use std::{collections::HashSet, sync::Arc};

use contracts::{
    events::{ExpenseChangeKind, ExpenseChanged, UserDeleted},
    expense::Expense,
};
use diesel_async::AsyncConnection;
use domain::{Category, Currency, Money};
use platform::{
    batch_consumer::Rejected,
    db::PgPool,
    idempotency::{process_once, record_new_events},
    kafka::{Envelope, HandlerError},
};
use uuid::Uuid;

use crate::{
    projection::{self, ExpenseChange, Facts},
    store::queries,
};

/// Consumer name recorded with processed event ids.
pub const CONSUMER: &str = "budget-service";

fn bad(message: String) -> HandlerError {
    HandlerError::Permanent(format!("ExpenseChanged: {message}"))
}

fn uuid_field(what: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value.trim()).map_err(|_| {
        let shown: String = value.chars().take(64).collect();
        bad(format!("{what} {shown:?} is not a UUID"))
    })
}

fn facts(which: &str, e: &Expense) -> Result<Facts, HandlerError> {
    let currency = Currency::parse(&e.currency).map_err(|err| bad(format!("{which}.currency: {err}")))?;
    let amount = Money::parse(&e.amount, currency).map_err(|err| bad(format!("{which}.amount: {err}")))?;
    let category = Category::from_proto_number(e.category)
        .ok_or_else(|| bad(format!("{which}.category {} is not a category", e.category)))?;
    let occurred_on = e
        .occurred_on
        .parse()
        .map_err(|_| bad(format!("{which}.occurred_on {:?} is not a date", e.occurred_on)))?;
    Ok(Facts {
        amount_minor: amount.minor(),
        currency: currency.code().to_owned(),
        category: category.as_str().to_owned(),
        occurred_on,
    })
}

/// Checks an `ExpenseChanged` and keeps what the projection needs.
pub fn parse(e: &ExpenseChanged) -> Result<ExpenseChange, HandlerError> {
    let user_id = uuid_field("user_id", &e.user_id)?;
    let expense_id = uuid_field("expense_id", &e.expense_id)?;
    let kind = ExpenseChangeKind::try_from(e.kind)
        .ok()
        .filter(|k| *k != ExpenseChangeKind::Unspecified)
        .ok_or_else(|| bad(format!("kind {} is not RECORDED, UPDATED or DELETED", e.kind)))?;
    let before = match (&e.before, kind) {
        (Some(b), _) => Some(facts("before", b)?),
        (None, ExpenseChangeKind::Recorded) => None,
        (None, k) => return Err(bad(format!("{} without `before`", k.as_str_name()))),
    };
    let after = match (&e.after, kind) {
        (_, ExpenseChangeKind::Deleted) => None,
        (Some(a), _) => Some(facts("after", a)?),
        (None, k) => return Err(bad(format!("{} without `after`", k.as_str_name()))),
    };
    // The version that orders this change: after's, or before's for a deletion.
    let versioned = if kind == ExpenseChangeKind::Deleted {
        &e.before
    } else {
        &e.after
    };
    let version = versioned.as_ref().map_or(0, |x| x.version);
    if version < 1 {
        return Err(bad(format!("version {version} is not positive")));
    }
    Ok(ExpenseChange {
        user_id,
        expense_id,
        version,
        after,
        before,
    })
}

/// Applies a chunk of `ExpenseChanged` (one partition's, in order) in one transaction:
/// every event id recorded at once, then the changes not yet processed applied together
/// with [`projection::apply_chunk`] (a fixed number of statements per chunk, the outcome of
/// applying them one by one). A change that makes no sense is refused (dead-lettered) and
/// the others applied; a database failure fails the whole chunk (the batch consumer retries
/// it, or splits it to isolate the culprit).
pub async fn on_expenses_changed(
    pool: &PgPool,
    batch: Arc<[Envelope<ExpenseChanged>]>,
) -> Result<Vec<Rejected>, HandlerError> {
    let mut rejected = vec![];
    let mut changes = Vec::with_capacity(batch.len());
    for (index, env) in batch.iter().enumerate() {
        match parse(&env.event) {
            Ok(c) => changes.push((env.id, c)),
            Err(err) => {
                let reason = match err {
                    HandlerError::Permanent(m) | HandlerError::Transient(m) => m,
                };
                tracing::warn!(event_id = %env.id, %reason, "invalid ExpenseChanged");
                rejected.push(Rejected { index, reason });
            }
        }
    }
    if changes.is_empty() {
        return Ok(rejected);
    }
    // One consumer reads one topic, so every event of the batch comes from the same one.
    let topic = batch[0].topic.clone();
    let mut conn = pool.get().await?;
    let done = conn
        .transaction::<_, HandlerError, _>(async move |conn| {
            let ids = changes.iter().map(|(id, _)| *id).collect();
            let fresh: HashSet<Uuid> = record_new_events(conn, CONSUMER, &topic, ids)
                .await?
                .into_iter()
                .collect();
            let fresh: Vec<&ExpenseChange> = changes
                .iter()
                .filter(|(id, _)| fresh.contains(id))
                .map(|(_, c)| c)
                .collect();
            Ok(projection::apply_chunk(conn, &fresh).await?)
        })
        .await?;
    tracing::debug!(
        events = batch.len(),
        applied = done.applied,
        stale = done.stale,
        of_deleted_users = done.of_deleted_users,
        alerts = done.alerts,
        rejected = rejected.len(),
        "ExpenseChanged batch applied"
    );
    Ok(rejected)
}

/// Handles one `UserDeleted`: budgets, projection and alerts of the user are deleted, and
/// the deletion remembered so a late change builds nothing back.
pub async fn on_user_deleted(pool: &PgPool, env: Envelope<UserDeleted>) -> Result<(), HandlerError> {
    let user_id = Uuid::parse_str(env.event.user_id.trim()).map_err(|_| {
        let shown: String = env.event.user_id.chars().take(64).collect();
        HandlerError::Permanent(format!("UserDeleted: user_id {shown:?} is not a UUID"))
    })?;
    let mut conn = pool.get().await?;
    process_once(&mut conn, CONSUMER, &env.topic, env.id, move |conn| {
        Box::pin(async move {
            queries::lock_user(conn, user_id).await?;
            let (budgets, expenses, alerts) = queries::purge_user(conn, user_id).await?;
            tracing::info!(%user_id, budgets, expenses, alerts, "user purged");
            Ok(())
        })
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expense(version: i32) -> Expense {
        Expense {
            id: Uuid::nil().to_string(),
            amount: "12.50".into(),
            currency: "EUR".into(),
            category: Category::Groceries.proto_number(),
            occurred_on: "2026-12-01".into(),
            version,
            ..Default::default()
        }
    }

    fn changed(kind: ExpenseChangeKind, before: Option<Expense>, after: Option<Expense>) -> ExpenseChanged {
        ExpenseChanged {
            user_id: Uuid::new_v4().to_string(),
            expense_id: Uuid::new_v4().to_string(),
            kind: kind as i32,
            before,
            after,
            ..Default::default()
        }
    }

    #[test]
    fn well_formed_changes_parse_with_the_version_that_orders_them() {
        let c = parse(&changed(ExpenseChangeKind::Recorded, None, Some(expense(1)))).unwrap();
        assert_eq!((c.version, c.after.unwrap().amount_minor), (1, 1250));
        let c = parse(&changed(ExpenseChangeKind::Deleted, Some(expense(4)), None)).unwrap();
        assert_eq!((c.version, c.after), (4, None));
        let c = parse(&changed(
            ExpenseChangeKind::Updated,
            Some(expense(1)),
            Some(expense(2)),
        ))
        .unwrap();
        assert_eq!(c.version, 2);
    }

    #[test]
    fn nonsense_is_permanent() {
        let mut wrong_amount = expense(1);
        wrong_amount.amount = "12.505".into();
        let mut no_category = expense(1);
        no_category.category = 0;
        let mut bad_user = changed(ExpenseChangeKind::Recorded, None, Some(expense(1)));
        bad_user.user_id = "me".into();
        for e in [
            changed(ExpenseChangeKind::Unspecified, None, Some(expense(1))),
            changed(ExpenseChangeKind::Recorded, None, None),
            changed(ExpenseChangeKind::Deleted, None, None),
            changed(ExpenseChangeKind::Updated, None, Some(expense(2))),
            changed(ExpenseChangeKind::Recorded, None, Some(expense(0))),
            changed(ExpenseChangeKind::Recorded, None, Some(wrong_amount)),
            changed(ExpenseChangeKind::Recorded, None, Some(no_category)),
            bad_user,
        ] {
            assert!(matches!(parse(&e), Err(HandlerError::Permanent(_))), "{e:?}");
        }
    }
}
