//! Hostile input to auth-service: SQL injection attempts in every stored text field, NUL
//! bytes and oversized fields, and a spoofed `X-Forwarded-For` against the login throttle.

use std::time::Duration;

use contracts::{events::UserRegistered, topics};
use platform::testing::read_topic;
use prost::Message as _;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{assert_status, count, spawn_app, spawn_app_with, Options, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn sql_injection_attempts_are_stored_verbatim_and_harmless() {
    let app = spawn_app().await;
    let bystander = app.signup_ok("bystander@example.com").await;
    // An email may hold quotes, dashes and equals signs; a password anything.
    let email = "x'or'1'='1'--@example.com";
    let name = "'; DROP TABLE users; --";
    let password = "' OR '1'='1' -- ; DELETE FROM refresh_tokens";
    let res = app
        .signup_full(email, password, name, "", "")
        .await
        .expect("signup");

    // Login needs exactly that password; a classic bypass string is just a wrong password.
    let login = app.login(email, password).await.expect("login");
    assert_eq!(login.user_id, res.user_id);
    assert_status(
        app.login(email, "' OR '1'='1").await,
        Code::Unauthenticated,
        "invalid email or password",
    );
    assert_status(
        app.login("' OR '1'='1", password).await,
        Code::InvalidArgument,
        "email",
    );
    assert_status(
        app.login("admin'--@example.com", "anything at all").await,
        Code::Unauthenticated,
        "invalid email or password",
    );

    // The display name reaches user-service verbatim through the event.
    let messages = read_topic(
        &app.infra.brokers,
        &app.topic(topics::USER_REGISTERED),
        2,
        Duration::from_secs(30),
        Duration::from_millis(300),
    )
    .await;
    let ours = messages
        .iter()
        .map(|m| UserRegistered::decode(m.payload.as_deref().unwrap()).unwrap())
        .find(|e| e.user_id == res.user_id)
        .expect("our registration");
    assert_eq!((ours.email.as_str(), ours.display_name.as_str()), (email, name));

    // Nothing else happened: both accounts and their sessions are there.
    let mut db = app.db().await;
    assert_eq!(count(&mut db, "SELECT count(*) AS n FROM users").await, 2);
    app.refresh(&bystander.refresh_token)
        .await
        .expect("the bystander's session lives");
    app.refresh(&login.refresh_token)
        .await
        .expect("our session lives");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_bytes_and_oversized_fields_are_invalid_arguments_with_short_messages() {
    let app = spawn_app().await;
    let huge = "x".repeat(100_000);
    let big_email = format!("{huge}@example.com");
    let cases: Vec<(&str, Result<_, tonic::Status>)> = vec![
        (
            "email",
            app.signup("nul\0byte@example.com", PASSWORD, "Nul").await,
        ),
        ("email", app.signup(&big_email, PASSWORD, "Big").await),
        (
            "display_name",
            app.signup("a@example.com", PASSWORD, "Nul\0Name").await,
        ),
        ("display_name", app.signup("a@example.com", PASSWORD, &huge).await),
        ("password", app.signup("a@example.com", &huge, "Big").await),
        (
            "default_currency",
            app.signup_full("a@example.com", PASSWORD, "A", &huge, "").await,
        ),
        (
            "timezone",
            app.signup_full("a@example.com", PASSWORD, "A", "", &huge).await,
        ),
        (
            "timezone",
            app.signup_full("a@example.com", PASSWORD, "A", "", "UTC\0").await,
        ),
        ("email", app.login("nul\0byte@example.com", PASSWORD).await),
        ("email", app.login(&big_email, PASSWORD).await),
        ("password", app.login("a@example.com", &huge).await),
        ("refresh_token", app.refresh("\0").await),
        ("refresh_token", app.refresh(&huge).await),
    ];
    for (field, res) in cases {
        let status = res.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            status.message().contains(field),
            "{field}: {:?}",
            status.message()
        );
        // grpc-message is a header: h2 clients drop the connection over a huge one, and
        // Kong's nginx answers 502.
        assert!(
            status.message().len() < 1024,
            "{field}: {} bytes",
            status.message().len()
        );
    }
    // Logout of something that is no token is a no-op, never an internal error.
    for token in ["\0", huge.as_str()] {
        if let Err(status) = app.logout(token).await {
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        }
    }
    // A NUL inside a password is just a character.
    let ok = app
        .signup("nul@example.com", "correct horse\0battery", "Nul")
        .await
        .expect("signup");
    assert_eq!(
        app.login("nul@example.com", "correct horse\0battery")
            .await
            .expect("login")
            .user_id,
        ok.user_id
    );
    assert_status(
        app.login("nul@example.com", "correct horse").await,
        Code::Unauthenticated,
        "invalid email or password",
    );
    let mut db = app.db().await;
    assert_eq!(count(&mut db, "SELECT count(*) AS n FROM users").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spoofed_x_forwarded_for_does_not_escape_the_per_client_throttle() {
    let app = spawn_app_with(Options {
        env: vec![("LOGIN_MAX_FAILURES_PER_CLIENT", "3".into())],
        ..Options::default()
    })
    .await;
    app.signup_ok("target@example.com").await;
    // Kong and the edge append the address they were connected from: the last entry. The
    // attacker makes up a new first entry for every guess.
    let attacker = "198.51.100.77";
    for i in 0..3 {
        let xff = format!(
            "10.{}.{}.{}, {attacker}",
            i,
            i * 7 % 255,
            Uuid::now_v7().as_bytes()[15]
        );
        let res = app
            .login_from(&format!("guess{i}@example.com"), "hunter22hunter22", &xff)
            .await;
        assert_status(res, Code::Unauthenticated, "invalid email or password");
    }
    let res = app
        .login_from(
            "target@example.com",
            PASSWORD,
            &format!("203.0.113.200, {attacker}"),
        )
        .await;
    assert_status(res, Code::ResourceExhausted, "too many failed sign-in attempts");
    // Someone else, behind the same spoofed first entry, is not locked out.
    app.login_from("target@example.com", PASSWORD, "198.51.100.77, 198.51.100.78")
        .await
        .expect("another client");
    app.stop().await;
}
