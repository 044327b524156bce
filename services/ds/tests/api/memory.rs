//! Learning from `ExpenseChanged` and applying what was learned. The tests publish the
//! changes as expense-service does (its outbox relay); the service under test is the
//! consumer and the extractor.

use std::time::Duration;

use chrono::Utc;
use contracts::{
    ds::{Rule, RuleOrigin},
    events::{ExpenseChangeCause, ExpenseChangeKind, ExpenseChanged, ExpenseExtracted, UserDeleted},
    expense::{Category, Expense, Source},
    topics,
};
use platform::testing::{eventually, read_topic};
use prost::Message;
use uuid::Uuid;

use crate::helpers::{extraction, spawn_app, TestApp};

const DAY: &str = "2026-11-30";

fn expense(
    user: Uuid,
    id: Uuid,
    version: i32,
    merchant: &str,
    category: Category,
    source: Source,
    text: &str,
) -> Expense {
    Expense {
        id: id.to_string(),
        user_id: user.to_string(),
        amount: "340.00".into(),
        currency: "INR".into(),
        merchant: merchant.into(),
        category: category as i32,
        occurred_on: DAY.into(),
        raw_text: text.into(),
        source: source as i32,
        confidence: 0.6,
        version,
        ..Default::default()
    }
}

/// The UPDATED change of `before` into `after`, made by hand.
fn updated(before: &Expense, after: &Expense, fields: &[&str]) -> ExpenseChanged {
    ExpenseChanged {
        user_id: after.user_id.clone(),
        expense_id: after.id.clone(),
        kind: ExpenseChangeKind::Updated as i32,
        cause: ExpenseChangeCause::Manual as i32,
        before: Some(before.clone()),
        after: Some(after.clone()),
        changed_fields: fields.iter().map(|f| f.to_string()).collect(),
        changed_at: Some(prost_types::Timestamp {
            seconds: Utc::now().timestamp(),
            nanos: 0,
        }),
    }
}

/// The user corrects the category of an expense read from `text` (merchant `merchant`).
fn correction(user: Uuid, text: &str, merchant: &str, from: Category, to: Category) -> ExpenseChanged {
    let id = Uuid::now_v7();
    let before = expense(user, id, 1, merchant, from, Source::TextRules, text);
    let after = Expense {
        category: to as i32,
        version: 2,
        ..before.clone()
    };
    updated(&before, &after, &["category"])
}

async fn extract(app: &TestApp, user: Uuid, text: &str) -> contracts::ds::ExtractExpenseResponse {
    app.extract(user, extraction(text, "INR", "Asia/Kolkata", "2026-12-01"))
        .await
        .unwrap()
}

