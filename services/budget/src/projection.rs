//! The projection of each user's expenses, and what changes of them do to their budgets,
//! applied in the caller's transaction with the alerts they raise.
//!
//! The rules are pure functions that both ways of applying changes use: [`step`] (what one
//! change does to the expense as held: the version rule, tombstones), [`moves`] (whose
//! spending it changes, by how much) and [`crossings`] (which thresholds a sequence of such
//! deltas crosses upward). [`apply_chunk`] applies a chunk of changes with a fixed number of
//! statements however long it is (the consumer's path); [`apply`] applies one change with a
//! statement per step (the one-at-a-time reference the chunked path is tested and
//! benchmarked against).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::{
    alerts,
    domain::{crossed_thresholds, Level, Period, PeriodKind},
    store::{
        models::{AlertRow, BudgetRow, DayTotal, ExpenseRow, TotalDelta},
        queries,
    },
};

/// What counts of an expense: its amount, currency, category and day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub amount_minor: i64,
    pub currency: String,
    pub category: String,
    pub occurred_on: NaiveDate,
}

/// One change of an expense, as `ExpenseChanged` says (already validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpenseChange {
    pub user_id: Uuid,
    pub expense_id: Uuid,
    /// `after.version`, or `before.version` for a deletion.
    pub version: i32,
    /// The expense after the change; `None` for a deletion.
    pub after: Option<Facts>,
    /// The expense before it (UPDATED, DELETED): what a tombstone keeps when the projection
    /// never saw the expense.
    pub before: Option<Facts>,
}

/// What applying one change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The projection moved; this many alerts were raised.
    Changed { alerts: usize },
    /// Older than (or as old as) what the projection holds: nothing changed.
    Stale,
    /// The user was deleted: nothing is kept of them.
    DeletedUser,
}

/// What applying a chunk of changes did: how many of them [`Applied::Changed`] (the
/// alerts raised by all), were [`Applied::Stale`] or of [`Applied::DeletedUser`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkApplied {
    pub applied: usize,
    pub stale: usize,
    pub of_deleted_users: usize,
    pub alerts: usize,
}

/// Is the change newer than what is held? A deletion of version v comes after the update
/// that made version v (so it applies to a held v), and a tombstone of v is newer than
/// every change of version v (so a late RECORDED v=1 cannot bring it back).
fn is_newer(change: &ExpenseChange, held: Option<&ExpenseRow>) -> bool {
    match held {
        None => true,
        Some(h) if change.after.is_none() => !h.deleted && change.version >= h.version,
        Some(h) => change.version > h.version,
    }
}

/// What one change does to the expense as held.
// Made and taken apart once per change, never stored: boxing the row would only add an
// allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Older than (or as old as) what is held: nothing.
    Stale,
    /// A deletion without `before` of an expense never seen: nothing to keep or move.
    Unseen,
    /// The row to hold from now on (the new facts, or a tombstone with the last ones
    /// known), and the facts that stop and start counting (equal: no spending moves).
    Moved {
        row: ExpenseRow,
        old: Option<Facts>,
        new: Option<Facts>,
    },
}

/// The rule of one change: the version check, then the new row or tombstone.
pub fn step(change: &ExpenseChange, held: Option<&ExpenseRow>) -> Step {
    if !is_newer(change, held) {
        return Step::Stale;
    }
    let old: Option<Facts> = held.filter(|h| !h.deleted).map(|h| Facts {
        amount_minor: h.amount_minor,
        currency: h.currency.clone(),
        category: h.category.clone(),
        occurred_on: h.occurred_on,
    });
    let new = change.after.clone();
    // What the row keeps: the new facts, or for a tombstone the last ones known.
    let kept = new
        .clone()
        .or_else(|| old.clone())
        .or_else(|| change.before.clone());
    let Some(kept) = kept else {
        return Step::Unseen;
    };
    Step::Moved {
        row: ExpenseRow {
            user_id: change.user_id,
            expense_id: change.expense_id,
            version: change.version,
            amount_minor: kept.amount_minor,
            currency: kept.currency,
            category: kept.category,
            occurred_on: kept.occurred_on,
            deleted: new.is_none(),
        },
        old,
        new,
    }
}

