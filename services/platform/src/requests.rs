//! Safe retries (AIP-155): a creating RPC takes an optional `request_id`, and the same
//! caller sending the same request_id again gets the first answer, with nothing new
//! created, also when the first answer never reached them.
//!
//! The answer is kept in `request_records` (a platform migration, so every service with a
//! database has it), keyed by (user, request_id), with a hash of the request and an expiry:
//!
//! - a write in PostgreSQL records the answer in the transaction that makes the effect
//!   ([`record`] before the insert, `completed = true`); a concurrent duplicate blocks on
//!   the record's key until the first commits, then gets its answer;
//! - an effect outside the database (a Kafka publish) records the answer first, pending
//!   ([`record`] with `completed = false`), then marks it [`complete`] after the
//!   acknowledgement; a retry of a pending request repeats the effect with the recorded
//!   answer (which must therefore be idempotent downstream, e.g. ids from [`derive_id`]).
//!
//! Ids of created things are also derived from (user, request_id) ([`derive_id`]), so even
//! a retry after the record expired cannot create a second one.

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Binary, Bool, Integer, Nullable, Timestamptz, Uuid as SqlUuid},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use prost::Message;
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

use crate::{db::PgPool, Error};

/// How long a request_id is remembered: retries come within seconds or minutes; a day
/// covers a client that retries after an outage or a restart.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// One caller's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKey {
    pub user_id: Uuid,
    pub request_id: Uuid,
}

/// The optional `request_id` of a request: empty means none; anything else must be a UUID.
pub fn parse_request_id(raw: &str) -> Result<Option<Uuid>, Error> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(trimmed).map(Some).map_err(|_| {
        let shown: String = trimmed.chars().take(64).collect();
        Error::invalid(format!(
            "request_id {shown:?} is not a UUID; send a UUID you generate for each new request \
             (and the same one when you retry it), or none"
        ))
    })
}

/// The key of a request of `user_id` with the raw `request_id`, `None` without one.
pub fn key(user_id: Uuid, raw_request_id: &str) -> Result<Option<RequestKey>, Error> {
    Ok(parse_request_id(raw_request_id)?.map(|request_id| RequestKey { user_id, request_id }))
}

/// The id of what `key`'s request creates: UUIDv5 of (user, request_id) in the RPC's own
/// `namespace`, so a retry addresses the same row or event and two callers never collide.
pub fn derive_id(namespace: Uuid, key: RequestKey) -> Uuid {
    Uuid::new_v5(
        &namespace,
        format!("{}/{}", key.user_id, key.request_id).as_bytes(),
    )
}

/// SHA-256 of the RPC's name and its request (with `request_id` cleared by the caller):
/// what a retry must match. Protobuf encoding is deterministic for messages without maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn of<M: Message>(method: &str, request_without_id: &M) -> Self {
        let mut h = Sha256::new();
        h.update(method.as_bytes());
        h.update([0]);
        h.update(request_without_id.encode_to_vec());
        Self(h.finalize().into())
    }
}

/// An answer recorded earlier for the same request.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded<R> {
    pub response: R,
    /// Whether its effect was durable; if not, the retry must complete it.
    pub completed: bool,
    /// When it was recorded: before its effect, so a repeated effect can carry this time
    /// rather than a later one (a consumer that lets newer data win must not prefer it).
    pub recorded_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct RecordRow {
    #[diesel(sql_type = Binary)]
    request_hash: Vec<u8>,
    #[diesel(sql_type = Binary)]
    response: Vec<u8>,
    #[diesel(sql_type = Bool)]
    completed: bool,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = Integer)]
    #[allow(dead_code)]
    one: i32,
}

fn mismatch(key: RequestKey) -> Error {
    Error::invalid(format!(
        "request_id {} was used for a different request; send a new request_id for a new request \
         (a retry must repeat the first request exactly)",
        key.request_id
    ))
}

fn decode<R: Message + Default>(
    key: RequestKey,
    row: RecordRow,
    fp: &Fingerprint,
) -> Result<Recorded<R>, Error> {
    if row.request_hash != fp.0 {
        return Err(mismatch(key));
    }
    let response = R::decode(row.response.as_slice()).map_err(|e| {
        Error::internal(format!(
            "recorded response of request {} does not decode: {e}",
            key.request_id
        ))
    })?;
    Ok(Recorded {
        response,
        completed: row.completed,
        recorded_at: row.created_at,
    })
}