fn only_rule(rules: &[Rule]) -> &Rule {
    assert_eq!(rules.len(), 1, "{rules:#?}");
    &rules[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correction_changes_the_next_extraction_of_that_merchant_and_says_so() {
    let app = spawn_app(&[]).await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let first = extract(&app, user, "paid 340 to Kumaran Stores").await;
    let x = first.expense.unwrap();
    assert_eq!(
        (x.merchant.as_str(), x.category),
        ("Kumaran Stores", Category::Other as i32)
    );
    assert!(first.rule_id.is_empty());

    app.publish(&correction(
        user,
        "paid 340 to Kumaran Stores",
        "Kumaran Stores",
        Category::Other,
        Category::Groceries,
    ))
    .await;
    let rules = app
        .wait_rules(user, "the correction is learned", |r| !r.is_empty())
        .await;
    let rule = only_rule(&rules);
    assert_eq!(rule.merchant_pattern, "kumaran stores");
    assert_eq!(rule.category, Category::Groceries as i32);
    assert_eq!(rule.origin, RuleOrigin::Learned as i32);
    assert_eq!(rule.merchant, "", "only the category was corrected");

    // The merchant's words in a text, though the extractor reads it otherwise.
    for text in ["Kumaran Stores 125", "SQ *KUMARAN STORES #12 INR 340"] {
        let answer = extract(&app, user, text).await;
        let x = answer.expense.unwrap();
        assert_eq!(x.category, Category::Groceries as i32, "{text}");
        assert_eq!(answer.rule_id, rule.id, "{text}");
        let today = Utc::now().format("%Y-%m-%d").to_string();
        assert!(
            answer
                .warnings
                .contains(&format!("category from your correction of {today}")),
            "{text}: {:?}",
            answer.warnings
        );
        assert!(
            !answer
                .warnings
                .iter()
                .any(|w| w.starts_with("no category matched")),
            "{text}: the rule set the category: {:?}",
            answer.warnings
        );
    }

    // The published event carries the rule's category, so the ledger stores it.
    let published = app.published(3, Duration::from_millis(300)).await;
    assert_eq!(published.len(), 3);
    let last = ExpenseExtracted::decode(published[2].payload.as_deref().unwrap()).unwrap();
    assert_eq!(last.category, Category::Groceries as i32);

    // Each changed extraction counts.
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.rules(user).await[0].hits == 2
        })
        .await,
        "hits: {:?}",
        app.rules(user).await
    );

    // Another user's extractions and rules are untouched.
    let theirs = extract(&app, other, "Kumaran Stores 125").await;
    assert_eq!(theirs.expense.unwrap().category, Category::Other as i32);
    assert!(theirs.rule_id.is_empty());
    assert!(app.rules(other).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_merchant_correction_covers_the_variants_a_bank_prints() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let id = Uuid::now_v7();
    let text = "SQ *KUMARAN STORES #12 INR 340.00 23-11-2026";
    let before = expense(
        user,
        id,
        1,
        "SQ *KUMARAN STORES #12",
        Category::Shopping,
        Source::Import,
        text,
    );
    let after = Expense {
        merchant: "Kumaran Stores".into(),
        category: Category::Groceries as i32,
        version: 2,
        ..before.clone()
    };
    app.publish(&updated(&before, &after, &["category", "merchant"]))
        .await;
    let rules = app.wait_rules(user, "learned", |r| !r.is_empty()).await;
    let rule = only_rule(&rules);
    assert_eq!(
        (rule.merchant_pattern.as_str(), rule.merchant.as_str()),
        ("kumaran stores", "Kumaran Stores")
    );

    for text in [
        "POS KUMARAN STORES STORE 123 INR 99",
        "UPI/DR/412345678901/KUMARAN STORES/YESB INR 250",
        "paid 80 to kumaran stores",
    ] {
        let answer = extract(&app, user, text).await;
        let x = answer.expense.unwrap();
        assert_eq!(x.merchant, "Kumaran Stores", "{text}");
        assert_eq!(x.category, Category::Groceries as i32, "{text}");
        assert_eq!(answer.rule_id, rule.id, "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_explicit_rule_beats_a_learned_one_and_deleting_rules_restores_the_extractor() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    assert_eq!(
        extract(&app, user, "swiggy 340").await.expense.unwrap().category,
        Category::FoodAndDrink as i32
    );

    app.publish(&correction(
        user,
        "swiggy 340",
        "Swiggy",
        Category::FoodAndDrink,
        Category::Groceries,
    ))
    .await;
    let learned = app.wait_rules(user, "learned", |r| !r.is_empty()).await[0].clone();
    assert_eq!(
        extract(&app, user, "swiggy 200").await.expense.unwrap().category,
        Category::Groceries as i32
    );

    let explicit = app
        .create_rule(user, "Swiggy", "Swiggy Food", Category::Entertainment as i32)
        .await
        .unwrap();
    assert_eq!(explicit.origin, RuleOrigin::Explicit as i32);
    assert_eq!(explicit.merchant_pattern, "swiggy");
    let answer = extract(&app, user, "swiggy 200").await;
    let x = answer.expense.unwrap();
    assert_eq!(
        (x.merchant.as_str(), x.category),
        ("Swiggy Food", Category::Entertainment as i32)
    );
    assert_eq!(answer.rule_id, explicit.id);
    assert!(
        answer
            .warnings
            .contains(&"merchant and category from your rule “swiggy”".to_owned()),
        "{:?}",
        answer.warnings
    );
    let listed = app.rules(user).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, explicit.id, "explicit rules are listed first");

    app.delete_rule(user, &explicit.id).await.unwrap();
    assert_eq!(extract(&app, user, "swiggy 200").await.rule_id, learned.id);
    app.delete_rule(user, &learned.id).await.unwrap();
    let answer = extract(&app, user, "swiggy 200").await;
    assert_eq!(
        answer.expense.unwrap().category,
        Category::FoodAndDrink as i32,
        "the extractor's answer again"
    );
    assert!(answer.rule_id.is_empty());
    assert!(app.rules(user).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_update_delivered_after_a_newer_one_changes_nothing() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let id = Uuid::now_v7();
    let text = "swiggy 340";
    let v1 = expense(
        user,
        id,
        1,
        "Swiggy",
        Category::FoodAndDrink,
        Source::TextRules,
        text,
    );
    let v2 = Expense {
        category: Category::Groceries as i32,
        version: 2,
        ..v1.clone()
    };
    let v3 = Expense {
        category: Category::Entertainment as i32,
        version: 3,
        ..v1.clone()
    };
    app.publish(&updated(&v2, &v3, &["category"])).await;
    app.wait_rules(user, "v3 learned", |r| {
        r.first()
            .is_some_and(|r| r.category == Category::Entertainment as i32)
    })
    .await;
    // v1 → v2 arrives late (another relay replica), then a change to another expense as a marker.
    app.publish(&updated(&v1, &v2, &["category"])).await;
    app.publish(&correction(
        user,
        "uber 120",
        "Uber",
        Category::Transport,
        Category::Travel,
    ))
    .await;
    let rules = app.wait_rules(user, "the marker learned", |r| r.len() == 2).await;
    let swiggy = rules.iter().find(|r| r.merchant_pattern == "swiggy").unwrap();
    assert_eq!(
        swiggy.category,
        Category::Entertainment as i32,
        "the late v2 changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_the_topic_into_an_empty_database_rebuilds_the_same_rules() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    app.publish(&correction(
        user,
        "swiggy 340",
        "Swiggy",
        Category::FoodAndDrink,
        Category::Groceries,
    ))
    .await;
    app.publish(&correction(
        user,
        "uber 120",
        "Uber",
        Category::Transport,
        Category::Travel,
    ))
    .await;
    let manual = expense(
        user,
        Uuid::now_v7(),
        1,
        "Blue Tokai",
        Category::FoodAndDrink,
        Source::Manual,
        "",
    );
    app.publish(&ExpenseChanged {
        user_id: user.to_string(),
        expense_id: manual.id.clone(),
        kind: ExpenseChangeKind::Recorded as i32,
        cause: ExpenseChangeCause::Manual as i32,
        after: Some(manual),
        ..Default::default()
    })
    .await;
    let original = app.wait_rules(user, "three lessons", |r| r.len() == 3).await;

    // A second ds-service on the same topics, its own empty database and a new group.
    let group = format!("ds-replay{}", app.suffix);
    let replay = spawn_app(&[
        ("KAFKA_TOPIC_SUFFIX", app.suffix.as_str()),
        ("KAFKA_CONSUMER_GROUP", group.as_str()),
    ])
    .await;
    assert_ne!(replay.db, app.db);
    let rebuilt = replay.wait_rules(user, "replayed", |r| r.len() == 3).await;
    assert_eq!(
        rebuilt, original,
        "same ids, patterns, merchants, categories, times"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_entry_teaches_but_never_overrides_a_correction() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let entered = |category: Category| {
        let e = expense(
            user,
            Uuid::now_v7(),
            1,
            "Kumaran Stores",
            category,
            Source::Manual,
            "",
        );
        ExpenseChanged {
            user_id: user.to_string(),
            expense_id: e.id.clone(),
            kind: ExpenseChangeKind::Recorded as i32,
            cause: ExpenseChangeCause::Manual as i32,
            after: Some(e),
            ..Default::default()
        }
    };
    app.publish(&entered(Category::Shopping)).await;
    app.wait_rules(user, "the entry taught", |r| r.len() == 1).await;
    let answer = extract(&app, user, "Kumaran Stores 125").await;
    assert_eq!(answer.expense.unwrap().category, Category::Shopping as i32);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    assert!(answer
        .warnings
        .contains(&format!("category from your expense entered on {today}")));

    app.publish(&correction(
        user,
        "Kumaran Stores 40",
        "Kumaran Stores",
        Category::Shopping,
        Category::Groceries,
    ))
    .await;
    app.wait_rules(user, "the correction replaced it", |r| {
        r.len() == 1 && r[0].category == Category::Groceries as i32
    })
    .await;
    // A later entry of the same merchant does not undo the correction.
    app.publish(&entered(Category::Shopping)).await;
    app.publish(&correction(
        user,
        "uber 120",
        "Uber",
        Category::Transport,
        Category::Travel,
    ))
    .await;
    let rules = app.wait_rules(user, "the marker learned", |r| r.len() == 2).await;
    let kumaran = rules
        .iter()
        .find(|r| r.merchant_pattern == "kumaran stores")
        .unwrap();
    assert_eq!(kumaran.category, Category::Groceries as i32);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_deleted_purges_the_memory_and_late_changes_teach_nothing() {
    let app = spawn_app(&[]).await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    app.publish(&correction(
        user,
        "swiggy 340",
        "Swiggy",
        Category::FoodAndDrink,
        Category::Groceries,
    ))
    .await;
    app.create_rule(user, "uber", "", Category::Travel as i32)
        .await
        .unwrap();
    app.publish(&correction(
        other,
        "swiggy 340",
        "Swiggy",
        Category::FoodAndDrink,
        Category::Groceries,
    ))
    .await;
    app.wait_rules(user, "learned", |r| r.len() == 2).await;
    app.wait_rules(other, "learned", |r| r.len() == 1).await;

    app.publish(&UserDeleted {
        user_id: user.to_string(),
        deleted_at: None,
    })
    .await;
    app.wait_rules(user, "purged", |r| r.is_empty()).await;
    // A change published before the deletion but delivered after it.
    app.publish(&correction(
        user,
        "uber 120",
        "Uber",
        Category::Transport,
        Category::Travel,
    ))
    .await;
    app.publish(&correction(
        other,
        "uber 120",
        "Uber",
        Category::Transport,
        Category::Travel,
    ))
    .await;
    app.wait_rules(other, "the marker learned", |r| r.len() == 2)
        .await;
    assert!(app.rules(user).await.is_empty(), "a deleted user learns nothing");
    assert_eq!(
        extract(&app, user, "swiggy 340").await.expense.unwrap().category,
        Category::FoodAndDrink as i32
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_expense_changed_goes_to_the_dlq_and_learning_carries_on() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let good = correction(
        user,
        "swiggy 340",
        "Swiggy",
        Category::FoodAndDrink,
        Category::Groceries,
    );
    let mut undecodable = platform::kafka::RawEvent::new(&good);
    undecodable.payload = b"\x0a\xff\xff\xff".to_vec();
    app.producer.send(&undecodable).await.unwrap();
    let mut no_version = good.clone();
    no_version.after.as_mut().unwrap().version = 0;
    app.publish(&no_version).await;
    let mut bad_user = good.clone();
    bad_user.user_id = "not-a-user".into();
    app.publish(&bad_user).await;
    app.publish(&good).await;
    app.wait_rules(user, "the good change learned", |r| r.len() == 1)
        .await;

    let changed = format!("{}{}", topics::EXPENSE_CHANGED, app.suffix);
    let dlq = read_topic(
        &app.infra.brokers,
        &topics::dlq(&changed),
        3,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(dlq.len(), 3, "each poison message once");
    // Keyed by user: the bad user id may sit on another partition, so in any order.
    for why in [
        "undecodable",
        "version 0 is not positive",
        "user_id \"not-a-user\" is not a UUID",
    ] {
        let msg = dlq
            .iter()
            .find(|m| m.headers["dlq_error"].contains(why))
            .unwrap_or_else(|| panic!("no dead letter says {why:?}: {dlq:#?}"));
        assert_eq!(msg.headers["dlq_original_topic"], changed);
    }
    assert!(dlq
        .iter()
        .any(|m| m.headers["ce_id"] == undecodable.id.to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_mistral_the_callers_matching_rules_go_into_the_prompt_and_still_correct_the_answer() {
    use serde_json::json;
    use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let content = json!({"amount": "250", "currency": "INR", "merchant": "Subway",
        "category": "FOOD_AND_DRINK", "date": "2024-05-14"})
    .to_string();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "cmpl-1", "object": "chat.completion", "model": "mistral-test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        })))
        .mount(&server)
        .await;
    let uri = server.uri();
    let app = spawn_app(&[
        ("MISTRAL_API_KEY", "test-key-not-secret"),
        ("MISTRAL_BASE_URL", uri.as_str()),
        ("MISTRAL_MODEL", "mistral-test"),
    ])
    .await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let rule = app
        .create_rule(user, "subway", "Subway Sandwiches", Category::Shopping as i32)
        .await
        .unwrap();
    app.create_rule(user, "uber", "", Category::Travel as i32)
        .await
        .unwrap();
    let text = "spent 250 on lunch at Subway yesterday";
    let answer = app
        .extract(user, extraction(text, "INR", "Asia/Kolkata", "2024-05-15"))
        .await
        .unwrap();
    assert_eq!(answer.extractor, "llm:mistral-test");
    assert_eq!(answer.rule_id, rule.id);
    let x = answer.expense.unwrap();
    assert_eq!(
        (x.merchant.as_str(), x.category),
        ("Subway Sandwiches", Category::Shopping as i32)
    );
    app.extract(other, extraction(text, "INR", "Asia/Kolkata", "2024-05-15"))
        .await
        .unwrap();

    let prompts: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["messages"][0]["content"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(prompts.len(), 2);
    assert!(
        prompts[0].ends_with("\n- text with \"subway\": merchant \"Subway Sandwiches\", category SHOPPING"),
        "only the matching rule: {}",
        prompts[0]
    );
    assert!(
        !prompts[1].contains("own rules"),
        "the other user has none: {}",
        prompts[1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_its_database_an_extraction_still_answers_and_says_the_rules_were_not_used() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    app.create_rule(user, "swiggy", "", Category::Groceries as i32)
        .await
        .unwrap();
    let name = app.db.rsplit('/').next().unwrap().to_owned();
    let mut admin =
        AsyncPgConnection::establish(&format!("{}/postgres", app.infra.pg_url.trim_end_matches('/')))
            .await
            .unwrap();
    diesel::sql_query(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    let answer = extract(&app, user, "swiggy 340").await;
    assert_eq!(
        answer.expense.unwrap().category,
        Category::FoodAndDrink as i32,
        "the extractor's answer"
    );
    assert!(answer.rule_id.is_empty());
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.starts_with("your extraction rules could not be read")
                && w.ends_with("answered without them")),
        "{:?}",
        answer.warnings
    );
}
