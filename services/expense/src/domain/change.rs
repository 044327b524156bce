//! What a change changed, and when a later extraction may change a stored expense.

use chrono::{DateTime, SubsecRound, Utc};

use super::expense::Expense;

/// The current time at the database's precision (microseconds), so the times a change
/// event carries are the ones a later read of the expense shows.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The fields whose values differ between `before` and `after`, by their `update_mask`
/// names, in the order of the `Expense` message. Values are compared as the API shows
/// them: 12.00 USD becoming 12 JPY changes both `amount` and `currency`.
pub fn changed_fields(before: &Expense, after: &Expense) -> Vec<&'static str> {
    let checks = [
        (
            "amount",
            before.amount.to_decimal_string() != after.amount.to_decimal_string(),
        ),
        ("currency", before.amount.currency() != after.amount.currency()),
        ("merchant", before.merchant != after.merchant),
        ("category", before.category != after.category),
        ("occurred_on", before.occurred_on != after.occurred_on),
        ("note", before.note != after.note),
    ];
    checks
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(f, _)| f)
        .collect()
}

/// A stored expense after a later extraction of it (same id, same owner), with the fields
/// that changed; `None` when it changes nothing.
///
/// The extraction replaces what an extraction sets (amount, currency, merchant, category,
/// date, text, source, confidence) only when it was made after the expense's last change
/// and one of the named fields differs. A replay of an older extraction (ds-service
/// re-publishing, a topic replayed) therefore never undoes the owner's corrections, and an
/// extraction without a time is taken to be old. The note is the owner's and stays.
pub fn re_extracted(
    stored: &Expense,
    extraction: &Expense,
    extracted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<(Expense, Vec<&'static str>)> {
    if stored.id != extraction.id || stored.user_id != extraction.user_id {
        return None;
    }
    if extracted_at.is_none_or(|t| t <= stored.updated_at) {
        return None;
    }
    let after = Expense {
        note: stored.note.clone(),
        created_at: stored.created_at,
        updated_at: now,
        version: stored.version + 1,
        ..extraction.clone()
    };
    let changed = changed_fields(stored, &after);
    (!changed.is_empty()).then_some((after, changed))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use domain::Category;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{ExpenseUpdate, ManualInput, Source, UpdateInput};

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn stored() -> Expense {
        let input = ManualInput {
            amount: "340",
            currency: "INR",
            merchant: "SWIGGY",
            category: 1,
            occurred_on: "2026-11-29",
            note: "dinner",
        };
        Expense::manual(Uuid::now_v7(), input, t(0)).unwrap()
    }

    fn update(mask: &[&str], input: UpdateInput<'_>) -> ExpenseUpdate {
        let mask: Vec<String> = mask.iter().map(|s| s.to_string()).collect();
        ExpenseUpdate::parse(&mask, input, t(1)).unwrap()
    }

    #[test]
    fn an_update_names_what_it_changed_in_message_order_and_bumps_the_version() {
        let mut e = stored();
        let u = update(
            &["note", "category", "amount"],
            UpdateInput {
                amount: "340.00",
                category: 2,
                note: "groceries",
                ..Default::default()
            },
        );
        // "340.00" is the stored amount written another way: not a change.
        assert_eq!(u.apply(&mut e, t(5)).unwrap(), ["category", "note"]);
        assert_eq!(
            (e.version, e.updated_at, e.category),
            (2, t(5), Category::Groceries)
        );
    }

    #[test]
    fn an_update_to_the_stored_values_changes_nothing() {
        let mut e = stored();
        let before = e.clone();
        let u = update(
            &["merchant", "category", "occurred_on"],
            UpdateInput {
                merchant: " SWIGGY ",
                category: 1,
                occurred_on: "2026-11-29",
                ..Default::default()
            },
        );
        assert!(u.apply(&mut e, t(5)).unwrap().is_empty());
        assert_eq!(e, before, "version and updated_at kept");
    }

    #[test]
    fn a_later_extraction_changes_the_extracted_fields_but_a_replay_never_does() {
        let mut s = stored();
        s.source = Source::TextRules;
        let mut newer = s.clone();
        newer.category = Category::Groceries;
        newer.note = Default::default();
        newer.confidence = 0.5;

        assert_eq!(re_extracted(&s, &newer, None, t(9)), None, "no time: old");
        assert_eq!(
            re_extracted(&s, &newer, Some(t(0)), t(9)),
            None,
            "not after the last change"
        );
        let (after, changed) = re_extracted(&s, &newer, Some(t(3)), t(9)).unwrap();
        assert_eq!(changed, ["category"]);
        assert_eq!(
            (after.version, after.updated_at, after.created_at),
            (2, t(9), t(0))
        );
        assert_eq!(
            (after.note.as_str(), after.confidence),
            ("dinner", 0.5),
            "the owner's note stays"
        );

        let same = Expense {
            confidence: 0.1,
            ..s.clone()
        };
        assert_eq!(
            re_extracted(&s, &same, Some(t(3)), t(9)),
            None,
            "nothing named differs"
        );
        let other_user = Expense {
            user_id: Uuid::now_v7(),
            ..newer
        };
        assert_eq!(re_extracted(&s, &other_user, Some(t(3)), t(9)), None);
    }
}
