//! The JWT layer of the gRPC stack: which tokens it refuses, and that it hands the caller
//! and the caller's trace context to handlers.

use std::time::Duration;

use contracts::user::{
    user_service_client::UserServiceClient, user_service_server::UserService, DeleteMeRequest,
    DeleteMeResponse, GetMeRequest, GetUserRequest, UpdateMeRequest, UserProfile,
};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use platform::{
    grpc::caller,
    jwt::{Claims, JwtVerifier},
};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

const SIGNING_KEY: &[u8] = include_bytes!("../fixtures/signing.key.pem");
use crate::SIGNING_PUB;
const OTHER_KEY: &[u8] = include_bytes!("../fixtures/other.key.pem");
const ISS: &str = "expense-tracker";
const AUD: &str = "expense-tracker-api";

/// Answers GetMe with the caller's id (user_id) and the server span's trace id (display_name).
struct EchoCaller;

#[tonic::async_trait]
impl UserService for EchoCaller {
    async fn get_me(&self, req: Request<GetMeRequest>) -> Result<Response<UserProfile>, Status> {
        let caller = caller(&req)?;
        Ok(Response::new(UserProfile {
            user_id: caller.user_id.to_string(),
            display_name: platform::telemetry::trace_id(&tracing::Span::current()),
            ..Default::default()
        }))
    }
    async fn update_me(&self, _: Request<UpdateMeRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn delete_me(&self, _: Request<DeleteMeRequest>) -> Result<Response<DeleteMeResponse>, Status> {
        Err(Status::unimplemented("test"))
    }
    async fn get_user(&self, _: Request<GetUserRequest>) -> Result<Response<UserProfile>, Status> {
        Err(Status::unimplemented("test"))
    }
}

fn claims(sub: &str) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        iss: ISS.into(),
        sub: sub.into(),
        aud: AUD.into(),
        exp: now + 900,
        iat: now,
        nbf: now,
        jti: Uuid::now_v7().to_string(),
    }
}

