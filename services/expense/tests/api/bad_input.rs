//! Bad input: arbitrary values into every request parser and the event decoder (property
//! tests, no database), then the running service fed NUL bytes, SQL injection attempts and
//! random bytes on its topic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use contracts::{
    events::ExpenseExtracted,
    expense::{
        CreateExpenseRequest, DeleteExpenseRequest, ListExpensesRequest, SummarizeExpensesRequest,
        UpdateExpenseRequest,
    },
    topics,
};
use expense_service::domain::{
    fields::latest_occurred_on, Expense, ExpenseError, ExpenseUpdate, ListInput, ListQuery, ManualInput,
    SummaryQuery, UpdateInput,
};
use platform::{kafka::RawEvent, testing::read_topic};
use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
use prost::Message;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{create_req, days_ago, extracted, spawn_app};

// === properties of the parsers ===

fn now() -> DateTime<Utc> {
    "2024-05-15T12:00:00Z".parse().unwrap()
}

/// Any text, with a fair share of the characters that matter here: NUL and other controls,
/// quotes, LIKE wildcards, SQL.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => ".{0,40}",
        2 => "[\\x00-\\x1f'\"%_\\\\;a-z0-9 -]{1,40}",
        1 => prop::sample::select(vec!["\0", "a\0b", "\u{7}", "'; DROP TABLE expenses; --", "%_\\"]).prop_map(String::from),
        1 => "\\PC{190,210}",
        1 => "\\PC{990,1010}",
    ]
}

/// Mostly valid amounts, so that accepted requests are common enough to check.
fn amount() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[1-9][0-9]{0,5}(\\.[0-9]{2})?",
        1 => ".{0,12}",
        1 => "[0-9]{1,15}(\\.[0-9]{0,4})?",
    ]
}

fn currency() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["USD", "jpy", " BHD ", "EUR"]).prop_map(String::from),
        1 => ".{0,4}",
        1 => prop::sample::select(vec!["XAU", "", "U\0D"]).prop_map(String::from),
    ]
}

/// Dates: often valid and in the past (relative to [`now`]), else anything.
fn date() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "20(0[0-9]|1[0-9]|2[0-3])-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
        1 => ".{0,12}",
        1 => "[+-]?[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}",
    ]
}

/// An optional field: usually absent (empty), else `s`.
fn optional(s: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop_oneof![2 => Just(String::new()), 1 => s]
}

fn category() -> impl Strategy<Value = i32> {
    prop_oneof![3 => 0..=15, 1 => any::<i32>()]
}

/// Payloads: random bytes, or a real event's encoding with bytes flipped, cut or appended
/// (random bytes alone rarely decode).
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let event = (
        text(),
        text(),
        amount(),
        currency(),
        date(),
        any::<i32>(),
        any::<f32>(),
    )
        .prop_map(
            |(merchant, raw_text, amount, currency, occurred_on, category, confidence)| {
                ExpenseExtracted {
                    expense_id: Uuid::now_v7().to_string(),
                    user_id: Uuid::now_v7().to_string(),
                    amount,
                    currency,
                    merchant,
                    category,
                    occurred_on,
                    raw_text,
                    source: 2,
                    confidence,
                    extractor: "rules".into(),
                    extracted_at: None,
                }
                .encode_to_vec()
            },
        );
    let mutated = (
        event,
        0u8..4,
        any::<prop::sample::Index>(),
        any::<u8>(),
        prop::collection::vec(any::<u8>(), 1..16),
    )
        .prop_map(|(mut bytes, kind, at, byte, tail)| {
            let i = at.index(bytes.len().max(1));
            match kind {
                0 => {}
                1 if !bytes.is_empty() => bytes[i] ^= byte | 1,
                2 => bytes.truncate(i),
                _ => bytes.extend(tail),
            }
            bytes
        });
    prop_oneof![1 => prop::collection::vec(any::<u8>(), 0..512), 3 => mutated]
}