/// How much `expense` adds to `budget`'s spending of `period` (0 if not counted there).
fn contribution(budget: &BudgetRow, kind: PeriodKind, period: Period, expense: Option<&Facts>) -> i64 {
    match expense {
        Some(e)
            if e.currency == budget.currency
                && budget.category.as_ref().is_none_or(|c| *c == e.category)
                && kind.containing(e.occurred_on) == period =>
        {
            e.amount_minor
        }
        _ => 0,
    }
}

/// Every (budget, period) of `budgets` (one user's) whose spending an expense moving from
/// `old` to `new` changes, with by how much: budgets in their order, then periods in theirs.
pub fn moves<'b>(
    budgets: &'b [BudgetRow],
    old: Option<&Facts>,
    new: Option<&Facts>,
) -> Vec<(&'b BudgetRow, Period, i64)> {
    let mut out = vec![];
    if old == new {
        return out;
    }
    for budget in budgets {
        let Some(kind) = PeriodKind::from_name(&budget.period) else {
            tracing::error!(budget_id = %budget.id, period = %budget.period, "unreadable period; budget skipped");
            continue;
        };
        // The periods the expense left and entered (one when the day stayed in it).
        let periods: BTreeSet<Period> = [old, new]
            .into_iter()
            .flatten()
            .map(|e| kind.containing(e.occurred_on))
            .collect();
        for period in periods {
            let delta = contribution(budget, kind, period, new) - contribution(budget, kind, period, old);
            if delta != 0 {
                out.push((budget, period, delta));
            }
        }
    }
    out
}

/// The day totals' part of an expense moving from `old` to `new`: out of the old day, into
/// the new one (netted when they are the same).
fn total_deltas(user_id: Uuid, old: Option<&Facts>, new: Option<&Facts>) -> Vec<TotalDelta> {
    let mut sums = TotalSums::default();
    sums.add(user_id, old, new);
    sums.into_deltas()
}

/// Day-total deltas summed per (user, day, currency, category).
#[derive(Debug, Default)]
struct TotalSums(BTreeMap<(Uuid, NaiveDate, String, String), (i64, i64)>);

impl TotalSums {
    fn add(&mut self, user_id: Uuid, old: Option<&Facts>, new: Option<&Facts>) {
        for (facts, sign) in [(old, -1), (new, 1)] {
            if let Some(f) = facts {
                let e = self
                    .0
                    .entry((user_id, f.occurred_on, f.currency.clone(), f.category.clone()))
                    .or_default();
                e.0 += sign * f.amount_minor;
                e.1 += sign;
            }
        }
    }

    /// The non-zero deltas, in key order.
    fn into_deltas(self) -> Vec<TotalDelta> {
        self.0
            .into_iter()
            .filter(|(_, (total, count))| (*total, *count) != (0, 0))
            .map(
                |((user_id, occurred_on, currency, category), (total, count))| TotalDelta {
                    user_id,
                    occurred_on,
                    currency,
                    category,
                    total,
                    count,
                },
            )
            .collect()
    }
}

/// A chunk of changes folded over the expenses as held, in order, as one at a time would
/// apply them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// The row each changed expense ends the chunk with, in key order.
    pub rows: Vec<ExpenseRow>,
    /// The chunk's net change of the day totals.
    pub totals: Vec<TotalDelta>,
    /// Every change that moved spending, in order: (user, old facts, new facts).
    pub moves: Vec<(Uuid, Option<Facts>, Option<Facts>)>,
    /// What each change did (`alerts` left at 0: they come later).
    pub counts: ChunkApplied,
}

