//! The chunked projection (`apply_chunk`, the consumer's path) against one change at a time
//! (`apply`), on real PostgreSQL: seeded random sequences of changes — several users and
//! budgets, one expense changed many times, stale and repeated versions, deletions with and
//! without `before`, late changes of deleted expenses and of a deleted user, moves of
//! currency, category and date across weeks and months — cut into random chunks, must leave
//! the same projection, day totals, alerts and `BudgetAlert`s.

use budget_service::{
    domain::{BudgetSpec, PeriodKind},
    projection::{self, Applied, ChunkApplied, ExpenseChange, Facts},
    store::{models::BudgetRow, queries},
};
use chrono::NaiveDate;
use diesel::{sql_types::Text, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{Category, Currency, Money};
use platform::{db::PgPool, testing::Infra};
use rand::{rngs::StdRng, Rng, SeedableRng};
use uuid::Uuid;

async fn migrated_pool(infra: &Infra) -> PgPool {
    let db = infra.fresh_database().await;
    platform::db::migrate(&db, budget_service::MIGRATIONS)
        .await
        .expect("migrations");
    platform::db::pool(&db, 1).expect("pool")
}

fn budget(
    user: Uuid,
    amount: &str,
    currency: &str,
    category: Option<Category>,
    period: PeriodKind,
    percents: &[i32],
) -> BudgetRow {
    let currency = Currency::parse(currency).unwrap();
    BudgetRow::new(
        Uuid::now_v7(),
        user,
        &BudgetSpec {
            name: format!("{currency:?} {category:?} {period:?}"),
            amount: Money::parse(amount, currency).unwrap(),
            category,
            period,
            alert_percents: percents.to_vec(),
        },
        None,
    )
}

fn random_facts(rng: &mut StdRng) -> Facts {
    let first: NaiveDate = "2026-11-23".parse().unwrap();
    Facts {
        amount_minor: rng.random_range(100..4000),
        currency: if rng.random_bool(0.8) { "EUR" } else { "USD" }.into(),
        category: ["GROCERIES", "TRANSPORT", "FOOD_AND_DRINK"][rng.random_range(0..3)].into(),
        // Four weeks (Monday 23 November to Sunday 20 December) across a month's end.
        occurred_on: first + chrono::Days::new(rng.random_range(0..28)),
    }
}

/// Where expense-service is with one expense.
#[derive(Clone)]
enum Truth {
    NotYet,
    Live(i32, Facts),
    Deleted,
}

/// `n` changes of `users`' expenses: mostly what expense-service would send, in order,
/// with redeliveries of earlier changes and changes of wild versions mixed in.
fn sequence(rng: &mut StdRng, users: &[Uuid], n: usize) -> Vec<ExpenseChange> {
    // Six expenses of each user but the last (the deleted one), who has one; a deleted
    // expense is replaced by a new one.
    let mut expenses: Vec<(Uuid, Uuid)> = users
        .iter()
        .enumerate()
        .flat_map(|(i, u)| {
            let n = if i + 1 == users.len() { 1 } else { 6 };
            (0..n).map(move |_| (*u, Uuid::now_v7()))
        })
        .collect();
    let mut truth = vec![Truth::NotYet; expenses.len()];
    let mut sent: Vec<ExpenseChange> = vec![];
    while sent.len() < n {
        let i = rng.random_range(0..expenses.len());
        let (user_id, expense_id) = expenses[i];
        if matches!(truth[i], Truth::Deleted) && rng.random_bool(0.8) {
            continue;
        }
        let roll = rng.random_range(0..100);
        let change = if roll < 10 && !sent.is_empty() {
            // A redelivery (or a late copy) of an earlier change.
            sent[rng.random_range(0..sent.len())].clone()
        } else if roll < 18 || matches!(truth[i], Truth::Deleted) {
            // A change of any version, deletions with or without `before`.
            let after = rng.random_bool(0.6).then(|| random_facts(rng));
            let before = rng.random_bool(0.5).then(|| random_facts(rng));
            ExpenseChange {
                user_id,
                expense_id,
                version: rng.random_range(1..6),
                after,
                before,
            }
        } else {
            match truth[i].clone() {
                Truth::NotYet => {
                    let f = random_facts(rng);
                    truth[i] = Truth::Live(1, f.clone());
                    ExpenseChange {
                        user_id,
                        expense_id,
                        version: 1,
                        after: Some(f),
                        before: None,
                    }
                }
                Truth::Live(v, old) if rng.random_bool(0.85) => {
                    // An edit of some of the facts.
                    let mut f = old.clone();
                    let other = random_facts(rng);
                    match rng.random_range(0..4) {
                        0 => f.amount_minor = other.amount_minor,
                        1 => f.currency = other.currency,
                        2 => f.category = other.category,
                        _ => f.occurred_on = other.occurred_on,
                    }
                    truth[i] = Truth::Live(v + 1, f.clone());
                    ExpenseChange {
                        user_id,
                        expense_id,
                        version: v + 1,
                        after: Some(f),
                        before: Some(old),
                    }
                }
                Truth::Live(v, old) => {
                    truth[i] = Truth::Deleted;
                    // The user records another one.
                    expenses.push((user_id, Uuid::now_v7()));
                    truth.push(Truth::NotYet);
                    ExpenseChange {
                        user_id,
                        expense_id,
                        version: v,
                        after: None,
                        before: rng.random_bool(0.8).then_some(old),
                    }
                }
                Truth::Deleted => unreachable!("handled above"),
            }
        };
        sent.push(change);
    }
    sent
}

#[derive(QueryableByName)]
struct Dump {
    #[diesel(sql_type = Text)]
    s: String,
}

/// One table's rows as text, in a fixed order (for a readable diff).
async fn dump(conn: &mut AsyncPgConnection, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<Dump>(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .s
}

/// The projection, the day totals, the alerts (in the order they were raised) and the
/// outbox's event ids.
async fn state(pool: &PgPool) -> [String; 4] {
    let mut conn = pool.get().await.unwrap();
    [
        dump(
            &mut conn,
            "SELECT coalesce(string_agg(concat_ws(' ', user_id, expense_id, version, amount_minor, currency, \
             category, occurred_on, deleted), E'\\n' ORDER BY user_id, expense_id), '') AS s FROM expenses",
        )
        .await,
        // A day emptied by the changes may be kept at 0 by one path and never made by the other.
        dump(
            &mut conn,
            "SELECT coalesce(string_agg(concat_ws(' ', user_id, occurred_on, currency, category, total, count), \
             E'\\n' ORDER BY user_id, occurred_on, currency, category), '') AS s \
             FROM expense_totals WHERE count <> 0 OR total <> 0",
        )
        .await,
        dump(
            &mut conn,
            "SELECT coalesce(string_agg(concat_ws(' ', id, user_id, budget_id, budget_name, period_start, \
             percent_threshold, spent_minor, amount_minor, currency), E'\\n' ORDER BY created_at, id), '') AS s \
             FROM alerts",
        )
        .await,
        dump(
            &mut conn,
            "SELECT coalesce(string_agg(id::text, ' ' ORDER BY id), '') AS s FROM outbox",
        )
        .await,
    ]
}

async fn seeded(infra: &Infra, budgets: &[BudgetRow], deleted_user: Uuid) -> PgPool {
    let pool = migrated_pool(infra).await;
    let mut conn = pool.get().await.unwrap();
    for b in budgets {
        queries::insert_budget(&mut conn, b).await.unwrap();
    }
    queries::purge_user(&mut conn, deleted_user).await.unwrap();
    pool
}

#[tokio::test]
async fn chunks_of_random_changes_end_as_one_change_at_a_time() {
    let infra = Infra::from_env();
    let mut alerts_seen = 0;
    let mut stale_seen = 0;
    for seed in 0..6u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let users: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        let gone = Uuid::new_v4();
        let mut budgets = vec![];
        for u in &users {
            budgets.push(budget(
                *u,
                "100.00",
                "EUR",
                None,
                PeriodKind::Monthly,
                &[50, 80, 100],
            ));
            budgets.push(budget(
                *u,
                "40.00",
                "EUR",
                Some(Category::Groceries),
                PeriodKind::Monthly,
                &[80, 100],
            ));
            budgets.push(budget(
                *u,
                "30.00",
                "USD",
                None,
                PeriodKind::Weekly,
                &[80, 100, 150],
            ));
            budgets.push(budget(
                *u,
                "25.00",
                "EUR",
                Some(Category::Transport),
                PeriodKind::Weekly,
                &[25, 75],
            ));
        }
        let changes = sequence(&mut rng, &[users.clone(), vec![gone]].concat(), 400);

        let one = seeded(&infra, &budgets, gone).await;
        let mut expected = ChunkApplied::default();
        let mut conn = one.get().await.unwrap();
        for c in &changes {
            let c = c.clone();
            let applied = conn
                .transaction::<_, diesel::result::Error, _>(async move |conn| {
                    projection::apply(conn, &c).await
                })
                .await
                .unwrap();
            match applied {
                Applied::Changed { alerts } => {
                    expected.applied += 1;
                    expected.alerts += alerts;
                }
                Applied::Stale => expected.stale += 1,
                Applied::DeletedUser => expected.of_deleted_users += 1,
            }
        }
        drop(conn);

        let chunked = seeded(&infra, &budgets, gone).await;
        let mut got = ChunkApplied::default();
        let mut conn = chunked.get().await.unwrap();
        let mut rest = &changes[..];
        while !rest.is_empty() {
            let (chunk, after) = rest.split_at(rng.random_range(1..=60).min(rest.len()));
            rest = after;
            let chunk: Vec<ExpenseChange> = chunk.to_vec();
            let done = conn
                .transaction::<_, diesel::result::Error, _>(async move |conn| {
                    let refs: Vec<&ExpenseChange> = chunk.iter().collect();
                    projection::apply_chunk(conn, &refs).await
                })
                .await
                .unwrap();
            got.applied += done.applied;
            got.stale += done.stale;
            got.of_deleted_users += done.of_deleted_users;
            got.alerts += done.alerts;
        }
        drop(conn);

        assert_eq!(got, expected, "seed {seed}: what the changes did");
        println!("seed {seed}: {expected:?}");
        let (a, b) = (state(&one).await, state(&chunked).await);
        for (what, (x, y)) in ["expenses", "day totals", "alerts", "outbox ids"]
            .iter()
            .zip(a.iter().zip(&b))
        {
            assert_eq!(
                x, y,
                "seed {seed}: {what} one at a time (left) vs chunked (right)"
            );
        }
        alerts_seen += expected.alerts;
        stale_seen += expected.stale;
        assert!(
            expected.of_deleted_users > 0,
            "seed {seed}: the deleted user's changes were tried"
        );
    }
    // The sequences exercised what they are for.
    assert!(alerts_seen > 20, "{alerts_seen} alerts raised");
    assert!(stale_seen > 20, "{stale_seen} stale changes");
}
