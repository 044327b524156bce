use std::time::{Duration, Instant};

use chrono::Utc;
use contracts::{
    ds::ExtractExpenseRequest,
    events::ExpenseExtracted,
    expense::{Category, Source},
};
use platform::testing::tokens;
use prost::Message;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{extraction, spawn_app, TRACE_ID};

#[tokio::test(flavor = "multi_thread")]
async fn a_published_expense_extracted_decodes_to_what_the_rpc_returned() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let answer = app
        .extract(
            user,
            extraction(
                "spent 250 on lunch at Subway yesterday",
                "INR",
                "Asia/Kolkata",
                "2024-05-15",
            ),
        )
        .await
        .unwrap();
    let expense = answer.expense.clone().expect("an expense");
    assert_eq!(expense.amount, "250.00");
    assert_eq!(expense.currency, "INR");
    assert_eq!(expense.merchant, "Subway");
    assert_eq!(expense.category, Category::FoodAndDrink as i32);
    assert_eq!(expense.occurred_on, "2024-05-14");
    assert_eq!(expense.source, Source::TextRules as i32);
    assert_eq!(expense.raw_text, "spent 250 on lunch at Subway yesterday");
    assert_eq!(expense.user_id, user.to_string());
    let id = Uuid::parse_str(&expense.id).expect("a UUID");
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(answer.extractor, "rules");
    assert!(answer.confidence > 0.5 && answer.confidence == expense.confidence);
    assert!(
        answer.warnings.iter().all(|w| !w.contains("no date")),
        "{:?}",
        answer.warnings
    );

    let messages = app.published(1, Duration::from_millis(500)).await;
    assert_eq!(messages.len(), 1, "exactly one event");
    let m = &messages[0];
    assert_eq!(
        m.key.as_deref(),
        Some(user.to_string().as_bytes()),
        "keyed by user"
    );
    let h = &m.headers;
    assert_eq!(h["ce_specversion"], "1.0");
    assert_eq!(h["ce_type"], "expense_tracker.events.v1.ExpenseExtracted");
    assert_eq!(h["ce_source"], "/expense-tracker/ds-service");
    assert_eq!(h["content-type"], "application/protobuf");
    assert!(chrono::DateTime::parse_from_rfc3339(&h["ce_time"]).is_ok());
    assert_eq!(Uuid::parse_str(&h["ce_id"]).unwrap().get_version_num(), 7);
    assert!(
        h["traceparent"].contains(TRACE_ID),
        "the event continues the caller's trace: {}",
        h["traceparent"]
    );

    let event = ExpenseExtracted::decode(m.payload.as_deref().unwrap()).unwrap();
    assert_eq!(event.expense_id, expense.id);
    assert_eq!(event.user_id, expense.user_id);
    assert_eq!(event.amount, expense.amount);
    assert_eq!(event.currency, expense.currency);
    assert_eq!(event.merchant, expense.merchant);
    assert_eq!(event.category, expense.category);
    assert_eq!(event.occurred_on, expense.occurred_on);
    assert_eq!(event.raw_text, expense.raw_text);
    assert_eq!(event.source, expense.source);
    assert_eq!(event.confidence, expense.confidence);
    assert_eq!(event.extractor, answer.extractor);
    let at = event.extracted_at.expect("extracted_at");
    assert!((Utc::now().timestamp() - at.seconds).abs() < 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_publishes_nothing() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let dry = app
        .extract(
            user,
            ExtractExpenseRequest {
                dry_run: true,
                ..extraction("uber to office 320", "INR", "Asia/Kolkata", "")
            },
        )
        .await
        .unwrap();
    let dry = dry.expense.unwrap();
    assert_eq!(
        (dry.amount.as_str(), dry.category),
        ("320.00", Category::Transport as i32)
    );
    // A real one after it: the topic then holds exactly that one.
    let real = app
        .extract(user, extraction("uber to office 320", "INR", "Asia/Kolkata", ""))
        .await
        .unwrap()
        .expense
        .unwrap();
    assert_ne!(dry.id, real.id, "every extraction gets its own id");
    let messages = app.published(1, Duration::from_secs(1)).await;
    assert_eq!(messages.len(), 1);
    let event = ExpenseExtracted::decode(messages[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(event.expense_id, real.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_without_a_date_happened_on_the_reference_date_with_a_warning() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let answer = app
        .extract(user, extraction("coffee 3.50", "EUR", "", "2024-05-15"))
        .await
        .unwrap();
    assert_eq!(answer.expense.unwrap().occurred_on, "2024-05-15");
    assert!(
        answer
            .warnings
            .contains(&"no date in text; used the reference date 2024-05-15".to_owned()),
        "{:?}",
        answer.warnings
    );

    // Without a reference date: today in the request's zone.
    let zone = chrono_tz::Pacific::Kiritimati;
    let before = Utc::now().with_timezone(&zone).date_naive();
    let answer = app
        .extract(user, extraction("coffee 3.50", "EUR", "Pacific/Kiritimati", ""))
        .await
        .unwrap();
    let after = Utc::now().with_timezone(&zone).date_naive();
    let on = answer.expense.unwrap().occurred_on;
    assert!(on == before.to_string() || on == after.to_string(), "{on}");
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.starts_with("no date in text; used today") && w.contains("Pacific/Kiritimati")),
        "{:?}",
        answer.warnings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_requests_say_why_and_publish_nothing() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let long = "a".repeat(1001);
    let cases: Vec<(ExtractExpenseRequest, &str)> = vec![
        (extraction("", "", "", ""), "text is empty"),
        (extraction("   ", "", "", ""), "text is empty"),
        (
            extraction(&long, "", "", ""),
            "text is 1001 characters long; the most is 1000",
        ),
        (
            extraction("lunch 12", "XYZ", "", ""),
            "default_currency: unknown currency code 'XYZ'",
        ),
        (
            extraction("lunch 12", "", "Mars/Base", ""),
            "timezone: 'Mars/Base' is not an IANA time zone",
        ),
        (
            extraction("lunch 12", "", "", "15/05/2024"),
            "reference_date: '15/05/2024' is not a date; expected YYYY-MM-DD",
        ),
        (
            extraction("lunch 12", "", "", "2999-01-01"),
            "reference_date: 2999-01-01 is in the future",
        ),
        (
            extraction("hello there, how are you?", "USD", "UTC", ""),
            "no amount found in text",
        ),
        (
            extraction(
                "Rs.5,000.00 credited to your A/c XX1234 on 14-05-24 by NEFT. Avl Bal Rs.25,000.00",
                "INR",
                "UTC",
                "",
            ),
            "not an expense: credit",
        ),
        (
            extraction(
                "482913 is your OTP for txn of INR 2,499.00 at MYNTRA. Do not share it.",
                "INR",
                "UTC",
                "",
            ),
            "not an expense: OTP",
        ),
    ];
    for (req, why) in cases {
        let text: String = req.text.chars().take(40).collect();
        let status = app.extract(user, req).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{text:?}: {status:?}");
        assert!(
            status.message().starts_with(why),
            "{text:?}: {:?} should start with {why:?}",
            status.message()
        );
    }
    let messages = app.published(0, Duration::ZERO).await;
    assert!(messages.is_empty(), "nothing is published for refused texts");
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let app = spawn_app(&[]).await;
    let req = extraction("coffee 3", "EUR", "UTC", "");
    let status = app.client.clone().extract_expense(req.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("missing bearer token"), "{status:?}");

    let forged = tokens::sign(
        &tokens::claims(Uuid::now_v7()),
        tokens::OTHER_KEY_PEM,
        tokens::KID,
    );
    let mut r = tonic::Request::new(req);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {forged}").parse().unwrap());
    let status = app.client.clone().extract_expense(r).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_broker_does_not_acknowledge_the_answer_is_unavailable() {
    // Nothing listens on port 1: the publish times out, and the caller must not be told
    // the expense was recorded.
    let app = spawn_app(&[
        ("KAFKA_BROKERS", "127.0.0.1:1"),
        ("KAFKA_PUBLISH_TIMEOUT_MS", "1500"),
    ])
    .await;
    let user = Uuid::now_v7();
    let started = Instant::now();
    let status = app
        .extract(user, extraction("coffee 3", "EUR", "UTC", ""))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(status.message(), "the expense could not be recorded right now (the event log is unavailable); nothing was saved, please try again shortly");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // A dry run needs no broker.
    let dry = app
        .extract(
            user,
            ExtractExpenseRequest {
                dry_run: true,
                ..extraction("coffee 3", "EUR", "UTC", "")
            },
        )
        .await
        .unwrap();
    assert_eq!(dry.expense.unwrap().amount, "3.00");
}
