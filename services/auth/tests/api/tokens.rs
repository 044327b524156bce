use std::time::Duration;

use auth_service::domain::{AccessTokenIssuer, RefreshToken, SigningKey, SigningKeys};
use contracts::auth::{
    auth_service_client::AuthServiceClient,
    auth_service_server::{AuthService, AuthServiceServer},
    GetJwksRequest, GetJwksResponse, Jwk, LoginRequest, LogoutRequest, LogoutResponse, RefreshRequest,
    SignupRequest, TokenResponse,
};
use platform::{
    grpc::{caller, GrpcServer},
    jwt::{JwtError, JwtVerifier},
};
use tokio_util::sync::CancellationToken;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::helpers::{
    assert_status, spawn_app, spawn_app_with, Options, AUDIENCE, ISSUER, KID, OTHER_KEY, OTHER_PUB, PASSWORD,
    SIGNING_KEY,
};

// === refresh and logout ===

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_the_refresh_token_and_issues_a_new_access_token() {
    let app = spawn_app().await;
    let first = app.signup_ok("rae@example.com").await;
    let second = app.refresh(&first.refresh_token).await.expect("refresh");
    assert_eq!(second.user_id, first.user_id);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!((second.expires_in, second.token_type.as_str()), (900, "Bearer"));
    let verifier = app.verifier().await;
    let (a, b) = (
        verifier.verify(&first.access_token).unwrap(),
        verifier.verify(&second.access_token).unwrap(),
    );
    assert_ne!(a.claims.jti, b.claims.jti);
    // And again with the new one.
    let third = app
        .refresh(&second.refresh_token)
        .await
        .expect("refresh the rotated token");
    assert_ne!(third.refresh_token, second.refresh_token);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_spent_refresh_token_revokes_its_whole_family() {
    let app = spawn_app().await;
    let signup = app.signup_ok("ray@example.com").await;
    let other_session = app
        .login("ray@example.com", PASSWORD)
        .await
        .expect("a second session");
    let rotated = app.refresh(&signup.refresh_token).await.expect("rotation");

    // The spent token comes back (stolen, or replayed): refused, and the family is revoked.
    assert_status(
        app.refresh(&signup.refresh_token).await,
        Code::Unauthenticated,
        "refresh token is invalid",
    );
    assert_status(
        app.refresh(&rotated.refresh_token).await,
        Code::Unauthenticated,
        "sign in again",
    );
    // Another family (the login) is untouched.
    app.refresh(&other_session.refresh_token)
        .await
        .expect("the other session lives on");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_family_and_is_idempotent() {
    let app = spawn_app().await;
    let signup = app.signup_ok("lou@example.com").await;
    let rotated = app.refresh(&signup.refresh_token).await.unwrap();
    app.logout(&rotated.refresh_token).await.expect("logout");
    assert_status(
        app.refresh(&rotated.refresh_token).await,
        Code::Unauthenticated,
        "refresh token is invalid",
    );

    app.logout(&rotated.refresh_token).await.expect("logout again");
    app.logout(&signup.refresh_token)
        .await
        .expect("logout with a spent token");
    app.logout(&RefreshToken::generate().expose())
        .await
        .expect("logout with an unknown token");
    app.logout("garbage")
        .await
        .expect("logout with a malformed token");
    assert_status(
        app.logout("  ").await,
        Code::InvalidArgument,
        "refresh_token is required",
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_malformed_and_unknown_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    assert_status(
        app.refresh("").await,
        Code::InvalidArgument,
        "refresh_token is required",
    );
    assert_status(
        app.refresh("not-a-token").await,
        Code::InvalidArgument,
        "refresh_token is malformed",
    );
    assert_status(
        app.refresh(&"é".repeat(43)).await,
        Code::InvalidArgument,
        "refresh_token is malformed",
    );
    let unknown = RefreshToken::generate().expose();
    assert_status(
        app.refresh(&unknown).await,
        Code::Unauthenticated,
        "refresh token is invalid",
    );
    app.stop().await;
}

// === access tokens and the JWKS ===

fn issuer_with(key: &str, kid: &str) -> AccessTokenIssuer {
    let keys = SigningKeys::new(SigningKey::from_pem(kid, key).unwrap(), vec![]).unwrap();
    AccessTokenIssuer::new(keys, ISSUER, AUDIENCE, Duration::from_secs(900))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `token` with its payload replaced by the same claims for `other_sub` (signature kept).
fn tampered(token: &str, other_sub: &str) -> String {
    use base64::Engine as _;
    let parts: Vec<&str> = token.split('.').collect();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .unwrap();
    let mut claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    claims["sub"] = other_sub.into();
    format!("{}.{}.{}", parts[0], b64(claims.to_string().as_bytes()), parts[2])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_access_token_verifies_against_the_published_jwks() {
    let app = spawn_app().await;
    let res = app.signup_ok("jo@example.com").await;

    let jwks = app
        .client
        .clone()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(jwks.keys.len(), 1);
    let k = &jwks.keys[0];
    assert_eq!(
        (k.kty.as_str(), k.kid.as_str(), k.alg.as_str(), k.r#use.as_str()),
        ("RSA", KID, "RS256", "sig")
    );
    assert_eq!(k.e, "AQAB");
    assert!(k.n.len() >= 342, "a 2048-bit modulus, base64url");

    let header = jsonwebtoken::decode_header(&res.access_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(KID));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let caller = app
        .verifier()
        .await
        .verify(&res.access_token)
        .expect("a valid token");
    assert_eq!(caller.user_id.to_string(), res.user_id);
    let c = &caller.claims;
    assert_eq!((c.iss.as_str(), c.aud.as_str()), (ISSUER, AUDIENCE));
    assert_eq!(c.exp - c.iat, 900);
    assert_eq!(c.nbf, c.iat);
    assert_eq!(Uuid::parse_str(&c.jti).unwrap().get_version_num(), 7);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_expired_and_foreign_tokens_do_not_verify_against_the_jwks() {
    let app = spawn_app().await;
    let res = app.signup_ok("eve@example.com").await;
    let verifier = app.verifier().await;
    let user = Uuid::parse_str(&res.user_id).unwrap();

    let forged = tampered(&res.access_token, &Uuid::now_v7().to_string());
    assert_eq!(verifier.verify(&forged).unwrap_err(), JwtError::Signature);

    // Minted with the service's own key and kid, but an hour ago.
    let expired = issuer_with(SIGNING_KEY, KID)
        .issue_at(user, chrono::Utc::now() - chrono::Duration::hours(1))
        .unwrap();
    assert_eq!(verifier.verify(&expired.token).unwrap_err(), JwtError::Expired);

    // Another key claiming the service's kid, or its own unknown kid.
    let foreign = issuer_with(OTHER_KEY, KID).issue(user).unwrap();
    assert_eq!(verifier.verify(&foreign.token).unwrap_err(), JwtError::Signature);
    let unknown_kid = issuer_with(OTHER_KEY, "someone-else").issue(user).unwrap();
    assert_eq!(
        verifier.verify(&unknown_kid.token).unwrap_err(),
        JwtError::UnknownKey
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retired_public_keys_stay_in_the_jwks_so_older_tokens_keep_verifying() {
    let app = spawn_app_with(Options {
        env: vec![(
            "JWT_PREVIOUS_PUBLIC_KEYS_PEM",
            format!("kid: retired-0\n{OTHER_PUB}"),
        )],
        ..Options::default()
    })
    .await;
    let jwks = app
        .client
        .clone()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    let kids: Vec<_> = jwks.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, [KID, "retired-0"]);
    let verifier = app.verifier().await;
    let old = issuer_with(OTHER_KEY, "retired-0").issue(Uuid::now_v7()).unwrap();
    assert!(
        verifier.verify(&old.token).is_ok(),
        "a token signed before the rotation"
    );
    let new = app.signup_ok("rot@example.com").await;
    assert!(verifier.verify(&new.access_token).is_ok());
    app.stop().await;
}

/// A service behind platform's JWT layer that answers GetJwks with the caller's user id as
/// the only key's kid, so a test sees what the layer let through.
struct EchoCaller;

#[tonic::async_trait]
impl AuthService for EchoCaller {
    async fn get_jwks(&self, req: Request<GetJwksRequest>) -> Result<Response<GetJwksResponse>, Status> {
        let caller = caller(&req)?;
        Ok(Response::new(GetJwksResponse {
            keys: vec![Jwk {
                kid: caller.user_id.to_string(),
                ..Default::default()
            }],
        }))
    }
    async fn signup(&self, _: Request<SignupRequest>) -> Result<Response<TokenResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn login(&self, _: Request<LoginRequest>) -> Result<Response<TokenResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn refresh(&self, _: Request<RefreshRequest>) -> Result<Response<TokenResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
    async fn logout(&self, _: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        Err(Status::unimplemented("echo"))
    }
}

async fn call_echo(addr: &str, token: Option<&str>) -> Result<String, Status> {
    let mut client = AuthServiceClient::connect(addr.to_owned()).await.unwrap();
    let mut req = Request::new(GetJwksRequest {});
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    client
        .get_jwks(req)
        .await
        .map(|r| r.into_inner().keys[0].kid.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn platforms_grpc_auth_layer_accepts_our_tokens_and_refuses_bad_ones() {
    let app = spawn_app().await;
    let res = app.signup_ok("max@example.com").await;
    let user = Uuid::parse_str(&res.user_id).unwrap();

    // Another service: it knows auth-service only through the JWKS.
    let verifier: JwtVerifier = app.verifier().await;
    let server = GrpcServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .require_auth(verifier, &[])
        .add_service(AuthServiceServer::new(EchoCaller));
    let addr = format!("http://{}", server.local_addr());
    let stop = CancellationToken::new();
    let handle = platform::grpc::spawn(server, stop.clone());

    assert_eq!(
        call_echo(&addr, Some(&res.access_token))
            .await
            .expect("a valid token passes"),
        res.user_id
    );
    assert_status(
        call_echo(&addr, None).await,
        Code::Unauthenticated,
        "missing bearer token",
    );
    let forged = tampered(&res.access_token, &Uuid::now_v7().to_string());
    assert_status(
        call_echo(&addr, Some(&forged)).await,
        Code::Unauthenticated,
        "signature",
    );
    let expired = issuer_with(SIGNING_KEY, KID)
        .issue_at(user, chrono::Utc::now() - chrono::Duration::hours(1))
        .unwrap();
    assert_status(
        call_echo(&addr, Some(&expired.token)).await,
        Code::Unauthenticated,
        "expired",
    );
    let foreign = issuer_with(OTHER_KEY, KID).issue(user).unwrap();
    assert_status(
        call_echo(&addr, Some(&foreign.token)).await,
        Code::Unauthenticated,
        "signature",
    );

    stop.cancel();
    handle.await.unwrap().unwrap();
    app.stop().await;
}
