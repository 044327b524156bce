//! The Kafka adapters: decode, parse, apply idempotently.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use contracts::events::{ExpenseExtracted, UserDeleted};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use platform::{
    batch_consumer::Rejected,
    db::PgPool,
    idempotency::{process_once, record_new_events},
    kafka::{Envelope, HandlerError, RawEvent, TraceContext},
};
use uuid::Uuid;

use crate::{
    changes::{self, Cause},
    domain::{re_extracted, Expense},
    proto,
    store::{
        models::{ExpenseColumns, ExpenseRow},
        queries,
    },
};

/// Consumer name recorded with processed event ids.
pub const CONSUMER: &str = "expense-service";

/// How a batch's change events are written to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxRows {
    /// One `outbox_batches` row for the batch (`platform::outbox::enqueue_batch`).
    PerBatch,
    /// One `outbox` row per event (`platform::outbox::enqueue_many`): the design before
    /// `PerBatch`, kept for the ledger bench's same-run comparison.
    PerEvent,
}

/// Stores a batch of extracted expenses in one transaction, with the `ExpenseChanged` of
/// each change in the outbox (one row for the batch). Events already processed (same
/// `ce_id`) and expenses of deleted users change nothing; an expense already stored (same
/// id) changes only as [`re_extracted`] allows, so a replay never undoes the owner's edits.
/// An event whose content is invalid (amount, currency, date, ids) is refused and
/// dead-lettered, the others are stored.
pub async fn on_expenses_extracted(
    pool: &PgPool,
    batch: Arc<[Envelope<ExpenseExtracted>]>,
) -> Result<Vec<Rejected>, HandlerError> {
    on_expenses_extracted_with(pool, batch, OutboxRows::PerBatch).await
}

/// [`on_expenses_extracted`], writing the change events as `outbox_rows` says.
pub async fn on_expenses_extracted_with(
    pool: &PgPool,
    batch: Arc<[Envelope<ExpenseExtracted>]>,
    outbox_rows: OutboxRows,
) -> Result<Vec<Rejected>, HandlerError> {
    let now = crate::domain::now();
    let mut rejected = vec![];
    let mut event_ids = Vec::with_capacity(batch.len());
    let mut expenses = Vec::with_capacity(batch.len());
    for (index, env) in batch.iter().enumerate() {
        match Expense::extracted(proto::extracted_input(&env.event), now) {
            Ok(e) => {
                event_ids.push(env.id);
                expenses.push(Extraction {
                    expense: e,
                    at: proto::time(env.event.extracted_at.as_ref()),
                });
            }
            Err(err) => {
                tracing::warn!(event_id = %env.id, error = %err, "invalid ExpenseExtracted");
                rejected.push(Rejected {
                    index,
                    reason: format!("invalid ExpenseExtracted: {err}"),
                });
            }
        }
    }
    if expenses.is_empty() {
        return Ok(rejected);
    }
    // One consumer reads one topic, so every event of the batch comes from the same one.
    let topic = batch[0].topic.clone();
    let received = expenses.len();
    let mut conn = pool.get().await?;
    let stored = conn
        .transaction::<_, HandlerError, _>(async move |conn| {
            let fresh: HashSet<Uuid> = record_new_events(conn, CONSUMER, &topic, event_ids.clone())
                .await?
                .into_iter()
                .collect();
            let new: Vec<Extraction> = event_ids
                .iter()
                .zip(expenses)
                .filter(|(id, _)| fresh.contains(id))
                .map(|(_, e)| e)
                .collect();
            store_extractions(conn, new, now, outbox_rows).await
        })
        .await?;
    tracing::info!(
        events = batch.len(),
        valid = received,
        inserted = stored.inserted,
        updated = stored.updated,
        rejected = rejected.len(),
        "ExpenseExtracted batch stored"
    );
    Ok(rejected)
}

/// An extracted expense and when it was extracted.
struct Extraction {
    expense: Expense,
    at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Stored {
    inserted: usize,
    updated: usize,
}

/// Inserts the new expenses in one statement, applies later extractions of stored ones
/// (rare: row by row), and writes every change's event to the outbox in one statement.
async fn store_extractions(
    conn: &mut AsyncPgConnection,
    new: Vec<Extraction>,
    now: DateTime<Utc>,
    outbox_rows: OutboxRows,
) -> Result<Stored, HandlerError> {
    if new.is_empty() {
        return Ok(Stored::default());
    }
    queries::lock_users_shared(conn, new.iter().map(|x| x.expense.user_id)).await?;
    let cols: ExpenseColumns = new.iter().map(|x| ExpenseRow::from(&x.expense)).collect();
    let mut inserted: HashSet<Uuid> = queries::insert_new_batch_ids(conn, cols)
        .await?
        .into_iter()
        .collect();
    // Every change event carries the batch's trace context: read once.
    let trace = TraceContext::current();
    let mut changes = Vec::with_capacity(inserted.len());
    let mut known = vec![];
    for x in new {
        // `remove`: an id twice in the batch was inserted once, by its first event.
        if inserted.remove(&x.expense.id) {
            changes.push(RawEvent::with_trace(
                &changes::recorded(&x.expense, Cause::Extracted),
                &trace,
            ));
        } else if x.at.is_some() {
            known.push(x);
        }
    }
    let mut stored = Stored {
        inserted: changes.len(),
        updated: 0,
    };
    if !known.is_empty() {
        let ids = known.iter().map(|x| x.expense.id).collect();
        let mut rows: HashMap<Uuid, ExpenseRow> = queries::find_by_ids_for_update(conn, ids)
            .await?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        for x in known {
            let Some(row) = rows.get(&x.expense.id) else {
                continue; // a deleted user's, or deleted by its owner
            };
            let before = Expense::try_from(row.clone())?;
            let Some((after, changed)) = re_extracted(&before, &x.expense, x.at, now) else {
                continue;
            };
            let row = queries::update(conn, &ExpenseRow::from(&after)).await?;
            changes.push(RawEvent::with_trace(
                &changes::updated(&before, &after, &changed, Cause::Extracted),
                &trace,
            ));
            rows.insert(row.id, row);
            stored.updated += 1;
        }
    }
    match outbox_rows {
        OutboxRows::PerBatch => platform::outbox::enqueue_batch(conn, changes).await?,
        OutboxRows::PerEvent => platform::outbox::enqueue_many(conn, changes).await?,
    };
    Ok(stored)
}

/// Purges a deleted user's expenses and leaves a tombstone, so a late ExpenseExtracted of
/// that user is not stored. Idempotent. Publishes no `ExpenseChanged`: every consumer of
/// those purges on `UserDeleted` itself.
pub async fn on_user_deleted(pool: &PgPool, env: Envelope<UserDeleted>) -> Result<(), HandlerError> {
    let user_id = Uuid::parse_str(env.event.user_id.trim())
        .map_err(|_| HandlerError::Permanent(format!("user_id {:?} is not a UUID", env.event.user_id)))?;
    let mut conn = pool.get().await?;
    let applied = process_once(&mut conn, CONSUMER, &env.topic, env.id, move |conn| {
        Box::pin(async move {
            let purged = queries::purge_user(conn, user_id).await?;
            tracing::info!(%user_id, purged, "expenses of a deleted user purged");
            Ok(())
        })
    })
    .await?;
    tracing::info!(%user_id, event_id = %env.id, applied, "UserDeleted");
    Ok(())
}
