//! The Kafka adapters: `ExpenseChanged` teaches the owner's memory, `UserDeleted` purges
//! it; each once per event (`process_once`), then the offset is stored.

use chrono::{DateTime, Utc};
use contracts::{
    events::{ExpenseChangeCause, ExpenseChangeKind, ExpenseChanged, UserDeleted},
    expense::{Expense, Source as ExpenseSource},
};
use domain::Category;
use platform::{
    db::PgPool,
    idempotency::process_once,
    kafka::{Envelope, HandlerError},
};
use uuid::Uuid;

use crate::{
    memory::{
        learn::{Cause, Kind, Snapshot, Source},
        lesson, Change,
    },
    store::{
        models::strength_column,
        queries::{self, LearnOutcome, Learned},
    },
};

/// Consumer name recorded with processed event ids.
pub const CONSUMER: &str = "ds-service";

/// Namespace of learned rules' ids: UUIDv5 of "<user>/<pattern>" in it, so replaying the
/// topic into an empty database rebuilds the same ids.
const LEARNED_RULE_NAMESPACE: Uuid = Uuid::from_u128(0x8f5e_1d2c_7b6a_4c3e_9a1f_0d2e_3b4c_5d6e);

/// The id a learned rule of `pattern` has for `user_id`.
pub fn learned_rule_id(user_id: Uuid, pattern: &str) -> Uuid {
    Uuid::new_v5(&LEARNED_RULE_NAMESPACE, format!("{user_id}/{pattern}").as_bytes())
}

fn uuid_field(what: &str, value: &str) -> Result<Uuid, HandlerError> {
    Uuid::parse_str(value.trim()).map_err(|_| {
        let shown: String = value.chars().take(64).collect();
        HandlerError::Permanent(format!("{what} {shown:?} is not a UUID"))
    })
}

fn snapshot(e: &Expense) -> Snapshot {
    Snapshot {
        merchant: e.merchant.clone(),
        category: Category::from_proto_number(e.category),
        source: match ExpenseSource::try_from(e.source) {
            Ok(ExpenseSource::Manual) => Some(Source::Manual),
            Ok(ExpenseSource::TextRules | ExpenseSource::TextLlm | ExpenseSource::Import) => {
                Some(Source::Extractor)
            }
            _ => None,
        },
        raw_text: e.raw_text.clone(),
    }
}

/// An `ExpenseChanged` that makes sense: ids, kind, the expense the kind needs, its version.
struct Parsed {
    user_id: Uuid,
    expense_id: Uuid,
    version: i32,
    change: Change,
}

fn parse(e: &ExpenseChanged, received: Option<DateTime<Utc>>) -> Result<Parsed, HandlerError> {
    let bad = |m: String| HandlerError::Permanent(format!("ExpenseChanged: {m}"));
    let user_id = uuid_field("ExpenseChanged.user_id", &e.user_id)?;
    let expense_id = uuid_field("ExpenseChanged.expense_id", &e.expense_id)?;
    let kind = match ExpenseChangeKind::try_from(e.kind) {
        Ok(ExpenseChangeKind::Recorded) => Kind::Recorded,
        Ok(ExpenseChangeKind::Updated) => Kind::Updated,
        Ok(ExpenseChangeKind::Deleted) => Kind::Deleted,
        _ => {
            return Err(bad(format!(
                "kind {} is not RECORDED, UPDATED or DELETED",
                e.kind
            )))
        }
    };
    let cause = match ExpenseChangeCause::try_from(e.cause) {
        Ok(ExpenseChangeCause::Extracted) => Cause::Extracted,
        Ok(ExpenseChangeCause::Manual) => Cause::Manual,
        _ => return Err(bad(format!("cause {} is not EXTRACTED or MANUAL", e.cause))),
    };
    // The expense whose version orders this change: `after`, or `before` for a deletion.
    let (needs_before, needs_after) = match kind {
        Kind::Recorded => (false, true),
        Kind::Updated => (true, true),
        Kind::Deleted => (true, false),
    };
    if needs_before && e.before.is_none() {
        return Err(bad(format!("{kind:?} without `before`")));
    }
    if needs_after && e.after.is_none() {
        return Err(bad(format!("{kind:?} without `after`")));
    }
    let versioned = if needs_after { &e.after } else { &e.before };
    let version = versioned.as_ref().map_or(0, |x| x.version);
    if version < 1 {
        return Err(bad(format!("version {version} is not positive")));
    }
    let at = e
        .changed_at
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos.clamp(0, 999_999_999) as u32))
        .or(received)
        .unwrap_or_else(Utc::now);
    Ok(Parsed {
        user_id,
        expense_id,
        version,
        change: Change {
            kind,
            cause,
            before: e.before.as_ref().map(snapshot),
            after: e.after.as_ref().map(snapshot),
            changed_fields: e.changed_fields.clone(),
            at,
        },
    })
}

