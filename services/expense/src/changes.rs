//! `ExpenseChanged`: the event each change of an expense writes to the outbox, in the
//! transaction of the change, so the change and its announcement commit (or fail)
//! together. One event per change that changed something; none for the purge after
//! `UserDeleted`, which every consumer performs on that event itself.

use chrono::{DateTime, Utc};
use contracts::events::{ExpenseChangeKind, ExpenseChanged};

use crate::{domain::Expense, proto};

/// Who made a change: an extraction or the owner.
pub use contracts::events::ExpenseChangeCause as Cause;

/// Stored for the first time (an extraction, or CreateExpense).
pub fn recorded(after: &Expense, cause: Cause) -> ExpenseChanged {
    ExpenseChanged {
        user_id: after.user_id.to_string(),
        expense_id: after.id.to_string(),
        kind: ExpenseChangeKind::Recorded as i32,
        cause: cause as i32,
        before: None,
        after: Some(proto::expense(after)),
        changed_fields: vec![],
        changed_at: Some(proto::timestamp(after.created_at)),
    }
}

/// `changed` (never empty: an update that changes nothing is not a change) names the
/// fields that differ, as [`crate::domain::changed_fields`] lists them.
pub fn updated(before: &Expense, after: &Expense, changed: &[&str], cause: Cause) -> ExpenseChanged {
    ExpenseChanged {
        user_id: after.user_id.to_string(),
        expense_id: after.id.to_string(),
        kind: ExpenseChangeKind::Updated as i32,
        cause: cause as i32,
        before: Some(proto::expense(before)),
        after: Some(proto::expense(after)),
        changed_fields: changed.iter().map(|f| f.to_string()).collect(),
        changed_at: Some(proto::timestamp(after.updated_at)),
    }
}

/// Deleted by its owner; `before` is the last stored version, which consumers compare.
pub fn deleted(before: &Expense, at: DateTime<Utc>) -> ExpenseChanged {
    ExpenseChanged {
        user_id: before.user_id.to_string(),
        expense_id: before.id.to_string(),
        kind: ExpenseChangeKind::Deleted as i32,
        cause: Cause::Manual as i32,
        before: Some(proto::expense(before)),
        after: None,
        changed_fields: vec![],
        changed_at: Some(proto::timestamp(at)),
    }
}
