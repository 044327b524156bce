//! Rows, one struct per purpose (insert / read), converted to and from domain types here.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{login_attempts, refresh_tokens, users};
use crate::domain::AttemptState;

// === users ===

#[derive(Debug, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserNew<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub display_name: &'a str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What login needs of an account.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserCredentials {
    pub id: Uuid,
    pub password_hash: String,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("id", &self.id)
            .field("disabled_at", &self.disabled_at)
            .finish()
    }
}

// === refresh_tokens ===

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
pub struct RefreshTokenNew<'a> {
    pub id: Uuid,
    pub token_hash: &'a [u8],
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

// === login_attempts ===

#[derive(Debug, Clone, Insertable, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = login_attempts, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct LoginAttempt {
    pub kind: String,
    pub key: String,
    pub failures: i32,
    pub last_failure_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl LoginAttempt {
    pub fn from_state(kind: &str, key: &str, s: &AttemptState) -> Self {
        Self {
            kind: kind.to_owned(),
            key: key.to_owned(),
            failures: i32::try_from(s.failures).unwrap_or(i32::MAX),
            last_failure_at: s.last_failure_at,
            locked_until: s.locked_until,
        }
    }
}

impl From<&LoginAttempt> for AttemptState {
    fn from(r: &LoginAttempt) -> Self {
        Self {
            failures: u32::try_from(r.failures).unwrap_or(0),
            last_failure_at: r.last_failure_at,
            locked_until: r.locked_until,
        }
    }
}
