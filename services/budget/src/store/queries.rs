//! Queries, named after their key. Every read and write of a budget or alert is scoped by
//! the caller's `user_id`: another user's row is simply not found.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Bool, Date, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{
    models::{AlertRow, BudgetRow, DayTotal, ExpenseRow, SpendingRow, TotalDelta},
    schema::{alerts, budgets, deleted_users, expense_totals, expenses},
};
use crate::domain::{Period, Spending};

/// Advisory lock class of this service ("BUD1"), the first key of every user lock.
const LOCK_CLASS: i32 = 0x4255_4431;

/// Takes the user's exclusive lock until the transaction ends. Every writer takes it first
/// (expense changes, budget edits, the purge), so two changes of one user's spending never
/// interleave: each sees the other's effect when it computes "before" and "after", and a
/// threshold is neither skipped nor counted twice.
pub async fn lock_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<diesel::sql_types::Integer, _>(LOCK_CLASS)
        .bind::<diesel::sql_types::Integer, _>(lock_key(user_id))
        .execute(conn)
        .await
        .map(drop)
}

/// The second key of a user's lock: a fold of the id (a false conflict only waits).
fn lock_key(user_id: Uuid) -> i32 {
    let (hi, lo) = user_id.as_u64_pair();
    (hi ^ lo) as u32 as i32
}

