use std::time::{Duration, Instant};

use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{assert_status, spawn_app, spawn_app_with, Options, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn login_with_the_right_password_opens_a_new_session() {
    let app = spawn_app().await;
    let signup = app.signup_ok("lee@example.com").await;
    let login = app.login(" LEE@Example.com ", PASSWORD).await.expect("login");
    assert_eq!(login.user_id, signup.user_id);
    assert_eq!((login.expires_in, login.token_type.as_str()), (900, "Bearer"));
    assert_ne!(login.refresh_token, signup.refresh_token);
    assert_eq!(
        app.verifier()
            .await
            .verify(&login.access_token)
            .unwrap()
            .user_id
            .to_string(),
        signup.user_id
    );
    // Both sessions are alive.
    app.refresh(&signup.refresh_token)
        .await
        .expect("the signup session");
    app.refresh(&login.refresh_token)
        .await
        .expect("the login session");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_email_and_a_wrong_password_are_indistinguishable() {
    let app = spawn_app().await;
    app.signup_ok("kim@example.com").await;

    let mut unknown_time = Duration::ZERO;
    let mut wrong_time = Duration::ZERO;
    let mut answers = vec![];
    for i in 0..2 {
        let from = format!("192.0.2.{i}");
        let t = Instant::now();
        let unknown = app
            .login_from("nobody@example.com", PASSWORD, &from)
            .await
            .unwrap_err();
        unknown_time += t.elapsed();
        let t = Instant::now();
        let wrong = app
            .login_from("kim@example.com", "not the password", &from)
            .await
            .unwrap_err();
        wrong_time += t.elapsed();
        answers.push((unknown, wrong));
    }
    for (unknown, wrong) in &answers {
        assert_eq!(unknown.code(), Code::Unauthenticated);
        assert_eq!(unknown.code(), wrong.code());
        assert_eq!(unknown.message(), "invalid email or password");
        assert_eq!(unknown.message(), wrong.message());
        assert_eq!(unknown.details(), wrong.details());
    }
    // Both paths run argon2 (the unknown email against a dummy hash). Without the dummy the
    // unknown email would answer an order of magnitude faster; allow plenty of noise.
    assert!(
        unknown_time * 3 > wrong_time,
        "unknown email answered much faster ({unknown_time:?}) than a wrong password ({wrong_time:?})"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_malformed_login_fields_are_invalid_arguments() {
    let app = spawn_app().await;
    assert_status(
        app.login("", PASSWORD).await,
        Code::InvalidArgument,
        "email: is required",
    );
    assert_status(
        app.login("a@example.com", "").await,
        Code::InvalidArgument,
        "password: is required",
    );
    assert_status(
        app.login("not-an-email", PASSWORD).await,
        Code::InvalidArgument,
        "email: invalid email address",
    );
    let huge = "x".repeat(10_000);
    assert_status(
        app.login("a@example.com", &huge).await,
        Code::InvalidArgument,
        "password: must be at most 128",
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_for_one_account_are_throttled_with_retry_info() {
    let app = spawn_app().await;
    app.signup_ok("pat@example.com").await;
    let from = "203.0.113.10";
    for _ in 0..5 {
        let res = app.login_from("pat@example.com", "wrong password!", from).await;
        assert_status(res, Code::Unauthenticated, "invalid email or password");
    }
    // The fifth failure locked the account for 1 s: even the right password waits.
    let throttled = assert_status(
        app.login_from("pat@example.com", PASSWORD, from).await,
        Code::ResourceExhausted,
        "too many failed sign-in attempts",
    );
    let delay = throttled
        .get_details_retry_info()
        .expect("RetryInfo detail")
        .retry_delay
        .expect("a delay");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
    assert_eq!(
        throttled
            .metadata()
            .get("retry-after")
            .expect("retry-after header"),
        "1"
    );
    // The account, not the address, is locked: another account from the same address is fine.
    app.signup_ok("other@example.com").await;
    app.login_from("other@example.com", PASSWORD, from)
        .await
        .expect("another account");

    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    // A sixth failure doubles the lock.
    assert_status(
        app.login_from("pat@example.com", "wrong again", from).await,
        Code::Unauthenticated,
        "invalid",
    );
    let throttled = assert_status(
        app.login_from("pat@example.com", PASSWORD, from).await,
        Code::ResourceExhausted,
        "too many",
    );
    let delay = throttled.get_details_retry_info().unwrap().retry_delay.unwrap();
    assert!(
        delay > Duration::from_secs(1) && delay <= Duration::from_secs(2),
        "{delay:?}"
    );

    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    app.login_from("pat@example.com", PASSWORD, from)
        .await
        .expect("the lock is over");
    // Success reset the account's counter: one more mistake is not throttled.
    assert_status(
        app.login_from("pat@example.com", "oops", from).await,
        Code::Unauthenticated,
        "invalid",
    );
    app.login_from("pat@example.com", PASSWORD, from)
        .await
        .expect("not locked after one failure");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_from_one_client_address_are_throttled_across_accounts() {
    let app = spawn_app_with(Options {
        env: vec![("LOGIN_MAX_FAILURES_PER_CLIENT", "3".into())],
        ..Options::default()
    })
    .await;
    app.signup_ok("victim@example.com").await;
    let attacker = "198.51.100.7";
    for i in 0..3 {
        let res = app
            .login_from(&format!("guess{i}@example.com"), "hunter22hunter22", attacker)
            .await;
        assert_status(res, Code::Unauthenticated, "invalid email or password");
    }
    let res = app.login_from("victim@example.com", PASSWORD, attacker).await;
    let status = assert_status(res, Code::ResourceExhausted, "too many failed sign-in attempts");
    assert!(status.get_details_retry_info().is_some());
    // Only that address is locked; the last x-forwarded-for entry (the edge's) is the client.
    app.login_from("victim@example.com", PASSWORD, "198.51.100.7, 198.51.100.8")
        .await
        .expect("another address");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_concurrent_guesses_is_cut_off_after_the_allowed_failures() {
    let app = spawn_app().await;
    app.signup_ok("burst@example.com").await;
    let guesses = (0..12).map(|i| {
        let app = &app;
        async move {
            app.login_from("burst@example.com", &format!("guess number {i}"), "203.0.113.50")
                .await
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::Unauthenticated))
        .count();
    let throttled = answers
        .iter()
        .filter(|r| matches!(r, Err(s) if s.code() == Code::ResourceExhausted))
        .count();
    assert_eq!(checked + throttled, 12, "{answers:?}");
    assert!(
        checked <= 5,
        "{checked} guesses were checked; at most 5 may be before the lock"
    );
    app.stop().await;
}
