//! Each user's rules in the database, as the RPCs use them: loaded with one indexed query
//! under a deadline (an extraction never waits long for its memory), hits counted off the
//! request path, explicit rules written and deleted.

use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncConnection;
use platform::db::PgPool;
use uuid::Uuid;

use crate::{
    error::Error,
    memory::{ExplicitRule, Probe, Rule},
    store::{models::RuleRow, queries},
};

#[derive(Clone)]
pub struct Rulebook {
    pool: PgPool,
    timeout: Duration,
}

impl Rulebook {
    pub fn new(pool: PgPool, timeout: Duration) -> Self {
        Self { pool, timeout }
    }

    /// The caller's rules that match `probe`, or why they could not be read within the
    /// deadline.
    pub async fn matching(&self, user_id: Uuid, probe: &Probe) -> Result<Vec<Rule>, String> {
        let load = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            let rows = queries::matching_rules(&mut conn, user_id, probe)
                .await
                .map_err(|e| e.to_string())?;
            rows.iter()
                .map(|r| r.to_rule().map_err(|e| e.to_string()))
                .collect()
        };
        match tokio::time::timeout(self.timeout, load).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    /// Counts a hit of rule `id` in the background: the answer does not wait for it, and a
    /// lost count is only a statistic.
    pub fn count_hit(&self, user_id: Uuid, id: Uuid) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let counted = async {
                let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                queries::count_hit(&mut conn, user_id, id)
                    .await
                    .map_err(|e| e.to_string())
            };
            if let Err(e) = counted.await {
                tracing::warn!(error = %e, rule_id = %id, "rule hit not counted");
            }
        });
    }

    /// Every rule of the caller, in the order they win: explicit first, then the longest
    /// pattern, then the newest.
    pub async fn list(&self, user_id: Uuid) -> Result<Vec<RuleRow>, Error> {
        let mut conn = self.pool.get().await?;
        let mut rows = queries::rules_of_user(&mut conn, user_id).await?;
        rows.sort_by(|a, b| {
            b.strength
                .cmp(&a.strength)
                .then(b.pattern.len().cmp(&a.pattern.len()))
                .then(b.updated_at.cmp(&a.updated_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(rows)
    }

    /// Writes an explicit rule, replacing the caller's explicit rule of the same pattern.
    pub async fn write(&self, user_id: Uuid, rule: ExplicitRule) -> Result<RuleRow, Error> {
        let mut conn = self.pool.get().await?;
        conn.transaction::<_, Error, _>(async move |conn| {
            if queries::is_deleted(conn, user_id).await? {
                return Err(Error::AccountDeleted);
            }
            queries::write_explicit(
                conn,
                user_id,
                &rule.pattern,
                &rule.merchant,
                rule.category.as_str(),
                Utc::now(),
            )
            .await?
            .ok_or(Error::TooManyRules)
        })
        .await
    }

    /// Forgets the caller's rule `id`.
    pub async fn delete(&self, user_id: Uuid, id: &str) -> Result<(), Error> {
        let id = Uuid::parse_str(id.trim()).map_err(|_| Error::RuleId(id.chars().take(64).collect()))?;
        let mut conn = self.pool.get().await?;
        if queries::delete_rule(&mut conn, user_id, id).await? {
            Ok(())
        } else {
            Err(Error::RuleNotFound(id))
        }
    }
}
