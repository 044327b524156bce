use std::time::Duration;

use contracts::{events::UserRegistered, topics};
use platform::testing::read_topic;
use prost::Message as _;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{assert_status, count, spawn_app, PASSWORD};

#[tokio::test(flavor = "multi_thread")]
async fn signup_returns_a_session_and_publishes_user_registered_with_cloudevents_headers() {
    let app = spawn_app().await;
    let res = app
        .signup_full(
            "  Ana.Lopez@Example.COM ",
            PASSWORD,
            "  Ana López ",
            "eur",
            "Europe/Madrid",
        )
        .await
        .expect("signup");

    let user_id = Uuid::parse_str(&res.user_id).expect("user_id is a UUID");
    assert_eq!(user_id.get_version_num(), 7);
    assert_eq!(res.expires_in, 900);
    assert_eq!(res.token_type, "Bearer");
    assert_eq!(res.refresh_token.len(), 43);
    assert_eq!(
        app.verifier()
            .await
            .verify(&res.access_token)
            .expect("access token")
            .user_id,
        user_id
    );

    let topic = app.topic(topics::USER_REGISTERED);
    assert!(topic.starts_with("auth.user-registered.v1-"), "{topic}");
    let messages = read_topic(
        &app.infra.brokers,
        &topic,
        1,
        Duration::from_secs(30),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(messages.len(), 1, "exactly one event");
    let m = &messages[0];
    let event =
        UserRegistered::decode(m.payload.as_deref().expect("payload")).expect("a decodable UserRegistered");
    assert_eq!(event.user_id, res.user_id);
    assert_eq!(event.email, "ana.lopez@example.com");
    assert_eq!(event.display_name, "Ana López");
    assert_eq!(event.default_currency, "EUR");
    assert_eq!(event.timezone, "Europe/Madrid");
    let registered_at = event.registered_at.expect("registered_at");
    assert!((chrono::Utc::now().timestamp() - registered_at.seconds).abs() < 120);

    assert_eq!(m.key.as_deref(), Some(res.user_id.as_bytes()), "keyed by user id");
    assert!(Uuid::parse_str(&m.headers["ce_id"]).is_ok(), "{:?}", m.headers);
    assert_eq!(m.headers["ce_type"], "expense_tracker.events.v1.UserRegistered");
    assert_eq!(m.headers["ce_source"], "/expense-tracker/auth-service");
    assert_eq!(m.headers["ce_specversion"], "1.0");
    assert_eq!(m.headers["content-type"], "application/protobuf");
    assert!(m.headers.contains_key("ce_time"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signup_with_the_same_email_in_another_case_is_already_exists() {
    let app = spawn_app().await;
    app.signup_ok("sam@example.com").await;
    let again = app
        .signup(" SAM@example.com", "another fine passphrase", "Sam Two")
        .await;
    assert_status(
        again,
        Code::AlreadyExists,
        "an account with this email already exists",
    );

    let mut db = app.db().await;
    assert_eq!(count(&mut db, "SELECT count(*) AS n FROM users").await, 1);
    // The relay deletes the rows it publishes, so the topic is what tells.
    let messages = read_topic(
        &app.infra.brokers,
        &app.topic(topics::USER_REGISTERED),
        1,
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(messages.len(), 1, "no event for the refused signup");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_signups_are_refused_with_a_message_naming_the_field() {
    let app = spawn_app().await;
    let long_name = "x".repeat(81);
    let long_password = "p4ss-".repeat(26);
    let cases: Vec<(&str, &str, &str, &str, &str, &str)> = vec![
        // email, password, display_name, currency, timezone, expected message fragment
        (
            "",
            PASSWORD,
            "Ana",
            "",
            "",
            "email: invalid email address '': it is empty",
        ),
        (
            "ana.example.com",
            PASSWORD,
            "Ana",
            "",
            "",
            "email: invalid email address 'ana.example.com': it has no '@'",
        ),
        (
            "ana@localhost",
            PASSWORD,
            "Ana",
            "",
            "",
            "email: invalid email address",
        ),
        (
            "ana@example.com",
            "",
            "Ana",
            "",
            "",
            "password: must be at least 8 characters long (it has 0)",
        ),
        (
            "ana@example.com",
            "short1",
            "Ana",
            "",
            "",
            "password: must be at least 8 characters long (it has 6)",
        ),
        (
            "ana@example.com",
            &long_password,
            "Ana",
            "",
            "",
            "password: must be at most 128 characters long (it has 130)",
        ),
        (
            "ana@example.com",
            "Password123",
            "Ana",
            "",
            "",
            "password: is on the list of commonly used passwords",
        ),
        (
            "ana@example.com",
            "qwertyuiop",
            "Ana",
            "",
            "",
            "password: is on the list of commonly used passwords",
        ),
        (
            "ana@example.com",
            PASSWORD,
            "   ",
            "",
            "",
            "display_name: must not be empty",
        ),
        (
            "ana@example.com",
            PASSWORD,
            &long_name,
            "",
            "",
            "display_name: must be at most 80 characters (it has 81)",
        ),
        (
            "ana@example.com",
            PASSWORD,
            "Ana",
            "EURO",
            "",
            "default_currency: unknown currency code 'EURO'",
        ),
        (
            "ana@example.com",
            PASSWORD,
            "Ana",
            "XAU",
            "",
            "default_currency: 'XAU' is an ISO 4217 unit without a minor unit",
        ),
        (
            "ana@example.com",
            PASSWORD,
            "Ana",
            "",
            "Mars/Olympus_Mons",
            "timezone: unknown time zone 'Mars/Olympus_Mons'",
        ),
    ];
    for (email, password, name, currency, zone, expected) in cases {
        let res = app.signup_full(email, password, name, currency, zone).await;
        let status = res.expect_err(expected);
        assert_eq!(status.code(), Code::InvalidArgument, "{expected}: {status:?}");
        assert!(
            status.message().starts_with(expected),
            "{:?} should start with {expected:?}",
            status.message()
        );
    }
    let mut db = app.db().await;
    assert_eq!(
        count(&mut db, "SELECT count(*) AS n FROM users").await,
        0,
        "nothing was stored"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn passwords_and_refresh_tokens_are_stored_only_as_hashes() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        token_hash: Vec<u8>,
    }
    let app = spawn_app().await;
    let res = app.signup_ok("hash@example.com").await;
    let mut db = app.db().await;
    let row: Row = diesel::sql_query(
        "SELECT u.password_hash, t.token_hash FROM users u JOIN refresh_tokens t ON t.user_id = u.id",
    )
    .get_result(&mut db)
    .await
    .unwrap();
    assert!(
        row.password_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        row.password_hash
    );
    assert!(!row.password_hash.contains(PASSWORD));
    let token = auth_service::domain::RefreshToken::parse(&res.refresh_token).unwrap();
    assert_eq!(row.token_hash, token.hash(), "SHA-256 of the token");
    assert_ne!(row.token_hash, res.refresh_token.as_bytes());
    app.stop().await;
}
