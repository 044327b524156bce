//! The budget RPCs: validation, retries, ownership, the cap, listing and deleting.

use contracts::{
    budget::{
        BudgetState, CreateBudgetRequest, DeleteBudgetRequest, ListAlertsRequest, ListBudgetsRequest, Period,
        UpdateBudgetRequest,
    },
    expense::Category,
};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{spawn_app, ON};

/// Makes one field of a valid request invalid.
type Breaker = Box<dyn Fn(&mut CreateBudgetRequest)>;

fn valid() -> CreateBudgetRequest {
    CreateBudgetRequest {
        name: "Groceries".into(),
        amount: "400.00".into(),
        currency: "EUR".into(),
        category: Category::Groceries as i32,
        period: Period::Monthly as i32,
        alert_percents: vec![],
        request_id: String::new(),
    }
}

#[tokio::test]
async fn a_budget_is_created_with_defaults_and_an_empty_status() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let b = app.create(user, valid()).await.unwrap();
    assert_eq!(
        (b.name.as_str(), b.amount.as_str(), b.currency.as_str()),
        ("Groceries", "400.00", "EUR")
    );
    assert_eq!(b.alert_percents, vec![80, 100]);
    let got = app.get(user, &b.id, ON).await.unwrap();
    let s = got.status.unwrap();
    assert_eq!(
        (s.period_start.as_str(), s.period_end.as_str()),
        ("2026-12-01", "2026-12-31")
    );
    assert_eq!(
        (s.spent.as_str(), s.remaining.as_str(), s.percent),
        ("0.00", "400.00", 0)
    );
    assert_eq!(s.state, BudgetState::Under as i32);
}

#[tokio::test]
async fn every_invalid_field_is_refused_by_name() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let cases: Vec<(&str, Breaker)> = vec![
        ("name", Box::new(|r| r.name = "  ".into())),
        ("name", Box::new(|r| r.name = "x".repeat(101))),
        ("amount", Box::new(|r| r.amount = "0".into())),
        ("amount", Box::new(|r| r.amount = "-5".into())),
        ("amount", Box::new(|r| r.amount = "12.345".into())),
        ("amount", Box::new(|r| r.amount = "lots".into())),
        ("currency", Box::new(|r| r.currency = "EURO".into())),
        ("currency", Box::new(|r| r.currency = String::new())),
        ("category", Box::new(|r| r.category = 99)),
        ("period", Box::new(|r| r.period = 0)),
        ("period", Box::new(|r| r.period = 7)),
        ("alert_percents", Box::new(|r| r.alert_percents = vec![0])),
        ("alert_percents", Box::new(|r| r.alert_percents = vec![1001])),
        ("alert_percents", Box::new(|r| r.alert_percents = vec![50, 50])),
        (
            "alert_percents",
            Box::new(|r| r.alert_percents = (1..=11).collect()),
        ),
        ("request_id", Box::new(|r| r.request_id = "not-a-uuid".into())),
    ];
    for (field, break_it) in cases {
        let mut req = valid();
        break_it(&mut req);
        let err = app.create(user, req.clone()).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{req:?}");
        assert!(
            err.message().starts_with(&format!("{field}:")),
            "{field}: {}",
            err.message()
        );
    }
    // Several at once are all named.
    let err = app
        .create(
            user,
            CreateBudgetRequest {
                name: String::new(),
                amount: "0".into(),
                ..valid()
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.message().contains("name:") && err.message().contains("amount:"),
        "{}",
        err.message()
    );
    // Nothing was stored.
    let list = app
        .client
        .clone()
        .list_budgets(app.request(user, ListBudgetsRequest { on: ON.into() }))
        .await
        .unwrap()
        .into_inner();
    assert!(list.budgets.is_empty());
}

