//! Queries, named after their key. Every read and write of an expense is scoped by the
//! caller's `user_id`: an expense of another user is simply not found.

use diesel::{
    dsl::sql,
    pg::Pg,
    prelude::*,
    query_builder::{BoxedSqlQuery, SqlQuery},
    sql_types::{Array, BigInt, Bool, Date, Float4, Integer, Text, Timestamptz, Uuid as SqlUuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{
    models::{ExpenseColumns, ExpenseRow, IdRow, SummaryRow},
    schema::{deleted_users, expenses},
};
use crate::domain::{escape_like, GroupBy, ListQuery, SummaryQuery};

// === user locks ===
//
// Purging a user and storing a (late) expense of that user race: the purge's DELETE cannot
// see rows inserted by a transaction still in flight, and that transaction's tombstone check
// cannot see the purge's uncommitted tombstone. Writers of new expenses therefore hold a
// *shared* transaction-scoped advisory lock on the user's bucket and the purge an *exclusive*
// one: the purge waits for in-flight inserts (and deletes them), later inserts wait for the
// purge (and see the tombstone). Buckets bound the number of locks a batch of thousands of
// users takes (Postgres' lock table is small); a false conflict only delays a rare purge.

/// Advisory lock class of this service ("EXP1").
const LOCK_CLASS: i32 = 0x4558_5031;
const LOCK_BUCKETS: u128 = 64;

fn bucket(user_id: Uuid) -> i32 {
    (user_id.as_u128() % LOCK_BUCKETS) as i32
}

/// Takes the shared lock of every bucket of `users` until the transaction ends.
pub async fn lock_users_shared(
    conn: &mut AsyncPgConnection,
    users: impl IntoIterator<Item = Uuid>,
) -> QueryResult<()> {
    let mut buckets: Vec<i32> = users.into_iter().map(bucket).collect();
    buckets.sort_unstable();
    buckets.dedup();
    diesel::sql_query(
        "SELECT count(pg_advisory_xact_lock_shared($1, b)) FROM (SELECT b FROM unnest($2::int4[]) AS b ORDER BY b) s",
    )
    .bind::<Integer, _>(LOCK_CLASS)
    .bind::<Array<Integer>, _>(buckets)
    .execute(conn)
    .await
    .map(drop)
}

async fn lock_user_exclusive(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<Integer, _>(LOCK_CLASS)
        .bind::<Integer, _>(bucket(user_id))
        .execute(conn)
        .await
        .map(drop)
}

// === expenses ===

/// Whether the user's account was deleted (their expenses purged).
#[tracing::instrument(skip(conn))]
pub async fn is_deleted_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(deleted_users::table.find(user_id)))
        .get_result(conn)
        .await
}

#[tracing::instrument(skip_all, fields(id = %row.id, user_id = %row.user_id))]
pub async fn insert(conn: &mut AsyncPgConnection, row: &ExpenseRow) -> QueryResult<ExpenseRow> {
    diesel::insert_into(expenses::table)
        .values(row)
        .returning(ExpenseRow::as_returning())
        .get_result(conn)
        .await
}

/// Inserts the expenses whose id is new and whose user is not deleted, in one statement;
/// returns how many it inserted. A redelivered expense (same id) changes nothing, even
/// when the user edited it since.
#[tracing::instrument(skip_all, fields(rows = cols.len()))]
pub async fn insert_new_batch(conn: &mut AsyncPgConnection, cols: ExpenseColumns) -> QueryResult<usize> {
    if cols.is_empty() {
        return Ok(0);
    }
    insert_new_query(cols, "").execute(conn).await
}

