//! Bad input: arbitrary registrations and profile updates (property tests, no database),
//! then the running service fed NUL bytes, SQL injection attempts, oversized fields and
//! random bytes on its topic.

use std::time::Duration;

use chrono::Utc;
use contracts::{
    topics,
    user::{GetMeRequest, UpdateMeRequest, UserProfile},
};
use platform::{
    kafka::RawEvent,
    testing::{eventually, read_topic},
};
use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
use tonic::Code;
use user_service::domain::{Profile, ProfileUpdate, TimeZone};
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};

// === properties ===

/// Any text, with a fair share of NUL and other control characters, quotes and SQL.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => ".{0,40}",
        2 => "[\\x00-\\x1f'\"@.;a-z -]{1,40}",
        1 => prop::sample::select(vec!["\0", "a\0b@example.com", "\0@example.com", "'; DROP TABLE profiles; --"])
            .prop_map(String::from),
        1 => "\\PC{70,90}",
        1 => "\\PC{250,300}",
    ]
}

/// What is stored must be storable: Postgres `TEXT` refuses NUL, and a refused insert in the
/// consumer is retried forever, blocking the partition.
fn assert_storable(p: &Profile) -> Result<(), TestCaseError> {
    for s in [p.email.as_str(), p.display_name.as_str()] {
        prop_assert!(!s.contains('\0'), "{s:?}");
    }
    prop_assert!(p.display_name.chars().count() <= 80, "{:?}", p.display_name);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_registration_becomes_a_storable_profile(
        email in text(), display_name in text(), currency in ".{0,4}", zone in ".{0,30}",
    ) {
        let defaults = (domain::Currency::EUR, TimeZone::parse("Europe/Berlin").unwrap());
        let p = Profile::from_registration(Uuid::now_v7(), &email, &display_name, &currency, &zone, defaults, Utc::now());
        assert_storable(&p)?;
    }

    #[test]
    fn any_update_is_storable_or_refused_with_a_short_message(
        mask in prop::collection::vec(prop_oneof![
            3 => prop::sample::select(vec!["display_name", "default_currency", "timezone"]).prop_map(String::from),
            1 => ".{0,10}",
            1 => "\\PC{1000,2000}",
        ], 0..4),
        display_name in text(), currency in ".{0,4}", zone in prop_oneof![".{0,30}", Just("Asia/Tokyo".to_owned())],
    ) {
        match ProfileUpdate::parse(&mask, &display_name, &currency, &zone) {
            Ok(u) => {
                let mut p = Profile::from_registration(
                    Uuid::now_v7(), "a@example.com", "A", "", "",
                    (domain::Currency::EUR, TimeZone::parse("UTC").unwrap()), Utc::now(),
                );
                u.apply(&mut p, Utc::now());
                assert_storable(&p)?;
            }
            // The message goes back in grpc-message (a header: Kong's nginx refuses big ones).
            Err(e) => prop_assert!(e.to_string().chars().count() < 400, "{} chars", e.to_string().chars().count()),
        }
    }
}

// === the running service ===

async fn get_me(app: &TestApp, user: Uuid) -> Result<UserProfile, tonic::Status> {
    app.client
        .clone()
        .get_me(app.request(user, GetMeRequest {}))
        .await
        .map(|r| r.into_inner())
}

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

