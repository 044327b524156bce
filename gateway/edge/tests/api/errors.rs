//! Upstream statuses → Kong's HTTP table, with a JSON body and the gRPC headers.

use serde_json::json;
use tonic::Code;

use crate::helpers::{json, spawn_app, spawn_app_with};

#[tokio::test]
async fn every_grpc_code_maps_to_kongs_http_status_with_a_json_body_and_grpc_headers() {
    let app = spawn_app().await;
    let expected = [
        (1, 499, "CANCELLED"),
        (2, 500, "UNKNOWN"),
        (3, 400, "INVALID_ARGUMENT"),
        (4, 504, "DEADLINE_EXCEEDED"),
        (5, 404, "NOT_FOUND"),
        (6, 409, "ALREADY_EXISTS"),
        (7, 403, "PERMISSION_DENIED"),
        (8, 429, "RESOURCE_EXHAUSTED"),
        (9, 400, "FAILED_PRECONDITION"),
        (10, 409, "ABORTED"),
        (11, 400, "OUT_OF_RANGE"),
        (12, 500, "UNIMPLEMENTED"),
        (13, 500, "INTERNAL"),
        (14, 503, "UNAVAILABLE"),
        (15, 500, "DATA_LOSS"),
        (16, 401, "UNAUTHENTICATED"),
    ];
    for (grpc, http, name) in expected {
        assert_eq!(platform::error::http_status(Code::from_i32(grpc)), http);
        let res = app
            .client
            .post(app.url("/v1/auth/login"))
            .json(&json!({"email": format!("status:{grpc}"), "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), http, "grpc {grpc}");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["grpc-status"], grpc.to_string().as_str());
        // grpc-message passes through percent-encoded, as on the wire.
        assert_eq!(
            res.headers()["grpc-message"],
            format!("failed%20with%20{grpc}:%20%C3%BC").as_str()
        );
        if grpc == 8 {
            assert_eq!(
                res.headers()["retry-after"],
                "7",
                "status metadata passes through"
            );
        }
        let body = json(res).await;
        assert_eq!(
            body,
            json!({"code": name, "message": format!("failed with {grpc}: ü")})
        );
    }
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_503_unavailable() {
    // A port that was just free: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let app = spawn_app_with("", |c| {
        c.upstreams
            .get_mut("expense_tracker.auth.v1.AuthService")
            .unwrap()
            .address = format!("http://{closed}");
    })
    .await;
    let res = app.get("/v1/auth/jwks").send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(
        res.headers().get("grpc-status").is_none(),
        "the upstream said nothing"
    );
    let body = json(res).await;
    assert_eq!(body["code"], "UNAVAILABLE");
    assert!(
        body["message"].as_str().unwrap().contains("AuthService"),
        "{body}"
    );
}