/// As [`insert_new_batch`], returning the ids it inserted (each once, even when the batch
/// holds an id twice: the second conflicts with the first).
#[tracing::instrument(skip_all, fields(rows = cols.len()))]
pub async fn insert_new_batch_ids(
    conn: &mut AsyncPgConnection,
    cols: ExpenseColumns,
) -> QueryResult<Vec<Uuid>> {
    if cols.is_empty() {
        return Ok(vec![]);
    }
    let rows: Vec<IdRow> = insert_new_query(cols, " RETURNING id").load(conn).await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// One statement whatever the number of rows (the columns travel as 14 arrays).
fn insert_new_query(cols: ExpenseColumns, returning: &str) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(format!(
        "INSERT INTO expenses (id, user_id, amount_minor, currency, merchant, category, occurred_on, note, \
                               raw_text, source, confidence, created_at, updated_at, version) \
         SELECT t.* FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::text[], $6::text[], \
                                $7::date[], $8::text[], $9::text[], $10::text[], $11::float4[], \
                                $12::timestamptz[], $13::timestamptz[], $14::int4[]) \
              AS t(id, user_id, amount_minor, currency, merchant, category, occurred_on, note, raw_text, \
                   source, confidence, created_at, updated_at, version) \
         WHERE NOT EXISTS (SELECT 1 FROM deleted_users d WHERE d.user_id = t.user_id) \
         ON CONFLICT (id) DO NOTHING{returning}"
    ))
    .into_boxed()
    .bind::<Array<SqlUuid>, _>(cols.id)
    .bind::<Array<SqlUuid>, _>(cols.user_id)
    .bind::<Array<BigInt>, _>(cols.amount_minor)
    .bind::<Array<Text>, _>(cols.currency)
    .bind::<Array<Text>, _>(cols.merchant)
    .bind::<Array<Text>, _>(cols.category)
    .bind::<Array<Date>, _>(cols.occurred_on)
    .bind::<Array<Text>, _>(cols.note)
    .bind::<Array<Text>, _>(cols.raw_text)
    .bind::<Array<Text>, _>(cols.source)
    .bind::<Array<Float4>, _>(cols.confidence)
    .bind::<Array<Timestamptz>, _>(cols.created_at)
    .bind::<Array<Timestamptz>, _>(cols.updated_at)
    .bind::<Array<Integer>, _>(cols.version)
}

/// The stored expenses among `ids` (of whichever user), locked until the transaction ends.
#[tracing::instrument(skip_all, fields(ids = ids.len()))]
pub async fn find_by_ids_for_update(
    conn: &mut AsyncPgConnection,
    ids: Vec<Uuid>,
) -> QueryResult<Vec<ExpenseRow>> {
    expenses::table
        .filter(expenses::id.eq_any(ids))
        .select(ExpenseRow::as_select())
        .order(expenses::id)
        .for_update()
        .load(conn)
        .await
}

