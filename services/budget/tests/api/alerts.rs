//! Alerts: once per (budget, period, threshold), stored and published together, however
//! often spending crosses, and whatever is redelivered or replayed.

use std::time::Duration;

use contracts::{
    budget::{BudgetState, UpdateBudgetRequest},
    expense::Category,
};
use platform::testing::eventually;
use uuid::Uuid;

use crate::helpers::{expense, recorded, spawn_app, spawn_app_on, updated, ON};

#[tokio::test]
async fn crossing_80_percent_raises_one_alert_and_one_event_even_when_crossed_again() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let b = app.budget(user, "100.00", Category::Groceries).await;
    let id = Uuid::now_v7();
    let v1 = expense(id, user, "50.00", "EUR", Category::Groceries, "2026-12-02", 1);
    app.publish(&recorded(&v1)).await;
    // 85%: crosses 80.
    let v2 = expense(id, user, "85.00", "EUR", Category::Groceries, "2026-12-02", 2);
    let crossing = app.publish(&updated(&v1, &v2)).await;
    // Redelivered: the same event id again changes nothing.
    app.producer.send(&crossing).await.unwrap();
    // Below, then above again.
    let v3 = expense(id, user, "70.00", "EUR", Category::Groceries, "2026-12-02", 3);
    app.publish(&updated(&v2, &v3)).await;
    let v4 = expense(id, user, "90.00", "EUR", Category::Groceries, "2026-12-02", 4);
    app.publish(&updated(&v3, &v4)).await;
    let s = app
        .wait_status(user, &b.id, ON, |b| b.status.as_ref().unwrap().spent == "90.00")
        .await
        .status
        .unwrap();
    assert_eq!((s.percent, s.state), (90, BudgetState::Warning as i32));

    let alerts = app.alerts(user, 0).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!((a.budget_id.as_str(), a.percent_threshold), (b.id.as_str(), 80));
    assert_eq!(
        (a.spent.as_str(), a.amount.as_str(), a.currency.as_str()),
        ("85.00", "100.00", "EUR")
    );
    assert_eq!(a.period_start, "2026-12-01");

    let events = app.alert_events(1).await;
    assert_eq!(events.len(), 1, "exactly one BudgetAlert");
    let (msg, event) = &events[0];
    assert_eq!(event.user_id, user.to_string());
    assert_eq!(event.alert.as_ref(), Some(a));
    assert_eq!(msg.headers["ce_id"], a.id, "the event's id is the alert's");
    assert_eq!(msg.key.as_deref(), Some(user.to_string().as_bytes()));

    // 100% next: a second threshold, a second alert, listed newest first.
    let v5 = expense(id, user, "100.00", "EUR", Category::Groceries, "2026-12-02", 5);
    app.publish(&updated(&v4, &v5)).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            app.alerts(user, 0).await.len() == 2
        })
        .await,
        "the 100% alert"
    );
    let paged = app.alerts(user, 1).await;
    assert_eq!(
        paged.iter().map(|a| a.percent_threshold).collect::<Vec<_>>(),
        vec![100, 80]
    );
}

#[tokio::test]
async fn an_edit_of_the_budget_that_crosses_a_threshold_raises_it() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let b = app.budget(user, "100.00", Category::Unspecified).await;
    let today = chrono::Utc::now().date_naive().to_string();
    let e = expense(Uuid::now_v7(), user, "60.00", "EUR", Category::Other, &today, 1);
    app.publish(&recorded(&e)).await;
    app.wait_status(user, &b.id, "", |b| b.status.as_ref().unwrap().spent == "60.00")
        .await;
    assert!(app.alerts(user, 0).await.is_empty());
    // 60 of 70 is 85%: the edit crosses 80.
    let u = app
        .client
        .clone()
        .update_budget(app.request(
            user,
            UpdateBudgetRequest {
                id: b.id.clone(),
                amount: "70.00".into(),
                update_mask: vec!["amount".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(u.status.unwrap().percent, 85);
    let alerts = app.alerts(user, 0).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].percent_threshold, alerts[0].amount.as_str()),
        (80, "70.00")
    );
    assert_eq!(app.alert_events(1).await.len(), 1);
}

