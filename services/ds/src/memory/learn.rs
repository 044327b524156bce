//! What a change to an expense teaches: a correction of the extractor's merchant or
//! category (strong), or a merchant and category the user typed in themselves (weaker).

use chrono::{DateTime, Utc};
use domain::Category;

use super::normalise::{contains_words, merchant_key, words};

/// What happened to the expense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Recorded,
    Updated,
    Deleted,
}

/// Who made the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// ds-service's extraction was stored.
    Extracted,
    /// The owner, by hand.
    Manual,
}

/// Where the expense's merchant and category first came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Typed in by the owner.
    Manual,
    /// Read from text (rules or LLM) or from an imported row: the extractor's answer,
    /// which a correction tells it was wrong.
    Extractor,
}

/// The fields of an expense that learning reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub merchant: String,
    pub category: Option<Category>,
    pub source: Option<Source>,
    pub raw_text: String,
}

/// One `ExpenseChanged`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: Kind,
    pub cause: Cause,
    pub before: Option<Snapshot>,
    pub after: Option<Snapshot>,
    pub changed_fields: Vec<String>,
    pub at: DateTime<Utc>,
}

/// How much a learned rule is worth: a correction outranks an entry, so typing "Kumaran
/// Stores, Shopping" once by hand does not undo having corrected it to Groceries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// From an expense the user entered themselves.
    Entered = 1,
    /// From the user correcting the extractor.
    Corrected = 2,
}

/// A rule to remember: texts whose merchant has key `pattern` get `category`, and
/// `merchant` unless it is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesson {
    pub pattern: String,
    pub merchant: String,
    pub category: Category,
    pub strength: Strength,
}

/// The lesson of `change`, if it teaches one.
///
/// - UPDATED by the owner (cause MANUAL) of an extracted (text or import) expense, changing `category` and/or
///   `merchant`: the merchant the extractor had found (its key) now means the corrected
///   merchant (only when the merchant was corrected; else the extractor's stays) and the
///   expense's category. When the extractor had found no merchant, the corrected merchant is
///   the key, provided its words are in the text (else nothing in a future text could
///   match it).
/// - RECORDED by hand, or UPDATED of a hand-entered expense, with a merchant and a
///   category: that merchant means that category (weaker).
/// - DELETED teaches nothing and unlearns nothing: deleting an expense says nothing about
///   its merchant, and a correction the user made stays learned (they can delete the rule).
pub fn lesson(change: &Change) -> Option<Lesson> {
    match (change.kind, change.cause) {
        (Kind::Updated, Cause::Manual) => {
            let (before, after) = (change.before.as_ref()?, change.after.as_ref()?);
            let changed = |f: &str| change.changed_fields.iter().any(|c| c == f);
            let merchant_changed = changed("merchant");
            if !merchant_changed && !changed("category") {
                return None;
            }
            match before.source? {
                Source::Extractor => corrected(before, after, merchant_changed),
                Source::Manual => entered(after),
            }
        }
        (Kind::Recorded, Cause::Manual) => entered(change.after.as_ref()?),
        // A re-extraction that overwrote a stored expense is the extractor talking, not the
        // user: nothing to learn.
        (Kind::Updated | Kind::Recorded, Cause::Extracted) | (Kind::Deleted, _) => None,
    }
}

fn corrected(before: &Snapshot, after: &Snapshot, merchant_changed: bool) -> Option<Lesson> {
    let category = after.category?;
    let text = if after.raw_text.is_empty() {
        &before.raw_text
    } else {
        &after.raw_text
    };
    let in_text = |key: &str| {
        let key_words: Vec<String> = key.split(' ').map(str::to_owned).collect();
        !key.is_empty() && contains_words(&words(text), &key_words)
    };
    let extractors = merchant_key(&before.merchant);
    let users = merchant_key(&after.merchant);
    // A corrected merchant that is written in the text is the key: the extractor's was a
    // wrong fragment (a bank word, a card name, a person's initial) that would make the rule
    // fire on other merchants' texts. A corrected name the text does not contain ("AMZN
    // MKTP" renamed "Amazon") keeps the extractor's key, the only one a future text matches.
    let pattern = if (merchant_changed || extractors.is_empty()) && in_text(&users) {
        users
    } else if !extractors.is_empty() {
        extractors
    } else {
        return None;
    };
    Some(Lesson {
        pattern,
        merchant: if merchant_changed {
            after.merchant.trim().to_owned()
        } else {
            String::new()
        },
        category,
        strength: Strength::Corrected,
    })
}

