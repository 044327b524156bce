//! The projection of each user's expenses, and what a change of one does to their
//! budgets: applied in one transaction with the alerts it raises.

use std::collections::{hash_map::Entry, BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::{
    alerts,
    domain::{Level, Period, PeriodKind},
    store::{
        models::{BudgetRow, DayTotal, ExpenseRow},
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

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The projection moved; this many alerts were raised.
    Changed { alerts: usize },
    /// Older than (or as old as) what the projection holds: nothing changed.
    Stale,
    /// The user was deleted: nothing is kept of them.
    DeletedUser,
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

/// Applies `change` on `conn`, inside the caller's transaction: the user's lock, the
/// version rule, the new row or tombstone, then for every budget and period whose spending
/// rose, the thresholds crossed.
pub async fn apply(conn: &mut AsyncPgConnection, change: &ExpenseChange) -> QueryResult<Applied> {
    queries::lock_user(conn, change.user_id).await?;
    apply_locked(conn, change, &mut Budgets::default()).await
}

/// The budgets of users whose locks the transaction holds, read once per user however
/// many of their changes it applies: every writer of a budget (create, update, delete,
/// purge) takes the user's lock first, so they cannot change before the commit.
#[derive(Debug, Default)]
pub struct Budgets(HashMap<Uuid, Vec<BudgetRow>>);

impl Budgets {
    async fn of(&mut self, conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<&[BudgetRow]> {
        Ok(match self.0.entry(user_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(queries::budgets_of(conn, user_id).await?),
        })
    }
}

/// [`apply`] for a caller that already holds the user's lock in this transaction (a batch
/// takes all its users' locks in one statement), with the budgets read so far in it.
pub async fn apply_locked(
    conn: &mut AsyncPgConnection,
    change: &ExpenseChange,
    budgets: &mut Budgets,
) -> QueryResult<Applied> {
    // After the lock (its own statement: a statement's snapshot is taken before it waits).
    let (deleted_user, held) =
        queries::find_expense_of_live_user(conn, change.user_id, change.expense_id).await?;
    if deleted_user {
        return Ok(Applied::DeletedUser);
    }
    if !is_newer(change, held.as_ref()) {
        return Ok(Applied::Stale);
    }
    let old: Option<Facts> = held.as_ref().filter(|h| !h.deleted).map(|h| Facts {
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
        // A deletion without `before` of an expense never seen: nothing to keep or move.
        return Ok(Applied::Changed { alerts: 0 });
    };
    queries::upsert_expense(
        conn,
        &ExpenseRow {
            user_id: change.user_id,
            expense_id: change.expense_id,
            version: change.version,
            amount_minor: kept.amount_minor,
            currency: kept.currency,
            category: kept.category,
            occurred_on: kept.occurred_on,
            deleted: new.is_none(),
        },
    )
    .await?;
    if old == new {
        return Ok(Applied::Changed { alerts: 0 });
    }
    if let Some(o) = &old {
        queries::remove_from_totals(conn, change.user_id, o).await?;
    }
    if let Some(n) = &new {
        queries::add_to_totals(conn, change.user_id, n).await?;
    }

    // Every (budget, period) whose spending rose, with by how much.
    let mut rising = vec![];
    for budget in budgets.of(conn, change.user_id).await? {
        let Some(kind) = PeriodKind::from_name(&budget.period) else {
            tracing::error!(budget_id = %budget.id, period = %budget.period, "unreadable period; budget skipped");
            continue;
        };
        // The periods the expense left and entered (one when the day stayed in it).
        let periods: BTreeSet<Period> = [&old, &new]
            .into_iter()
            .flatten()
            .map(|e| kind.containing(e.occurred_on))
            .collect();
        for period in periods {
            let delta = contribution(budget, kind, period, new.as_ref())
                - contribution(budget, kind, period, old.as_ref());
            // Only rising spending crosses a threshold upward.
            if delta > 0 {
                rising.push((budget.clone(), period, delta));
            }
        }
    }
    let (Some(from), Some(to)) = (
        rising.iter().map(|(_, p, _)| p.start).min(),
        rising.iter().map(|(_, p, _)| p.end).max(),
    ) else {
        return Ok(Applied::Changed { alerts: 0 });
    };
    // One read of the user's day totals serves every budget the change touched.
    let totals = queries::day_totals(conn, change.user_id, from, to).await?;
    let mut raised = 0;
    for (budget, period, delta) in rising {
        let after =
            DayTotal::spending_of(&totals, &budget.currency, budget.category.as_deref(), period).spent;
        let level = |spent| Level {
            spent,
            amount: budget.amount_minor,
        };
        raised += alerts::raise(conn, &budget, period, level(after - delta), level(after))
            .await?
            .len();
    }
    Ok(Applied::Changed { alerts: raised })
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
}
