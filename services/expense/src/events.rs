//! The Kafka adapters: decode, parse, apply idempotently.

use std::{collections::HashSet, sync::Arc};

use chrono::Utc;
use contracts::events::{ExpenseExtracted, UserDeleted};
use diesel_async::AsyncConnection;
use platform::{
    db::PgPool,
    idempotency::process_once,
    kafka::{Envelope, HandlerError},
};
use uuid::Uuid;

use crate::{
    batch_consumer::Rejected,
    domain::{Expense, ExtractedInput},
    store::{
        models::{ExpenseColumns, ExpenseRow},
        queries,
    },
};

/// Consumer name recorded with processed event ids.
pub const CONSUMER: &str = "expense-service";

fn extracted_input(e: &ExpenseExtracted) -> ExtractedInput<'_> {
    ExtractedInput {
        expense_id: &e.expense_id,
        user_id: &e.user_id,
        amount: &e.amount,
        currency: &e.currency,
        merchant: &e.merchant,
        category: e.category,
        occurred_on: &e.occurred_on,
        raw_text: &e.raw_text,
        source: e.source,
        confidence: e.confidence,
        extractor: &e.extractor,
    }
}

/// Stores a batch of extracted expenses in one transaction. Events already processed
/// (same `ce_id`), expenses already stored (same expense id) and expenses of deleted users
/// change nothing; an event whose content is invalid (amount, currency, date, ids) is
/// refused and dead-lettered, the others are stored.
pub async fn on_expenses_extracted(
    pool: &PgPool,
    batch: Arc<[Envelope<ExpenseExtracted>]>,
) -> Result<Vec<Rejected>, HandlerError> {
    let now = Utc::now();
    let mut rejected = vec![];
    let mut event_ids = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for (index, env) in batch.iter().enumerate() {
        match Expense::extracted(extracted_input(&env.event), now) {
            Ok(e) => {
                event_ids.push(env.id);
                rows.push(ExpenseRow::from(&e));
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
    if rows.is_empty() {
        return Ok(rejected);
    }
    // One consumer reads one topic, so every event of the batch comes from the same one.
    let topic = batch[0].topic.clone();
    let received = rows.len();
    let mut conn = pool.get().await?;
    let (fresh, inserted) = conn
        .transaction::<_, HandlerError, _>(async move |conn| {
            let fresh: HashSet<Uuid> = queries::record_new_events(conn, CONSUMER, &topic, event_ids.clone())
                .await?
                .into_iter()
                .collect();
            let new: ExpenseColumns = event_ids
                .iter()
                .zip(rows)
                .filter(|(id, _)| fresh.contains(id))
                .map(|(_, row)| row)
                .collect();
            if new.is_empty() {
                return Ok((0, 0));
            }
            queries::lock_users_shared(conn, new.user_id.iter().copied()).await?;
            let inserted = queries::insert_new_batch(conn, new).await?;
            Ok((fresh.len(), inserted))
        })
        .await?;
    tracing::info!(
        events = batch.len(),
        valid = received,
        new_events = fresh,
        inserted,
        rejected = rejected.len(),
        "ExpenseExtracted batch stored"
    );
    Ok(rejected)
}

/// Purges a deleted user's expenses and leaves a tombstone, so a late ExpenseExtracted of
/// that user is not stored. Idempotent.
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
