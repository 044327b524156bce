//! Kong's grpc-gateway transcoding, request and response.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{json, spawn_app};

#[tokio::test]
async fn path_parameters_reach_the_upstream() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::GET, "/v1/expenses/abc%20def")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.seen.get.lock().unwrap().as_ref().unwrap().id, "abc def");
}

#[tokio::test]
async fn a_star_body_is_merged_over_the_path_variables() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::PATCH, "/v1/expenses/e1")
        .json(&json!({"merchant": "Cafe", "amount": "3.10", "update_mask": ["merchant", "amount"], "unknown": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.update.lock().unwrap().clone().unwrap();
    assert_eq!(seen.id, "e1");
    assert_eq!(seen.merchant, "Cafe");
    assert_eq!(seen.update_mask, vec!["merchant", "amount"]);
    // As in deco.lua, the body's keys win over path variables.
    app.authed(Method::PATCH, "/v1/expenses/e1")
        .json(&json!({"id": "from-body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(app.seen.update.lock().unwrap().as_ref().unwrap().id, "from-body");
}

#[tokio::test]
async fn query_parameters_fill_fields_with_enums_by_name_and_unknown_ones_dropped() {
    let app = spawn_app().await;
    let res = app
        .authed(
            Method::GET,
            "/v1/expenses?from=2024-01-01&to=2024-12-31&category=GROCERIES&merchant=Big+Bazaar&page_size=20&nope=1&a.b=2",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.list.lock().unwrap().clone().unwrap();
    assert_eq!(seen.from, "2024-01-01");
    assert_eq!(seen.to, "2024-12-31");
    assert_eq!(seen.category, contracts::expense::Category::Groceries as i32);
    assert_eq!(seen.merchant, "Big Bazaar");
    assert_eq!(seen.page_size, 20);

    app.authed(Method::GET, "/v1/expense-summary?group_by=MONTH")
        .send()
        .await
        .unwrap();
    let seen = app.seen.summarize.lock().unwrap().clone().unwrap();
    assert_eq!(seen.group_by, contracts::expense::GroupBy::Month as i32);
}

#[tokio::test]
async fn an_unknown_enum_name_in_the_query_is_a_400() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::GET, "/v1/expenses?category=CARS")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = json(res).await;
    assert_eq!(body["code"], "INVALID_ARGUMENT");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("failed to encode payload"),
        "{body}"
    );
}

#[tokio::test]
async fn query_parameters_are_ignored_when_the_rule_has_a_body() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::POST, "/v1/extractions?dry_run=true&text=from-query")
        .json(&json!({"text": "spent 250 on lunch"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.extract.lock().unwrap().clone().unwrap();
    assert_eq!(seen.text, "spent 250 on lunch");
    assert!(!seen.dry_run);
}

#[tokio::test]
async fn responses_use_kongs_encoding() {
    let app = spawn_app().await;
    let res = app.authed(Method::GET, "/v1/expenses/e1").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert!(
        res.headers().get("grpc-status").is_none(),
        "OK statuses arrive as trailers"
    );
    let text = res.text().await.unwrap();
    // Proto field order, zero values included, enum names, Lua's %.14g for the f32,
    // Timestamp as lua-date's ${iso} (UTC, no offset, no fraction), unset messages absent.
    assert_eq!(
        text,
        r#"{"id":"e1","user_id":"u1","amount":"12.50","currency":"USD","merchant":"Subway","category":"FOOD_AND_DRINK","occurred_on":"2024-05-01","note":"","raw_text":"","source":"TEXT_RULES","confidence":0.89999997615814,"created_at":"2024-05-01T10:20:30","version":1}"#
    );

    let list = json(app.authed(Method::GET, "/v1/expenses").send().await.unwrap()).await;
    assert_eq!(list, json!({"expenses": [], "next_page_token": ""}));

    let summary = json(
        app.authed(Method::GET, "/v1/expense-summary?group_by=CATEGORY")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        summary,
        json!({"groups": [{"key": "2024-05", "currency": "USD", "total": "12.50", "count": 2}]})
    );

    let extraction = json(
        app.authed(Method::POST, "/v1/extractions")
            .json(&json!({"text": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        extraction,
        json!({"extractor": "rules", "confidence": 0.5, "warnings": [], "rule_id": ""})
    );
}

#[tokio::test]
async fn empty_answers_are_empty_objects_and_public_routes_need_no_token() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::DELETE, "/v1/expenses/e1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "{}");
    let jwks = json(app.get("/v1/auth/jwks").send().await.unwrap()).await;
    assert_eq!(jwks, json!({"keys": []}));
    let tokens = json(
        app.client
            .post(app.url("/v1/auth/signup"))
            .json(&json!({"email": "a@example.com", "password": "p", "display_name": "A"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["token_type"], "Bearer");
}

#[tokio::test]
async fn numbers_sent_for_string_fields_become_lua_strings() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::POST, "/v1/expenses")
        .json(&json!({"amount": 12.50, "currency": "USD", "category": "TRAVEL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.create.lock().unwrap().clone().unwrap();
    assert_eq!(seen.amount, "12.5");
    assert_eq!(seen.category, contracts::expense::Category::Travel as i32);
}

#[tokio::test]
async fn malformed_json_is_a_400_with_the_parse_error() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::POST, "/v1/expenses")
        .header("content-type", "application/json")
        .body(r#"{"amount": "#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body = json(res).await;
    assert_eq!(body["code"], "INVALID_ARGUMENT");
    assert!(
        body["message"].as_str().unwrap().starts_with("decode json err: "),
        "{body}"
    );
    assert!(
        app.seen.create.lock().unwrap().is_none(),
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn values_kong_cannot_encode_are_a_400() {
    let app = spawn_app().await;
    for body in [
        json!({"amount": null}),
        json!({"amount": true}),
        json!({"category": "CARS"}),
        json!(["not", "an", "object"]),
    ] {
        let res = app
            .authed(Method::POST, "/v1/expenses")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(json(res).await["code"], "INVALID_ARGUMENT");
    }
}

#[tokio::test]
async fn unknown_routes_are_a_json_404() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/v1/nope"),
        (Method::PUT, "/v1/expenses/e1"),
        (Method::GET, "/v1/expenses/e1/extra"),
        (Method::GET, "/v1/users/me/"),
    ] {
        let res = app.authed(method.clone(), path).send().await.unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        assert_eq!(
            json(res).await,
            json!({"code": "NOT_FOUND", "message": "no Route matched with those values"})
        );
    }
}