/// Folds `changes` (in order) over `held` (every expense of theirs that the projection
/// holds, by (user, expense)); changes of `deleted_users` do nothing. Each change sees what
/// the changes before it left, so one expense changed several times in a chunk ends as it
/// would one change at a time.
pub fn fold<'c>(
    changes: impl IntoIterator<Item = &'c ExpenseChange>,
    mut held: HashMap<(Uuid, Uuid), ExpenseRow>,
    deleted_users: &HashSet<Uuid>,
) -> Folded {
    let mut out = Folded::default();
    let mut changed = BTreeSet::new();
    let mut sums = TotalSums::default();
    for change in changes {
        if deleted_users.contains(&change.user_id) {
            out.counts.of_deleted_users += 1;
            continue;
        }
        let key = (change.user_id, change.expense_id);
        match step(change, held.get(&key)) {
            Step::Stale => {
                out.counts.stale += 1;
                tracing::info!(expense_id = %change.expense_id, version = change.version, "older or repeated change of the expense; ignored");
            }
            Step::Unseen => out.counts.applied += 1,
            Step::Moved { row, old, new } => {
                out.counts.applied += 1;
                held.insert(key, row);
                changed.insert(key);
                if old != new {
                    sums.add(change.user_id, old.as_ref(), new.as_ref());
                    out.moves.push((change.user_id, old, new));
                }
            }
        }
    }
    out.rows = changed.into_iter().filter_map(|k| held.remove(&k)).collect();
    out.totals = sums.into_deltas();
    out
}

/// A threshold that spending crossed upward: the alert it raises unless one of its
/// (budget, period, threshold) exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing<'b> {
    pub budget: &'b BudgetRow,
    pub period: Period,
    pub threshold: i32,
    /// The period's spending right after the change that crossed it.
    pub spent: i64,
}

/// The thresholds that the deltas of a sequence of changes (`per_change`, in order: what
/// [`moves`] gave for each) cross upward, found exactly as applying them one at a time
/// would: each (budget, period) starts at its spending after all of them (`spent_after`)
/// minus their sum, and every rising delta is checked from the level before it to the
/// level after. Spending that rises past a threshold, falls back and rises again crosses it
/// once: only the first crossing of each (budget, period, threshold) is kept, as the alerts'
/// unique key would keep it.
pub fn crossings<'b>(
    per_change: &[Vec<(&'b BudgetRow, Period, i64)>],
    mut spent_after: impl FnMut(&BudgetRow, Period) -> i64,
) -> Vec<Crossing<'b>> {
    let mut sum: HashMap<(Uuid, Period), i64> = HashMap::new();
    for (budget, period, delta) in per_change.iter().flatten() {
        *sum.entry((budget.id, *period)).or_default() += delta;
    }
    let mut level: HashMap<(Uuid, Period), i64> = HashMap::new();
    let mut seen = HashSet::new();
    let mut out = vec![];
    for (budget, period, delta) in per_change.iter().flatten() {
        let key = (budget.id, *period);
        let spent = level
            .entry(key)
            .or_insert_with(|| spent_after(budget, *period) - sum[&key]);
        let before = *spent;
        *spent += delta;
        // Only rising spending crosses a threshold upward.
        if *delta <= 0 {
            continue;
        }
        let at = |spent| Level {
            spent,
            amount: budget.amount_minor,
        };
        for threshold in crossed_thresholds(at(before), at(*spent), &budget.alert_percents) {
            if seen.insert((budget.id, period.start, threshold)) {
                out.push(Crossing {
                    budget,
                    period: *period,
                    threshold,
                    spent: *spent,
                });
            }
        }
    }
    out
}

