//! Kong's rate-limiting, request-size-limiting, cors and correlation-id plugins.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{json, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let app = spawn_app().await;
    let big = "x".repeat(2048);
    let res = app
        .authed(Method::POST, "/v1/expenses")
        .json(&json!({ "note": big }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body = json(res).await;
    assert_eq!(body["code"], "INVALID_ARGUMENT");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Request size limit exceeded"));
    assert!(app.seen.create.lock().unwrap().is_none());
}

#[tokio::test]
async fn a_route_with_its_own_limit_refuses_what_another_route_accepts() {
    let app = spawn_app_with(
        "body_limits: { expense_tracker.ds.v1.ExtractionService.ExtractExpense: 4096 }",
        |_| {},
    )
    .await;
    let text = "x".repeat(2048);
    let res = app
        .authed(Method::POST, "/v1/extractions")
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 413, "2 KiB is within ExtractExpense's 4 KiB");
    assert!(app.seen.extract.lock().unwrap().is_some());
    let res = app
        .authed(Method::POST, "/v1/expenses")
        .json(&json!({ "note": text }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413, "CreateExpense keeps the 1 KiB default");
    assert!(app.seen.create.lock().unwrap().is_none());
}

#[tokio::test]
async fn requests_over_the_rate_limit_are_429_with_kongs_headers() {
    let app = spawn_app_with("rate_limit: { minute: 3, hour: 100 }", |_| {}).await;
    for remaining in [2, 1, 0] {
        let res = app.get("/v1/auth/jwks").send().await.unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert_eq!(h["x-ratelimit-limit-minute"], "3");
        assert_eq!(h["x-ratelimit-remaining-minute"], remaining.to_string().as_str());
        assert_eq!(h["x-ratelimit-limit-hour"], "100");
        assert_eq!(h["ratelimit-limit"], "3");
        assert_eq!(h["ratelimit-remaining"], remaining.to_string().as_str());
        let reset: u64 = h["ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset));
    }
    let res = app.get("/v1/auth/jwks").send().await.unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(res.headers()["x-ratelimit-remaining-minute"], "0");
    assert_eq!(
        json(res).await,
        json!({"code": "RESOURCE_EXHAUSTED", "message": "API rate limit exceeded"})
    );
    // The jwt consumer has its own quota, apart from the client address's.
    let res = app.authed(Method::GET, "/v1/users/me").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-ratelimit-remaining-minute"], "2");
}

#[tokio::test]
async fn a_cors_preflight_is_answered_without_a_token() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(Method::OPTIONS, app.url("/v1/expenses"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let methods = res.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    assert!(app.seen.metadata.lock().unwrap().is_none());

    let res = app
        .authed(Method::GET, "/v1/expenses/e1")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn every_request_gets_a_request_id_that_goes_upstream_and_back() {
    let app = spawn_app().await;
    let res = app.authed(Method::GET, "/v1/users/me").send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(app.seen.header("x-request-id").unwrap(), id);

    let res = app
        .authed(Method::GET, "/v1/users/me")
        .header("x-request-id", "client-chosen")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-chosen");
    assert_eq!(app.seen.header("x-request-id").unwrap(), "client-chosen");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_a_413_too() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let token = platform::testing::tokens::access_token(uuid::Uuid::new_v4());
    let chunk = format!("{{\"note\": \"{}\"}}", "x".repeat(2048));
    let request = format!(
        "POST /v1/expenses HTTP/1.1\r\nhost: edge\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         {:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#"{"code":"INVALID_ARGUMENT","message":"Request size limit exceeded"}"#),
        "{answer}"
    );
}
