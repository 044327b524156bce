//! Each user's memory, as pure logic (no transport, storage or broker code): merchant
//! names folded to keys, what a change to an expense teaches, the rules a user writes, and
//! which rule decides an extraction. `ds-extract` has no memory; ds-service keeps the rules
//! in its database (`store`), fed by `events`.

pub mod explicit;
pub mod learn;
pub mod normalise;
pub mod rules;

pub use explicit::{ExplicitRule, RuleInputError};
pub use learn::{lesson, Change, Lesson, Strength};
pub use rules::{apply, Answer, Applied, Probe, Rule, RuleKind};

/// Most rules one user can have, learned and explicit together: bounds the one query an
/// extraction makes. Learning at the limit forgets the least recently updated learned rule;
/// writing a rule at the limit is refused.
pub const MAX_RULES_PER_USER: i64 = 500;