async fn update(app: &TestApp, user: Uuid, mask: &[&str], name: &str) -> Result<UserProfile, tonic::Status> {
    app.client
        .clone()
        .update_me(app.request(
            user,
            UpdateMeRequest {
                display_name: name.into(),
                update_mask: mask.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_injection_attempts_are_stored_verbatim_and_harmless() {
    let app = spawn_app().await;
    let (user, other) = (Uuid::now_v7(), Uuid::now_v7());
    // Through the registration event: email and display name.
    let mut reg = app.registration(user, "INR", "Asia/Kolkata");
    let mut event: contracts::events::UserRegistered =
        prost::Message::decode(reg.payload.as_slice()).unwrap();
    event.email = "o'brien'--@example.com".into();
    event.display_name = "'; DROP TABLE profiles; --".into();
    reg.payload = prost::Message::encode_to_vec(&event);
    app.producer.send(&reg).await.unwrap();
    app.register(other).await;
    let p = wait_profile(&app, user).await;
    assert_eq!(
        (p.email.as_str(), p.display_name.as_str()),
        ("o'brien'--@example.com", "'; DROP TABLE profiles; --")
    );
    let theirs = wait_profile(&app, other).await;

    // Through UpdateMe.
    for name in [
        "' OR '1'='1",
        "Robert'); DELETE FROM profiles WHERE ('1'='1",
        "x' WHERE user_id <> user_id; --",
        "\\'; SELECT pg_sleep(10); --",
    ] {
        let updated = update(&app, user, &["display_name"], name).await.unwrap();
        assert_eq!(updated.display_name, name);
        assert_eq!(
            get_me(&app, user).await.unwrap().display_name,
            name,
            "read back verbatim"
        );
    }
    // The other profile is untouched; the table is still there.
    assert_eq!(get_me(&app, other).await.unwrap(), theirs);
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_control_characters_and_oversized_fields_are_invalid_arguments_with_short_messages() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    app.register(user).await;
    let before = wait_profile(&app, user).await;
    let mut c = app.client.clone();

    let huge = "x".repeat(100_000);
    let many: Vec<String> = (0..2000).map(|i| format!("field_{i}")).collect();
    let cases: Vec<(UpdateMeRequest, &str)> = vec![
        (req(&["display_name"], "A\0B", "", ""), "display_name"),
        (req(&["display_name"], "\0", "", ""), "display_name"),
        (req(&["display_name"], &huge, "", ""), "display_name"),
        (req(&["default_currency"], "", "EU\0", ""), "default_currency"),
        (req(&["timezone"], "", "", "Europe/Berlin\0"), "timezone"),
        (req(&["timezone"], "", "", &huge), "timezone"),
        (req(&[&huge], "", "", ""), "update_mask"),
        (
            UpdateMeRequest {
                update_mask: many,
                ..Default::default()
            },
            "update_mask",
        ),
    ];
    for (r, field) in cases {
        let what = format!(
            "{:?}",
            r.update_mask
                .iter()
                .map(|m| m.chars().take(20).collect::<String>())
                .collect::<Vec<_>>()
        );
        let status = c.update_me(app.request(user, r)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(status.message().contains(field), "{what}: {:?}", status.message());
        // The message travels in a header; Kong's nginx answers 502 to an upstream header
        // over its buffer (4-8 KiB), so it must stay short whatever the input.
        assert!(
            status.message().len() < 1024,
            "{what}: {} bytes",
            status.message().len()
        );
    }
    assert_eq!(get_me(&app, user).await.unwrap(), before, "nothing changed");
}

fn req(mask: &[&str], name: &str, currency: &str, zone: &str) -> UpdateMeRequest {
    UpdateMeRequest {
        display_name: name.into(),
        default_currency: currency.into(),
        timezone: zone.into(),
        update_mask: mask.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_with_nul_bytes_does_not_block_the_partition() {
    let app = spawn_app().await;
    let (poisoned, marker) = (Uuid::now_v7(), Uuid::now_v7());
    let mut reg = app.registration(poisoned, "", "");
    let mut event: contracts::events::UserRegistered =
        prost::Message::decode(reg.payload.as_slice()).unwrap();
    event.email = "nul\0byte@example.com".into();
    event.display_name = "\0".into();
    reg.payload = prost::Message::encode_to_vec(&event);
    // Keyed like the marker's registration: same partition, so the marker waits behind it.
    reg.key = marker.to_string();
    app.producer.send(&reg).await.unwrap();
    app.register(marker).await;
    wait_profile(&app, marker).await;
    // The poisoned registration was either stored without the NUL bytes or dead-lettered;
    // either way it no longer holds the partition.
    if let Ok(p) = get_me(&app, poisoned).await {
        assert!(!p.email.contains('\0') && !p.display_name.contains('\0'), "{p:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_bytes_on_the_topic_are_dead_lettered_and_the_consumer_carries_on() {
    let app = spawn_app().await;
    let marker = Uuid::now_v7();
    let mut runner = TestRunner::deterministic();
    let payloads = prop::collection::vec(any::<u8>(), 1..300);
    let mut dead = vec![];
    for _ in 0..10 {
        let mut raw: RawEvent = app.registration(Uuid::now_v7(), "", "");
        raw.key = marker.to_string();
        raw.payload = payloads.new_tree(&mut runner).unwrap().current();
        // Bytes that happen to decode (into a registration whose user_id is no UUID) are
        // refused by the handler: dead-lettered too.
        app.producer.send(&raw).await.unwrap();
        dead.push(raw.id.to_string());
    }
    app.register(marker).await;
    wait_profile(&app, marker).await;
    let dlq = read_topic(
        &app.infra.brokers,
        &topics::dlq(&app.registered_topic()),
        dead.len(),
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    let ids: Vec<String> = dlq.iter().map(|m| m.headers["ce_id"].clone()).collect();
    assert_eq!(ids, dead, "each dead-lettered once, in order");
}
