//! `/healthz` reflects the gRPC health of every upstream.

use std::time::Duration;

use crate::helpers::{json, spawn_app};

#[tokio::test]
async fn healthz_is_200_while_every_upstream_serves_and_503_once_one_stops() {
    let app = spawn_app().await;
    let res = app.get("/healthz").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["status"], "SERVING");
    let upstreams = body["upstreams"].as_array().unwrap();
    assert_eq!(upstreams.len(), 5);
    assert!(upstreams.iter().all(|u| u["status"] == "SERVING"), "{body}");

    app.ds_stop.cancel();
    let mut last = None;
    for _ in 0..50 {
        let res = app.get("/healthz").send().await.unwrap();
        if res.status() == 503 {
            last = Some(json(res).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = last.expect("503 after the ds upstream stopped");
    assert_eq!(body["status"], "NOT_SERVING");
    let ds = body["upstreams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["service"] == "expense_tracker.ds.v1.ExtractionService")
        .unwrap();
    assert_ne!(ds["status"], "SERVING");
}

#[tokio::test]
async fn the_openapi_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let res = app.get("/openapi.json").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc = json(res).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/expenses"]["post"].is_object());
}
