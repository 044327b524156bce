//! The Mistral path against a fake server on loopback (wiremock): what is sent, what is
//! accepted, and every way it falls back to the rules.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use contracts::{events::ExpenseExtracted, expense::Source};
use domain::{Category, Currency};
use ds::{
    domain::ExtractContext,
    extraction::{By, Extracted, Extractor},
    llm::{LlmConfig, LlmMode},
};
use prost::Message;
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::{
    matchers::{body_partial_json, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

use crate::helpers::{extraction, spawn_app};

const MODEL: &str = "mistral-test";
const KEY: &str = "test-key-not-secret";

fn config(server: &MockServer) -> LlmConfig {
    LlmConfig {
        timeout: Duration::from_secs(5),
        retry_backoff: Duration::from_millis(20),
        ..LlmConfig::new(KEY, &server.uri(), MODEL)
    }
}

fn ctx() -> ExtractContext {
    ExtractContext::new(NaiveDate::from_ymd_opt(2024, 5, 15).unwrap(), Currency::INR)
}

/// A chat completion whose message content is `content` (a string or chunks).
fn completion(content: Value, finish_reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": finish_reason,
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130}
    }))
}

fn answer(amount: &str, currency: &str, merchant: &str, category: &str, date: &str) -> String {
    json!({
        "amount": amount, "currency": currency, "merchant": merchant,
        "category": category, "date": date
    })
    .to_string()
}

const TEXT: &str = "spent 250 on lunch at Subway yesterday";

fn good() -> ResponseTemplate {
    completion(
        json!(answer("250", "INR", "Subway", "FOOD_AND_DRINK", "2024-05-14")),
        "stop",
    )
}

async fn run(extractor: &Extractor, text: &str) -> Extracted {
    extractor.extract(text, &ctx(), "Asia/Kolkata").await.unwrap()
}

fn assert_fell_back(x: &Extracted, why: &str) {
    assert_eq!(x.by, By::Rules);
    assert!(
        x.extraction.warnings[0].contains(why) && x.extraction.warnings[0].ends_with("; used the rules"),
        "{:?}",
        x.extraction.warnings
    );
    // The rules still read the text.
    assert_eq!(x.extraction.amount.to_string(), "250.00");
}

#[tokio::test]
async fn a_valid_answer_is_used_and_the_request_follows_the_contract() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": MODEL,
            "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "expense", "strict": true}},
        })))
        .respond_with(good())
        .expect(1)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_eq!(x.by, By::Llm { model: MODEL.into() });
    assert_eq!(x.by.name(), "llm:mistral-test");
    assert_eq!(x.extraction.amount.to_string(), "250.00");
    assert_eq!(x.extraction.currency, Currency::INR);
    assert_eq!(x.extraction.merchant.as_deref(), Some("Subway"));
    assert_eq!(x.extraction.category, Category::FoodAndDrink);
    assert_eq!(x.extraction.date, NaiveDate::from_ymd_opt(2024, 5, 14));

    let requests = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("2024-05-15") && system.contains("Asia/Kolkata") && system.contains("INR"));
    assert_eq!(body["messages"][1]["content"], TEXT);
    let schema = &body["response_format"]["json_schema"]["schema"];
    assert_eq!(schema["properties"]["category"]["enum"][0], "FOOD_AND_DRINK");
}

#[tokio::test]
async fn content_as_a_list_of_chunks_is_read() {
    let server = MockServer::start().await;
    let text = answer("250", "INR", "Subway", "FOOD_AND_DRINK", "2024-05-14");
    let (a, b) = text.split_at(20);
    Mock::given(method("POST"))
        .respond_with(completion(
            json!([{"type": "text", "text": a}, {"type": "text", "text": b}]),
            "stop",
        ))
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert!(matches!(x.by, By::Llm { .. }), "{:?}", x.extraction.warnings);
    assert_eq!(x.extraction.merchant.as_deref(), Some("Subway"));
}

#[tokio::test]
async fn a_schema_violating_answer_falls_back_to_the_rules() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        // amount as a number, category missing.
        .respond_with(completion(json!(r#"{"amount": 250, "currency": "INR"}"#), "stop"))
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_fell_back(&x, "llm answer rejected (answer does not match the schema");
}

#[tokio::test]
async fn a_hallucinated_amount_falls_back_to_the_rules() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(
            json!(answer("2500", "INR", "Subway", "FOOD_AND_DRINK", "2024-05-14")),
            "stop",
        ))
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_fell_back(
        &x,
        "llm answer rejected (amount 2500.00 does not appear in the text)",
    );
}

