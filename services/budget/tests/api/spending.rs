//! The status follows the expenses as ExpenseChanged describes them.

use contracts::{
    budget::{BudgetState, CreateBudgetRequest, ListBudgetsRequest, Period},
    expense::Category,
};
use uuid::Uuid;

use crate::helpers::{deleted, expense, recorded, spawn_app, updated, ON};

#[tokio::test]
async fn edits_move_money_between_categories_periods_and_currencies() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let groceries = app.budget(user, "100.00", Category::Groceries).await;
    let all = app.budget(user, "1000.00", Category::Unspecified).await;
    let id = Uuid::now_v7();

    let v1 = expense(id, user, "30.00", "EUR", Category::Groceries, "2026-12-03", 1);
    app.publish(&recorded(&v1)).await;
    app.wait_status(user, &groceries.id, ON, |b| {
        b.status.as_ref().unwrap().spent == "30.00"
    })
    .await;
    assert_eq!(app.spent(user, &all.id, ON).await, ("30.00".into(), 1, 0));

    // Amount: adjusts.
    let v2 = expense(id, user, "45.50", "EUR", Category::Groceries, "2026-12-03", 2);
    app.publish(&updated(&v1, &v2)).await;
    app.wait_status(user, &groceries.id, ON, |b| {
        b.status.as_ref().unwrap().spent == "45.50"
    })
    .await;

    // Category: leaves the groceries budget, stays in the every-category one.
    let v3 = expense(id, user, "45.50", "EUR", Category::Transport, "2026-12-03", 3);
    app.publish(&updated(&v2, &v3)).await;
    app.wait_status(user, &groceries.id, ON, |b| {
        b.status.as_ref().unwrap().expense_count == 0
    })
    .await;
    assert_eq!(app.spent(user, &groceries.id, ON).await, ("0.00".into(), 0, 0));
    assert_eq!(app.spent(user, &all.id, ON).await, ("45.50".into(), 1, 0));

    // Date: moves to November.
    let v4 = expense(id, user, "45.50", "EUR", Category::Transport, "2026-11-30", 4);
    app.publish(&updated(&v3, &v4)).await;
    app.wait_status(user, &all.id, ON, |b| {
        b.status.as_ref().unwrap().expense_count == 0
    })
    .await;
    assert_eq!(
        app.spent(user, &all.id, "2026-11-15").await,
        ("45.50".into(), 1, 0)
    );

    // Currency: left out of spent, counted apart.
    let v5 = expense(id, user, "45.50", "USD", Category::Transport, "2026-11-30", 5);
    app.publish(&updated(&v4, &v5)).await;
    app.wait_status(user, &all.id, "2026-11-15", |b| {
        b.status.as_ref().unwrap().other_currency_count == 1
    })
    .await;
    assert_eq!(
        app.spent(user, &all.id, "2026-11-15").await,
        ("0.00".into(), 0, 1)
    );

    // Delete: gone everywhere.
    app.publish(&deleted(&v5)).await;
    app.wait_status(user, &all.id, "2026-11-15", |b| {
        b.status.as_ref().unwrap().other_currency_count == 0
    })
    .await;
    assert_eq!(
        app.spent(user, &all.id, "2026-11-15").await,
        ("0.00".into(), 0, 0)
    );
}

#[tokio::test]
async fn an_older_change_after_a_newer_one_is_ignored_and_a_deletion_is_final() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let all = app.budget(user, "1000.00", Category::Unspecified).await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let a1 = expense(a, user, "10.00", "EUR", Category::Other, "2026-12-01", 1);
    let a2 = expense(a, user, "20.00", "EUR", Category::Other, "2026-12-01", 2);
    // Version 2 first, then the older RECORDED (relays can reorder across replicas).
    app.publish(&updated(&a1, &a2)).await;
    app.publish(&recorded(&a1)).await;
    // b: deleted, then its late RECORDED arrives.
    let b1 = expense(b, user, "5.00", "EUR", Category::Other, "2026-12-02", 1);
    app.publish(&deleted(&b1)).await;
    app.publish(&recorded(&b1)).await;
    // A marker after them all: once it counts, everything before was consumed.
    let marker = expense(
        Uuid::now_v7(),
        user,
        "0.01",
        "EUR",
        Category::Other,
        "2026-12-03",
        1,
    );
    app.publish(&recorded(&marker)).await;
    let got = app
        .wait_status(user, &all.id, ON, |b| {
            b.status.as_ref().unwrap().expense_count == 2
        })
        .await;
    assert_eq!(got.status.unwrap().spent, "20.01");
}

#[tokio::test]
async fn users_are_isolated_and_statuses_are_exact() {
    let app = spawn_app().await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let hers = app.budget(alice, "10.00", Category::Unspecified).await;
    let his = app
        .create(
            bob,
            CreateBudgetRequest {
                name: "Yen weekly".into(),
                amount: "1000".into(),
                currency: "JPY".into(),
                period: Period::Weekly as i32,
                alert_percents: vec![50],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // 3 × 3.34 = 10.02 EUR: over by 0.02, exactly.
    for _ in 0..3 {
        let e = expense(
            Uuid::now_v7(),
            alice,
            "3.34",
            "EUR",
            Category::Health,
            "2026-12-09",
            1,
        );
        app.publish(&recorded(&e)).await;
    }
    // Bob: 600 JPY in the week of the 9th (Monday 7th..Sunday 13th), 999 the week after.
    for (amount, day) in [("600", "2026-12-13"), ("999", "2026-12-14")] {
        let e = expense(Uuid::now_v7(), bob, amount, "JPY", Category::Travel, day, 1);
        app.publish(&recorded(&e)).await;
    }
    let h = app
        .wait_status(alice, &hers.id, ON, |b| {
            b.status.as_ref().unwrap().expense_count == 3
        })
        .await
        .status
        .unwrap();
    assert_eq!(
        (h.spent.as_str(), h.remaining.as_str(), h.percent),
        ("10.02", "-0.02", 100)
    );
    assert_eq!(h.state, BudgetState::Over as i32);
    let b = app
        .wait_status(bob, &his.id, ON, |b| {
            b.status.as_ref().unwrap().expense_count == 1
        })
        .await
        .status
        .unwrap();
    assert_eq!(
        (b.spent.as_str(), b.remaining.as_str(), b.percent),
        ("600", "400", 60)
    );
    assert_eq!(b.state, BudgetState::Warning as i32);
    assert_eq!(
        (b.period_start.as_str(), b.period_end.as_str()),
        ("2026-12-07", "2026-12-13")
    );
    // Bob's 999 of the week after is published after the 600: wait for it too.
    app.wait_status(bob, &his.id, "2026-12-14", |b| {
        b.status.as_ref().unwrap().expense_count == 1
    })
    .await;
    // The list computes the same statuses in one scan.
    let listed = app
        .client
        .clone()
        .list_budgets(app.request(
            bob,
            ListBudgetsRequest {
                on: "2026-12-14".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.budgets.len(), 1);
    assert_eq!(listed.budgets[0].status.as_ref().unwrap().spent, "999");
    let listed = app
        .client
        .clone()
        .list_budgets(app.request(alice, ListBudgetsRequest { on: ON.into() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.budgets[0].status, Some(h));
}
