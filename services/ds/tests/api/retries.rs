//! Safe retries of ExtractExpense (`request_id`, AIP-155) on the real PostgreSQL and Kafka.

use std::{collections::BTreeSet, time::Duration};

use contracts::{ds::ExtractExpenseRequest, events::ExpenseExtracted};
use diesel::{sql_types::BigInt, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::future::join_all;
use prost::Message;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{extraction, spawn_app, TestApp};

fn with_id(request_id: &str, text: &str) -> ExtractExpenseRequest {
    ExtractExpenseRequest {
        request_id: request_id.into(),
        ..extraction(text, "EUR", "UTC", "2026-11-20")
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(db: &str, sql: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(db).await.expect("database");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .expect(sql)
        .n
}

/// The expense ids of the ExpenseExtracted events on the app's topic (waiting for
/// `expected`, then 2 s for more).
async fn published_ids(app: &TestApp, expected: usize) -> Vec<String> {
    app.published(expected, Duration::from_secs(2))
        .await
        .iter()
        .map(|m| {
            ExpenseExtracted::decode(m.payload.as_deref().unwrap_or_default())
                .expect("ExpenseExtracted")
                .expense_id
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_request_id_twice_answers_the_first_answer_and_publishes_once() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    let first = app
        .extract(user, with_id(&request_id, "spent 250 on lunch at Subway"))
        .await
        .unwrap();
    let again = app
        .extract(user, with_id(&request_id, "spent 250 on lunch at Subway"))
        .await
        .unwrap();
    assert_eq!(again, first, "a retry answers exactly the first answer");
    let id = first.expense.as_ref().unwrap().id.clone();
    // A new request_id is a new extraction.
    let other = app
        .extract(
            user,
            with_id(&Uuid::new_v4().to_string(), "spent 250 on lunch at Subway"),
        )
        .await
        .unwrap();
    assert_ne!(other.expense.as_ref().unwrap().id, id);

    let ids = published_ids(&app, 2).await;
    assert_eq!(
        ids.iter().filter(|i| **i == id).count(),
        1,
        "the retry published nothing: {ids:?}"
    );
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(
        count(
            &app.db,
            "SELECT count(*) AS n FROM request_records WHERE completed_at IS NOT NULL"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_different_request_under_a_used_request_id_is_refused() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    app.extract(user, with_id(&request_id, "coffee 3")).await.unwrap();
    let status = app
        .extract(user, with_id(&request_id, "coffee 4"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains(&format!(
            "request_id {request_id} was used for a different request"
        )),
        "{status:?}"
    );
    // Not a UUID: said so, nothing extracted.
    let status = app
        .extract(user, with_id("retry-1", "coffee 3"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("request_id \"retry-1\" is not a UUID"),
        "{status:?}"
    );
    assert_eq!(published_ids(&app, 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_duplicates_get_one_answer_and_one_expense_id() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    let answers =
        join_all((0..8).map(|_| app.extract(user, with_id(&request_id, "uber 320 to the airport")))).await;
    let answers: Vec<_> = answers.into_iter().map(|a| a.expect("answered")).collect();
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "every duplicate gets the same answer: {answers:#?}"
    );
    let id = answers[0].expense.as_ref().unwrap().id.clone();
    // A duplicate that found the answer recorded but not yet acknowledged publishes it
    // again: the same expense id, which expense-service stores once.
    let ids: BTreeSet<String> = published_ids(&app, 1).await.into_iter().collect();
    assert_eq!(ids, BTreeSet::from([id]));
    assert_eq!(
        count(&app.db, "SELECT count(*) AS n FROM request_records").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_scoped_per_user() {
    let app = spawn_app(&[]).await;
    let (asha, ravi) = (Uuid::now_v7(), Uuid::now_v7());
    let request_id = Uuid::new_v4().to_string();
    let a = app.extract(asha, with_id(&request_id, "coffee 3")).await.unwrap();
    // The same request_id from another user: their own extraction, even with another text.
    let r = app.extract(ravi, with_id(&request_id, "tea 2")).await.unwrap();
    let (a, r) = (a.expense.unwrap(), r.expense.unwrap());
    assert_ne!(a.id, r.id);
    assert_eq!(r.user_id, ravi.to_string());
    assert_eq!(r.amount, "2.00");
    let ids: BTreeSet<String> = published_ids(&app, 2).await.into_iter().collect();
    assert_eq!(ids, BTreeSet::from([a.id, r.id]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_an_unacknowledged_publish_publishes_the_recorded_answer() {
    // First attempt: the broker never answers, so the client is told UNAVAILABLE while
    // the answer is recorded, pending.
    let broken = spawn_app(&[
        ("KAFKA_BROKERS", "127.0.0.1:1"),
        ("KAFKA_PUBLISH_TIMEOUT_MS", "1000"),
    ])
    .await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    let status = broken
        .extract(user, with_id(&request_id, "spent 250 on lunch at Subway"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        count(
            &broken.db,
            "SELECT count(*) AS n FROM request_records WHERE completed_at IS NULL"
        )
        .await,
        1
    );

    // The retry reaches a replica with a working broker, on the same database.
    let healthy = spawn_app(&[("DATABASE_URL", broken.db.as_str())]).await;
    let answer = healthy
        .extract(user, with_id(&request_id, "spent 250 on lunch at Subway"))
        .await
        .unwrap();
    let id = answer.expense.as_ref().unwrap().id.clone();
    assert_eq!(published_ids(&healthy, 1).await, vec![id]);
    assert_eq!(
        count(
            &broken.db,
            "SELECT count(*) AS n FROM request_records WHERE completed_at IS NOT NULL"
        )
        .await,
        1,
        "acknowledged now: later retries publish nothing"
    );
    let again = healthy
        .extract(user, with_id(&request_id, "spent 250 on lunch at Subway"))
        .await
        .unwrap();
    assert_eq!(again, answer);
    assert_eq!(published_ids(&healthy, 1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_with_a_request_id_records_nothing() {
    let app = spawn_app(&[]).await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    app.extract(
        user,
        ExtractExpenseRequest {
            dry_run: true,
            ..with_id(&request_id, "coffee 3")
        },
    )
    .await
    .unwrap();
    assert_eq!(
        count(&app.db, "SELECT count(*) AS n FROM request_records").await,
        0
    );
    // The real request afterwards is a first request, not a "different" one.
    app.extract(user, with_id(&request_id, "coffee 3")).await.unwrap();
}