/// Takes the exclusive locks of all `users` (the same locks as [`lock_user`]) in one
/// statement, in key order: two transactions locking several users never wait for each
/// other in a cycle.
pub async fn lock_users(
    conn: &mut AsyncPgConnection,
    users: impl IntoIterator<Item = Uuid>,
) -> QueryResult<()> {
    let mut keys: Vec<i32> = users.into_iter().map(lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    diesel::sql_query(
        "SELECT count(pg_advisory_xact_lock($1, k)) FROM (SELECT k FROM unnest($2::int4[]) AS k ORDER BY k) s",
    )
    .bind::<diesel::sql_types::Integer, _>(LOCK_CLASS)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Integer>, _>(keys)
    .execute(conn)
    .await
    .map(drop)
}

// === users ===

/// Deletes everything of the user and remembers the deletion. Returns the number of
/// budgets, expenses and alerts deleted.
#[tracing::instrument(skip(conn))]
pub async fn purge_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<(usize, usize, usize)> {
    diesel::insert_into(deleted_users::table)
        .values(deleted_users::user_id.eq(user_id))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let b = diesel::delete(budgets::table.filter(budgets::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    let e = diesel::delete(expenses::table.filter(expenses::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    let a = diesel::delete(alerts::table.filter(alerts::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    diesel::delete(expense_totals::table.filter(expense_totals::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    Ok((b, e, a))
}

// === budgets ===

/// The user's budgets, oldest first. On a shared reference: ListBudgets pipelines it with
/// [`day_totals`] (both sent before either answer is awaited).
pub async fn budgets_of(mut conn: &AsyncPgConnection, user_id: Uuid) -> QueryResult<Vec<BudgetRow>> {
    budgets::table
        .filter(budgets::user_id.eq(user_id))
        .order((budgets::created_at.asc(), budgets::id.asc()))
        .select(BudgetRow::as_select())
        .load(&mut conn)
        .await
}

/// The budgets of every user of `users`, per user oldest first: one statement for a
/// chunk's users.
pub async fn budgets_of_users(conn: &mut AsyncPgConnection, users: &[Uuid]) -> QueryResult<Vec<BudgetRow>> {
    budgets::table
        .filter(budgets::user_id.eq_any(users))
        .order((budgets::user_id, budgets::created_at.asc(), budgets::id.asc()))
        .select(BudgetRow::as_select())
        .load(conn)
        .await
}

pub async fn count_budgets(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<i64> {
    budgets::table
        .filter(budgets::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await
}

pub async fn find_budget(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<BudgetRow>> {
    budgets::table
        .filter(budgets::id.eq(id).and(budgets::user_id.eq(user_id)))
        .select(BudgetRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The budget a request created, if any (its id, or a row with its `request_id`).
pub async fn find_budget_by_request(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
    request_id: Uuid,
) -> QueryResult<Option<BudgetRow>> {
    budgets::table
        .filter(budgets::user_id.eq(user_id))
        .filter(budgets::id.eq(id).or(budgets::request_id.eq(request_id)))
        .select(BudgetRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert_budget(conn: &mut AsyncPgConnection, row: &BudgetRow) -> QueryResult<BudgetRow> {
    diesel::insert_into(budgets::table)
        .values(row)
        .returning(BudgetRow::as_returning())
        .get_result(conn)
        .await
}

/// Saves the definition of `row` (not its id, owner or request).
pub async fn update_budget(conn: &mut AsyncPgConnection, row: &BudgetRow) -> QueryResult<BudgetRow> {
    diesel::update(budgets::table.filter(budgets::id.eq(row.id).and(budgets::user_id.eq(row.user_id))))
        .set((
            budgets::name.eq(&row.name),
            budgets::amount_minor.eq(row.amount_minor),
            budgets::currency.eq(&row.currency),
            budgets::category.eq(&row.category),
            budgets::period.eq(&row.period),
            budgets::alert_percents.eq(&row.alert_percents),
            budgets::updated_at.eq(Utc::now()),
        ))
        .returning(BudgetRow::as_returning())
        .get_result(conn)
        .await
}

/// Whether a budget of the user was deleted.
pub async fn delete_budget(conn: &mut AsyncPgConnection, user_id: Uuid, id: Uuid) -> QueryResult<bool> {
    diesel::delete(budgets::table.filter(budgets::id.eq(id).and(budgets::user_id.eq(user_id))))
        .execute(conn)
        .await
        .map(|n| n > 0)
}

// === the projection ===

/// Whether the user was deleted, and the expense as held: one round trip for the
/// one-at-a-time path's first read.
pub async fn find_expense_of_live_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    expense_id: Uuid,
) -> QueryResult<(bool, Option<ExpenseRow>)> {
    let (deleted, mut held) = find_expenses_of_live_users(conn, &[(user_id, expense_id)]).await?;
    Ok((deleted.contains(&user_id), held.remove(&(user_id, expense_id))))
}

/// Which users of `keys` (user, expense) were deleted, and every expense of `keys` as held:
/// one statement for a whole chunk.
pub async fn find_expenses_of_live_users(
    conn: &mut AsyncPgConnection,
    keys: &[(Uuid, Uuid)],
) -> QueryResult<(HashSet<Uuid>, HashMap<(Uuid, Uuid), ExpenseRow>)> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = SqlUuid)]
        user_id: Uuid,
        #[diesel(sql_type = SqlUuid)]
        expense_id: Uuid,
        #[diesel(sql_type = Bool)]
        deleted_user: bool,
        #[diesel(sql_type = Nullable<Integer>)]
        version: Option<i32>,
        #[diesel(sql_type = Nullable<BigInt>)]
        amount_minor: Option<i64>,
        #[diesel(sql_type = Nullable<Text>)]
        currency: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        category: Option<String>,
        #[diesel(sql_type = Nullable<Date>)]
        occurred_on: Option<NaiveDate>,
        #[diesel(sql_type = Nullable<Bool>)]
        deleted: Option<bool>,
    }
    let (users, expenses): (Vec<Uuid>, Vec<Uuid>) = keys.iter().copied().unzip();
    let rows: Vec<Held> = diesel::sql_query(
        "SELECT k.user_id, k.expense_id, d.user_id IS NOT NULL AS deleted_user, \
                e.version, e.amount_minor, e.currency, e.category, e.occurred_on, e.deleted \
         FROM unnest($1::uuid[], $2::uuid[]) AS k(user_id, expense_id) \
         LEFT JOIN deleted_users d ON d.user_id = k.user_id \
         LEFT JOIN expenses e ON e.user_id = k.user_id AND e.expense_id = k.expense_id",
    )
    .bind::<Array<SqlUuid>, _>(users)
    .bind::<Array<SqlUuid>, _>(expenses)
    .load(conn)
    .await?;
    let mut deleted_users = HashSet::new();
    let mut held = HashMap::new();
    for h in rows {
        if h.deleted_user {
            deleted_users.insert(h.user_id);
        }
        if let (
            Some(version),
            Some(amount_minor),
            Some(currency),
            Some(category),
            Some(occurred_on),
            Some(deleted),
        ) = (
            h.version,
            h.amount_minor,
            h.currency,
            h.category,
            h.occurred_on,
            h.deleted,
        ) {
            held.insert(
                (h.user_id, h.expense_id),
                ExpenseRow {
                    user_id: h.user_id,
                    expense_id: h.expense_id,
                    version,
                    amount_minor,
                    currency,
                    category,
                    occurred_on,
                    deleted,
                },
            );
        }
    }
    Ok((deleted_users, held))
}

/// Stores the expenses as `rows` say (new versions, or tombstones), one statement for all
/// (column arrays through `unnest`: 8 parameters however many rows). At most one row per
/// expense: an upsert cannot touch one row twice.
pub async fn upsert_expenses(conn: &mut AsyncPgConnection, rows: &[ExpenseRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "INSERT INTO expenses (user_id, expense_id, version, amount_minor, currency, category, occurred_on, deleted) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int4[], $4::int8[], $5::text[], $6::text[], $7::date[], $8::bool[]) \
         ON CONFLICT (user_id, expense_id) DO UPDATE SET \
           version = excluded.version, amount_minor = excluded.amount_minor, currency = excluded.currency, \
           category = excluded.category, occurred_on = excluded.occurred_on, deleted = excluded.deleted",
    )
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|r| r.expense_id).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|r| r.version).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.amount_minor).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.currency.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.category.as_str()).collect::<Vec<_>>())
    .bind::<Array<Date>, _>(rows.iter().map(|r| r.occurred_on).collect::<Vec<_>>())
    .bind::<Array<Bool>, _>(rows.iter().map(|r| r.deleted).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map(drop)
}

/// Adds `deltas` (at most one per day, currency and category of a user) to the day totals,
/// one statement for all: an UPDATE of the days that have a total, an INSERT of the others.
/// Not an upsert: the proposed row of an upsert is checked before the conflict is found,
/// and a delta's count of -1 fails `count >= 0`. Only a delta that adds can start a day (one
/// that removes from a day without a total has nothing to remove, as an UPDATE would find).
pub async fn add_to_day_totals(conn: &mut AsyncPgConnection, deltas: &[TotalDelta]) -> QueryResult<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "WITH d (user_id, occurred_on, currency, category, total, count) AS ( \
           SELECT * FROM unnest($1::uuid[], $2::date[], $3::text[], $4::text[], $5::int8[], $6::int8[])), \
         updated AS ( \
           UPDATE expense_totals t SET total = t.total + d.total, count = t.count + d.count \
           FROM d WHERE t.user_id = d.user_id AND t.occurred_on = d.occurred_on \
             AND t.currency = d.currency AND t.category = d.category \
           RETURNING t.user_id, t.occurred_on, t.currency, t.category) \
         INSERT INTO expense_totals (user_id, occurred_on, currency, category, total, count) \
         SELECT d.* FROM d \
         WHERE d.count >= 0 AND NOT EXISTS ( \
           SELECT 1 FROM updated u WHERE u.user_id = d.user_id AND u.occurred_on = d.occurred_on \
             AND u.currency = d.currency AND u.category = d.category)",
    )
    .bind::<Array<SqlUuid>, _>(deltas.iter().map(|d| d.user_id).collect::<Vec<_>>())
    .bind::<Array<Date>, _>(deltas.iter().map(|d| d.occurred_on).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(deltas.iter().map(|d| d.currency.as_str()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(deltas.iter().map(|d| d.category.as_str()).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(deltas.iter().map(|d| d.total).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(deltas.iter().map(|d| d.count).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map(drop)
}

/// The spending of one budget in one period: one range scan of the user's day totals.
/// `category` `None` counts every category.
pub async fn spending(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    currency: &str,
    category: Option<&str>,
    period: Period,
) -> QueryResult<Spending> {
    let row: SpendingRow = diesel::sql_query(
        "SELECT COALESCE(SUM(total) FILTER (WHERE currency = $2), 0)::BIGINT AS spent, \
                COALESCE(SUM(count) FILTER (WHERE currency = $2), 0)::BIGINT AS count, \
                COALESCE(SUM(count) FILTER (WHERE currency <> $2), 0)::BIGINT AS other_currency \
         FROM expense_totals \
         WHERE user_id = $1 AND occurred_on BETWEEN $4 AND $5 \
           AND ($3::TEXT IS NULL OR category = $3)",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<Text, _>(currency)
    .bind::<Nullable<Text>, _>(category)
    .bind::<Date, _>(period.start)
    .bind::<Date, _>(period.end)
    .get_result(conn)
    .await?;
    Ok(Spending {
        spent: row.spent,
        count: row.count,
        other_currency: row.other_currency,
    })
}

/// The user's live expenses from `from` to `to`, summed per day, currency and category:
/// one range scan serves every budget of a list, whatever their periods. On a shared
/// reference, to be pipelined with [`budgets_of`].
pub async fn day_totals(
    mut conn: &AsyncPgConnection,
    user_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DayTotal>> {
    expense_totals::table
        .filter(expense_totals::user_id.eq(user_id))
        .filter(expense_totals::occurred_on.between(from, to))
        .filter(expense_totals::count.gt(0))
        .select(DayTotal::as_select())
        .load(&mut conn)
        .await
}

/// The live day totals of every (user, from, to) of `ranges`: one statement for a chunk's
/// users.
pub async fn day_totals_of_users(
    conn: &mut AsyncPgConnection,
    ranges: &[(Uuid, NaiveDate, NaiveDate)],
) -> QueryResult<Vec<(Uuid, DayTotal)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        user_id: Uuid,
        #[diesel(embed)]
        total: DayTotal,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT t.user_id, t.occurred_on, t.currency, t.category, t.total, t.count \
         FROM unnest($1::uuid[], $2::date[], $3::date[]) AS r(user_id, from_day, to_day) \
         JOIN expense_totals t ON t.user_id = r.user_id AND t.occurred_on BETWEEN r.from_day AND r.to_day \
         WHERE t.count > 0",
    )
    .bind::<Array<SqlUuid>, _>(ranges.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind::<Array<Date>, _>(ranges.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind::<Array<Date>, _>(ranges.iter().map(|r| r.2).collect::<Vec<_>>())
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.total)).collect())
}

// === alerts ===

/// Stores the alerts of `rows` whose (budget, period, threshold) has none yet, one
/// statement for all; returns those stored (in no particular order).
pub async fn insert_alerts(conn: &mut AsyncPgConnection, rows: &[AlertRow]) -> QueryResult<Vec<AlertRow>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    diesel::sql_query(
        "INSERT INTO alerts (id, user_id, budget_id, budget_name, period_start, percent_threshold, \
                             spent_minor, amount_minor, currency, created_at) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::date[], $6::int4[], \
                              $7::int8[], $8::int8[], $9::text[], $10::timestamptz[]) \
         ON CONFLICT DO NOTHING \
         RETURNING id, user_id, budget_id, budget_name, period_start, percent_threshold, \
                   spent_minor, amount_minor, currency, created_at",
    )
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|r| r.user_id).collect::<Vec<_>>())
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|r| r.budget_id).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.budget_name.as_str()).collect::<Vec<_>>())
    .bind::<Array<Date>, _>(rows.iter().map(|r| r.period_start).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|r| r.percent_threshold).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.spent_minor).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.amount_minor).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|r| r.currency.as_str()).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .load(conn)
    .await
}

/// The user's alerts, newest first, after the keyset position `after` (created_at, id).
pub async fn alerts_of(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<AlertRow>> {
    let mut q = alerts::table
        .filter(alerts::user_id.eq(user_id))
        .select(AlertRow::as_select())
        .order((alerts::created_at.desc(), alerts::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        // (created_at, id) < (at, id) as a row comparison, spelled out for diesel.
        q = q.filter(
            alerts::created_at
                .lt(at)
                .or(alerts::created_at.eq(at).and(alerts::id.lt(id))),
        );
    }
    q.load(conn).await
}
