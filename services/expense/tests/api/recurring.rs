//! ListRecurringExpenses on the real database: series found in the caller's ledger only.

use chrono::{Datelike, Months, NaiveDate};
use contracts::expense::{ListRecurringExpensesRequest, Series};
use uuid::Uuid;

use crate::helpers::{days_ago, row, spawn_app, today, TestApp};

const MONTHLY: i32 = 2;
const WEEKLY: i32 = 1;
const YEARLY: i32 = 3;
const ENTERTAINMENT: i32 = 8;

async fn recurring(app: &TestApp, user: Uuid) -> Result<Vec<Series>, tonic::Status> {
    app.client
        .clone()
        .list_recurring_expenses(app.request(user, ListRecurringExpensesRequest {}))
        .await
        .map(|r| r.into_inner().series)
}

/// The `day` of the month `back` months before this one (the month's last day when shorter).
fn months_ago(back: u32, day: u32) -> NaiveDate {
    let first = today().with_day(1).unwrap() - Months::new(back);
    let last = (first + Months::new(1)).pred_opt().unwrap();
    first.with_day(day.min(last.day())).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn series_come_from_the_callers_own_ledger_ordered_by_next_expected_date() {
    let app = spawn_app().await;
    let (asha, ben) = (Uuid::now_v7(), Uuid::now_v7());

    // Asha: Netflix on the 31st for six months (one skipped), a weekly class, a yearly
    // membership, a one-off at Netflix and irregular groceries.
    let mut netflix = vec![];
    for back in [6, 5, 4, 2, 1] {
        netflix.push(row(
            asha,
            1549,
            "USD",
            "NETFLIX.COM",
            "ENTERTAINMENT",
            months_ago(back, 31),
        ));
    }
    let mut yoga = vec![];
    for week in (1..=6).rev() {
        yoga.push(row(
            asha,
            2000,
            "EUR",
            "Yoga Studio",
            "HEALTH",
            days_ago(week * 7),
        ));
    }
    let mut prime = vec![];
    for year in [2, 1, 0] {
        let on = days_ago(30) - Months::new(12 * year);
        prime.push(row(asha, 13900, "USD", "Amazon Prime", "SHOPPING", on));
    }
    let one_off = row(asha, 1549, "USD", "Netflix", "ENTERTAINMENT", months_ago(3, 12));
    let groceries: Vec<_> = [3, 11, 40, 47, 90, 130]
        .into_iter()
        .map(|d| {
            row(
                asha,
                4000 + d * 17,
                "USD",
                "Whole Foods",
                "GROCERIES",
                days_ago(d),
            )
        })
        .collect();
    // Ben: the same merchant, his own series.
    let bens: Vec<_> = [3, 2, 1]
        .into_iter()
        .map(|back| row(ben, 999, "USD", "Netflix", "ENTERTAINMENT", months_ago(back, 10)))
        .collect();
    let ids = |rows: &[expense_service::store::models::ExpenseRow]| -> Vec<String> {
        rows.iter().map(|r| r.id.to_string()).collect()
    };
    let (netflix_ids, yoga_ids, prime_ids, ben_ids) = (ids(&netflix), ids(&yoga), ids(&prime), ids(&bens));
    let mut all = vec![one_off];
    for set in [netflix, yoga, prime, groceries, bens] {
        all.extend(set);
    }
    app.seed(all).await;

    let series = recurring(&app, asha).await.unwrap();
    assert_eq!(series.len(), 3, "{series:#?}");
    let by_cadence = |c: i32| series.iter().find(|s| s.cadence == c).unwrap();

    let n = by_cadence(MONTHLY);
    assert_eq!(n.expense_ids, netflix_ids, "the one-off is not part of it");
    assert_eq!((n.merchant.as_str(), n.currency.as_str()), ("NETFLIX.COM", "USD"));
    assert_eq!((n.typical_amount.as_str(), n.count), ("15.49", 5));
    assert_eq!(n.category, ENTERTAINMENT);
    assert_eq!(n.first_on, months_ago(6, 31).to_string());
    assert_eq!(n.last_on, months_ago(1, 31).to_string());
    assert_eq!(n.next_expected_on, months_ago(0, 31).to_string());

    let y = by_cadence(WEEKLY);
    assert_eq!(y.expense_ids, yoga_ids);
    assert_eq!((y.typical_amount.as_str(), y.currency.as_str()), ("20.00", "EUR"));
    assert_eq!(y.next_expected_on, today().to_string());

    let p = by_cadence(YEARLY);
    assert_eq!(p.expense_ids, prime_ids);
    assert_eq!(p.typical_amount, "139.00");
    assert_eq!(p.next_expected_on, (days_ago(30) + Months::new(12)).to_string());

    let next: Vec<&str> = series.iter().map(|s| s.next_expected_on.as_str()).collect();
    let mut sorted = next.clone();
    sorted.sort();
    assert_eq!(next, sorted, "ordered by next_expected_on");

    // Ben sees his own series only, and a stranger none.
    let bens = recurring(&app, ben).await.unwrap();
    assert_eq!(bens.len(), 1, "{bens:#?}");
    assert_eq!(bens[0].expense_ids, ben_ids);
    assert_eq!(bens[0].typical_amount, "9.99");
    assert!(recurring(&app, Uuid::now_v7()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn expenses_older_than_the_window_are_not_read() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    // A monthly series that ended four years ago.
    let old: Vec<_> = (0..6)
        .map(|m| {
            row(
                user,
                500,
                "GBP",
                "Old Gym",
                "HEALTH",
                days_ago(1_500) + Months::new(m),
            )
        })
        .collect();
    app.seed(old).await;
    assert!(recurring(&app, user).await.unwrap().is_empty());
}