#[tokio::test]
async fn a_retried_create_answers_the_same_budget_and_a_reused_request_id_is_refused() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let req = CreateBudgetRequest {
        request_id: Uuid::new_v4().to_string(),
        ..valid()
    };
    let first = app.create(user, req.clone()).await.unwrap();
    let again = app.create(user, req.clone()).await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(first.created_at, again.created_at);
    let err = app
        .create(
            user,
            CreateBudgetRequest {
                amount: "500.00".into(),
                ..req.clone()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("request_id:"), "{}", err.message());
    // Another user's same request_id is their own budget.
    let theirs = app.create(Uuid::new_v4(), req).await.unwrap();
    assert_ne!(theirs.id, first.id);
    let list = app
        .client
        .clone()
        .list_budgets(app.request(user, ListBudgetsRequest { on: ON.into() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.budgets.len(), 1);
}

#[tokio::test]
async fn another_users_budget_is_not_found_and_bad_ids_are_invalid() {
    let app = spawn_app().await;
    let (owner, other) = (Uuid::new_v4(), Uuid::new_v4());
    let b = app.create(owner, valid()).await.unwrap();
    assert_eq!(
        app.get(other, &b.id, ON).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        app.get(owner, &Uuid::new_v4().to_string(), ON)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let err = app.get(owner, "nope", ON).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("id:"), "{}", err.message());
    let err = app.get(owner, &b.id, "2026-13-01").await.unwrap_err();
    assert!(err.message().starts_with("on:"), "{}", err.message());
    let mut client = app.client.clone();
    let update = UpdateBudgetRequest {
        id: b.id.clone(),
        name: "Mine now".into(),
        update_mask: vec!["name".into()],
        ..Default::default()
    };
    let err = client
        .update_budget(app.request(other, update))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .delete_budget(app.request(other, DeleteBudgetRequest { id: b.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(app.get(owner, &b.id, ON).await.unwrap().name, "Groceries");
    // No token, no answer.
    let err = client
        .list_budgets(tonic::Request::new(ListBudgetsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn updates_follow_the_mask_and_deletes_remove() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let b = app.create(user, valid()).await.unwrap();
    let mut client = app.client.clone();
    let edit = |mask: &[&str], f: &dyn Fn(&mut UpdateBudgetRequest)| {
        let mut r = UpdateBudgetRequest {
            id: b.id.clone(),
            update_mask: mask.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        f(&mut r);
        app.request(user, r)
    };
    let err = client.update_budget(edit(&[], &|_| {})).await.unwrap_err();
    assert!(err.message().starts_with("update_mask:"), "{}", err.message());
    let err = client.update_budget(edit(&["owner"], &|_| {})).await.unwrap_err();
    assert!(err.message().starts_with("update_mask:"), "{}", err.message());
    let err = client
        .update_budget(edit(&["alert_percents"], &|r| r.alert_percents = vec![2000]))
        .await
        .unwrap_err();
    assert!(err.message().starts_with("alert_percents:"), "{}", err.message());
    // Only the masked fields change; a currency change keeps the amount's digits.
    let u = client
        .update_budget(edit(&["name", "currency", "period"], &|r| {
            r.name = "Food".into();
            r.currency = "USD".into();
            r.period = Period::Weekly as i32;
            r.amount = "1.00".into();
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (u.name.as_str(), u.amount.as_str(), u.currency.as_str()),
        ("Food", "400.00", "USD")
    );
    assert_eq!(
        (u.period, u.category),
        (Period::Weekly as i32, Category::Groceries as i32)
    );
    let got = app.get(user, &b.id, ON).await.unwrap();
    assert_eq!(got.status.unwrap().period_start, "2026-12-07");
    client
        .delete_budget(app.request(user, DeleteBudgetRequest { id: b.id.clone() }))
        .await
        .unwrap();
    assert_eq!(app.get(user, &b.id, ON).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn budgets_are_listed_oldest_first_up_to_the_cap() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let mut ids = vec![];
    for i in 0..100 {
        let b = app
            .create(
                user,
                CreateBudgetRequest {
                    name: format!("b{i}"),
                    ..valid()
                },
            )
            .await
            .unwrap();
        ids.push(b.id);
    }
    let err = app.create(user, valid()).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    let list = app
        .client
        .clone()
        .list_budgets(app.request(user, ListBudgetsRequest { on: ON.into() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.budgets.iter().map(|b| b.id.clone()).collect::<Vec<_>>(), ids);
    // Someone else is not capped by it.
    assert!(app.create(Uuid::new_v4(), valid()).await.is_ok());
}

#[tokio::test]
async fn alert_pages_are_bounded() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let mut client = app.client.clone();
    for (size, token) in [(-1, ""), (101, ""), (10, "garbage")] {
        let err = client
            .list_alerts(app.request(
                user,
                ListAlertsRequest {
                    page_size: size,
                    page_token: token.into(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        let field = if token.is_empty() {
            "page_size:"
        } else {
            "page_token:"
        };
        assert!(err.message().starts_with(field), "{}", err.message());
    }
    assert!(app.alerts(user, 0).await.is_empty());
}
