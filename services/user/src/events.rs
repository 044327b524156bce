//! The Kafka adapter: decode, parse, apply idempotently.

use chrono::Utc;
use contracts::events::UserRegistered;
use platform::{
    db::PgPool,
    idempotency::process_once,
    kafka::{Envelope, HandlerError},
};
use uuid::Uuid;

use crate::{
    domain::{Profile, TimeZone},
    store::{models::ProfileRow, queries},
};

/// Consumer name recorded with processed event ids.
pub const CONSUMER: &str = "user-service";

/// Creates the profile of a newly registered user. A redelivered event, or one for a user
/// deleted since, changes nothing.
pub async fn on_user_registered(
    pool: &PgPool,
    defaults: (domain::Currency, TimeZone),
    env: Envelope<UserRegistered>,
) -> Result<(), HandlerError> {
    let e = &env.event;
    let user_id = Uuid::parse_str(&e.user_id)
        .map_err(|_| HandlerError::Permanent(format!("user_id {:?} is not a UUID", e.user_id)))?;
    let at = e
        .registered_at
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .unwrap_or_else(Utc::now);
    let profile = Profile::from_registration(
        user_id,
        &e.email,
        &e.display_name,
        &e.default_currency,
        &e.timezone,
        defaults,
        at,
    );
    let row = ProfileRow::from(&profile);
    let mut conn = pool.get().await?;
    let applied = process_once(&mut conn, CONSUMER, &env.topic, env.id, move |conn| {
        Box::pin(async move {
            queries::insert_if_absent(conn, &row).await?;
            Ok(())
        })
    })
    .await?;
    tracing::info!(%user_id, event_id = %env.id, applied, "UserRegistered");
    Ok(())
}
