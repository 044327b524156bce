use std::time::Duration;

use contracts::{
    events::UserDeleted,
    topics,
    user::{DeleteMeRequest, GetMeRequest, GetUserRequest, UpdateMeRequest, UserProfile},
};
use platform::testing::{eventually, read_topic};
use prost::Message;
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};

async fn get_me(app: &TestApp, user: Uuid) -> Result<UserProfile, tonic::Status> {
    app.client
        .clone()
        .get_me(app.request(user, GetMeRequest {}))
        .await
        .map(|r| r.into_inner())
}

/// Waits (beyond the service's own short wait) until the profile exists.
async fn wait_profile(app: &TestApp, user: Uuid) -> UserProfile {
    assert!(
        eventually(Duration::from_secs(30), || async {
            get_me(app, user).await.is_ok()
        })
        .await,
        "profile of {user} never appeared"
    );
    get_me(app, user).await.unwrap()
}

fn update(mask: &[&str], name: &str, currency: &str, zone: &str) -> UpdateMeRequest {
    UpdateMeRequest {
        display_name: name.into(),
        default_currency: currency.into(),
        timezone: zone.into(),
        update_mask: mask.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_event_becomes_the_users_profile() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    app.register(user).await;
    let p = wait_profile(&app, user).await;
    assert_eq!(p.user_id, user.to_string());
    assert_eq!(
        p.email,
        format!("{}@example.com", user.simple()),
        "email normalised"
    );
    assert_eq!(p.display_name, "Asha");
    assert_eq!(
        (p.default_currency.as_str(), p.timezone.as_str()),
        ("INR", "Asia/Kolkata")
    );
    assert!(p.created_at.is_some() && p.updated_at.is_some());

    // Without currency and zone in the event, the configured defaults apply.
    let other = Uuid::now_v7();
    app.producer.send(&app.registration(other, "", "")).await.unwrap();
    let p = wait_profile(&app, other).await;
    assert_eq!(
        (p.default_currency.as_str(), p.timezone.as_str()),
        ("EUR", "Europe/Berlin")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_registration_event_twice_changes_nothing() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let event = app.register(user).await;
    wait_profile(&app, user).await;
    app.client
        .clone()
        .update_me(app.request(user, update(&["display_name"], "Asha K", "", "")))
        .await
        .unwrap();

    // Redelivery of the very same event (same ce_id), then a marker user to know it was consumed.
    app.producer.send(&event).await.unwrap();
    let marker = Uuid::now_v7();
    app.register(marker).await;
    wait_profile(&app, marker).await;
    assert_eq!(
        get_me(&app, user).await.unwrap().display_name,
        "Asha K",
        "the redelivery did not reset the profile"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_are_validated_field_by_field() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    app.register(user).await;
    wait_profile(&app, user).await;
    let mut c = app.client.clone();

    let cases = [
        (
            update(&["default_currency"], "", "RUPEES", ""),
            "default_currency",
        ),
        (update(&["timezone"], "", "", "India/Bangalore"), "timezone"),
        (update(&["display_name"], "   ", "", ""), "display_name"),
        (update(&["display_name"], &"x".repeat(81), "", ""), "display_name"),
        (update(&["email", "user_id"], "", "", ""), "email, user_id"),
        (update(&[], "B", "", ""), "update_mask"),
    ];
    for (req, mentions) in cases {
        let err = c
            .update_me(app.request(user, req.clone()))
            .await
            .expect_err(&format!("{req:?} must fail"));
        assert_eq!(err.code(), Code::InvalidArgument, "{req:?}");
        assert!(
            err.message().contains(mentions),
            "{:?} should mention {mentions}",
            err.message()
        );
    }

    let p = c
        .update_me(app.request(
            user,
            update(&["default_currency", "timezone"], "ignored", "jpy", "Asia/Tokyo"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            p.default_currency.as_str(),
            p.timezone.as_str(),
            p.display_name.as_str()
        ),
        ("JPY", "Asia/Tokyo", "Asha")
    );
    assert_eq!(
        get_me(&app, user).await.unwrap().default_currency,
        "JPY",
        "persisted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_profile_emits_user_deleted_and_it_stays_deleted() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let registration = app.register(user).await;
    wait_profile(&app, user).await;

    app.client
        .clone()
        .delete_me(app.request(user, DeleteMeRequest {}))
        .await
        .unwrap();
    let err = get_me(&app, user).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let again = app
        .client
        .clone()
        .delete_me(app.request(user, DeleteMeRequest {}))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);

    let messages = read_topic(
        &app.infra.brokers,
        &app.topic(topics::USER_DELETED),
        1,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    assert_eq!(messages.len(), 1, "exactly one UserDeleted");
    let event = UserDeleted::decode(messages[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(event.user_id, user.to_string());
    assert_eq!(
        messages[0].key.as_deref(),
        Some(user.to_string().as_bytes()),
        "keyed by user id"
    );
    assert_eq!(
        messages[0].headers["ce_type"],
        "expense_tracker.events.v1.UserDeleted"
    );

    // A replayed registration does not bring the profile back.
    let mut replay = registration.clone();
    replay.id = Uuid::now_v7();
    app.producer.send(&replay).await.unwrap();
    let marker = Uuid::now_v7();
    app.register(marker).await;
    wait_profile(&app, marker).await;
    assert_eq!(get_me(&app, user).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_never_reads_another_users_profile() {
    let app = spawn_app().await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    app.register(a).await;
    app.register(b).await;
    wait_profile(&app, a).await;
    wait_profile(&app, b).await;
    let mut c = app.client.clone();

    // B's token on GetUser(A): indistinguishable from a missing profile.
    let err = c
        .get_user(app.request(
            b,
            GetUserRequest {
                user_id: a.to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let missing = c
        .get_user(app.request(
            b,
            GetUserRequest {
                user_id: Uuid::now_v7().to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.message()), (missing.code(), missing.message()));
    // The same user, on their own behalf: allowed.
    let own = c
        .get_user(app.request(
            a,
            GetUserRequest {
                user_id: a.to_string(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.user_id, a.to_string());
    let bad = c
        .get_user(app.request(a, GetUserRequest { user_id: "42".into() }))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);

    // No token at all.
    let err = c.get_me(tonic::Request::new(GetMeRequest {})).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_undecodable_event_goes_to_the_dlq_and_the_next_one_is_consumed() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let mut poison = app.registration(Uuid::now_v7(), "", "");
    poison.payload = b"\x0a\xff\xff\xff".to_vec();
    app.producer.send(&poison).await.unwrap();
    app.register(user).await;
    wait_profile(&app, user).await;

    let dlq = read_topic(
        &app.infra.brokers,
        &contracts::topics::dlq(&app.registered_topic()),
        1,
        Duration::from_secs(30),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].headers["ce_id"], poison.id.to_string());
    assert!(dlq[0].headers["dlq_error"].contains("undecodable"));
}
