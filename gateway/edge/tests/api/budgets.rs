//! The budget routes (`/v1/budgets…`, `/v1/alerts`): JSON in and out as Kong's
//! grpc-gateway sends it, a token required, budget-service's errors as Kong's status and
//! body.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{json, spawn_app};
use contracts::{budget, expense};

/// `budget_of("b1")` as Kong writes it: enums by name, the nested status with its zero
/// values, int32s as numbers, timestamps without fraction or offset.
fn b1_json() -> serde_json::Value {
    json!({"id": "b1", "name": "Food", "amount": "5000.00", "currency": "INR",
        "category": "FOOD_AND_DRINK", "period": "MONTHLY", "alert_percents": [80, 100],
        "status": {"period_start": "2024-05-01", "period_end": "2024-05-31",
            "spent": "4000.00", "remaining": "1000.00", "percent": 80, "state": "WARNING",
            "expense_count": 3, "other_currency_count": 1},
        "created_at": "2024-05-01T10:20:30", "updated_at": "2024-05-01T10:20:30"})
}

#[tokio::test]
async fn a_budget_is_created_from_a_json_body_with_enums_by_name_and_percents_as_numbers() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::POST, "/v1/budgets")
        .json(
            &json!({"name": "Groceries", "amount": "12000.50", "currency": "INR",
            "category": "GROCERIES", "period": "WEEKLY", "alert_percents": [50, 90, 100],
            "request_id": "0190a0a0-0000-7000-8000-000000000001", "unknown": true}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.create_budget.lock().unwrap().clone().unwrap();
    assert_eq!(seen.name, "Groceries");
    assert_eq!(seen.amount, "12000.50");
    assert_eq!(seen.currency, "INR");
    assert_eq!(seen.category, expense::Category::Groceries as i32);
    assert_eq!(seen.period, budget::Period::Weekly as i32);
    assert_eq!(seen.alert_percents, vec![50, 90, 100]);
    assert_eq!(seen.request_id, "0190a0a0-0000-7000-8000-000000000001");
    let body = json(res).await;
    assert_eq!(
        (
            &body["id"],
            &body["category"],
            &body["period"],
            &body["alert_percents"]
        ),
        (
            &json!("b-new"),
            &json!("GROCERIES"),
            &json!("WEEKLY"),
            &json!([50, 90, 100])
        ),
        "{body}"
    );
}

#[tokio::test]
async fn budgets_are_listed_with_their_status_and_on_from_the_query() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::GET, "/v1/budgets?on=2024-05-10&nope=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.seen.list_budgets.lock().unwrap().as_ref().unwrap().on,
        "2024-05-10"
    );
    assert_eq!(json(res).await, json!({"budgets": [b1_json()]}));

    // Kong writes an empty repeated field as [], never drops it.
    let res = app
        .authed(Method::GET, "/v1/budgets?on=empty")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({"budgets": []}));
}

#[tokio::test]
async fn one_budget_is_read_by_the_id_in_its_path_and_on_from_the_query() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::GET, "/v1/budgets/b1?on=2024-05-31")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.get_budget.lock().unwrap().clone().unwrap();
    assert_eq!((seen.id.as_str(), seen.on.as_str()), ("b1", "2024-05-31"));
    assert_eq!(json(res).await, b1_json());
}

