//! Queries, named after their key. Every read and write of a budget or alert is scoped by
//! the caller's `user_id`: another user's row is simply not found.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    prelude::*,
    sql_types::{Date, Nullable, Text, Uuid as SqlUuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{
    models::{AlertRow, BudgetRow, DayTotal, ExpenseRow, SpendingRow},
    schema::{alerts, budgets, deleted_users, expense_totals, expenses},
};
use crate::{
    domain::{Period, Spending},
    projection::Facts,
};

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

/// The user's budgets, oldest first.
pub async fn budgets_of(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Vec<BudgetRow>> {
    budgets::table
        .filter(budgets::user_id.eq(user_id))
        .order((budgets::created_at.asc(), budgets::id.asc()))
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
/// consumer's first read.
pub async fn find_expense_of_live_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    expense_id: Uuid,
) -> QueryResult<(bool, Option<ExpenseRow>)> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        deleted_user: bool,
        #[diesel(sql_type = Nullable<diesel::sql_types::Integer>)]
        version: Option<i32>,
        #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
        amount_minor: Option<i64>,
        #[diesel(sql_type = Nullable<Text>)]
        currency: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        category: Option<String>,
        #[diesel(sql_type = Nullable<Date>)]
        occurred_on: Option<NaiveDate>,
        #[diesel(sql_type = Nullable<diesel::sql_types::Bool>)]
        deleted: Option<bool>,
    }
    let h: Held = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM deleted_users WHERE user_id = $1) AS deleted_user, \
                e.version, e.amount_minor, e.currency, e.category, e.occurred_on, e.deleted \
         FROM (SELECT 1) one \
         LEFT JOIN expenses e ON e.user_id = $1 AND e.expense_id = $2",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<SqlUuid, _>(expense_id)
    .get_result(conn)
    .await?;
    let held = match (
        h.version,
        h.amount_minor,
        h.currency,
        h.category,
        h.occurred_on,
        h.deleted,
    ) {
        (
            Some(version),
            Some(amount_minor),
            Some(currency),
            Some(category),
            Some(occurred_on),
            Some(deleted),
        ) => Some(ExpenseRow {
            user_id,
            expense_id,
            version,
            amount_minor,
            currency,
            category,
            occurred_on,
            deleted,
        }),
        _ => None,
    };
    Ok((h.deleted_user, held))
}

/// Stores the expense as `row` says (a new version, or its tombstone).
pub async fn upsert_expense(conn: &mut AsyncPgConnection, row: &ExpenseRow) -> QueryResult<()> {
    diesel::insert_into(expenses::table)
        .values(row)
        .on_conflict((expenses::user_id, expenses::expense_id))
        .do_update()
        .set(row)
        .execute(conn)
        .await
        .map(drop)
}

/// Adds the expense to its day's total.
pub async fn add_to_totals(conn: &mut AsyncPgConnection, user_id: Uuid, facts: &Facts) -> QueryResult<()> {
    use expense_totals::dsl as t;
    diesel::insert_into(expense_totals::table)
        .values((
            t::user_id.eq(user_id),
            t::occurred_on.eq(facts.occurred_on),
            t::currency.eq(&facts.currency),
            t::category.eq(&facts.category),
            t::total.eq(facts.amount_minor),
            t::count.eq(1),
        ))
        .on_conflict((t::user_id, t::occurred_on, t::currency, t::category))
        .do_update()
        .set((
            t::total.eq(t::total + facts.amount_minor),
            t::count.eq(t::count + 1),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Takes the expense out of its day's total (which holds it: the projection added it).
/// An UPDATE, not an upsert: the proposed row of an upsert is checked before the conflict
/// is found, and a count of -1 fails `count >= 0`.
pub async fn remove_from_totals(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    facts: &Facts,
) -> QueryResult<()> {
    use expense_totals::dsl as t;
    diesel::update(
        t::expense_totals
            .filter(t::user_id.eq(user_id))
            .filter(t::occurred_on.eq(facts.occurred_on))
            .filter(t::currency.eq(&facts.currency))
            .filter(t::category.eq(&facts.category)),
    )
    .set((
        t::total.eq(t::total - facts.amount_minor),
        t::count.eq(t::count - 1),
    ))
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
/// one range scan serves every budget of a list, whatever their periods.
pub async fn day_totals(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<DayTotal>> {
    expense_totals::table
        .filter(expense_totals::user_id.eq(user_id))
        .filter(expense_totals::occurred_on.between(from, to))
        .filter(expense_totals::count.gt(0))
        .select(DayTotal::as_select())
        .load(conn)
        .await
}

// === alerts ===

/// Stores the alert unless one of its (budget, period, threshold) exists: `None` then.
pub async fn insert_alert(conn: &mut AsyncPgConnection, row: &AlertRow) -> QueryResult<Option<AlertRow>> {
    diesel::insert_into(alerts::table)
        .values(row)
        .on_conflict((alerts::budget_id, alerts::period_start, alerts::percent_threshold))
        .do_nothing()
        .returning(AlertRow::as_returning())
        .get_result(conn)
        .await
        .optional()
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
