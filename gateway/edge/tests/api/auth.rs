//! Kong's jwt plugin: RS256, `iss` picks the key, `exp` checked, 401 otherwise.

use base64::Engine;
use platform::testing::tokens;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{json, spawn_app};

async fn status_with(app: &crate::helpers::TestApp, auth: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = app.get("/v1/users/me");
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, json(res).await)
}

#[tokio::test]
async fn a_valid_token_passes_and_authorization_is_forwarded_unchanged() {
    let app = spawn_app().await;
    let token = tokens::access_token(Uuid::new_v4());
    let res = app
        .get("/v1/users/me")
        .bearer_auth(&token)
        .header("x-consumer-username", "spoofed")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.seen.header("authorization").unwrap(),
        format!("Bearer {token}")
    );
    assert_eq!(
        app.seen.header("x-credential-identifier").unwrap(),
        tokens::ISSUER
    );
    assert_eq!(app.seen.header("x-consumer-username").unwrap(), tokens::ISSUER);
    assert!(app.seen.header("x-consumer-id").is_some());
}

#[tokio::test]
async fn requests_without_a_usable_token_are_401() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);

    let mut expired = tokens::claims(user);
    expired.exp = chrono::Utc::now().timestamp() - 3600;
    let mut foreign = tokens::claims(user);
    foreign.iss = "someone-else".into();
    let alg_none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&serde_json::to_string(&tokens::claims(user)).unwrap())
    );
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &tokens::claims(user),
        &jsonwebtoken::EncodingKey::from_secret(tokens::PUBLIC_KEY_PEM.as_bytes()),
    )
    .unwrap();

    let cases = [
        (None, "Unauthorized"),
        (Some("Basic dXNlcjpwdw==".to_owned()), "Unauthorized"),
        (Some("Bearer not-a-jwt".to_owned()), "Bad token; invalid JWT"),
        (
            Some(format!(
                "Bearer {}",
                tokens::sign(&expired, tokens::SIGNING_KEY_PEM, tokens::KID)
            )),
            "token expired",
        ),
        (
            Some(format!(
                "Bearer {}",
                tokens::sign(&foreign, tokens::SIGNING_KEY_PEM, tokens::KID)
            )),
            "No credentials found for given 'iss'",
        ),
        (
            Some(format!(
                "Bearer {}",
                tokens::sign(&tokens::claims(user), tokens::OTHER_KEY_PEM, tokens::KID)
            )),
            "Invalid signature",
        ),
        (Some(format!("Bearer {alg_none}")), "Bad token; invalid alg"),
        (Some(format!("Bearer {hs256}")), "Invalid algorithm"),
    ];
    for (auth, message) in cases {
        let (status, body) = status_with(&app, auth.as_deref()).await;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(
            body,
            json!({"code": "UNAUTHENTICATED", "message": message}),
            "{auth:?}"
        );
    }
    assert!(
        app.seen.metadata.lock().unwrap().is_none(),
        "nothing reached an upstream"
    );
}

#[tokio::test]
async fn public_routes_pass_without_a_token_and_ignore_a_bad_one() {
    let app = spawn_app().await;
    let res = app.get("/v1/auth/jwks").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .header("authorization", "Bearer garbage")
        .json(&json!({"refresh_token": "r"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app.authed(Method::GET, "/v1/auth/jwks").send().await.unwrap();
    assert_eq!(res.status(), 200);
}