/// The answer recorded for `key` (unexpired), if any. INVALID_ARGUMENT when it was
/// recorded for a different request.
pub async fn find<R: Message + Default>(
    conn: &mut AsyncPgConnection,
    key: RequestKey,
    fp: &Fingerprint,
) -> Result<Option<Recorded<R>>, Error> {
    let row: Option<RecordRow> = diesel::sql_query(
        "SELECT request_hash, response, completed_at IS NOT NULL AS completed, created_at FROM request_records \
         WHERE user_id = $1 AND request_id = $2 AND expires_at > now()",
    )
    .bind::<SqlUuid, _>(key.user_id)
    .bind::<SqlUuid, _>(key.request_id)
    .get_result(conn)
    .await
    .optional()?;
    row.map(|r| decode(key, r, fp)).transpose()
}

/// Records `response` as the answer to `key` unless an unexpired answer is recorded
/// already: `None` when this call recorded it (go on and make the effect), else the
/// earlier answer (answer it instead; INVALID_ARGUMENT when it was for a different
/// request). `completed` says whether the effect is durable once this commits (a write in
/// the same transaction) or still to be acknowledged ([`complete`] marks it later).
///
/// A concurrent duplicate waits on the key until the first transaction ends, then gets
/// its answer (or records its own if the first rolled back).
pub async fn record<R: Message + Default>(
    conn: &mut AsyncPgConnection,
    key: RequestKey,
    fp: &Fingerprint,
    response: &R,
    completed: bool,
) -> Result<Option<Recorded<R>>, Error> {
    let expires_at: DateTime<Utc> = Utc::now() + RETENTION;
    let completed_at = completed.then(Utc::now);
    // An expired record gives its key up (and is replaced), else the first one stays.
    let inserted: Option<Inserted> = diesel::sql_query(
        "INSERT INTO request_records (user_id, request_id, request_hash, response, completed_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, request_id) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
             response = EXCLUDED.response, completed_at = EXCLUDED.completed_at, \
             created_at = now(), expires_at = EXCLUDED.expires_at \
         WHERE request_records.expires_at <= now() \
         RETURNING 1 AS one",
    )
    .bind::<SqlUuid, _>(key.user_id)
    .bind::<SqlUuid, _>(key.request_id)
    .bind::<Binary, _>(fp.0.to_vec())
    .bind::<Binary, _>(response.encode_to_vec())
    .bind::<Nullable<Timestamptz>, _>(completed_at)
    .bind::<Timestamptz, _>(expires_at)
    .get_result(conn)
    .await
    .optional()?;
    if inserted.is_some() {
        return Ok(None);
    }
    // The key is held by an unexpired record, committed (the insert waited for it).
    match find(conn, key, fp).await? {
        Some(recorded) => Ok(Some(recorded)),
        None => Err(Error::unavailable(
            "a concurrent request with this request_id is still settling; retry",
        )),
    }
}

/// Marks `key`'s effect durable: later retries answer without repeating it.
pub async fn complete(conn: &mut AsyncPgConnection, key: RequestKey) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE request_records SET completed_at = now() \
         WHERE user_id = $1 AND request_id = $2 AND completed_at IS NULL",
    )
    .bind::<SqlUuid, _>(key.user_id)
    .bind::<SqlUuid, _>(key.request_id)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Forgets every request of `user_id` (their account was deleted: the answers hold their
/// data). Returns how many were removed.
pub async fn forget_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<usize> {
    diesel::sql_query("DELETE FROM request_records WHERE user_id = $1")
        .bind::<SqlUuid, _>(user_id)
        .execute(conn)
        .await
}

/// Deletes up to `limit` expired records; returns how many.
pub async fn purge_expired(conn: &mut AsyncPgConnection, limit: i32) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM request_records WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM request_records WHERE expires_at <= now() LIMIT $1))",
    )
    .bind::<Integer, _>(limit)
    .execute(conn)
    .await
}

/// How often [`sweep`] looks for expired records.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
const SWEEP_BATCH: i32 = 5_000;

/// Deletes expired records every 10 minutes, in batches, until `stop`; failures (the
/// database away) are logged and retried at the next round.
pub async fn sweep(pool: PgPool, stop: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        loop {
            let round = async {
                let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                purge_expired(&mut conn, SWEEP_BATCH)
                    .await
                    .map_err(|e| e.to_string())
            };
            match round.await {
                Ok(n) if n == SWEEP_BATCH as usize && !stop.is_cancelled() => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(removed = n, "expired request records removed");
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "expired request records not removed; next round");
                    break;
                }
            }
        }
    }
}
