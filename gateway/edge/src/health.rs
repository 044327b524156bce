//! `/healthz`: the gRPC health of every upstream service (grpc.health.v1, checked with
//! that service's name), 200 when all are SERVING, else 503, with per-upstream detail.

use std::time::Duration;

use axum::{body::Body, extract::State};
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;
use tonic_health::pb::health_check_response::ServingStatus;

use crate::upstream::Upstreams;

/// How long one upstream may take to answer its health check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz(State(upstreams): State<Upstreams>) -> Response<Body> {
    let checks = upstreams.iter().map(|u| async move {
        let result = u.health(CHECK_TIMEOUT).await;
        (u, result)
    });
    let results = futures::future::join_all(checks).await;
    let mut healthy = true;
    let mut list = vec![];
    for (u, result) in results {
        let (status, error) = match result {
            Ok(s) => (s.as_str_name().to_owned(), None),
            Err(e) => ("UNREACHABLE".to_owned(), Some(e)),
        };
        healthy &= status == ServingStatus::Serving.as_str_name();
        let mut entry = json!({ "service": u.service, "address": u.address, "status": status });
        if let Some(e) = error {
            entry["error"] = json!(e);
        }
        list.push(entry);
    }
    let body = json!({
        "status": if healthy { "SERVING" } else { "NOT_SERVING" },
        "upstreams": list,
    });
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}
