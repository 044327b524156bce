//! Queries, one module per table, named after their key. Each is instrumented; none logs
//! secrets (hashes and emails are skipped).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{LoginAttempt, RefreshTokenNew, RefreshTokenRow, UserCredentials, UserNew};

/// Whether `err` is a violation of the unique constraint `constraint`.
pub fn is_unique_violation(err: &diesel::result::Error, constraint: &str) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(err, Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some(constraint))
}

pub mod users {
    use super::*;
    use crate::store::schema::users::dsl;

    /// The unique constraint on `users.email`.
    pub const EMAIL_KEY: &str = "users_email_key";

    #[tracing::instrument(skip_all, fields(user_id = %new.id), err(level = "debug"))]
    pub async fn insert(conn: &mut AsyncPgConnection, new: &UserNew<'_>) -> QueryResult<()> {
        diesel::insert_into(dsl::users)
            .values(new)
            .execute(conn)
            .await
            .map(|_| ())
    }

    #[tracing::instrument(skip_all)]
    pub async fn find_credentials_by_email(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<UserCredentials>> {
        dsl::users
            .filter(dsl::email.eq(email))
            .select(UserCredentials::as_select())
            .first(conn)
            .await
            .optional()
    }

    #[tracing::instrument(skip(conn))]
    pub async fn find_credentials_by_id(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<UserCredentials>> {
        dsl::users
            .find(id)
            .select(UserCredentials::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Marks the account disabled unless it already is; returns whether it changed.
    #[tracing::instrument(skip(conn))]
    pub async fn disable(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<bool> {
        let n = diesel::update(dsl::users.find(id).filter(dsl::disabled_at.is_null()))
            .set((dsl::disabled_at.eq(now), dsl::updated_at.eq(now)))
            .execute(conn)
            .await?;
        Ok(n > 0)
    }
}

pub mod refresh_tokens {
    use super::*;
    use crate::store::schema::refresh_tokens::dsl;

    #[tracing::instrument(skip_all, fields(user_id = %new.user_id, family_id = %new.family_id))]
    pub async fn insert(conn: &mut AsyncPgConnection, new: &RefreshTokenNew<'_>) -> QueryResult<()> {
        diesel::insert_into(dsl::refresh_tokens)
            .values(new)
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// The token with this hash, locked until the transaction ends (two concurrent
    /// refreshes of one token are serialised: the second sees it spent).
    #[tracing::instrument(skip_all)]
    pub async fn find_by_hash_for_update(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
    ) -> QueryResult<Option<RefreshTokenRow>> {
        dsl::refresh_tokens
            .filter(dsl::token_hash.eq(token_hash))
            .for_update()
            .select(RefreshTokenRow::as_select())
            .first(conn)
            .await
            .optional()
    }

    #[tracing::instrument(skip(conn))]
    pub async fn mark_used(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
        diesel::update(dsl::refresh_tokens.find(id))
            .set(dsl::used_at.eq(now))
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Revokes every live token of the family; returns how many.
    #[tracing::instrument(skip(conn))]
    pub async fn revoke_family(
        conn: &mut AsyncPgConnection,
        family_id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(
            dsl::refresh_tokens
                .filter(dsl::family_id.eq(family_id))
                .filter(dsl::revoked_at.is_null()),
        )
        .set(dsl::revoked_at.eq(now))
        .execute(conn)
        .await
    }

    /// Revokes the family of the token with this hash (nothing if unknown).
    #[tracing::instrument(skip_all)]
    pub async fn revoke_family_of_hash(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        let family: Option<Uuid> = dsl::refresh_tokens
            .filter(dsl::token_hash.eq(token_hash))
            .select(dsl::family_id)
            .first(conn)
            .await
            .optional()?;
        match family {
            Some(family_id) => revoke_family(conn, family_id, now).await,
            None => Ok(0),
        }
    }

    /// Revokes every live token of the user.
    #[tracing::instrument(skip(conn))]
    pub async fn revoke_all_of_user(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(
            dsl::refresh_tokens
                .filter(dsl::user_id.eq(user_id))
                .filter(dsl::revoked_at.is_null()),
        )
        .set(dsl::revoked_at.eq(now))
        .execute(conn)
        .await
    }

    /// Deletes tokens that expired before `before` (they can never be redeemed; reuse
    /// detection needs nothing older than a token's lifetime).
    #[tracing::instrument(skip(conn))]
    pub async fn delete_expired(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
        diesel::delete(dsl::refresh_tokens.filter(dsl::expires_at.lt(before)))
            .execute(conn)
            .await
    }
}

pub mod login_attempts {
    use super::*;
    use crate::{
        domain::{throttle::Subject, AttemptState, ThrottlePolicy},
        store::schema::login_attempts::dsl,
    };

    #[tracing::instrument(skip_all)]
    pub async fn find(conn: &mut AsyncPgConnection, subject: &Subject) -> QueryResult<Option<AttemptState>> {
        let (kind, key) = subject.parts();
        let row: Option<LoginAttempt> = dsl::login_attempts
            .find((kind, key))
            .select(LoginAttempt::as_select())
            .first(conn)
            .await
            .optional()?;
        Ok(row.as_ref().map(AttemptState::from))
    }

    /// Records a failed attempt under `policy`, atomically (the row is locked while the
    /// new state is computed, so concurrent failures on several replicas all count).
    /// The lock, if any, starts at `now`.
    #[tracing::instrument(skip_all)]
    pub async fn record_failure(
        conn: &mut AsyncPgConnection,
        subject: &Subject,
        policy: &ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> QueryResult<AttemptState> {
        match count_attempt(conn, subject, policy, now, false).await? {
            Ok(state) | Err((state, _)) => Ok(state),
        }
    }

    /// Counts an attempt as failed *before* it is checked, unless the subject is locked,
    /// in which case nothing is counted and `Err((state, retry_after))` returned. A
    /// successful attempt then [`reset`]s the subject. Counting first means a burst of
    /// concurrent guesses is cut off after `max_failures`, instead of every guess of the
    /// burst being checked before the first failure is recorded.
    #[tracing::instrument(skip_all)]
    pub async fn begin_attempt(
        conn: &mut AsyncPgConnection,
        subject: &Subject,
        policy: &ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> QueryResult<Result<AttemptState, (AttemptState, std::time::Duration)>> {
        count_attempt(conn, subject, policy, now, true).await
    }

    async fn count_attempt(
        conn: &mut AsyncPgConnection,
        subject: &Subject,
        policy: &ThrottlePolicy,
        now: DateTime<Utc>,
        refuse_when_locked: bool,
    ) -> QueryResult<Result<AttemptState, (AttemptState, std::time::Duration)>> {
        let (kind, key) = subject.parts();
        let (kind, key) = (kind.to_owned(), key.to_owned());
        let policy = *policy;
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            // Make sure the row exists, so that FOR UPDATE below always has a row to lock and
            // concurrent first attempts queue up instead of all reading "no failures yet".
            let blank = LoginAttempt {
                kind: kind.clone(),
                key: key.clone(),
                failures: 0,
                last_failure_at: now,
                locked_until: None,
            };
            diesel::insert_into(dsl::login_attempts)
                .values(&blank)
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            let previous: AttemptState = dsl::login_attempts
                .find((&kind, &key))
                .for_update()
                .select(LoginAttempt::as_select())
                .first(conn)
                .await
                .map(|row| AttemptState::from(&row))?;
            if refuse_when_locked {
                if let Some(retry_after) = previous.retry_after(now) {
                    return Ok(Err((previous, retry_after)));
                }
            }
            let state = policy.record_failure(Some(&previous), now);
            diesel::update(dsl::login_attempts.find((&kind, &key)))
                .set(&LoginAttempt::from_state(&kind, &key, &state))
                .execute(conn)
                .await?;
            Ok(Ok(state))
        })
        .await
    }

    /// Restarts the lock that the `failures`-th failure earned from `now`: an attempt
    /// counted by [`begin_attempt`] is only known to have failed once the (slow) password
    /// check is over, and the lock must not run out while it is still being checked.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_failure(
        conn: &mut AsyncPgConnection,
        subject: &Subject,
        policy: &ThrottlePolicy,
        failures: u32,
        now: DateTime<Utc>,
    ) -> QueryResult<()> {
        let Some(delay) = policy
            .delay_after(failures)
            .and_then(|d| chrono::Duration::from_std(d).ok())
        else {
            return Ok(());
        };
        let (kind, key) = subject.parts();
        let until = now + delay;
        diesel::update(
            dsl::login_attempts
                .find((kind, key))
                .filter(dsl::locked_until.is_null().or(dsl::locked_until.lt(until))),
        )
        .set(dsl::locked_until.eq(until))
        .execute(conn)
        .await
        .map(|_| ())
    }

    #[tracing::instrument(skip_all)]
    pub async fn reset(conn: &mut AsyncPgConnection, subject: &Subject) -> QueryResult<()> {
        let (kind, key) = subject.parts();
        diesel::delete(dsl::login_attempts.find((kind, key)))
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Deletes records whose last failure is older than `before` and that are not locked.
    #[tracing::instrument(skip(conn))]
    pub async fn delete_stale(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
        diesel::delete(
            dsl::login_attempts
                .filter(dsl::last_failure_at.lt(before))
                .filter(dsl::locked_until.is_null().or(dsl::locked_until.lt(before))),
        )
        .execute(conn)
        .await
    }
}