#[tokio::test]
async fn a_replay_gives_the_same_state_and_no_new_alerts() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let request_id = Uuid::new_v4().to_string();
    let create = contracts::budget::CreateBudgetRequest {
        name: "All".into(),
        amount: "100.00".into(),
        currency: "EUR".into(),
        period: contracts::budget::Period::Monthly as i32,
        request_id: request_id.clone(),
        ..Default::default()
    };
    let b = app.create(user, create.clone()).await.unwrap();
    // Today's period: the rebuilt budget below is created in it, so its alerts are of the
    // same period whether the replay runs before or after the creation.
    let today = chrono::Utc::now().date_naive().to_string();
    for amount in ["30.00", "30.00", "25.00", "5.00"] {
        let e = expense(Uuid::now_v7(), user, amount, "EUR", Category::Other, &today, 1);
        app.publish(&recorded(&e)).await;
    }
    app.wait_status(user, &b.id, "", |b| b.status.as_ref().unwrap().expense_count == 4)
        .await;
    let alerts = app.alerts(user, 0).await;
    assert_eq!(
        alerts.iter().map(|a| a.percent_threshold).collect::<Vec<_>>(),
        vec![80]
    );
    assert_eq!(app.alert_events(1).await.len(), 1);

    // The same database, restarted as a new consumer group: every event read again.
    app.stop.cancel();
    let again = spawn_app_on(
        app.infra.clone(),
        app.db.clone(),
        app.suffix.clone(),
        format!("{}-2", app.group),
    )
    .await;
    let marker = expense(Uuid::now_v7(), user, "15.00", "EUR", Category::Other, &today, 1);
    again.publish(&recorded(&marker)).await;
    let after = again
        .wait_status(user, &b.id, "", |b| b.status.as_ref().unwrap().expense_count == 5)
        .await;
    assert_eq!(after.status.unwrap().spent, "105.00");
    // 105% crossed 100 with the marker: that one is new, 80 is not raised again.
    let thresholds: Vec<i32> = again
        .alerts(user, 0)
        .await
        .iter()
        .map(|a| a.percent_threshold)
        .collect();
    assert_eq!(thresholds, vec![100, 80]);
    assert_eq!(again.alert_events(2).await.len(), 2);
    again.stop.cancel();

    // An empty database, the same budget (same request_id, so the same id): the replay
    // rebuilds the same status and the same alert ids.
    let empty = spawn_app_on(
        app.infra.clone(),
        app.infra.fresh_database().await,
        app.suffix.clone(),
        format!("{}-3", app.group),
    )
    .await;
    let rebuilt = empty.create(user, create).await.unwrap();
    assert_eq!(rebuilt.id, b.id);
    let status = empty
        .wait_status(user, &b.id, "", |b| b.status.as_ref().unwrap().expense_count == 5)
        .await
        .status
        .unwrap();
    assert_eq!(status.spent, "105.00");
    let ids = |v: Vec<contracts::budget::Alert>| {
        let mut ids: Vec<String> = v.into_iter().map(|a| a.id).collect();
        ids.sort();
        ids
    };
    let first_ids = ids(again_alerts(&app, user).await);
    assert!(
        eventually(Duration::from_secs(30), || async {
            empty.alerts(user, 0).await.len() == 2
        })
        .await,
        "the rebuilt alerts"
    );
    assert_eq!(ids(empty.alerts(user, 0).await), first_ids);
}

/// The alerts the first database holds (read directly: its app is stopped).
async fn again_alerts(app: &crate::helpers::TestApp, user: Uuid) -> Vec<contracts::budget::Alert> {
    use budget_service::store::queries;
    let mut conn = app.pool.get().await.unwrap();
    queries::alerts_of(&mut conn, user, None, 100)
        .await
        .unwrap()
        .iter()
        .map(budget_service::alerts::to_proto)
        .collect()
}