/// `LLM_MODE=fallback`: the rules answer when at or above the threshold, the model (still
/// checked against the text) below it.
#[tokio::test]
async fn fallback_mode_asks_the_model_only_below_the_threshold() {
    let rules = ds::domain::extract(TEXT, &ctx()).unwrap().confidence;
    let fallback = |server: &MockServer, below: f32| LlmConfig {
        mode: LlmMode::Fallback,
        below_confidence: below,
        ..config(server)
    };

    // Sure enough: the model is never called.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(good())
        .expect(0)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(fallback(&server, rules))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_eq!(x.by, By::Rules);
    assert_eq!(x.extraction.confidence, rules);
    assert!(
        !x.extraction.warnings.iter().any(|w| w.contains("used the rules")),
        "{:?}",
        x.extraction.warnings
    );
    drop(extractor);
    server.verify().await;

    // Below the threshold: the model answers.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(good())
        .expect(1)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(fallback(&server, (rules + 0.01).min(1.0)))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_eq!(x.by, By::Llm { model: MODEL.into() });
    server.verify().await;

    // Below the threshold, and the model invents an amount: still rejected, rules answer.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(
            json!(answer("2500", "INR", "Subway", "FOOD_AND_DRINK", "2024-05-14")),
            "stop",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(fallback(&server, 1.0))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_fell_back(
        &x,
        "llm answer rejected (amount 2500.00 does not appear in the text)",
    );
}

#[tokio::test]
async fn a_truncated_answer_falls_back_to_the_rules() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(json!(r#"{"amount": "250", "curr"#), "length"))
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_fell_back(&x, "llm unavailable (finish_reason \"length\", not \"stop\")");
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(good())
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let started = Instant::now();
    let x = run(&extractor, TEXT).await;
    let took = started.elapsed();
    assert!(matches!(x.by, By::Llm { .. }), "{:?}", x.extraction.warnings);
    assert!(took >= Duration::from_secs(1), "Retry-After honoured: {took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})))
        .expect(1)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let x = run(&extractor, TEXT).await;
    assert_fell_back(&x, "llm unavailable (HTTP 401)");
}

#[tokio::test]
async fn repeated_server_errors_fall_back_and_open_the_circuit() {
    let server = MockServer::start().await;
    // Two calls of 1 + 1 retry each; the third call skips the server.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .expect(4)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(LlmConfig {
        max_retries: 1,
        breaker_failures: 2,
        breaker_cooldown: Duration::from_secs(60),
        ..config(&server)
    }))
    .unwrap();
    for _ in 0..2 {
        let x = run(&extractor, TEXT).await;
        assert_fell_back(&x, "llm unavailable (HTTP 503)");
    }
    assert!(extractor.llm().unwrap().client().circuit_open());
    let started = Instant::now();
    let x = run(&extractor, TEXT).await;
    assert_fell_back(&x, "circuit open");
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_timeout_falls_back_and_opens_the_circuit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(good().set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(LlmConfig {
        timeout: Duration::from_millis(300),
        breaker_failures: 1,
        ..config(&server)
    }))
    .unwrap();
    let started = Instant::now();
    let x = run(&extractor, TEXT).await;
    let took = started.elapsed();
    assert_fell_back(&x, "llm unavailable (no answer within 300 ms)");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    let x = run(&extractor, TEXT).await;
    assert_fell_back(&x, "circuit open");
}

#[tokio::test]
async fn texts_that_are_not_expenses_never_reach_the_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(good())
        .expect(0)
        .mount(&server)
        .await;
    let extractor = Extractor::new(Some(config(&server))).unwrap();
    let err = extractor
        .extract(
            "Rs.5,000.00 credited to your A/c XX1234 on 14-05-24 by NEFT",
            &ctx(),
            "UTC",
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "not an expense: credit");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rpc_publishes_what_the_llm_extracted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(good())
        .mount(&server)
        .await;
    let uri = server.uri();
    let app = spawn_app(&[
        ("MISTRAL_API_KEY", KEY),
        ("MISTRAL_BASE_URL", uri.as_str()),
        ("MISTRAL_MODEL", MODEL),
    ])
    .await;
    let user = Uuid::now_v7();
    let answer = app
        .extract(user, extraction(TEXT, "INR", "Asia/Kolkata", "2024-05-15"))
        .await
        .unwrap();
    assert_eq!(answer.extractor, "llm:mistral-test");
    let expense = answer.expense.unwrap();
    assert_eq!(expense.source, Source::TextLlm as i32);
    assert_eq!(expense.amount, "250.00");
    assert_eq!(expense.occurred_on, "2024-05-14");

    let messages = app.published(1, Duration::from_millis(300)).await;
    let event = ExpenseExtracted::decode(messages[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(event.expense_id, expense.id);
    assert_eq!(event.extractor, "llm:mistral-test");
    assert_eq!(event.source, Source::TextLlm as i32);
}
