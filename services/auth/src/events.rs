//! The Kafka adapter: `UserDeleted` (from user-service) disables the account and revokes
//! every refresh token, once per event (`process_once`), then the offset is stored.

use chrono::Utc;
use contracts::events::UserDeleted;
use platform::{
    db::PgPool,
    idempotency::process_once,
    kafka::{Envelope, HandlerError},
};
use uuid::Uuid;

use crate::store::queries::{refresh_tokens, users};

/// Handles one `UserDeleted`. `consumer` is the consumer group (the dedupe namespace).
/// An unknown user is not an error: the account may never have existed here.
pub async fn on_user_deleted(
    pool: &PgPool,
    consumer: &str,
    env: Envelope<UserDeleted>,
) -> Result<(), HandlerError> {
    let user_id = Uuid::parse_str(env.event.user_id.trim()).map_err(|_| {
        let shown: String = env.event.user_id.chars().take(64).collect();
        HandlerError::Permanent(format!("UserDeleted.user_id {shown:?} is not a UUID"))
    })?;
    let mut conn = pool.get().await?;
    let event_id = env.id;
    let ran = process_once(&mut conn, consumer, &env.topic, event_id, move |conn| {
        Box::pin(async move {
            let now = Utc::now();
            let disabled = users::disable(conn, user_id, now).await?;
            let revoked = refresh_tokens::revoke_all_of_user(conn, user_id, now).await?;
            tracing::info!(%user_id, disabled, revoked, "account disabled: user deleted");
            Ok(())
        })
    })
    .await?;
    if !ran {
        tracing::debug!(%user_id, %event_id, "UserDeleted already processed");
    }
    Ok(())
}
