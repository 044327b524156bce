//! Security at the edge: JWT attacks beyond `auth.rs` (a tampered copy of a token the edge
//! has already verified and cached, other algorithms, a missing signature), and no secret
//! in the logs of the real `edge` binary.

use std::{process::Stdio, time::Duration};

use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use platform::{
    grpc::{spawn, GrpcServer},
    testing::{tokens, watch_log},
};
use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{json, manifest_dir, spawn_app, Fakes};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_tampered_copy_of_a_verified_token_is_refused() {
    let app = spawn_app().await;
    let (victim, attacker) = (Uuid::new_v4(), Uuid::new_v4());
    let own = tokens::access_token(attacker);
    // Verified once: the edge caches it.
    for _ in 0..2 {
        let res = app.get("/v1/users/me").bearer_auth(&own).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let parts: Vec<&str> = own.split('.').collect();
    let claims = serde_json::to_vec(&tokens::claims(victim)).unwrap();
    let mut header = Header::new(Algorithm::RS512);
    header.kid = Some(tokens::KID.into());
    let cases = [
        // The attacker's signature over the victim's claims.
        format!("{}.{}.{}", parts[0], b64(&claims), parts[2]),
        // The cached token with its signature cut or altered.
        format!("{}.{}.", parts[0], parts[1]),
        format!("{}.{}.{}A", parts[0], parts[1], parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        // A header swapped for one naming no algorithm.
        format!(
            "{}.{}.{}",
            b64(br#"{"alg":"none","kid":"dev-1"}"#),
            parts[1],
            parts[2]
        ),
        // The right key, the wrong algorithm.
        encode(
            &header,
            &tokens::claims(victim),
            &EncodingKey::from_rsa_pem(tokens::SIGNING_KEY_PEM.as_bytes()).unwrap(),
        )
        .unwrap(),
    ];
    *app.seen.metadata.lock().unwrap() = None;
    for token in cases {
        let res = app.get("/v1/users/me").bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), 401, "{token}");
        assert_eq!(json(res).await["code"], "UNAUTHENTICATED");
    }
    assert!(
        app.seen.metadata.lock().unwrap().is_none(),
        "nothing reached an upstream"
    );
    // The genuine token still works.
    let res = app.get("/v1/users/me").bearer_auth(&own).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

const PASSWORD: &str = "edge-log-canary correct horse 5b1e";

/// The fake upstreams on port 0: (auth+user+expense, ds).
async fn fake_upstreams(stop: &CancellationToken) -> (String, String) {
    let fakes = Fakes::default();
    let main = GrpcServer::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let main_addr = format!("http://{}", main.local_addr());
    let main = main
        .add_service(contracts::auth::auth_service_server::AuthServiceServer::new(
            fakes.clone(),
        ))
        .add_service(contracts::user::user_service_server::UserServiceServer::new(
            fakes.clone(),
        ))
        .add_service(contracts::expense::expense_service_server::ExpenseServiceServer::new(fakes.clone()));
    spawn(main, stop.clone());
    let ds = GrpcServer::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let ds_addr = format!("http://{}", ds.local_addr());
    spawn(
        ds.add_service(contracts::ds::extraction_service_server::ExtractionServiceServer::new(fakes)),
        stop.clone(),
    );
    (main_addr, ds_addr)
}

#[tokio::test]
async fn no_password_or_token_reaches_the_edges_logs() {
    let stop = CancellationToken::new();
    let (main, ds) = fake_upstreams(&stop).await;
    let dir = std::env::temp_dir().join(format!("edge-logs-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = manifest_dir().join("../../services/platform/tests/fixtures/signing.pub.pem");
    let config = dir.join("edge.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
listen: 127.0.0.1:0
upstreams:
  expense_tracker.auth.v1.AuthService: {{ address: "{main}" }}
  expense_tracker.user.v1.UserService: {{ address: "{main}" }}
  expense_tracker.expense.v1.ExpenseService: {{ address: "{main}" }}
  expense_tracker.ds.v1.ExtractionService: {{ address: "{ds}" }}
public: [expense_tracker.auth.v1.AuthService]
jwt:
  issuers:
    - iss: {iss}
      audience: {aud}
      public_key_file: {key}
      kid: {kid}
"#,
            iss = tokens::ISSUER,
            aud = tokens::AUDIENCE,
            kid = tokens::KID,
            key = key.display(),
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_edge"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("EDGE_CONFIG", &config)
        // More than production logs (info): any secret a debug line would show counts.
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("edge binary");
    let (addr, all_lines) = watch_log(
        child.stdout.take().unwrap(),
        "edge listening",
        Duration::from_secs(30),
    )
    .await;
    let base = format!("http://{addr}");

    let client = super::helpers::http_client();
    let token = tokens::access_token(Uuid::new_v4());
    let forged = tokens::sign(
        &tokens::claims(Uuid::new_v4()),
        tokens::OTHER_KEY_PEM,
        tokens::KID,
    );
    let post = |path: &str, body: serde_json::Value| client.post(format!("{base}{path}")).json(&body);
    let calls = [
        post(
            "/v1/auth/signup",
            json!({"email": "a@example.com", "password": PASSWORD, "display_name": "A"}),
        ),
        post(
            "/v1/auth/login",
            json!({"email": "a@example.com", "password": PASSWORD}),
        ),
        post("/v1/auth/refresh", json!({"refresh_token": token})).bearer_auth(&token),
        client.get(format!("{base}/v1/users/me")).bearer_auth(&token),
        client.get(format!("{base}/v1/users/me")).bearer_auth(&forged),
        client.get(format!("{base}/v1/users/me?jwt={token}")),
        client
            .request(Method::PATCH, format!("{base}/v1/users/me"))
            .bearer_auth(&token)
            .json(&json!({"display_name": PASSWORD, "update_mask": ["display_name"]})),
    ];
    let mut statuses = vec![];
    for call in calls {
        statuses.push(call.send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 401, 401, 200]);

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    if tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .is_err()
    {
        child.kill().await.unwrap();
    }
    let lines = all_lines.await.unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    stop.cancel();
    let _ = std::fs::remove_dir_all(&dir);
    let log = format!("{}\n{stderr}", lines.join("\n"));

    // The capture is real: one access line per request.
    let access = lines.iter().filter(|l| l.contains("\"edge::access\"")).count();
    assert_eq!(access, statuses.len(), "access lines:\n{log}");
    for (what, secret) in [
        ("the password", PASSWORD),
        ("an access token", token.as_str()),
        ("a token's signature", token.rsplit('.').next().unwrap()),
        ("a forged token", forged.as_str()),
    ] {
        assert!(
            !log.contains(secret),
            "{what} is in the log: {}",
            log.lines().find(|l| l.contains(secret)).unwrap_or_default()
        );
    }
    assert!(
        !log.to_lowercase().contains("bearer "),
        "an authorization header is in the log"
    );
}
