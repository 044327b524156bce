//! The extraction-rule routes (`GET`/`POST /v1/extraction-rules`, `DELETE
//! /v1/extraction-rules/{id}`): JSON in and out as Kong's grpc-gateway sends it, a token
//! required, ds-service's errors as Kong's status and body.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{json, spawn_app};

#[tokio::test]
async fn rules_are_listed_with_enums_by_name_and_kongs_timestamps() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::GET, "/v1/extraction-rules")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        json!({"rules": [{"id": "r1", "merchant_pattern": "kumaran stores",
            "merchant": "Kumaran Stores", "category": "GROCERIES", "origin": "LEARNED",
            "hits": 3, "updated_at": "2024-05-01T10:20:30"}]})
    );
}

#[tokio::test]
async fn a_rule_is_created_from_a_json_body_with_the_category_by_name() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::POST, "/v1/extraction-rules")
        .json(
            &json!({"merchant_pattern": "blue tokai", "merchant": "Blue Tokai",
                      "category": "FOOD_AND_DRINK", "unknown": 1}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.create_rule.lock().unwrap().clone().unwrap();
    assert_eq!(seen.merchant_pattern, "blue tokai");
    assert_eq!(seen.merchant, "Blue Tokai");
    assert_eq!(seen.category, contracts::expense::Category::FoodAndDrink as i32);
    let body = json(res).await;
    assert_eq!(
        (&body["id"], &body["origin"], &body["category"], &body["hits"]),
        (
            &json!("r-new"),
            &json!("EXPLICIT"),
            &json!("FOOD_AND_DRINK"),
            &json!(0)
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_rule_is_deleted_by_the_id_in_its_path() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::DELETE, "/v1/extraction-rules/r1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "{}");
    assert_eq!(app.seen.delete_rule.lock().unwrap().as_ref().unwrap().id, "r1");
}

#[tokio::test]
async fn the_rule_routes_need_a_token_and_nothing_reaches_ds_without_one() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/v1/extraction-rules"),
        (Method::POST, "/v1/extraction-rules"),
        (Method::DELETE, "/v1/extraction-rules/r1"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({"merchant_pattern": "x", "category": "GROCERIES"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        assert_eq!(json(res).await["code"], "UNAUTHENTICATED");
    }
    assert!(app.seen.create_rule.lock().unwrap().is_none());
    assert!(app.seen.delete_rule.lock().unwrap().is_none());
}

#[tokio::test]
async fn ds_services_refusals_arrive_as_kongs_statuses() {
    let app = spawn_app().await;
    let cases = [
        (
            Method::POST,
            "/v1/extraction-rules",
            json!({"merchant_pattern": "", "category": "GROCERIES"}),
            400,
            "INVALID_ARGUMENT",
            "3",
        ),
        (
            Method::POST,
            "/v1/extraction-rules",
            json!({"merchant_pattern": "full", "category": "GROCERIES"}),
            429,
            "RESOURCE_EXHAUSTED",
            "8",
        ),
        (
            Method::DELETE,
            "/v1/extraction-rules/r2",
            json!({}),
            404,
            "NOT_FOUND",
            "5",
        ),
    ];
    for (method, path, body, status, code, grpc) in cases {
        let res = app.authed(method.clone(), path).json(&body).send().await.unwrap();
        assert_eq!(res.status(), status, "{method} {path} {body}");
        assert_eq!(res.headers()["grpc-status"], grpc);
        let answer = json(res).await;
        assert_eq!(answer["code"], code, "{answer}");
        assert!(!answer["message"].as_str().unwrap().is_empty(), "{answer}");
    }
    // An unknown category name is refused at the edge, like any bad enum.
    let res = app
        .authed(Method::POST, "/v1/extraction-rules")
        .json(&json!({"merchant_pattern": "x", "category": "CARS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}
