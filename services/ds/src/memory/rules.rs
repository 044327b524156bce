//! Applying a user's rules to an extraction: which rule wins, what it changes, and the
//! sentence that tells the user why.

use chrono::{DateTime, Utc};
use domain::Category;
use uuid::Uuid;

use super::normalise::{merchant_key, words};

/// Where a rule came from, in the order rules win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RuleKind {
    /// Written by the user.
    Explicit,
    /// Learned from a correction.
    Corrected,
    /// Learned from an expense the user entered.
    Entered,
}

/// One of a user's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: Uuid,
    /// Words separated by single spaces, lower case ([`merchant_key`] or [`words`]).
    pub pattern: String,
    /// Empty: the extractor's merchant stays.
    pub merchant: String,
    pub category: Category,
    pub kind: RuleKind,
    pub updated_at: DateTime<Utc>,
}

/// What the extractor answered, as far as rules are concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub merchant: Option<String>,
    pub category: Category,
}

/// A rule that changed an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub rule_id: Uuid,
    /// E.g. "category from your correction of 2026-11-30".
    pub warning: String,
}

/// What rules are matched against: a text and the merchant the extractor read in it. A rule
/// matches when its pattern is the key of the merchant, or its words appear in a row in the
/// text or in the merchant. The database applies the same test (`store::queries`), so only
/// matching rules leave it: words are joined by single spaces and framed by one on each
/// side, and a pattern's words are in a row exactly when " <pattern> " is a substring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// " w1 w2 … " of the text.
    pub text: String,
    /// " w1 w2 … " of the merchant; "  " without one.
    pub merchant: String,
    /// The merchant's key; empty without one.
    pub key: String,
}

fn framed(words: &[String]) -> String {
    format!(" {} ", words.join(" "))
}

impl Probe {
    pub fn new(text: &str, merchant: Option<&str>) -> Self {
        Self {
            text: framed(&words(text)),
            merchant: framed(&merchant.map(words).unwrap_or_default()),
            key: merchant.map(merchant_key).unwrap_or_default(),
        }
    }

    pub fn matches(&self, pattern: &str) -> bool {
        if pattern.is_empty() {
            return false;
        }
        let needle = format!(" {pattern} ");
        (!self.key.is_empty() && pattern == self.key)
            || self.text.contains(&needle)
            || self.merchant.contains(&needle)
    }
}

/// The rules that match `text`, whose merchant the extractor read as `merchant` ([`Probe`]).
fn matching<'a>(rules: &'a [Rule], text: &str, merchant: Option<&str>) -> impl Iterator<Item = &'a Rule> {
    let probe = Probe::new(text, merchant);
    rules.iter().filter(move |r| probe.matches(&r.pattern))
}

/// Which of two matching rules wins (`Less` first): explicit before learned (a correction
/// before an entry), then the longest pattern, then the most recently written.
fn precedence(a: &Rule, b: &Rule) -> std::cmp::Ordering {
    a.kind
        .cmp(&b.kind)
        .then(b.pattern.len().cmp(&a.pattern.len()))
        .then(b.updated_at.cmp(&a.updated_at))
        .then(a.id.cmp(&b.id))
}

/// The rule that decides for `text` (see [`matching`] and [`precedence`]).
pub fn best<'a>(rules: &'a [Rule], text: &str, merchant: Option<&str>) -> Option<&'a Rule> {
    matching(rules, text, merchant).min_by(|a, b| precedence(a, b))
}