fn sign(claims: &Claims, key: &[u8], kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    encode(&header, claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn spawn_server() -> (String, CancellationToken) {
    crate::spawn_user_service(EchoCaller).await
}

async fn get_me(
    addr: &str,
    authorization: Option<&str>,
    traceparent: Option<&str>,
) -> Result<UserProfile, Status> {
    let mut client = UserServiceClient::connect(addr.to_owned()).await.unwrap();
    let mut req = Request::new(GetMeRequest {});
    if let Some(a) = authorization {
        req.metadata_mut().insert("authorization", a.parse().unwrap());
    }
    if let Some(t) = traceparent {
        req.metadata_mut().insert("traceparent", t.parse().unwrap());
    }
    client.get_me(req).await.map(Response::into_inner)
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_the_callers_id() {
    let (addr, stop) = spawn_server().await;
    let user = Uuid::now_v7();
    let token = sign(&claims(&user.to_string()), SIGNING_KEY, "k1");
    let profile = get_me(&addr, Some(&format!("Bearer {token}")), None)
        .await
        .unwrap();
    assert_eq!(profile.user_id, user.to_string());
    stop.cancel();
}

#[tokio::test]
async fn the_callers_traceparent_is_continued_by_the_server_span() {
    let (addr, stop) = spawn_server().await;
    let token = sign(&claims(&Uuid::now_v7().to_string()), SIGNING_KEY, "k1");
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let tp = format!("00-{trace}-00f067aa0ba902b7-01");
    let profile = get_me(&addr, Some(&format!("Bearer {token}")), Some(&tp))
        .await
        .unwrap();
    assert_eq!(profile.display_name, trace);
    stop.cancel();
}

#[tokio::test]
async fn health_is_served_without_a_token() {
    let (addr, stop) = spawn_server().await;
    let channel = tonic::transport::Channel::from_shared(addr)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let res = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "expense_tracker.user.v1.UserService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        res.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );
    stop.cancel();
}

async fn assert_refused(addr: &str, authorization: Option<&str>, expect_in_message: &str) {
    let err = get_me(addr, authorization, None)
        .await
        .expect_err("token must be refused");
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert!(
        err.message().contains(expect_in_message),
        "message {:?} should mention {expect_in_message:?}",
        err.message()
    );
}

#[tokio::test]
async fn the_jwt_layer_refuses_every_kind_of_bad_token() {
    let (addr, stop) = spawn_server().await;
    let sub = Uuid::now_v7().to_string();
    let now = chrono::Utc::now().timestamp();

    assert_refused(&addr, None, "missing bearer token").await;
    assert_refused(&addr, Some("Basic dXNlcjpwYXNz"), "malformed authorization").await;
    assert_refused(&addr, Some("Bearer not.a.jwt"), "").await;

    let expired = Claims {
        exp: now - 120,
        iat: now - 1000,
        nbf: now - 1000,
        ..claims(&sub)
    };
    assert_refused(
        &addr,
        Some(&format!("Bearer {}", sign(&expired, SIGNING_KEY, "k1"))),
        "expired",
    )
    .await;

    let future = Claims {
        nbf: now + 600,
        ..claims(&sub)
    };
    assert_refused(
        &addr,
        Some(&format!("Bearer {}", sign(&future, SIGNING_KEY, "k1"))),
        "not valid yet",
    )
    .await;

    let wrong_aud = Claims {
        aud: "someone-else".into(),
        ..claims(&sub)
    };
    assert_refused(
        &addr,
        Some(&format!("Bearer {}", sign(&wrong_aud, SIGNING_KEY, "k1"))),
        "audience",
    )
    .await;

    let wrong_iss = Claims {
        iss: "evil".into(),
        ..claims(&sub)
    };
    assert_refused(
        &addr,
        Some(&format!("Bearer {}", sign(&wrong_iss, SIGNING_KEY, "k1"))),
        "issuer",
    )
    .await;

    // Signed by a key the server doesn't know, claiming a known kid: bad signature.
    let forged = sign(&claims(&sub), OTHER_KEY, "k1");
    assert_refused(&addr, Some(&format!("Bearer {forged}")), "signature").await;
    // ... and under an unknown kid.
    let unknown_kid = sign(&claims(&sub), OTHER_KEY, "k9");
    assert_refused(&addr, Some(&format!("Bearer {unknown_kid}")), "unknown key").await;

    // alg none: header {"alg":"none"}, no signature.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(serde_json::to_string(&claims(&sub)).unwrap().as_bytes())
    );
    assert_refused(&addr, Some(&format!("Bearer {none}")), "algorithm").await;

    // HS256 using the public key as the shared secret (algorithm confusion).
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k1".into());
    let hs = encode(&h, &claims(&sub), &EncodingKey::from_secret(SIGNING_PUB)).unwrap();
    assert_refused(&addr, Some(&format!("Bearer {hs}")), "RS256").await;

    // Tampered payload: a valid token whose claims were swapped for another user's.
    let good = sign(&claims(&sub), SIGNING_KEY, "k1");
    let parts: Vec<&str> = good.split('.').collect();
    let evil = b64(serde_json::to_string(&claims(&Uuid::now_v7().to_string()))
        .unwrap()
        .as_bytes());
    assert_refused(
        &addr,
        Some(&format!("Bearer {}.{}.{}", parts[0], evil, parts[2])),
        "signature",
    )
    .await;

    // A subject that is not a user id.
    let not_uuid = sign(&claims("admin"), SIGNING_KEY, "k1");
    assert_refused(&addr, Some(&format!("Bearer {not_uuid}")), "subject").await;

    stop.cancel();
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn keys_from_a_jwks_document_verify_tokens_during_rotation() {
    // Two keys valid at once: the old one from PEM, the new one from a JWKS document.
    // The JWK (n, e) of the new key, as auth-service's JWKS endpoint would serve it.
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(
        &EncodingKey::from_rsa_pem(OTHER_KEY).unwrap(),
        Algorithm::RS256,
    )
    .unwrap();
    let (n, e) = match &jwk.algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::RSA(p) => (p.n.clone(), p.e.clone()),
        other => panic!("not RSA: {other:?}"),
    };
    let jwks = serde_json::json!({"keys": [{"kty": "RSA", "kid": "k2", "alg": "RS256", "use": "sig", "n": n, "e": e}]});
    let verifier = JwtVerifier::new(ISS, AUD)
        .with_pem("k1", SIGNING_PUB)
        .unwrap()
        .with_jwks(&jwks.to_string())
        .unwrap();
    let sub = Uuid::now_v7().to_string();
    assert!(verifier.verify(&sign(&claims(&sub), SIGNING_KEY, "k1")).is_ok());
    assert!(verifier.verify(&sign(&claims(&sub), OTHER_KEY, "k2")).is_ok());
    assert_eq!(
        verifier
            .verify(&sign(&claims(&sub), OTHER_KEY, "k1"))
            .unwrap_err(),
        platform::jwt::JwtError::Signature
    );
}
