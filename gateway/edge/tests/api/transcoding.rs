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
async fn a_number_sent_for_a_string_field_is_a_400_as_behind_kong() {
    let app = spawn_app().await;
    for body in [
        json!({"amount": 12.50, "currency": "USD", "category": "TRAVEL"}),
        json!({"amount": "12.50", "currency": true}),
        json!({"amount": "12.50", "merchant": ["Cafe"]}),
    ] {
        let res = app
            .authed(Method::POST, "/v1/expenses")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err = json(res).await;
        assert_eq!(err["code"], "INVALID_ARGUMENT", "{body}");
        let message = err["message"].as_str().unwrap();
        assert!(
            message.starts_with("failed to encode payload: ") && message.contains("a JSON string"),
            "{message}"
        );
    }
    assert!(app.seen.create.lock().unwrap().is_none());
    let res = app
        .authed(Method::POST, "/v1/expenses")
        .json(&json!({"amount": "12.50", "currency": "USD", "category": "TRAVEL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = app.seen.create.lock().unwrap().clone().unwrap();
    assert_eq!(seen.amount, "12.50");
    assert_eq!(seen.category, contracts::expense::Category::Travel as i32);
}

/// A GET with the path exactly as written (HTTP clients resolve dot segments themselves).
async fn raw_get(app: &crate::helpers::TestApp, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let token = platform::testing::tokens::access_token(uuid::Uuid::new_v4());
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: edge\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn the_path_is_normalised_as_kong_does_before_routing() {
    let app = spawn_app().await;
    for (path, id) in [
        ("/v1//expenses/e1", "e1"),
        ("/v1/expenses/./e1", "e1"),
        ("/v1/other/../expenses/e1", "e1"),
        ("/v1/%65xpenses/%65%31", "e1"),
        ("/v1/expenses/%2e/e1", "e1"),
        // Reserved characters stay escaped, upper-cased, in the path variable.
        ("/v1/expenses/a%2fb", "a%2Fb"),
        ("/v1/expenses/a%3Ab", "a%3Ab"),
        ("/v1/expenses/abc%20def", "abc def"),
    ] {
        let answer = raw_get(&app, path).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        assert_eq!(app.seen.get.lock().unwrap().as_ref().unwrap().id, id, "{path}");
    }
    // Dot segments cannot climb above the root; they can reach another route, as in Kong.
    let answer = raw_get(&app, "/v1/expenses/e1/../../../v1/budgets").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(app.seen.list_budgets.lock().unwrap().is_some());
}