/// The days from the first to the last of `periods`, per user.
fn ranges<'a>(periods: impl IntoIterator<Item = (Uuid, &'a Period)>) -> Vec<(Uuid, NaiveDate, NaiveDate)> {
    let mut by_user: BTreeMap<Uuid, (NaiveDate, NaiveDate)> = BTreeMap::new();
    for (user, p) in periods {
        let r = by_user.entry(user).or_insert((p.start, p.end));
        r.0 = r.0.min(p.start);
        r.1 = r.1.max(p.end);
    }
    by_user.into_iter().map(|(u, (f, t))| (u, f, t)).collect()
}

/// Applies one change on `conn`, inside the caller's transaction, a statement per step:
/// the user's lock, the held row, the new row or tombstone, the day totals, the budgets,
/// their day totals, the alerts. The consumer applies chunks with [`apply_chunk`]; this is
/// the one-at-a-time reference it must agree with.
pub async fn apply(conn: &mut AsyncPgConnection, change: &ExpenseChange) -> QueryResult<Applied> {
    queries::lock_user(conn, change.user_id).await?;
    // After the lock (its own statement: a statement's snapshot is taken before it waits).
    let (deleted_user, held) =
        queries::find_expense_of_live_user(conn, change.user_id, change.expense_id).await?;
    if deleted_user {
        return Ok(Applied::DeletedUser);
    }
    let (row, old, new) = match step(change, held.as_ref()) {
        Step::Stale => return Ok(Applied::Stale),
        Step::Unseen => return Ok(Applied::Changed { alerts: 0 }),
        Step::Moved { row, old, new } => (row, old, new),
    };
    queries::upsert_expenses(conn, std::slice::from_ref(&row)).await?;
    if old == new {
        return Ok(Applied::Changed { alerts: 0 });
    }
    queries::add_to_day_totals(conn, &total_deltas(change.user_id, old.as_ref(), new.as_ref())).await?;
    let budgets = queries::budgets_of(conn, change.user_id).await?;
    let moved = moves(&budgets, old.as_ref(), new.as_ref());
    let Some(range) = ranges(moved.iter().filter(|m| m.2 > 0).map(|m| (change.user_id, &m.1))).pop() else {
        return Ok(Applied::Changed { alerts: 0 });
    };
    // One read of the user's day totals serves every budget the change touched.
    let totals = queries::day_totals(conn, change.user_id, range.1, range.2).await?;
    let crossed = crossings(&[moved], |b, p| {
        DayTotal::spending_of(&totals, &b.currency, b.category.as_deref(), p).spent
    });
    let raised = alerts::store(conn, alert_rows(&crossed)).await?;
    Ok(Applied::Changed { alerts: raised.len() })
}

