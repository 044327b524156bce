//! Safe retries of CreateExpense (`request_id`, AIP-155) on the real PostgreSQL and Kafka:
//! one row and one ExpenseChanged per request, whatever the number of attempts.

use std::time::Duration;

use contracts::{
    events::ExpenseChanged,
    expense::{CreateExpenseRequest, UpdateExpenseRequest},
    topics,
};
use diesel_async::RunQueryDsl;
use futures::future::join_all;
use platform::testing::read_topic;
use prost::Message as _;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{create_req, spawn_app, TestApp};

fn with_id(request_id: &str, amount: &str) -> CreateExpenseRequest {
    CreateExpenseRequest {
        request_id: request_id.into(),
        ..create_req(amount, "EUR", "Subway", 1, "2026-11-20")
    }
}

/// The expense ids of the ExpenseChanged events the app published (waiting for
/// `expected`, then 2 s more for extras).
async fn changed_ids(app: &TestApp, expected: usize) -> Vec<String> {
    read_topic(
        &app.infra.brokers,
        &app.topic(topics::EXPENSE_CHANGED),
        expected,
        Duration::from_secs(30),
        Duration::from_secs(2),
    )
    .await
    .iter()
    .map(|m| {
        let e = ExpenseChanged::decode(m.payload.as_deref().unwrap_or_default()).expect("ExpenseChanged");
        e.after.or(e.before).map(|x| x.id).unwrap_or_default()
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_request_id_twice_answers_the_first_answer_and_stores_one_expense() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    let first = app.create(user, with_id(&request_id, "12.50")).await.unwrap();
    let again = app.create(user, with_id(&request_id, "12.50")).await.unwrap();
    assert_eq!(again, first, "a retry answers exactly the first answer");
    assert_eq!(app.count_rows(user).await, 1);
    assert_eq!(app.get(user, &first.id).await.unwrap(), first);

    // The first answer stays the answer, also after the expense was edited.
    app.client
        .clone()
        .update_expense(app.request(
            user,
            UpdateExpenseRequest {
                id: first.id.clone(),
                note: "edited".into(),
                update_mask: vec!["note".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let later = app.create(user, with_id(&request_id, "12.50")).await.unwrap();
    assert_eq!(later, first);
    assert_eq!(app.count_rows(user).await, 1);
    // CREATED once, UPDATED once: the retries announced nothing.
    assert_eq!(changed_ids(&app, 2).await, vec![first.id.clone(), first.id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_different_request_under_a_used_request_id_is_refused() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    app.create(user, with_id(&request_id, "12.50")).await.unwrap();
    let status = app.create(user, with_id(&request_id, "13")).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains(&format!(
            "request_id {request_id} was used for a different request"
        )),
        "{status:?}"
    );
    let status = app
        .create(user, with_id("not-a-uuid", "12.50"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("request_id \"not-a-uuid\" is not a UUID"),
        "{status:?}"
    );
    assert_eq!(app.count_rows(user).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_duplicates_store_one_expense() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    let answers: Vec<_> = join_all((0..8).map(|_| app.create(user, with_id(&request_id, "7"))))
        .await
        .into_iter()
        .map(|a| a.expect("answered"))
        .collect();
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    assert_eq!(app.count_rows(user).await, 1);
    assert_eq!(changed_ids(&app, 1).await, vec![answers[0].id.clone()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_scoped_per_user() {
    let app = spawn_app().await;
    let (asha, ravi) = (Uuid::now_v7(), Uuid::now_v7());
    let request_id = Uuid::new_v4().to_string();
    let a = app.create(asha, with_id(&request_id, "5")).await.unwrap();
    let r = app.create(ravi, with_id(&request_id, "6")).await.unwrap();
    assert_ne!(a.id, r.id);
    assert_eq!((a.amount.as_str(), r.amount.as_str()), ("5.00", "6.00"));
    assert_eq!(app.count_rows(asha).await, 1);
    assert_eq!(app.count_rows(ravi).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_id_whose_record_expired_still_creates_no_second_expense() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let request_id = Uuid::new_v4().to_string();
    let first = app.create(user, with_id(&request_id, "9")).await.unwrap();
    let mut conn = app.pool.get().await.unwrap();
    diesel::sql_query("UPDATE request_records SET expires_at = now() - interval '1 second'")
        .execute(&mut conn)
        .await
        .unwrap();
    let status = app.create(user, with_id(&request_id, "9")).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(
        status
            .message()
            .contains(&format!("made expense {} more than 24 hours ago", first.id)),
        "{status:?}"
    );
    assert_eq!(app.count_rows(user).await, 1);
    // The refused retry rolled back: the expired record is swept like any other.
    assert_eq!(
        platform::requests::purge_expired(&mut conn, 100).await.unwrap(),
        1
    );
}