/// Handles one `ExpenseChanged`: a change no newer than the newest seen of that expense,
/// or of a deleted user, changes nothing; otherwise its lesson, if any, is stored.
pub async fn on_expense_changed(pool: &PgPool, env: Envelope<ExpenseChanged>) -> Result<(), HandlerError> {
    let p = parse(&env.event, env.time)?;
    let lesson = lesson(&p.change);
    let mut conn = pool.get().await?;
    let event_id = env.id;
    let (user_id, expense_id, version) = (p.user_id, p.expense_id, p.version);
    let ran = process_once(&mut conn, CONSUMER, &env.topic, event_id, move |conn| {
        Box::pin(async move {
            if queries::is_deleted(conn, user_id).await? {
                tracing::debug!(%user_id, %expense_id, "change of a deleted user; ignored");
                return Ok(());
            }
            if !queries::advance_version(conn, user_id, expense_id, version).await? {
                tracing::info!(%user_id, %expense_id, version, "older or repeated change of the expense; ignored");
                return Ok(());
            }
            let Some(l) = lesson else {
                return Ok(());
            };
            let learned = Learned {
                id: learned_rule_id(user_id, &l.pattern),
                user_id,
                pattern: &l.pattern,
                merchant: &l.merchant,
                category: l.category.as_str(),
                strength: strength_column(l.strength),
                expense_id,
                expense_version: version,
                at: p.change.at,
            };
            let outcome = queries::learn(conn, &learned).await?;
            match outcome {
                LearnOutcome::Full => {
                    tracing::warn!(%user_id, pattern = %l.pattern, "500 explicit rules: nothing learned")
                }
                _ => tracing::info!(%user_id, %expense_id, version, pattern = %l.pattern, category = %l.category, ?outcome, "learned"),
            }
            Ok(())
        })
    })
    .await?;
    if !ran {
        tracing::debug!(%event_id, "ExpenseChanged already processed");
    }
    Ok(())
}

/// Purges a deleted user's memory and leaves a tombstone. Idempotent.
pub async fn on_user_deleted(pool: &PgPool, env: Envelope<UserDeleted>) -> Result<(), HandlerError> {
    let user_id = uuid_field("UserDeleted.user_id", &env.event.user_id)?;
    let mut conn = pool.get().await?;
    let applied = process_once(&mut conn, CONSUMER, &env.topic, env.id, move |conn| {
        Box::pin(async move {
            let removed = queries::purge_user(conn, user_id).await?;
            tracing::info!(%user_id, removed, "memory of a deleted user purged");
            Ok(())
        })
    })
    .await?;
    tracing::info!(%user_id, event_id = %env.id, applied, "UserDeleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expense(version: i32) -> Expense {
        Expense {
            merchant: "Swiggy".into(),
            category: Category::FoodAndDrink.proto_number(),
            source: ExpenseSource::TextRules as i32,
            version,
            ..Default::default()
        }
    }

    fn change(kind: ExpenseChangeKind, before: Option<Expense>, after: Option<Expense>) -> ExpenseChanged {
        ExpenseChanged {
            user_id: Uuid::new_v4().to_string(),
            expense_id: Uuid::new_v4().to_string(),
            kind: kind as i32,
            cause: ExpenseChangeCause::Manual as i32,
            before,
            after,
            changed_fields: vec!["category".into()],
            changed_at: None,
        }
    }

    fn reason(e: &ExpenseChanged) -> String {
        match parse(e, None) {
            Err(HandlerError::Permanent(m)) => m,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("parsed"),
        }
    }

    #[test]
    fn each_kind_is_ordered_by_the_version_of_the_expense_it_carries() {
        let u = change(ExpenseChangeKind::Updated, Some(expense(2)), Some(expense(3)));
        assert_eq!(parse(&u, None).unwrap().version, 3);
        let d = change(ExpenseChangeKind::Deleted, Some(expense(4)), None);
        assert_eq!(parse(&d, None).unwrap().version, 4);
    }

    #[test]
    fn a_change_that_makes_no_sense_is_refused_with_the_reason() {
        let mut e = change(ExpenseChangeKind::Updated, Some(expense(1)), Some(expense(2)));
        e.user_id = "nope".into();
        assert!(reason(&e).contains("user_id \"nope\" is not a UUID"));
        let e = change(ExpenseChangeKind::Updated, None, Some(expense(2)));
        assert!(reason(&e).contains("without `before`"));
        let e = change(ExpenseChangeKind::Recorded, None, Some(expense(0)));
        assert!(reason(&e).contains("version 0"));
        let mut e = change(ExpenseChangeKind::Recorded, None, Some(expense(1)));
        e.kind = 42;
        assert!(reason(&e).contains("kind 42"));
    }

    #[test]
    fn learned_rule_ids_are_stable_per_user_and_pattern() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(learned_rule_id(a, "swiggy"), learned_rule_id(a, "swiggy"));
        assert_ne!(learned_rule_id(a, "swiggy"), learned_rule_id(b, "swiggy"));
        assert_ne!(learned_rule_id(a, "swiggy"), learned_rule_id(a, "uber"));
    }
}