/// An invalid request names each field it refuses, and only fields the request has.
fn assert_names_fields(err: &ExpenseError, allowed: &[&str]) -> Result<(), TestCaseError> {
    // The message travels in grpc-message, a header: Kong's nginx answers 502 to an upstream
    // header over its buffer, and h2 clients refuse large ones. Short whatever the input.
    let message = err.to_string();
    prop_assert!(
        message.len() < 2048,
        "{} bytes: {}",
        message.len(),
        message.chars().take(200).collect::<String>()
    );
    let fields = err.fields();
    prop_assert!(!fields.is_empty(), "{}", err);
    for f in fields {
        prop_assert!(allowed.contains(&f), "{} is not one of {:?}: {}", f, allowed, err);
    }
    Ok(())
}

/// What reaches the database must be storable: Postgres `TEXT` cannot hold NUL, and a
/// value it refuses would surface as an INTERNAL error (or a consumer retrying forever).
fn assert_storable(e: &Expense) -> Result<(), TestCaseError> {
    for s in [e.merchant.as_str(), e.note.as_str(), e.raw_text.as_str()] {
        prop_assert!(!s.contains('\0'), "{s:?}");
    }
    prop_assert!(e.merchant.as_str().chars().count() <= 200);
    prop_assert!(e.note.as_str().chars().count() <= 1000);
    prop_assert!((0.0..=1.0).contains(&e.confidence));
    prop_assert!(e.occurred_on <= latest_occurred_on(now()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_on_the_topic_decode_to_a_storable_expense_or_a_refusal(bytes in payload()) {
        // What the consumer does with a payload: decode, then check.
        if let Ok(e) = ExpenseExtracted::decode(bytes.as_slice()) {
            match Expense::extracted(expense_service::proto::extracted_input(&e), now()) {
                Ok(x) => assert_storable(&x)?,
                Err(err) => assert_names_fields(&err, &["expense_id", "user_id", "amount", "currency", "occurred_on"])?,
            }
        }
    }

    #[test]
    fn any_extracted_event_becomes_a_storable_expense_or_names_what_is_wrong(
        ids_valid in any::<bool>(),
        amount in amount(),
        currency in currency(),
        merchant in text(),
        raw_text in text(),
        occurred_on in date(),
        category in category(),
        source in any::<i32>(),
        confidence in any::<f32>(),
        extractor in ".{0,12}",
    ) {
        let id = |valid: bool| if valid { Uuid::now_v7().to_string() } else { "not-a-uuid\0".into() };
        let e = ExpenseExtracted {
            expense_id: id(ids_valid),
            user_id: id(ids_valid),
            amount, currency, merchant, category, occurred_on, raw_text, source, confidence, extractor,
            extracted_at: None,
        };
        match Expense::extracted(expense_service::proto::extracted_input(&e), now()) {
            Ok(x) => {
                assert_storable(&x)?;
                // Only NUL is taken out of the text; the rest is kept as sent.
                prop_assert_eq!(x.raw_text, e.raw_text.replace('\0', ""));
            }
            Err(err) => assert_names_fields(&err, &["expense_id", "user_id", "amount", "currency", "occurred_on"])?,
        }
    }

    #[test]
    fn any_manual_entry_is_storable_or_names_what_is_wrong(
        amount in amount(), currency in currency(), merchant in optional(text()), note in optional(text()),
        category in category(), occurred_on in optional(date()),
    ) {
        let input = ManualInput {
            amount: &amount, currency: &currency, merchant: &merchant, category,
            occurred_on: &occurred_on, note: &note,
        };
        match Expense::manual(Uuid::now_v7(), input, now()) {
            Ok(x) => assert_storable(&x)?,
            Err(err) => assert_names_fields(&err, &["amount", "currency", "merchant", "category", "occurred_on", "note"])?,
        }
    }

    #[test]
    fn any_update_applies_storably_or_names_what_is_wrong(
        mask in prop::collection::vec(prop_oneof![
            prop::sample::select(vec!["amount", "currency", "merchant", "category", "occurred_on", "note"]).prop_map(String::from),
            ".{0,10}",
            "\\PC{1000,3000}",
        ], 0..8),
        amount in amount(), currency in currency(), merchant in text(), note in text(),
        category in category(), occurred_on in date(),
    ) {
        let input = UpdateInput {
            amount: &amount, currency: &currency, merchant: &merchant, category,
            occurred_on: &occurred_on, note: &note,
        };
        let allowed = ["update_mask", "amount", "currency", "merchant", "category", "occurred_on", "note"];
        match ExpenseUpdate::parse(&mask, input, now()) {
            Ok(update) => {
                let mut stored = Expense::manual(Uuid::now_v7(), ManualInput {
                    amount: "12.50", currency: "USD", ..Default::default()
                }, now()).unwrap();
                match update.apply(&mut stored, now()) {
                    Ok(_) => assert_storable(&stored)?,
                    Err(err) => assert_names_fields(&err, &allowed)?,
                }
            }
            Err(err) => assert_names_fields(&err, &allowed)?,
        }
    }

    #[test]
    fn any_list_request_is_a_storable_query_or_names_what_is_wrong(
        from in optional(date()), to in optional(date()), category in category(), merchant in optional(text()),
        min_amount in optional(amount()), max_amount in optional(amount()), currency in optional(currency()),
        page_size in prop_oneof![3 => 0..=500, 1 => any::<i32>()],
        page_token in prop_oneof![5 => Just(String::new()), 1 => ".{0,40}", 1 => "[A-Za-z0-9_-]{0,120}"],
    ) {
        let input = ListInput {
            from: &from, to: &to, category, merchant: &merchant, min_amount: &min_amount,
            max_amount: &max_amount, currency: &currency, page_size, page_token: &page_token,
        };
        match ListQuery::parse(input) {
            Ok(q) => {
                // The merchant filter is a query parameter: it must be one Postgres accepts.
                if let Some(m) = &q.filter.merchant {
                    prop_assert!(!m.contains('\0'), "{m:?}");
                }
                prop_assert!((1..=500).contains(&q.page_size));
            }
            Err(err) => assert_names_fields(&err, &[
                "from", "to", "category", "merchant", "min_amount", "max_amount", "currency", "page_size", "page_token",
            ])?,
        }
    }

    #[test]
    fn any_summary_request_parses_or_names_what_is_wrong(
        group_by in prop_oneof![3 => 0..=3, 1 => any::<i32>()], from in optional(date()), to in optional(date()),
        currency in optional(currency()),
    ) {
        if let Err(err) = SummaryQuery::parse(group_by, &from, &to, &currency) {
            assert_names_fields(&err, &["group_by", "from", "to", "currency"])?;
        }
    }
}

// === the running service ===

/// Text that has broken SQL built by string concatenation, and LIKE patterns.
const INJECTIONS: [&str; 6] = [
    "'; DROP TABLE expenses; --",
    "' OR '1'='1",
    "Robert'); DELETE FROM expenses WHERE ('1'='1",
    "\\'; SELECT pg_sleep(10); --",
    "%' UNION SELECT * FROM processed_events --",
    "50% off_sale \\ back",
];

#[tokio::test(flavor = "multi_thread")]
async fn sql_injection_attempts_in_every_text_field_are_stored_verbatim_and_harmless() {
    let app = spawn_app().await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    let bystander = app
        .create(
            other,
            create_req("1", "USD", "Subway", 1, &days_ago(1).to_string()),
        )
        .await
        .unwrap();
    let mut c = app.client.clone();

    let mut created = vec![];
    for text in INJECTIONS {
        let mut req = create_req("2.50", "USD", text, 1, &days_ago(1).to_string());
        req.note = text.into();
        let e = app.create(user, req).await.unwrap();
        assert_eq!((e.merchant.as_str(), e.note.as_str()), (text, text));
        assert_eq!(app.get(user, &e.id).await.unwrap(), e, "read back verbatim");
        created.push(e);
    }
    // Updates of the text fields, too.
    let mut req = UpdateExpenseRequest {
        id: created[0].id.clone(),
        update_mask: vec!["note".into(), "merchant".into()],
        ..Default::default()
    };
    req.note = INJECTIONS[1].into();
    req.merchant = INJECTIONS[2].into();
    let updated = c
        .update_expense(app.request(user, req))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (updated.note.as_str(), updated.merchant.as_str()),
        (INJECTIONS[1], INJECTIONS[2])
    );
    // And the text an extraction carries.
    let mut event = extracted(user, "3", "USD", &days_ago(1).to_string());
    event.raw_text = format!("spent 3 USD at {}", INJECTIONS[0]);
    event.merchant = INJECTIONS[4].into();
    app.publish(&event).await;
    let e = app.wait_expense(user, &event.expense_id).await;
    assert_eq!(
        (e.raw_text.as_str(), e.merchant.as_str()),
        (event.raw_text.as_str(), INJECTIONS[4])
    );

    // The merchant filter matches the literal text only (case-insensitively): `' OR '1'='1`
    // is no tautology, `%` and `_` are no wildcards.
    let all = app.list_all(user, ListExpensesRequest::default()).await;
    assert_eq!(all.len(), INJECTIONS.len() + 1);
    for filter in ["' OR '1'='1", "'1'='1", "%", "_", "\\", "--", "DROP TABLE"] {
        let listed = app
            .list_all(
                user,
                ListExpensesRequest {
                    merchant: filter.into(),
                    ..Default::default()
                },
            )
            .await;
        let literal: Vec<_> = all
            .iter()
            .filter(|e| e.merchant.to_lowercase().contains(&filter.to_lowercase()))
            .cloned()
            .collect();
        assert_eq!(listed, literal, "merchant filter {filter:?}");
        assert!(listed.len() < all.len(), "{filter:?} matched everything");
    }
    let tautology = app
        .list_all(
            user,
            ListExpensesRequest {
                merchant: "' OR '1'='1".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(tautology.len(), 1, "only the expense with that very merchant");
    // Summaries group by the stored text, verbatim.
    let summary = c
        .summarize_expenses(app.request(
            user,
            SummarizeExpensesRequest {
                group_by: 3, // MERCHANT
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<&str> = summary.groups.iter().map(|g| g.key.as_str()).collect();
    for text in [INJECTIONS[2], INJECTIONS[4], INJECTIONS[5]] {
        assert!(keys.contains(&text), "{text:?} in {keys:?}");
    }

    // Nothing was dropped, deleted or leaked: both users' data is intact and separate.
    assert_eq!(app.count_rows(user).await, INJECTIONS.len() as i64 + 1);
    assert_eq!(app.get(other, &bystander.id).await.unwrap(), bystander);
    let theirs = app.list_all(other, ListExpensesRequest::default()).await;
    assert_eq!(theirs, vec![bystander]);
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_and_control_characters_are_invalid_arguments_never_internal_errors() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let e = app
        .create(
            user,
            create_req("5", "EUR", "Bakery", 1, &days_ago(1).to_string()),
        )
        .await
        .unwrap();
    let mut c = app.client.clone();
    let nul = "a\0b";

    let mut statuses: Vec<(&str, tonic::Status)> = vec![];
    let create = |f: &dyn Fn(&mut CreateExpenseRequest)| {
        let mut r = create_req("5", "EUR", "Bakery", 1, &days_ago(1).to_string());
        f(&mut r);
        r
    };
    for (field, req) in [
        ("merchant", create(&|r| r.merchant = nul.into())),
        ("note", create(&|r| r.note = nul.into())),
        ("amount", create(&|r| r.amount = "5\0".into())),
        ("currency", create(&|r| r.currency = "EU\0".into())),
        ("occurred_on", create(&|r| r.occurred_on = "2024-01-0\0".into())),
    ] {
        statuses.push((field, app.create(user, req).await.unwrap_err()));
    }
    for field in ["merchant", "note"] {
        let mut req = UpdateExpenseRequest {
            id: e.id.clone(),
            update_mask: vec![field.into()],
            ..Default::default()
        };
        req.merchant = nul.into();
        req.note = nul.into();
        statuses.push((field, c.update_expense(app.request(user, req)).await.unwrap_err()));
    }
    let id = format!("{}\0", e.id);
    statuses.push(("id", app.get(user, &id).await.unwrap_err()));
    statuses.push((
        "id",
        c.delete_expense(app.request(user, DeleteExpenseRequest { id: id.clone() }))
            .await
            .unwrap_err(),
    ));
    for (field, req) in [
        (
            "merchant",
            ListExpensesRequest {
                merchant: nul.into(),
                ..Default::default()
            },
        ),
        (
            "page_token",
            ListExpensesRequest {
                page_token: nul.into(),
                ..Default::default()
            },
        ),
        (
            "from",
            ListExpensesRequest {
                from: "\0".into(),
                ..Default::default()
            },
        ),
    ] {
        statuses.push((field, c.list_expenses(app.request(user, req)).await.unwrap_err()));
    }
    statuses.push((
        "currency",
        c.summarize_expenses(app.request(
            user,
            SummarizeExpensesRequest {
                group_by: 1,
                currency: "\0".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err(),
    ));

    for (field, status) in statuses {
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            status.message().contains(field),
            "{field}: {:?} should name it",
            status.message()
        );
    }
    assert_eq!(app.get(user, &e.id).await.unwrap(), e, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_fields_are_invalid_arguments_with_short_messages() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let e = app
        .create(
            user,
            create_req("5", "EUR", "Bakery", 1, &days_ago(1).to_string()),
        )
        .await
        .unwrap();
    let huge = "x".repeat(100_000);
    let mut c = app.client.clone();
    let mut statuses = vec![];
    for mask in [vec![huge.clone()], (0..2000).map(|i| format!("f{i}")).collect()] {
        let req = UpdateExpenseRequest {
            id: e.id.clone(),
            update_mask: mask,
            ..Default::default()
        };
        statuses.push((
            "update_mask",
            c.update_expense(app.request(user, req)).await.unwrap_err(),
        ));
    }
    let mut req = create_req(&huge, &huge, &huge, 1, &huge);
    req.note = huge.clone();
    statuses.push(("merchant", app.create(user, req).await.unwrap_err()));
    statuses.push(("id", app.get(user, &huge).await.unwrap_err()));
    let list = ListExpensesRequest {
        merchant: huge.clone(),
        page_token: huge.clone(),
        ..Default::default()
    };
    statuses.push((
        "merchant",
        c.list_expenses(app.request(user, list)).await.unwrap_err(),
    ));
    for (field, status) in statuses {
        // The message travels in grpc-message, a header: an h2 client drops the connection
        // over a huge one, and Kong's nginx answers 502.
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().contains(field), "{field}");
        assert!(
            status.message().len() < 2048,
            "{field}: {} bytes",
            status.message().len()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_bytes_on_the_topic_are_dead_lettered_and_the_consumer_carries_on() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    // Deterministic "random" payloads (and a few wrong event types), all keyed by the one
    // user so they share a partition with the good event after them.
    let mut runner = TestRunner::deterministic();
    let payloads = prop::collection::vec(any::<u8>(), 1..300);
    let mut sent = vec![];
    for i in 0..12 {
        let mut raw = RawEvent::new(&extracted(user, "1", "USD", &days_ago(1).to_string()));
        raw.payload = payloads.new_tree(&mut runner).unwrap().current();
        if i % 4 == 3 {
            raw.ce_type = "expense_tracker.events.v1.Something\u{7f}Else".into();
        }
        app.producer.send(&raw).await.unwrap();
        sent.push(raw.id.to_string());
    }
    let good = extracted(user, "7.50", "USD", &days_ago(1).to_string());
    app.publish(&good).await;
    app.wait_expense(user, &good.expense_id).await;
    assert_eq!(app.count_rows(user).await, 1, "only the good one is stored");

    let dlq = read_topic(
        &app.infra.brokers,
        &topics::dlq(&app.extracted_topic()),
        sent.len(),
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    let ids: Vec<String> = dlq.iter().map(|m| m.headers["ce_id"].clone()).collect();
    assert_eq!(ids, sent, "each one dead-lettered once, in order");
    for m in &dlq {
        assert!(!m.headers["dlq_error"].is_empty());
    }
}