/// The alert rows of `crossed`, stamped now in the order they were crossed (a microsecond
/// apart, so ListAlerts' newest-first order is the order in which they were raised).
fn alert_rows(crossed: &[Crossing<'_>]) -> Vec<AlertRow> {
    let now = Utc::now();
    crossed
        .iter()
        .zip(0..)
        .map(|(c, i)| {
            alerts::row(
                c.budget,
                c.period,
                c.threshold,
                c.spent,
                now + chrono::Duration::microseconds(i),
            )
        })
        .collect()
}

/// Applies a chunk of changes (in order) on `conn`, inside the caller's transaction, with
/// the same outcome as [`apply`] for each in turn, in a fixed number of statements: the
/// users' locks (key order); every held row and deleted-user mark; the fold in memory; all
/// rows in one upsert; all day-total deltas in one statement; the users' budgets; the day
/// totals of the periods whose spending rose; the replay of every change's deltas to find
/// each crossing; the new alerts and their `BudgetAlert`s in one insert each.
pub async fn apply_chunk(
    conn: &mut AsyncPgConnection,
    changes: &[&ExpenseChange],
) -> QueryResult<ChunkApplied> {
    if changes.is_empty() {
        return Ok(ChunkApplied::default());
    }
    // Every writer of a user's spending holds the user's lock; taking the chunk's all at
    // once, in key order, keeps the one-writer-per-user rule without a statement per change
    // or a lock cycle between chunks.
    queries::lock_users(conn, changes.iter().map(|c| c.user_id)).await?;
    let keys: BTreeSet<(Uuid, Uuid)> = changes.iter().map(|c| (c.user_id, c.expense_id)).collect();
    // After the lock (its own statement: a statement's snapshot is taken before it waits).
    let (deleted_users, held) =
        queries::find_expenses_of_live_users(conn, &keys.into_iter().collect::<Vec<_>>()).await?;
    let mut folded = fold(changes.iter().copied(), held, &deleted_users);
    queries::upsert_expenses(conn, &folded.rows).await?;
    queries::add_to_day_totals(conn, &folded.totals).await?;
    if folded.moves.is_empty() {
        return Ok(folded.counts);
    }
    let users: BTreeSet<Uuid> = folded.moves.iter().map(|m| m.0).collect();
    let mut budgets: HashMap<Uuid, Vec<BudgetRow>> = HashMap::new();
    for b in queries::budgets_of_users(conn, &users.into_iter().collect::<Vec<_>>()).await? {
        budgets.entry(b.user_id).or_default().push(b);
    }
    let per_change: Vec<Vec<(&BudgetRow, Period, i64)>> = folded
        .moves
        .iter()
        .map(|(user, old, new)| {
            moves(
                budgets.get(user).map_or(&[][..], Vec::as_slice),
                old.as_ref(),
                new.as_ref(),
            )
        })
        .collect();
    // The day totals of every period whose spending rose, one read for all users.
    let rising = ranges(
        per_change
            .iter()
            .flatten()
            .filter(|m| m.2 > 0)
            .map(|(b, p, _)| (b.user_id, p)),
    );
    if rising.is_empty() {
        return Ok(folded.counts);
    }
    let mut totals: HashMap<Uuid, Vec<DayTotal>> = HashMap::new();
    for (user, t) in queries::day_totals_of_users(conn, &rising).await? {
        totals.entry(user).or_default().push(t);
    }
    let crossed = crossings(&per_change, |b, p| {
        let of_user = totals.get(&b.user_id).map_or(&[][..], Vec::as_slice);
        DayTotal::spending_of(of_user, &b.currency, b.category.as_deref(), p).spent
    });
    folded.counts.alerts = alerts::store(conn, alert_rows(&crossed)).await?.len();
    Ok(folded.counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(amount: i64, day: &str) -> Facts {
        Facts {
            amount_minor: amount,
            currency: "EUR".into(),
            category: "GROCERIES".into(),
            occurred_on: day.parse().unwrap(),
        }
    }

    fn change(version: i32, after: Option<Facts>) -> ExpenseChange {
        ExpenseChange {
            user_id: Uuid::nil(),
            expense_id: Uuid::nil(),
            version,
            before: Some(facts(1, "2026-12-01")),
            after,
        }
    }

    fn held(version: i32, deleted: bool) -> ExpenseRow {
        ExpenseRow {
            user_id: Uuid::nil(),
            expense_id: Uuid::nil(),
            version,
            amount_minor: 1,
            currency: "EUR".into(),
            category: "GROCERIES".into(),
            occurred_on: "2026-12-01".parse().unwrap(),
            deleted,
        }
    }

    #[test]
    fn versions_order_changes_and_tombstones_win_ties() {
        let f = Some(facts(5, "2026-12-02"));
        assert!(is_newer(&change(1, f.clone()), None));
        assert!(is_newer(&change(3, f.clone()), Some(&held(2, false))));
        assert!(!is_newer(&change(2, f.clone()), Some(&held(2, false))));
        assert!(!is_newer(&change(1, f.clone()), Some(&held(2, false))));
        // DELETED carries before.version: the version it deletes.
        assert!(is_newer(&change(2, None), Some(&held(2, false))));
        assert!(!is_newer(&change(1, None), Some(&held(2, false))));
        assert!(!is_newer(&change(2, None), Some(&held(2, true))));
        // A late RECORDED or UPDATED of the deleted version cannot resurrect it.
        assert!(!is_newer(&change(2, f.clone()), Some(&held(2, true))));
        assert!(!is_newer(&change(1, f), Some(&held(2, true))));
    }

    #[test]
    fn an_expense_counts_in_its_period_currency_and_category_only() {
        let mut b = BudgetRow::new(
            Uuid::nil(),
            Uuid::nil(),
            &crate::domain::BudgetSpec {
                name: "g".into(),
                amount: domain::Money::parse("100", domain::Currency::parse("EUR").unwrap()).unwrap(),
                category: Some(domain::Category::Groceries),
                period: PeriodKind::Monthly,
                alert_percents: vec![80],
            },
            None,
        );
        let dec = PeriodKind::Monthly.containing("2026-12-15".parse().unwrap());
        let e = facts(700, "2026-12-31");
        assert_eq!(contribution(&b, PeriodKind::Monthly, dec, Some(&e)), 700);
        assert_eq!(
            contribution(&b, PeriodKind::Monthly, dec, Some(&facts(700, "2027-01-01"))),
            0
        );
        assert_eq!(contribution(&b, PeriodKind::Monthly, dec, None), 0);
        let usd = Facts {
            currency: "USD".into(),
            ..e.clone()
        };
        assert_eq!(contribution(&b, PeriodKind::Monthly, dec, Some(&usd)), 0);
        let food = Facts {
            category: "FOOD_AND_DRINK".into(),
            ..e.clone()
        };
        assert_eq!(contribution(&b, PeriodKind::Monthly, dec, Some(&food)), 0);
        b.category = None;
        assert_eq!(contribution(&b, PeriodKind::Monthly, dec, Some(&food)), 700);
    }

    fn budget(amount: i64, percents: &[i32]) -> BudgetRow {
        BudgetRow::new(
            Uuid::new_v4(),
            Uuid::nil(),
            &crate::domain::BudgetSpec {
                name: "b".into(),
                amount: domain::Money::from_minor(amount, domain::Currency::parse("EUR").unwrap()).unwrap(),
                category: None,
                period: PeriodKind::Monthly,
                alert_percents: percents.to_vec(),
            },
            None,
        )
    }

    #[test]
    fn a_step_keeps_the_new_facts_or_a_tombstone_of_the_last_known() {
        let Step::Moved { row, old, new } = step(&change(1, Some(facts(5, "2026-12-02"))), None) else {
            panic!("a first RECORDED moves");
        };
        assert_eq!((row.version, row.amount_minor, row.deleted), (1, 5, false));
        assert_eq!((old, new), (None, Some(facts(5, "2026-12-02"))));
        // A deletion of a held expense: a tombstone of what was held, its spending gone.
        let Step::Moved { row, old, new } = step(&change(2, None), Some(&held(2, false))) else {
            panic!("a deletion moves");
        };
        assert_eq!((row.version, row.amount_minor, row.deleted), (2, 1, true));
        assert_eq!((old, new), (Some(facts(1, "2026-12-01")), None));
        // A deletion of an expense never seen keeps `before`, and moves nothing.
        let Step::Moved { row, old, new } = step(&change(3, None), None) else {
            panic!("a tombstone of `before`");
        };
        assert!(row.deleted && old.is_none() && new.is_none());
        // Without `before` there is nothing to keep.
        let mut bare = change(3, None);
        bare.before = None;
        assert_eq!(step(&bare, None), Step::Unseen);
        assert_eq!(step(&change(1, None), Some(&held(2, false))), Step::Stale);
    }

    #[test]
    fn a_fold_sees_the_changes_before_it_in_the_chunk() {
        let mut deleted_user = change(1, Some(facts(7, "2026-12-03")));
        deleted_user.user_id = Uuid::from_u128(9);
        let changes = [
            change(1, Some(facts(5, "2026-12-02"))),
            change(2, Some(facts(8, "2026-12-02"))),
            // A late copy of v1 and a repeat of v2: stale after the two before them.
            change(1, Some(facts(5, "2026-12-02"))),
            change(2, Some(facts(8, "2026-12-02"))),
            change(3, Some(facts(8, "2026-12-05"))),
            deleted_user,
        ];
        let f = fold(&changes, HashMap::new(), &HashSet::from([Uuid::from_u128(9)]));
        assert_eq!(
            f.counts,
            ChunkApplied {
                applied: 3,
                stale: 2,
                of_deleted_users: 1,
                alerts: 0
            }
        );
        assert_eq!(f.rows.len(), 1, "one row per expense: {:?}", f.rows);
        assert_eq!((f.rows[0].version, f.rows[0].amount_minor), (3, 8));
        // The net of 5 on the 2nd, moved to 8, moved to the 5th: only the 5th keeps 8.
        let net: Vec<_> = f
            .totals
            .iter()
            .map(|d| (d.occurred_on.to_string(), d.total, d.count))
            .collect();
        assert_eq!(net, vec![("2026-12-05".to_string(), 8, 1)]);
        assert_eq!(f.moves.len(), 3);
        // A deletion of what the chunk recorded, then a late RECORDED of it: the tombstone stays.
        let f = fold(
            &[
                change(1, Some(facts(5, "2026-12-02"))),
                change(1, None),
                change(1, Some(facts(5, "2026-12-02"))),
            ],
            HashMap::new(),
            &HashSet::new(),
        );
        assert!(f.rows[0].deleted);
        assert!(f.totals.is_empty(), "{:?}", f.totals);
        assert_eq!(f.counts.stale, 1);
    }

    #[test]
    fn crossings_replay_the_deltas_in_order_and_keep_the_first_of_each_threshold() {
        let b = budget(10_000, &[80, 100]);
        let dec = PeriodKind::Monthly.containing("2026-12-09".parse().unwrap());
        // From 7,000: +1,500 crosses 80%, -2,000 falls back, +2,000 crosses 80% again (no
        // second alert), +2,000 crosses 100%. The chunk ends at 10,500.
        let per_change: Vec<_> = [1500, -2000, 2000, 2000]
            .into_iter()
            .map(|d| vec![(&b, dec, d)])
            .collect();
        let c = crossings(&per_change, |_, _| 10_500);
        let got: Vec<_> = c.iter().map(|c| (c.threshold, c.spent)).collect();
        assert_eq!(got, vec![(80, 8500), (100, 10_500)]);
        // Spending that only falls crosses nothing.
        assert!(crossings(&[vec![(&b, dec, -500)]], |_, _| 9000).is_empty());
        // One at a time is the same rule with one change.
        let one = crossings(&[vec![(&b, dec, 2000)]], |_, _| 9000);
        assert_eq!(one.iter().map(|c| c.threshold).collect::<Vec<_>>(), vec![80]);
    }

    #[test]
    fn moves_leave_one_period_and_enter_another() {
        let b = budget(10_000, &[80]);
        let (nov, dec) = (
            PeriodKind::Monthly.containing("2026-11-30".parse().unwrap()),
            PeriodKind::Monthly.containing("2026-12-01".parse().unwrap()),
        );
        let budgets = [b];
        let m = moves(
            &budgets,
            Some(&facts(300, "2026-11-30")),
            Some(&facts(500, "2026-12-01")),
        );
        let got: Vec<_> = m.iter().map(|(_, p, d)| (*p, *d)).collect();
        assert_eq!(got, vec![(nov, -300), (dec, 500)]);
        assert!(moves(
            &budgets,
            Some(&facts(1, "2026-12-01")),
            Some(&facts(1, "2026-12-01"))
        )
        .is_empty());
    }
}
