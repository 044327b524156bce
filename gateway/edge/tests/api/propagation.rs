//! What the upstream receives besides the message: trace context and forwarding headers.

use reqwest::Method;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_trace_context_is_continued_upstream_with_the_same_trace_id() {
    let app = spawn_app().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = app
        .authed(Method::GET, "/v1/users/me")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let forwarded = app.seen.header("traceparent").expect("traceparent upstream");
    let parts: Vec<&str> = forwarded.split('-').collect();
    assert_eq!(parts.len(), 4, "{forwarded}");
    assert_eq!(parts[1], trace_id, "same trace");
    assert_ne!(parts[2], "00f067aa0ba902b7", "the edge's own span is the parent");
}

#[tokio::test]
async fn a_request_without_trace_context_starts_a_trace() {
    let app = spawn_app().await;
    app.authed(Method::GET, "/v1/users/me").send().await.unwrap();
    let forwarded = app.seen.header("traceparent").expect("traceparent upstream");
    assert!(forwarded.starts_with("00-") && !forwarded.contains("00000000000000000000000000000000"));
}

#[tokio::test]
async fn x_forwarded_for_gets_the_client_appended() {
    let app = spawn_app().await;
    app.authed(Method::GET, "/v1/users/me")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(
        app.seen.header("x-forwarded-for").unwrap(),
        "203.0.113.7, 127.0.0.1"
    );
    assert_eq!(app.seen.header("x-real-ip").unwrap(), "127.0.0.1");
    assert_eq!(app.seen.header("x-custom").unwrap(), "kept");
    assert_eq!(app.seen.header("content-type").unwrap(), "application/grpc");
}