/// Applies the best rule to `answer`; `Some` when it changed the merchant or the category
/// (a rule that agrees with the extractor is not reported, nor counted as a hit).
pub fn apply(rules: &[Rule], text: &str, answer: &mut Answer) -> Option<Applied> {
    let rule = best(rules, text, answer.merchant.as_deref())?;
    let merchant_changes =
        !rule.merchant.is_empty() && answer.merchant.as_deref() != Some(rule.merchant.as_str());
    let category_changes = answer.category != rule.category;
    let what = match (merchant_changes, category_changes) {
        (true, true) => "merchant and category",
        (true, false) => "merchant",
        (false, true) => "category",
        (false, false) => return None,
    };
    if merchant_changes {
        answer.merchant = Some(rule.merchant.clone());
    }
    answer.category = rule.category;
    let day = rule.updated_at.format("%Y-%m-%d");
    let warning = match rule.kind {
        RuleKind::Explicit => format!("{what} from your rule “{}”", rule.pattern),
        RuleKind::Corrected => format!("{what} from your correction of {day}"),
        RuleKind::Entered => format!("{what} from your expense entered on {day}"),
    };
    Some(Applied {
        rule_id: rule.id,
        warning,
    })
}

/// The few rules most worth telling a model about `text`: those that match it, best first,
/// at most `n`.
pub fn hints<'a>(rules: &'a [Rule], text: &str, n: usize) -> Vec<&'a Rule> {
    let mut found: Vec<&Rule> = matching(rules, text, None).collect();
    found.sort_by(|a, b| precedence(a, b));
    found.truncate(n);
    found
}

