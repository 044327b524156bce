use std::time::{Duration, Instant};

use chrono::Utc;
use contracts::{ds::ExtractExpenseRequest, events::ExpenseExtracted};
use platform::testing::Infra;
use prost::Message;
use uuid::Uuid;

use crate::helpers::{
    extraction, spawn_app, spawn_fake_user_service, spawn_user_service, TestApp, CLOSED_ADDR, TRACE_ID,
};

#[tokio::test(flavor = "multi_thread")]
async fn currency_and_zone_come_from_the_users_profile_when_the_request_omits_them() {
    let infra = Infra::from_env();
    let suffix = format!("-{}", platform::testing::unique("t"));
    let users = spawn_user_service(&infra, &suffix).await;
    let user = Uuid::now_v7();
    users.register(user, "INR", "Asia/Kolkata").await;
    let app = spawn_app(&[
        ("KAFKA_TOPIC_SUFFIX", suffix.as_str()),
        ("USER_SERVICE_ADDR", users.addr.as_str()),
    ])
    .await;

    let before = Utc::now().with_timezone(&chrono_tz::Asia::Kolkata).date_naive();
    let answer = app
        .extract(user, extraction("lunch 250 at subway", "", "", ""))
        .await
        .unwrap();
    let after = Utc::now().with_timezone(&chrono_tz::Asia::Kolkata).date_naive();
    let expense = answer.expense.unwrap();
    assert_eq!(
        (expense.amount.as_str(), expense.currency.as_str()),
        ("250.00", "INR")
    );
    assert!(
        expense.occurred_on == before.to_string() || expense.occurred_on == after.to_string(),
        "today in Asia/Kolkata, got {}",
        expense.occurred_on
    );
    assert!(
        answer.warnings.iter().all(|w| !w.contains("profile")),
        "{:?}",
        answer.warnings
    );
    assert!(answer.warnings.iter().any(|w| w.contains("(Asia/Kolkata)")));

    // The request still wins over the profile.
    let answer = app
        .extract(user, extraction("lunch 250 at subway", "USD", "", ""))
        .await
        .unwrap();
    assert_eq!(answer.expense.unwrap().currency, "USD");

    let messages = app.published(2, Duration::from_millis(300)).await;
    let currencies: Vec<String> = messages
        .iter()
        .map(|m| {
            ExpenseExtracted::decode(m.payload.as_deref().unwrap())
                .unwrap()
                .currency
        })
        .collect();
    assert_eq!(currencies, ["INR", "USD"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_callers_token_and_trace_context_travel_to_user_service() {
    let fake = spawn_fake_user_service("JPY", "Asia/Tokyo", Duration::ZERO).await;
    let app = spawn_app(&[("USER_SERVICE_ADDR", fake.addr.as_str())]).await;
    let user = Uuid::now_v7();
    let req = app.request(user, extraction("ramen 1200 yen", "", "", ""));
    let sent_authorization = req.metadata().get("authorization").unwrap().clone();
    let answer = app
        .client
        .clone()
        .extract_expense(req)
        .await
        .unwrap()
        .into_inner();
    let expense = answer.expense.unwrap();
    assert_eq!(
        (expense.amount.as_str(), expense.currency.as_str()),
        ("1200", "JPY")
    );

    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "one GetUser per extraction");
    assert_eq!(calls[0].get("authorization"), Some(&sent_authorization));
    let traceparent = calls[0]
        .get("traceparent")
        .expect("traceparent on GetUser")
        .to_str()
        .unwrap();
    assert!(traceparent.contains(TRACE_ID), "{traceparent}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_says_currency_and_date_does_not_ask_user_service() {
    let fake = spawn_fake_user_service("JPY", "Asia/Tokyo", Duration::ZERO).await;
    let app = spawn_app(&[("USER_SERVICE_ADDR", fake.addr.as_str())]).await;
    let user = Uuid::now_v7();
    app.extract(user, extraction("coffee 3", "EUR", "Europe/Paris", ""))
        .await
        .unwrap();
    // With a reference date the zone is moot.
    app.extract(user, extraction("coffee 3", "EUR", "", "2024-05-15"))
        .await
        .unwrap();
    assert!(fake.calls().is_empty());
}

async fn assert_defaults(app: &TestApp, why: &str) {
    let user = Uuid::now_v7();
    let started = Instant::now();
    // A dry run: what is timed is the profile lookup, not the broker.
    let req = ExtractExpenseRequest {
        dry_run: true,
        ..extraction("coffee 3", "", "", "")
    };
    let answer = app.extract(user, req).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the profile costs at most its timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(answer.expense.unwrap().currency, "EUR");
    let expected = format!(
        "could not read your profile ({why}); used the default currency EUR and time zone Europe/Berlin"
    );
    assert!(answer.warnings.contains(&expected), "{:?}", answer.warnings);
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_apply_with_a_warning_when_user_service_is_unreachable() {
    let app = spawn_app(&[("USER_SERVICE_ADDR", CLOSED_ADDR)]).await;
    assert_defaults(&app, "user-service is unreachable").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_user_service_costs_no_more_than_its_timeout() {
    let fake = spawn_fake_user_service("JPY", "Asia/Tokyo", Duration::from_secs(3)).await;
    let app = spawn_app(&[
        ("USER_SERVICE_ADDR", fake.addr.as_str()),
        ("USER_SERVICE_TIMEOUT_MS", "200"),
    ])
    .await;
    assert_defaults(&app, "user-service did not answer within 200 ms").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_without_a_profile_gets_the_defaults_with_a_warning() {
    let infra = Infra::from_env();
    let suffix = format!("-{}", platform::testing::unique("t"));
    let users = spawn_user_service(&infra, &suffix).await;
    let app = spawn_app(&[
        ("KAFKA_TOPIC_SUFFIX", suffix.as_str()),
        ("USER_SERVICE_ADDR", users.addr.as_str()),
    ])
    .await;
    assert_defaults(&app, "your profile was not found").await;
}
