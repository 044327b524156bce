//! Queries, named after their key. Every read and write of a rule is scoped by its owner's
//! `user_id`: another user's rule is simply not found.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Bool, Int2, Int4, Int8, Nullable, Text, Timestamptz, Uuid as SqlUuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{
    models::{RuleRow, EXPLICIT, EXPLICIT_STRENGTH, LEARNED},
    schema::{deleted_users, expense_versions, rules},
};
use crate::memory::{Probe, MAX_RULES_PER_USER};

/// Advisory lock class of this service ("DSM1").
const LOCK_CLASS: i32 = 0x4453_4d31;

/// Serialises the writers of one user's rules until the transaction ends, so two of them
/// cannot both pass the 500-rule check, and a purge cannot interleave with learning.
async fn lock_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<Int4, _>(LOCK_CLASS)
        .bind::<Int4, _>(user_id.as_u128() as u32 as i32)
        .execute(conn)
        .await
        .map(drop)
}

// === rules ===

/// The rules of `user_id` that match `probe` (see `memory::Probe`, whose test this is):
/// one index range scan over the user's (at most 500) rules, and only the few that match
/// leave the database.
pub async fn matching_rules(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    probe: &Probe,
) -> QueryResult<Vec<RuleRow>> {
    let matches = diesel::dsl::sql::<Bool>("(pattern = ")
        .bind::<Text, _>(probe.key.clone())
        .sql(" OR strpos(")
        .bind::<Text, _>(probe.text.clone())
        .sql(", ' ' || pattern || ' ') > 0 OR strpos(")
        .bind::<Text, _>(probe.merchant.clone())
        .sql(", ' ' || pattern || ' ') > 0)");
    rules::table
        .filter(rules::user_id.eq(user_id))
        .filter(matches)
        .select(RuleRow::as_select())
        .load(conn)
        .await
}

/// Every rule of `user_id` (at most 500): one index range scan.
pub async fn rules_of_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Vec<RuleRow>> {
    rules::table
        .filter(rules::user_id.eq(user_id))
        .select(RuleRow::as_select())
        .load(conn)
        .await
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Int8)]
    n: i64,
}

/// How many rules `user_id` has, not counting one with `origin` and `pattern` (which a
/// write of that pattern replaces).
async fn count_others(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    origin: &str,
    pattern: &str,
) -> QueryResult<i64> {
    diesel::sql_query(
        "SELECT count(*) AS n FROM rules WHERE user_id = $1 AND NOT (origin = $2 AND pattern = $3)",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<Text, _>(origin)
    .bind::<Text, _>(pattern)
    .get_result::<Count>(conn)
    .await
    .map(|c| c.n)
}

/// A lesson to store: see [`learn`].
#[derive(Debug, Clone)]
pub struct Learned<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub pattern: &'a str,
    pub merchant: &'a str,
    pub category: &'a str,
    pub strength: i16,
    pub expense_id: Uuid,
    pub expense_version: i32,
    pub at: DateTime<Utc>,
}

/// What [`learn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnOutcome {
    /// Stored (new, or replacing a lesson of the same pattern and no greater strength).
    Stored,
    /// A stronger lesson of the same pattern stays (an entry never undoes a correction).
    Weaker,
    /// The user has 500 explicit rules: no room.
    Full,
}

/// Stores a learned rule, in the caller's transaction. At the 500-rule limit the least
/// recently updated learned rule makes room.
pub async fn learn(conn: &mut AsyncPgConnection, l: &Learned<'_>) -> QueryResult<LearnOutcome> {
    lock_user(conn, l.user_id).await?;
    if count_others(conn, l.user_id, LEARNED, l.pattern).await? >= MAX_RULES_PER_USER {
        let evicted = diesel::sql_query(
            "DELETE FROM rules WHERE id = (SELECT id FROM rules WHERE user_id = $1 AND origin = 'LEARNED' \
             AND pattern <> $2 ORDER BY updated_at, id LIMIT 1)",
        )
        .bind::<SqlUuid, _>(l.user_id)
        .bind::<Text, _>(l.pattern)
        .execute(conn)
        .await?;
        if evicted == 0 {
            return Ok(LearnOutcome::Full);
        }
    }
    let stored = diesel::sql_query(
        "INSERT INTO rules (id, user_id, pattern, merchant, category, origin, strength, expense_id, \
         expense_version, updated_at) VALUES ($1, $2, $3, $4, $5, 'LEARNED', $6, $7, $8, $9) \
         ON CONFLICT (user_id, origin, pattern) DO UPDATE SET merchant = EXCLUDED.merchant, \
         category = EXCLUDED.category, strength = EXCLUDED.strength, expense_id = EXCLUDED.expense_id, \
         expense_version = EXCLUDED.expense_version, updated_at = EXCLUDED.updated_at \
         WHERE rules.strength <= EXCLUDED.strength",
    )
    .bind::<SqlUuid, _>(l.id)
    .bind::<SqlUuid, _>(l.user_id)
    .bind::<Text, _>(l.pattern)
    .bind::<Text, _>(l.merchant)
    .bind::<Text, _>(l.category)
    .bind::<Int2, _>(l.strength)
    .bind::<Nullable<SqlUuid>, _>(Some(l.expense_id))
    .bind::<Nullable<Int4>, _>(Some(l.expense_version))
    .bind::<Timestamptz, _>(l.at)
    .execute(conn)
    .await?;
    Ok(if stored == 1 {
        LearnOutcome::Stored
    } else {
        LearnOutcome::Weaker
    })
}