#[tokio::test]
async fn an_update_merges_the_body_over_the_path_id_with_its_update_mask() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::PATCH, "/v1/budgets/b1")
        .json(&json!({"amount": "6000.00", "alert_percents": [75], "update_mask": ["amount", "alert_percents"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.update_budget.lock().unwrap().clone().unwrap();
    assert_eq!(seen.id, "b1");
    assert_eq!(seen.amount, "6000.00");
    assert_eq!(seen.alert_percents, vec![75]);
    assert_eq!(seen.update_mask, vec!["amount", "alert_percents"]);
    assert_eq!(json(res).await["amount"], "6000.00");
}

#[tokio::test]
async fn a_budget_is_deleted_by_the_id_in_its_path() {
    let app = spawn_app().await;
    let res = app.authed(Method::DELETE, "/v1/budgets/b1").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "{}");
    assert_eq!(app.seen.delete_budget.lock().unwrap().as_ref().unwrap().id, "b1");
}

#[tokio::test]
async fn alerts_are_listed_with_the_page_from_the_query_and_the_next_token() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::GET, "/v1/alerts?page_size=10&page_token=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.list_alerts.lock().unwrap().clone().unwrap();
    assert_eq!((seen.page_size, seen.page_token.as_str()), (10, "abc"));
    assert_eq!(
        json(res).await,
        json!({"alerts": [{"id": "a1", "budget_id": "b1", "budget_name": "Food",
            "period_start": "2024-05-01", "percent_threshold": 80, "spent": "4000.00",
            "amount": "5000.00", "currency": "INR", "created_at": "2024-05-01T10:20:30"}],
            "next_page_token": "next"})
    );
}

#[tokio::test]
async fn the_budget_routes_need_a_token_and_nothing_reaches_budget_without_one() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::POST, "/v1/budgets"),
        (Method::GET, "/v1/budgets"),
        (Method::GET, "/v1/budgets/b1"),
        (Method::PATCH, "/v1/budgets/b1"),
        (Method::DELETE, "/v1/budgets/b1"),
        (Method::GET, "/v1/alerts"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({"name": "x", "amount": "1.00", "currency": "INR"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        assert_eq!(json(res).await["code"], "UNAUTHENTICATED");
    }
    let seen = &app.seen;
    assert!(seen.create_budget.lock().unwrap().is_none());
    assert!(seen.list_budgets.lock().unwrap().is_none());
    assert!(seen.get_budget.lock().unwrap().is_none());
    assert!(seen.update_budget.lock().unwrap().is_none());
    assert!(seen.delete_budget.lock().unwrap().is_none());
    assert!(seen.list_alerts.lock().unwrap().is_none());
}

#[tokio::test]
async fn budget_services_refusals_arrive_as_kongs_statuses() {
    let app = spawn_app().await;
    let cases = [
        (
            Method::POST,
            "/v1/budgets",
            json!({"name": ""}),
            400,
            "INVALID_ARGUMENT",
            "3",
        ),
        (
            Method::POST,
            "/v1/budgets",
            json!({"name": "full"}),
            429,
            "RESOURCE_EXHAUSTED",
            "8",
        ),
        (Method::GET, "/v1/budgets/b2", json!({}), 404, "NOT_FOUND", "5"),
        (
            Method::PATCH,
            "/v1/budgets/b2",
            json!({"update_mask": ["name"]}),
            404,
            "NOT_FOUND",
            "5",
        ),
        (
            Method::PATCH,
            "/v1/budgets/b1",
            json!({"name": "x"}),
            400,
            "INVALID_ARGUMENT",
            "3",
        ),
        (Method::DELETE, "/v1/budgets/b2", json!({}), 404, "NOT_FOUND", "5"),
    ];
    for (method, path, body, status, code, grpc) in cases {
        let res = app.authed(method.clone(), path).json(&body).send().await.unwrap();
        assert_eq!(res.status(), status, "{method} {path} {body}");
        assert_eq!(res.headers()["grpc-status"], grpc);
        let answer = json(res).await;
        assert_eq!(answer["code"], code, "{answer}");
        assert!(!answer["message"].as_str().unwrap().is_empty(), "{answer}");
    }
}

#[tokio::test]
async fn an_unknown_period_or_category_name_is_refused_at_the_edge() {
    let app = spawn_app().await;
    for body in [
        json!({"name": "Food", "amount": "5000", "currency": "INR", "period": "DAILY"}),
        json!({"name": "Food", "amount": "5000", "currency": "INR", "category": "CARS"}),
    ] {
        let res = app
            .authed(Method::POST, "/v1/budgets")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
    }
    assert!(app.seen.create_budget.lock().unwrap().is_none());
}