/// How a rule is told to a model: `text with "swiggy": merchant "Swiggy", category GROCERIES`.
pub fn hint_line(rule: &Rule) -> String {
    if rule.merchant.is_empty() {
        format!("text with {:?}: category {}", rule.pattern, rule.category)
    } else {
        format!(
            "text with {:?}: merchant {:?}, category {}",
            rule.pattern, rule.merchant, rule.category
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rule(pattern: &str, merchant: &str, category: Category, kind: RuleKind, day: u32) -> Rule {
        Rule {
            id: Uuid::new_v4(),
            pattern: pattern.into(),
            merchant: merchant.into(),
            category,
            kind,
            updated_at: Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap(),
        }
    }

    fn answer(merchant: Option<&str>, category: Category) -> Answer {
        Answer {
            merchant: merchant.map(str::to_owned),
            category,
        }
    }

    #[test]
    fn a_correction_sets_the_category_and_says_when_it_was_made() {
        let rules = [rule(
            "kumaran stores",
            "Kumaran Stores",
            Category::Groceries,
            RuleKind::Corrected,
            30,
        )];
        let mut a = answer(Some("SQ *KUMARAN STORES #12"), Category::Shopping);
        let applied = apply(&rules, "SQ *KUMARAN STORES #12 340", &mut a).unwrap();
        assert_eq!(applied.rule_id, rules[0].id);
        assert_eq!(
            applied.warning,
            "merchant and category from your correction of 2026-11-30"
        );
        assert_eq!(a, answer(Some("Kumaran Stores"), Category::Groceries));
    }

    #[test]
    fn a_rule_matches_words_in_the_text_when_no_merchant_was_found() {
        let rules = [rule(
            "kumaran stores",
            "Kumaran Stores",
            Category::Groceries,
            RuleKind::Corrected,
            30,
        )];
        let mut a = answer(None, Category::Other);
        assert!(apply(&rules, "Kumaran Stores 125", &mut a).is_some());
        assert_eq!(a, answer(Some("Kumaran Stores"), Category::Groceries));
        let mut b = answer(None, Category::Other);
        assert!(
            apply(&rules, "Kumaran 125", &mut b).is_none(),
            "half a name is no match"
        );
        assert_eq!(b, answer(None, Category::Other));
    }

    #[test]
    fn explicit_beats_learned_then_longer_then_newer() {
        let learned = rule("swiggy", "", Category::Groceries, RuleKind::Corrected, 29);
        let explicit = rule("swiggy", "", Category::FoodAndDrink, RuleKind::Explicit, 1);
        let rules = [learned.clone(), explicit.clone()];
        assert_eq!(best(&rules, "swiggy 340", None), Some(&explicit));

        let short = rule("swiggy", "", Category::FoodAndDrink, RuleKind::Corrected, 29);
        let long = rule(
            "swiggy instamart",
            "",
            Category::Groceries,
            RuleKind::Corrected,
            1,
        );
        let rules = [short.clone(), long.clone()];
        assert_eq!(best(&rules, "Swiggy Instamart 340", None), Some(&long));
        assert_eq!(best(&rules, "swiggy 340", None), Some(&short));

        let old = rule("uber", "", Category::Transport, RuleKind::Entered, 2);
        let new = rule("uber", "", Category::Travel, RuleKind::Entered, 3);
        assert_eq!(best(&[old.clone(), new.clone()], "uber 200", None), Some(&new));
        let corrected = rule("uber", "", Category::Transport, RuleKind::Corrected, 1);
        assert_eq!(
            best(&[new, corrected.clone()], "uber 200", None),
            Some(&corrected)
        );
    }

    #[test]
    fn an_explicit_rule_names_its_pattern_and_an_agreeing_rule_is_silent() {
        let rules = [rule("swiggy", "", Category::FoodAndDrink, RuleKind::Explicit, 1)];
        let mut a = answer(Some("Swiggy"), Category::Other);
        let applied = apply(&rules, "swiggy 340", &mut a).unwrap();
        assert_eq!(applied.warning, "category from your rule “swiggy”");
        assert_eq!(
            a.merchant.as_deref(),
            Some("Swiggy"),
            "an empty rule merchant keeps the extractor's"
        );
        let mut same = answer(Some("Swiggy"), Category::FoodAndDrink);
        assert_eq!(apply(&rules, "swiggy 340", &mut same), None);
    }

    #[test]
    fn the_merchant_key_matches_though_the_text_spells_it_otherwise() {
        let rules = [rule(
            "blue tokai",
            "",
            Category::FoodAndDrink,
            RuleKind::Entered,
            4,
        )];
        let mut a = answer(Some("Blue-Tokai"), Category::Other);
        let applied = apply(&rules, "coffee at bluetokai 250", &mut a).unwrap();
        assert_eq!(
            applied.warning,
            "category from your expense entered on 2026-11-04"
        );
    }

    #[test]
    fn a_probe_matches_whole_word_sequences_like_contains_words() {
        use crate::memory::normalise::contains_words;
        let text = "SQ *KUMARAN STORES #12 paid 340";
        let probe = Probe::new(text, Some("Kumaran-Stores"));
        for pattern in [
            "kumaran stores",
            "kumaran",
            "stores",
            "12 paid",
            "kumaran stores 12",
            "store",
            "umaran",
            "paid 34",
            "sq kumaran",
        ] {
            let pattern_words: Vec<String> = pattern.split(' ').map(str::to_owned).collect();
            assert_eq!(
                probe.matches(pattern),
                contains_words(&words(text), &pattern_words),
                "{pattern}"
            );
        }
        assert!(!probe.matches(""));
        let nameless = Probe::new("340", None);
        assert_eq!((nameless.merchant.as_str(), nameless.key.as_str()), ("  ", ""));
        assert!(!nameless.matches("kumaran stores"));
    }

    #[test]
    fn hints_are_the_matching_rules_best_first() {
        let a = rule("swiggy", "", Category::FoodAndDrink, RuleKind::Corrected, 1);
        let b = rule(
            "swiggy instamart",
            "",
            Category::Groceries,
            RuleKind::Corrected,
            1,
        );
        let c = rule("uber", "", Category::Transport, RuleKind::Corrected, 1);
        let rules = [a.clone(), b.clone(), c];
        let got: Vec<_> = hints(&rules, "swiggy instamart 300", 5)
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(got, vec![b, a]);
        assert!(hints(&rules, "nothing here", 5).is_empty());
        assert_eq!(
            hint_line(&rules[0]),
            r#"text with "swiggy": category FOOD_AND_DRINK"#
        );
        let named = rule(
            "kumaran stores",
            "Kumaran \"K\" Stores",
            Category::Groceries,
            RuleKind::Corrected,
            1,
        );
        assert_eq!(
            hint_line(&named),
            r#"text with "kumaran stores": merchant "Kumaran \"K\" Stores", category GROCERIES"#
        );
    }
}