/// Writes an explicit rule (replacing the caller's rule of the same pattern, which keeps its
/// id); `None` when the caller already has 500 other rules.
pub async fn write_explicit(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    pattern: &str,
    merchant: &str,
    category: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<RuleRow>> {
    lock_user(conn, user_id).await?;
    if count_others(conn, user_id, EXPLICIT, pattern).await? >= MAX_RULES_PER_USER {
        return Ok(None);
    }
    let row = RuleRow {
        id: Uuid::now_v7(),
        user_id,
        pattern: pattern.to_owned(),
        merchant: merchant.to_owned(),
        category: category.to_owned(),
        origin: EXPLICIT.to_owned(),
        strength: EXPLICIT_STRENGTH,
        expense_id: None,
        expense_version: None,
        hits: 0,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(rules::table)
        .values(&row)
        .on_conflict((rules::user_id, rules::origin, rules::pattern))
        .do_update()
        .set((
            rules::merchant.eq(merchant),
            rules::category.eq(category),
            rules::hits.eq(0),
            rules::updated_at.eq(now),
        ))
        .returning(RuleRow::as_returning())
        .get_result(conn)
        .await
        .map(Some)
}

/// Deletes the caller's rule `id`; whether there was one.
pub async fn delete_rule(conn: &mut AsyncPgConnection, user_id: Uuid, id: Uuid) -> QueryResult<bool> {
    diesel::delete(
        rules::table
            .filter(rules::id.eq(id))
            .filter(rules::user_id.eq(user_id)),
    )
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// Counts one extraction changed by rule `id`.
pub async fn count_hit(conn: &mut AsyncPgConnection, user_id: Uuid, id: Uuid) -> QueryResult<()> {
    diesel::update(
        rules::table
            .filter(rules::id.eq(id))
            .filter(rules::user_id.eq(user_id)),
    )
    .set(rules::hits.eq(rules::hits + 1))
    .execute(conn)
    .await
    .map(drop)
}

// === expense versions ===

/// Records `version` of `expense_id` if it is newer than the one seen; whether it was (an
/// older or equal one changes nothing).
pub async fn advance_version(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    expense_id: Uuid,
    version: i32,
) -> QueryResult<bool> {
    diesel::sql_query(
        "INSERT INTO expense_versions (expense_id, user_id, version) VALUES ($1, $2, $3) \
         ON CONFLICT (expense_id) DO UPDATE SET version = EXCLUDED.version \
         WHERE expense_versions.version < EXCLUDED.version",
    )
    .bind::<SqlUuid, _>(expense_id)
    .bind::<SqlUuid, _>(user_id)
    .bind::<Int4, _>(version)
    .execute(conn)
    .await
    .map(|n| n == 1)
}

// === users ===

pub async fn is_deleted(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        deleted_users::table.filter(deleted_users::user_id.eq(user_id)),
    ))
    .get_result(conn)
    .await
}

/// Forgets everything about `user_id` and leaves a tombstone; returns the rules removed.
pub async fn purge_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<usize> {
    lock_user(conn, user_id).await?;
    let removed = diesel::delete(rules::table.filter(rules::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    diesel::delete(expense_versions::table.filter(expense_versions::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    // The answers kept for their retries hold their texts.
    platform::requests::forget_user(conn, user_id).await?;
    diesel::insert_into(deleted_users::table)
        .values(deleted_users::user_id.eq(user_id))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(removed)
}