#[tracing::instrument(skip(conn))]
pub async fn find_by_id_for_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<ExpenseRow>> {
    expenses::table
        .find(id)
        .filter(expenses::user_id.eq(user_id))
        .select(ExpenseRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// As [`find_by_id_for_user`], locking the row until the transaction ends.
#[tracing::instrument(skip(conn))]
pub async fn find_by_id_for_user_for_update(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<ExpenseRow>> {
    expenses::table
        .find(id)
        .filter(expenses::user_id.eq(user_id))
        .select(ExpenseRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

#[tracing::instrument(skip_all, fields(id = %row.id))]
pub async fn update(conn: &mut AsyncPgConnection, row: &ExpenseRow) -> QueryResult<ExpenseRow> {
    diesel::update(
        expenses::table
            .find(row.id)
            .filter(expenses::user_id.eq(row.user_id)),
    )
    .set(row)
    .returning(ExpenseRow::as_returning())
    .get_result(conn)
    .await
}

/// Deletes the user's expense and returns it as it was; `None` when there was none.
#[tracing::instrument(skip(conn))]
pub async fn delete_by_id_for_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<ExpenseRow>> {
    diesel::delete(expenses::table.find(id).filter(expenses::user_id.eq(user_id)))
        .returning(ExpenseRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Deletes every expense of the user and leaves a tombstone; returns how many it deleted.
/// Idempotent. Run it in a transaction (the lock is transaction-scoped).
#[tracing::instrument(skip(conn))]
pub async fn purge_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<usize> {
    lock_user_exclusive(conn, user_id).await?;
    diesel::insert_into(deleted_users::table)
        .values(deleted_users::user_id.eq(user_id))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    // The answers kept for their retries hold their expenses.
    platform::requests::forget_user(conn, user_id).await?;
    diesel::delete(expenses::table.filter(expenses::user_id.eq(user_id)))
        .execute(conn)
        .await
}

/// One page of the user's expenses, newest first, plus one row to tell whether another
/// page follows. Served by `expenses_user_list`: the keyset condition is a row comparison,
/// which Postgres turns into the start of an index range scan.
#[tracing::instrument(skip_all, fields(%user_id, page_size = q.page_size))]
pub async fn list_page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    q: &ListQuery,
) -> QueryResult<Vec<ExpenseRow>> {
    let f = &q.filter;
    let mut query = expenses::table
        .filter(expenses::user_id.eq(user_id))
        .select(ExpenseRow::as_select())
        .into_boxed::<Pg>();
    if let Some(from) = f.from {
        query = query.filter(expenses::occurred_on.ge(from));
    }
    if let Some(to) = f.to {
        query = query.filter(expenses::occurred_on.le(to));
    }
    if let Some(c) = f.category {
        query = query.filter(expenses::category.eq(c.as_str()));
    }
    if let Some(m) = &f.merchant {
        query = query.filter(
            expenses::merchant
                .ilike(format!("%{}%", escape_like(m)))
                .escape('\\'),
        );
    }
    if let Some(c) = f.currency {
        query = query.filter(expenses::currency.eq(c.code()));
    }
    if let Some(lo) = f.min_minor {
        query = query.filter(expenses::amount_minor.ge(lo));
    }
    if let Some(hi) = f.max_minor {
        query = query.filter(expenses::amount_minor.le(hi));
    }
    if let Some(after) = q.after {
        query = query.filter(
            sql::<Bool>("(expenses.occurred_on, expenses.id) < (")
                .bind::<Date, _>(after.occurred_on)
                .sql(", ")
                .bind::<SqlUuid, _>(after.id)
                .sql(")"),
        );
    }
    query
        .order((expenses::occurred_on.desc(), expenses::id.desc()))
        .limit(q.page_size as i64 + 1)
        .load(conn)
        .await
}

/// Totals and counts per (key, currency), computed by Postgres: `sum(bigint)` is a
/// `numeric`, exact and unbounded, sent as text. Keys and currencies are ordered bytewise
/// (`COLLATE "C"`), whatever the database's locale.
#[tracing::instrument(skip_all, fields(%user_id, group_by = ?q.group_by))]
pub async fn summarize(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    q: &SummaryQuery,
) -> QueryResult<Vec<SummaryRow>> {
    // occurred_on is already the date in the user's own time zone (ds-service resolves
    // "yesterday" with the user's zone, and a manual entry is the date the user typed), so
    // the month of an expense is the month of occurred_on: no conversion here.
    let (select, group) = match q.group_by {
        GroupBy::Category => (
            "SELECT category AS key, currency, sum(amount_minor)::text AS total_minor, count(*) AS count",
            "GROUP BY category, currency",
        ),
        // Two steps: per day first (a cheap hash of a date), then per month over at most
        // ~31 rows per month and currency, so the date is formatted once per day rather than
        // once per expense (-35% on 100,000 expenses). `::timestamp`: no time zone at play.
        GroupBy::Month => (
            "SELECT to_char(occurred_on::timestamp, 'YYYY-MM') AS key, currency, \
                    sum(total)::text AS total_minor, sum(n)::int8 AS count \
             FROM (SELECT occurred_on, currency, sum(amount_minor) AS total, count(*) AS n",
            "GROUP BY occurred_on, currency) d GROUP BY 1, 2",
        ),
        // Grouped case-insensitively in two steps: per exact spelling first, then per
        // lower-cased merchant, whose key is its most used spelling (ties: the first
        // bytewise), the same in every currency.
        GroupBy::Merchant => (
            "WITH g AS (SELECT lower(merchant) AS k, merchant, currency, count(*) AS n, \
                               sum(amount_minor) AS total",
            "GROUP BY merchant, currency), \
             names AS (SELECT DISTINCT ON (k) k, merchant AS name \
                       FROM (SELECT k, merchant, sum(n) AS n FROM g GROUP BY k, merchant) s \
                       ORDER BY k, n DESC, merchant COLLATE \"C\") \
             SELECT names.name AS key, g.currency, sum(g.total)::text AS total_minor, \
                    sum(g.n)::int8 AS count \
             FROM g JOIN names USING (k) GROUP BY names.name, g.currency",
        ),
    };
    // Wrapped, so ORDER BY can name the output columns whatever the grouping. Placeholders
    // are numbered by hand: a boxed SQL query only appends the values.
    let mut query = diesel::sql_query("SELECT key, currency, total_minor, count FROM (")
        .into_boxed::<Pg>()
        .sql(select)
        .sql(" FROM expenses WHERE user_id = $1")
        .bind::<SqlUuid, _>(user_id);
    let mut n = 1;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if let Some(from) = q.from {
        query = query
            .sql(format!(" AND occurred_on >= {}", next()))
            .bind::<Date, _>(from);
    }
    if let Some(to) = q.to {
        query = query
            .sql(format!(" AND occurred_on <= {}", next()))
            .bind::<Date, _>(to);
    }
    if let Some(c) = q.currency {
        query = query
            .sql(format!(" AND currency = {}", next()))
            .bind::<Text, _>(c.code());
    }
    query
        .sql(" ")
        .sql(group)
        .sql(") s ORDER BY key COLLATE \"C\", currency COLLATE \"C\"")
        .load(conn)
        .await
}
