//! Object-level authorisation with two users: every RPC acts on the caller's own profile
//! only, whatever else the request says.

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

#[tokio::test(flavor = "multi_thread")]
async fn a_user_updates_and_deletes_only_their_own_profile() {
    let app = spawn_app().await;
    let (alice, mallory) = (Uuid::now_v7(), Uuid::now_v7());
    app.register(alice).await;
    app.register(mallory).await;
    let alices = wait_profile(&app, alice).await;
    wait_profile(&app, mallory).await;
    let mut c = app.client.clone();

    // GetMe answers the caller's own profile.
    assert_eq!(get_me(&app, mallory).await.unwrap().user_id, mallory.to_string());

    // UpdateMe has no id to aim with: it changes the caller's profile, never Alice's.
    let updated = c
        .update_me(app.request(
            mallory,
            UpdateMeRequest {
                display_name: "Alice".into(),
                default_currency: "JPY".into(),
                timezone: "Asia/Tokyo".into(),
                update_mask: vec![
                    "display_name".into(),
                    "default_currency".into(),
                    "timezone".into(),
                ],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.user_id, mallory.to_string());
    assert_eq!(
        get_me(&app, alice).await.unwrap(),
        alices,
        "Alice's profile untouched"
    );
    // Nor can the mask reach for the identity fields.
    let err = c
        .update_me(app.request(
            mallory,
            UpdateMeRequest {
                update_mask: vec!["user_id".into(), "email".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // GetUser on Alice with Mallory's token: the same answer as for nobody.
    let theirs = c
        .get_user(app.request(
            mallory,
            GetUserRequest {
                user_id: alice.to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);

    // DeleteMe deletes the caller only, and says so in exactly one UserDeleted.
    c.delete_me(app.request(mallory, DeleteMeRequest {}))
        .await
        .unwrap();
    assert_eq!(get_me(&app, mallory).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(get_me(&app, alice).await.unwrap(), alices, "Alice still there");
    let deleted = read_topic(
        &app.infra.brokers,
        &app.topic(topics::USER_DELETED),
        1,
        Duration::from_secs(30),
        Duration::from_millis(500),
    )
    .await;
    let ids: Vec<String> = deleted
        .iter()
        .map(|m| {
            UserDeleted::decode(m.payload.as_deref().unwrap())
                .unwrap()
                .user_id
        })
        .collect();
    assert_eq!(ids, vec![mallory.to_string()]);
}