fn entered(after: &Snapshot) -> Option<Lesson> {
    let pattern = merchant_key(&after.merchant);
    if pattern.is_empty() || after.source != Some(Source::Manual) {
        return None;
    }
    Some(Lesson {
        pattern,
        merchant: after.merchant.trim().to_owned(),
        category: after.category?,
        strength: Strength::Entered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(merchant: &str, category: Category, source: Source, text: &str) -> Snapshot {
        Snapshot {
            merchant: merchant.into(),
            category: Some(category),
            source: Some(source),
            raw_text: text.into(),
        }
    }

    fn update(before: Snapshot, after: Snapshot, fields: &[&str]) -> Change {
        Change {
            kind: Kind::Updated,
            cause: Cause::Manual,
            before: Some(before),
            after: Some(after),
            changed_fields: fields.iter().map(|f| f.to_string()).collect(),
            at: Utc::now(),
        }
    }

    const TEXT: &str = "SQ *KUMARAN STORES #12 340";

    #[test]
    fn a_category_correction_keys_the_extractors_merchant_and_keeps_it() {
        let before = snap(
            "SQ *KUMARAN STORES #12",
            Category::Shopping,
            Source::Extractor,
            TEXT,
        );
        let after = snap(
            "SQ *KUMARAN STORES #12",
            Category::Groceries,
            Source::Extractor,
            TEXT,
        );
        let l = lesson(&update(before, after, &["category"])).unwrap();
        assert_eq!(l.pattern, "kumaran stores");
        assert_eq!(
            l.merchant, "",
            "the merchant was not corrected: the extractor's stays"
        );
        assert_eq!(l.category, Category::Groceries);
        assert_eq!(l.strength, Strength::Corrected);
    }

    #[test]
    fn a_merchant_correction_teaches_the_corrected_name_and_the_current_category() {
        let before = snap(
            "SQ *KUMARAN STORES #12",
            Category::Groceries,
            Source::Extractor,
            TEXT,
        );
        let after = snap(" Kumaran Stores ", Category::Groceries, Source::Extractor, TEXT);
        let l = lesson(&update(before, after, &["merchant"])).unwrap();
        assert_eq!(
            (l.pattern.as_str(), l.merchant.as_str()),
            ("kumaran stores", "Kumaran Stores")
        );
        assert_eq!(l.category, Category::Groceries);
    }

    #[test]
    fn without_an_extracted_merchant_the_corrected_one_is_the_key_if_the_text_has_it() {
        let text = "paid 340 to Kumaran Stores";
        let before = snap("", Category::Other, Source::Extractor, text);
        let after = snap("Kumaran Stores", Category::Groceries, Source::Extractor, text);
        let l = lesson(&update(before.clone(), after, &["category", "merchant"])).unwrap();
        assert_eq!(l.pattern, "kumaran stores");
        let elsewhere = snap("Big Bazaar", Category::Groceries, Source::Extractor, text);
        assert_eq!(
            lesson(&update(before, elsewhere, &["category", "merchant"])),
            None
        );
    }

    #[test]
    fn a_wrong_extracted_merchant_gives_way_to_the_corrected_one_written_in_the_text() {
        let text = "Pago con tarjeta en IBERDROLA CLIENTES 45,20 EUR";
        let before = snap("Tarjeta", Category::Other, Source::Extractor, text);
        let after = snap("Iberdrola", Category::Utilities, Source::Extractor, text);
        let l = lesson(&update(before.clone(), after, &["category", "merchant"])).unwrap();
        assert_eq!(l.pattern, "iberdrola", "never the bank word the extractor took");
        let renamed = snap("Amazon", Category::Shopping, Source::Extractor, "AMZN MKTP 12.99");
        let amzn = snap("AMZN MKTP", Category::Other, Source::Extractor, "AMZN MKTP 12.99");
        let l = lesson(&update(amzn, renamed, &["category", "merchant"])).unwrap();
        assert_eq!(
            (l.pattern.as_str(), l.merchant.as_str()),
            ("amzn mktp", "Amazon"),
            "a name the text lacks keeps the extractor's key"
        );
    }

    #[test]
    fn other_fields_and_other_kinds_teach_nothing() {
        let before = snap("Swiggy", Category::Other, Source::Extractor, "swiggy 340");
        let mut after = before.clone();
        after.category = Some(Category::FoodAndDrink);
        assert_eq!(
            lesson(&update(before.clone(), after.clone(), &["amount", "note"])),
            None
        );
        let recorded = Change {
            kind: Kind::Recorded,
            cause: Cause::Extracted,
            before: None,
            after: Some(after.clone()),
            changed_fields: vec![],
            at: Utc::now(),
        };
        assert_eq!(lesson(&recorded), None);
        let deleted = Change {
            kind: Kind::Deleted,
            before: Some(after),
            after: None,
            ..recorded
        };
        assert_eq!(lesson(&deleted), None);
    }

    #[test]
    fn a_re_extraction_is_no_correction() {
        let before = snap("Swiggy", Category::Other, Source::Extractor, "swiggy 340");
        let after = snap("Swiggy", Category::FoodAndDrink, Source::Extractor, "swiggy 340");
        let mut change = update(before, after, &["category"]);
        change.cause = Cause::Extracted;
        assert_eq!(lesson(&change), None);
    }

    #[test]
    fn a_manual_entry_teaches_weakly() {
        let change = Change {
            kind: Kind::Recorded,
            cause: Cause::Manual,
            before: None,
            after: Some(snap("Blue Tokai", Category::FoodAndDrink, Source::Manual, "")),
            changed_fields: vec![],
            at: Utc::now(),
        };
        let l = lesson(&change).unwrap();
        assert_eq!(
            (l.pattern.as_str(), l.merchant.as_str()),
            ("blue tokai", "Blue Tokai")
        );
        assert_eq!(l.strength, Strength::Entered);
        assert!(Strength::Entered < Strength::Corrected);
        let mut nameless = change.clone();
        nameless.after.as_mut().unwrap().merchant = " ".into();
        assert_eq!(lesson(&nameless), None);
        let mut uncategorised = change;
        uncategorised.after.as_mut().unwrap().category = None;
        assert_eq!(lesson(&uncategorised), None);
    }

    #[test]
    fn an_edit_of_a_manual_expense_teaches_weakly_from_the_new_values() {
        let before = snap("Blue Tokai", Category::Other, Source::Manual, "");
        let after = snap("Blue Tokai", Category::FoodAndDrink, Source::Manual, "");
        let l = lesson(&update(before, after, &["category"])).unwrap();
        assert_eq!(l.strength, Strength::Entered);
        assert_eq!(l.category, Category::FoodAndDrink);
    }

    #[test]
    fn an_unknown_source_or_category_teaches_nothing() {
        let mut before = snap("Swiggy", Category::Other, Source::Extractor, "swiggy 340");
        before.source = None;
        let after = snap("Swiggy", Category::FoodAndDrink, Source::Extractor, "swiggy 340");
        assert_eq!(
            lesson(&update(before.clone(), after.clone(), &["category"])),
            None
        );
        before.source = Some(Source::Extractor);
        let mut after = after;
        after.category = None;
        assert_eq!(lesson(&update(before, after, &["category"])), None);
    }
}
