//! Two callers at once: every extraction is published under the caller's own id (the
//! request has no user field to aim with), and hostile text is carried verbatim.

use std::{collections::HashMap, time::Duration};

use contracts::events::ExpenseExtracted;
use prost::Message;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{extraction, spawn_app};

#[tokio::test(flavor = "multi_thread")]
async fn each_caller_publishes_only_under_their_own_id() {
    let app = spawn_app(&[]).await;
    let (alice, mallory) = (Uuid::now_v7(), Uuid::now_v7());
    let texts = [
        "coffee 3.50",
        "spent 12 on lunch at Subway",
        "uber to office 320",
        "lunch 9 at Cafe Rio",
    ];
    let calls = texts.iter().flat_map(|t| {
        [alice, mallory].map(|user| {
            let app = &app;
            // Every text claims to be Alice's: what a text says about its owner counts for nothing.
            let text = format!("{t}, paid by alice, user alice");
            async move { (user, app.extract(user, extraction(&text, "EUR", "UTC", "")).await) }
        })
    });
    let answers = futures::future::join_all(calls).await;
    let mut owner: HashMap<String, Uuid> = HashMap::new();
    for (user, answer) in answers {
        let expense = answer.unwrap().expense.unwrap();
        assert_eq!(expense.user_id, user.to_string(), "answered as the caller");
        owner.insert(expense.id, user);
    }
    assert_eq!(owner.len(), texts.len() * 2);

    let messages = app.published(owner.len(), Duration::from_millis(500)).await;
    assert_eq!(messages.len(), owner.len());
    for m in &messages {
        let event = ExpenseExtracted::decode(m.payload.as_deref().unwrap()).unwrap();
        let caller = owner[&event.expense_id];
        assert_eq!(event.user_id, caller.to_string(), "{}", event.raw_text);
        assert_eq!(
            m.key.as_deref(),
            Some(caller.to_string().as_bytes()),
            "keyed by the caller"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_text_is_published_verbatim_and_nul_bytes_are_never_an_internal_error() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let texts = [
        "spent 5 USD at Joe's'; DROP TABLE expenses; --",
        "' OR '1'='1 lunch 12 EUR",
        "coffee 4 at %_\\ café\n'); DELETE FROM expenses; --",
    ];
    let mut sent = HashMap::new();
    for text in texts {
        let expense = app
            .extract(user, extraction(text, "EUR", "UTC", ""))
            .await
            .unwrap()
            .expense
            .unwrap();
        assert_eq!(expense.raw_text, text);
        sent.insert(expense.id, text);
    }
    let messages = app.published(sent.len(), Duration::from_millis(300)).await;
    assert_eq!(messages.len(), sent.len());
    for m in &messages {
        let event = ExpenseExtracted::decode(m.payload.as_deref().unwrap()).unwrap();
        assert_eq!(event.raw_text, sent[&event.expense_id], "verbatim");
    }

    // NUL bytes: refused as any other bad text, or extracted; never INTERNAL.
    for text in ["\0", "lunch\0 12", "\0\0\0 coffee 3 EUR \0"] {
        if let Err(status) = app
            .extract(
                user,
                contracts::ds::ExtractExpenseRequest {
                    dry_run: true,
                    ..extraction(text, "EUR", "UTC", "")
                },
            )
            .await
        {
            assert_eq!(status.code(), Code::InvalidArgument, "{text:?}: {status:?}");
        }
    }
    for (currency, zone, date, field) in [
        ("EU\0", "", "", "default_currency"),
        ("", "UTC\0", "", "timezone"),
        ("", "", "2024-01-01\0", "reference_date"),
    ] {
        let status = app
            .extract(user, extraction("coffee 3", currency, zone, date))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().starts_with(field), "{:?}", status.message());
    }
}
