//! Idempotent consumption: the event id is recorded in the same transaction as the
//! event's effect, so a redelivered event changes nothing.

use diesel::{
    prelude::*,
    sql_types::{Array, Text, Uuid as SqlUuid},
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::{kafka::HandlerError, schema::processed_events};

/// Runs `effect` in a transaction together with recording `event_id` for `consumer`;
/// if that id was already recorded, does nothing. Returns whether the effect ran.
///
/// ```ignore
/// process_once(conn, "expense", topic, env.id, move |conn| Box::pin(async move { insert(conn, row).await })).await?;
/// ```
pub async fn process_once<F>(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    topic: &str,
    event_id: Uuid,
    effect: F,
) -> Result<bool, HandlerError>
where
    F: for<'r> FnOnce(&'r mut AsyncPgConnection) -> BoxFuture<'r, Result<(), HandlerError>> + Send,
{
    let consumer = consumer.to_owned();
    let topic = topic.to_owned();
    conn.transaction::<bool, HandlerError, _>(async move |conn| {
        let inserted = diesel::insert_into(processed_events::table)
            .values((
                processed_events::event_id.eq(event_id),
                processed_events::consumer.eq(&consumer),
                processed_events::topic.eq(&topic),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        if inserted == 0 {
            tracing::debug!(%event_id, "event already processed; skipping");
            return Ok(false);
        }
        effect(conn).await?;
        Ok(true)
    })
    .await
}

#[derive(QueryableByName)]
struct EventIdRow {
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
}

/// Records `event_ids` as processed by `consumer` and returns those that were not yet:
/// the batch form of [`process_once`] (same table, same key), one statement for the whole
/// batch. Run it in the transaction that applies the events, and apply only those returned.
#[tracing::instrument(skip_all, fields(events = event_ids.len()))]
pub async fn record_new_events(
    conn: &mut AsyncPgConnection,
    consumer: &str,
    topic: &str,
    event_ids: Vec<Uuid>,
) -> QueryResult<Vec<Uuid>> {
    let rows: Vec<EventIdRow> = diesel::sql_query(
        "INSERT INTO processed_events (event_id, consumer, topic) \
         SELECT e, $2, $3 FROM UNNEST($1::uuid[]) AS e \
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind::<Array<SqlUuid>, _>(event_ids)
    .bind::<Text, _>(consumer)
    .bind::<Text, _>(topic)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.event_id).collect())
}
