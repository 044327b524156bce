//! No secret in the logs: the real `auth-service` binary runs as a child process with
//! debug logging, goes through signup, login (right and wrong), refresh, reuse of a spent
//! refresh token and logout, and its captured stdout and stderr are searched for every
//! password and token it saw.

use std::{process::Stdio, time::Duration};

use contracts::auth::{
    auth_service_client::AuthServiceClient, GetJwksRequest, LoginRequest, LogoutRequest, RefreshRequest,
    SignupRequest, TokenResponse,
};
use platform::testing::{unique, watch_log};
use tokio::{
    io::AsyncReadExt,
    process::{Child, Command},
};
use tonic::{transport::Channel, Request};

use crate::helpers::{infra, KID, SIGNING_KEY};

const PASSWORD: &str = "log-canary correct horse 7f3a";
const WRONG_PASSWORD: &str = "log-canary wrong guess 91c2";

/// The running binary: its gRPC address (from its "serving" log line) and the task reading
/// its stdout (so the child never blocks on a full pipe), which yields every line.
struct Running {
    child: Child,
    addr: String,
    lines: tokio::task::JoinHandle<Vec<String>>,
}

async fn start(database_url: &str, brokers: &str) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-service"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("DATABASE_POOL_SIZE", "2")
        .env("GRPC_ADDR", "127.0.0.1:0")
        .env("KAFKA_BROKERS", brokers)
        .env("KAFKA_TOPIC_SUFFIX", format!("-{}", unique("logs")))
        .env("OUTBOX_INSTANCE", unique("logs"))
        .env("JWT_PRIVATE_KEY_PEM", SIGNING_KEY)
        .env("JWT_KEY_ID", KID)
        // More than production logs (info): any secret a debug line would show counts.
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("auth-service binary");
    let (addr, lines) = watch_log(child.stdout.take().unwrap(), "serving", Duration::from_secs(60)).await;
    Running {
        child,
        addr: format!("http://{addr}"),
        lines,
    }
}

fn with_bearer<T>(msg: T, token: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_or_token_ever_reaches_the_logs() {
    let infra = infra();
    let database_url = infra.fresh_database().await;
    let Running {
        mut child,
        addr,
        lines: all_lines,
    } = start(&database_url, &infra.brokers).await;
    let channel = Channel::from_shared(addr).unwrap().connect().await.unwrap();
    let mut c = AuthServiceClient::new(channel);
    let email = format!("{}@example.com", unique("logs"));

    let signup: TokenResponse = c
        .signup(SignupRequest {
            email: email.clone(),
            password: PASSWORD.into(),
            display_name: "Log Canary".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let wrong = c
        .login(LoginRequest {
            email: email.clone(),
            password: WRONG_PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    let login = c
        .login(LoginRequest {
            email: email.clone(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    // Tokens also travel as `authorization` metadata, as clients behind the edge send them.
    let rotated = c
        .refresh(with_bearer(
            RefreshRequest {
                refresh_token: login.refresh_token.clone(),
            },
            &login.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    let reuse = c
        .refresh(RefreshRequest {
            refresh_token: login.refresh_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(reuse.code(), tonic::Code::Unauthenticated);
    c.logout(with_bearer(
        LogoutRequest {
            refresh_token: signup.refresh_token.clone(),
        },
        &signup.access_token,
    ))
    .await
    .unwrap();
    c.get_jwks(with_bearer(GetJwksRequest {}, &rotated.access_token))
        .await
        .unwrap();

    // Stop it gracefully (SIGTERM), so everything it had to say is written.
    let pid = child.id().expect("running");
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let exited = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    if exited.is_err() {
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
    let log = format!("{}\n{stderr}", lines.join("\n"));
    // Debug output of byte buffers (`Some([36, 97, …])`) hides text from a plain search:
    // decode them too.
    let log = format!("{log}\n{}", decoded_byte_lists(&log));

    // The capture is real: the flows above were logged.
    for expected in [
        "account created",
        "signed in",
        "sign-in refused",
        "refresh token rotated",
        "signed out",
    ] {
        assert!(log.contains(expected), "no {expected:?} line in the log:\n{log}");
    }
    let mut secrets: Vec<(&str, String)> = vec![
        ("the password", PASSWORD.into()),
        ("a wrong password", WRONG_PASSWORD.into()),
        ("the private key", SIGNING_KEY.lines().nth(1).unwrap().into()),
    ];
    for (what, t) in [("signup", &signup), ("login", &login), ("refresh", &rotated)] {
        secrets.push((what, t.refresh_token.clone()));
        secrets.push((what, t.access_token.clone()));
        // Any part of a JWT is enough to spot one: its signature alone is unique.
        secrets.push((what, t.access_token.rsplit('.').next().unwrap().into()));
    }
    for (what, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret ({what}) is in the log: {}",
            log.lines()
                .find(|l| l.contains(secret.as_str()))
                .unwrap_or_default()
        );
    }
    // Nor what is stored instead of them.
    let hash = stored_password_hash(&database_url).await;
    let hash_part = hash.rsplit('$').next().unwrap();
    assert!(!log.contains(hash_part), "the password hash is in the log");
    assert!(!log.contains("$argon2id$"), "a password hash is in the log");
    assert!(
        !log.to_lowercase().contains("bearer "),
        "an authorization header is in the log"
    );
}

/// The text of every `[n, n, …]` list of bytes in `log`, one per line.
fn decoded_byte_lists(log: &str) -> String {
    let mut out = vec![];
    for chunk in log.split('[').skip(1) {
        let Some((inside, _)) = chunk.split_once(']') else {
            continue;
        };
        let bytes: Result<Vec<u8>, _> = inside.split(',').map(|n| n.trim().parse::<u8>()).collect();
        if let Ok(bytes) = bytes {
            if bytes.len() > 4 {
                out.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    out.join("\n")
}

async fn stored_password_hash(database_url: &str) -> String {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
    }
    let mut conn = AsyncPgConnection::establish(database_url).await.unwrap();
    let row: Row = diesel::sql_query("SELECT password_hash FROM users")
        .get_result(&mut conn)
        .await
        .unwrap();
    row.password_hash
}
