//! The use cases: signup, login, refresh, logout and the key set, orchestrating the domain
//! rules and the store. `grpc.rs` parses requests into the types these take.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use contracts::events::UserRegistered;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use platform::db::PgPool;
use uuid::Uuid;

use crate::{
    domain::{
        throttle::Subject, AccessToken, AccessTokenIssuer, Email, NewAccount, RefreshToken, SigningKeys,
        ThrottlePolicy,
    },
    error::AuthError,
    hashing::HashPool,
    store::{
        models::{RefreshTokenNew, UserNew},
        queries::{is_unique_violation, login_attempts, refresh_tokens, users},
    },
};

/// Tokens handed out by signup, login and refresh.
#[derive(Debug)]
pub struct Session {
    pub user_id: Uuid,
    pub access: AccessToken,
    pub refresh: RefreshToken,
}

/// Login throttling settings.
#[derive(Debug, Clone, Copy)]
pub struct Throttling {
    pub per_account: ThrottlePolicy,
    pub per_client: ThrottlePolicy,
}

/// The identity service. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    hashes: HashPool,
    tokens: AccessTokenIssuer,
    refresh_ttl: Duration,
    throttling: Throttling,
}

/// What presenting a refresh token led to, decided inside one transaction.
enum Redeemed {
    Rotated {
        user_id: Uuid,
        family_id: Uuid,
        token: RefreshToken,
    },
    Unknown,
    Revoked,
    Expired,
    Reused {
        user_id: Uuid,
        family_id: Uuid,
        revoked: usize,
    },
    AccountDisabled {
        user_id: Uuid,
    },
}

impl Auth {
    pub fn new(
        pool: PgPool,
        hashes: HashPool,
        tokens: AccessTokenIssuer,
        refresh_ttl: Duration,
        throttling: Throttling,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                hashes,
                tokens,
                refresh_ttl,
                throttling,
            }),
        }
    }

    pub fn keys(&self) -> &SigningKeys {
        self.inner.tokens.keys()
    }

    async fn conn(&self) -> Result<platform::db::PooledConnection, AuthError> {
        Ok(self.inner.pool.get().await?)
    }

    /// Creates the account and its first session. The user row, the `UserRegistered`
    /// outbox row and the refresh token are written in one transaction.
    pub async fn signup(&self, account: NewAccount) -> Result<Session, AuthError> {
        let password_hash = self.inner.hashes.hash(account.password.clone()).await?;

        let user_id = Uuid::now_v7();
        let now = Utc::now();
        let event = UserRegistered {
            user_id: user_id.to_string(),
            email: account.email.as_str().to_owned(),
            display_name: account.display_name.as_str().to_owned(),
            default_currency: account
                .default_currency
                .map(|c| c.code().to_owned())
                .unwrap_or_default(),
            timezone: account.timezone.map(|z| z.name().to_owned()).unwrap_or_default(),
            registered_at: Some(timestamp(now)),
        };
        let refresh = RefreshToken::generate();
        let refresh_hash = refresh.hash();
        let refresh_ttl = self.inner.refresh_ttl;
        let mut conn = self.conn().await?;
        conn.transaction::<(), AuthError, _>(async |conn| {
            let row = UserNew {
                id: user_id,
                email: account.email.as_str(),
                password_hash: &password_hash,
                display_name: account.display_name.as_str(),
                created_at: now,
                updated_at: now,
            };
            users::insert(conn, &row).await.map_err(|e| {
                if is_unique_violation(&e, users::EMAIL_KEY) {
                    AuthError::EmailTaken
                } else {
                    e.into()
                }
            })?;
            let event_id = platform::outbox::enqueue(conn, &event).await?;
            tracing::debug!(%event_id, "UserRegistered queued in the outbox");
            insert_refresh_token(conn, &refresh_hash, Uuid::now_v7(), user_id, now, refresh_ttl).await
        })
        .await?;
        tracing::info!(%user_id, "account created");
        let access = self.inner.tokens.issue(user_id).map_err(AuthError::internal)?;
        Ok(Session {
            user_id,
            access,
            refresh,
        })
    }

    /// Checks the password and opens a session. `client` is the caller's address
    /// (see [`crate::grpc::client_subject`]).
    ///
    /// Throttling: a locked client address or account is refused before any work. The
    /// account's attempt is counted as failed before the password is checked (and reset on
    /// success), so concurrent guesses cannot slip past the lock; the client's failures
    /// are counted after the fact.
    pub async fn login(
        &self,
        email: &Email,
        password: String,
        client: Subject,
    ) -> Result<Session, AuthError> {
        let account = Subject::Account(email.as_str().to_owned());
        // The hashing slot first: a login refused as busy has not counted as an attempt.
        let slot = self.inner.hashes.slot().await?;
        let t = self.inner.throttling;
        let now = Utc::now();
        let (user, account_state) = {
            let mut conn = self.conn().await?;
            if let Some(retry_after) = login_attempts::find(&mut conn, &client)
                .await?
                .and_then(|s| s.retry_after(now))
            {
                tracing::info!(
                    retry_after_ms = retry_after.as_millis() as u64,
                    "login throttled: client address"
                );
                return Err(AuthError::Throttled { retry_after });
            }
            let account_state =
                match login_attempts::begin_attempt(&mut conn, &account, &t.per_account, now).await? {
                    Ok(state) => state,
                    Err((_, retry_after)) => {
                        tracing::info!(
                            retry_after_ms = retry_after.as_millis() as u64,
                            "login throttled: account"
                        );
                        return Err(AuthError::Throttled { retry_after });
                    }
                };
            let user = users::find_credentials_by_email(&mut conn, email.as_str()).await?;
            (user, account_state)
            // The connection goes back to the pool during the (slow) hash.
        };

        let stored = user.as_ref().map(|u| u.password_hash.clone());
        // An unknown email is checked against the dummy hash: the same work as a wrong password.
        let matches = slot.verify(password, stored).await?;

        let mut conn = self.conn().await?;
        match user {
            Some(u) if matches && u.disabled_at.is_none() => {
                login_attempts::reset(&mut conn, &account).await?;
                let session = self.open_session(&mut conn, u.id, None).await?;
                tracing::info!(user_id = %u.id, "signed in");
                Ok(session)
            }
            other => {
                let reason = match &other {
                    None => "unknown email",
                    Some(u) if u.disabled_at.is_some() => "account disabled",
                    Some(_) => "wrong password",
                };
                let now = Utc::now();
                login_attempts::confirm_failure(
                    &mut conn,
                    &account,
                    &t.per_account,
                    account_state.failures,
                    now,
                )
                .await?;
                let c = login_attempts::record_failure(&mut conn, &client, &t.per_client, now).await?;
                tracing::info!(
                    user_id = other.as_ref().map(|u| u.id.to_string()),
                    reason,
                    account_failures = account_state.failures,
                    client_failures = c.failures,
                    "sign-in refused"
                );
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Exchanges a refresh token: the presented one is spent and a new one of the same
    /// family returned. A spent token presented again revokes its whole family.
    pub async fn refresh(&self, token: RefreshToken) -> Result<Session, AuthError> {
        let hash = token.hash();
        let now = Utc::now();
        let ttl = self.inner.refresh_ttl;
        let mut conn = self.conn().await?;
        let outcome = conn
            .transaction::<Redeemed, AuthError, _>(async |conn| {
                let Some(row) = refresh_tokens::find_by_hash_for_update(conn, &hash).await? else {
                    return Ok(Redeemed::Unknown);
                };
                if row.revoked_at.is_some() {
                    return Ok(Redeemed::Revoked);
                }
                if row.used_at.is_some() {
                    // Two parties hold this family's tokens: the thief's or the owner's next
                    // refresh is the one that will fail, so end the session for both.
                    let revoked = refresh_tokens::revoke_family(conn, row.family_id, now).await?;
                    return Ok(Redeemed::Reused {
                        user_id: row.user_id,
                        family_id: row.family_id,
                        revoked,
                    });
                }
                if row.expires_at <= now {
                    return Ok(Redeemed::Expired);
                }
                let user = users::find_credentials_by_id(conn, row.user_id).await?;
                if user.is_none_or(|u| u.disabled_at.is_some()) {
                    refresh_tokens::revoke_family(conn, row.family_id, now).await?;
                    return Ok(Redeemed::AccountDisabled { user_id: row.user_id });
                }
                refresh_tokens::mark_used(conn, row.id, now).await?;
                let token = RefreshToken::generate();
                insert_refresh_token(conn, &token.hash(), row.family_id, row.user_id, now, ttl).await?;
                Ok(Redeemed::Rotated {
                    user_id: row.user_id,
                    family_id: row.family_id,
                    token,
                })
            })
            .await?;
        match outcome {
            Redeemed::Rotated {
                user_id,
                family_id,
                token,
            } => {
                tracing::info!(%user_id, %family_id, "refresh token rotated");
                let access = self.inner.tokens.issue(user_id).map_err(AuthError::internal)?;
                Ok(Session {
                    user_id,
                    access,
                    refresh: token,
                })
            }
            Redeemed::Reused {
                user_id,
                family_id,
                revoked,
            } => {
                tracing::warn!(%user_id, %family_id, revoked, "spent refresh token presented again; family revoked");
                Err(AuthError::InvalidRefreshToken)
            }
            Redeemed::AccountDisabled { user_id } => {
                tracing::info!(%user_id, "refresh refused: account disabled");
                Err(AuthError::InvalidRefreshToken)
            }
            Redeemed::Unknown | Redeemed::Revoked | Redeemed::Expired => Err(AuthError::InvalidRefreshToken),
        }
    }

    /// Revokes the token's family. Unknown or already revoked tokens are fine.
    pub async fn logout(&self, token: RefreshToken) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        let revoked = refresh_tokens::revoke_family_of_hash(&mut conn, &token.hash(), Utc::now()).await?;
        tracing::info!(revoked, "signed out");
        Ok(())
    }

    /// Deletes what can never matter again: refresh tokens expired for a day, and login
    /// failures older than the throttling windows.
    pub async fn purge_stale(&self) -> Result<(usize, usize), AuthError> {
        let now = Utc::now();
        let mut conn = self.conn().await?;
        let tokens = refresh_tokens::delete_expired(&mut conn, now - chrono::Duration::days(1)).await?;
        let t = self.inner.throttling;
        let window = t
            .per_account
            .window
            .max(t.per_client.window)
            .max(t.per_account.max_delay);
        let cutoff = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::days(1));
        let attempts = login_attempts::delete_stale(&mut conn, cutoff).await?;
        Ok((tokens, attempts))
    }

    /// A new session (new refresh-token family) for `user_id`.
    async fn open_session(
        &self,
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        family: Option<Uuid>,
    ) -> Result<Session, AuthError> {
        let refresh = RefreshToken::generate();
        let family = family.unwrap_or_else(Uuid::now_v7);
        insert_refresh_token(
            conn,
            &refresh.hash(),
            family,
            user_id,
            Utc::now(),
            self.inner.refresh_ttl,
        )
        .await?;
        let access = self.inner.tokens.issue(user_id).map_err(AuthError::internal)?;
        Ok(Session {
            user_id,
            access,
            refresh,
        })
    }
}

async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    hash: &[u8],
    family_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<(), AuthError> {
    let expires_at = now + chrono::Duration::from_std(ttl).map_err(AuthError::internal)?;
    let row = RefreshTokenNew {
        id: Uuid::now_v7(),
        token_hash: hash,
        family_id,
        user_id,
        issued_at: now,
        expires_at,
    };
    refresh_tokens::insert(conn, &row).await?;
    Ok(())
}

fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}
