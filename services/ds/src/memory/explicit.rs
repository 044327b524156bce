//! A rule the user writes (`CreateExtractionRule`), parsed: the only way to one.

use domain::Category;

use super::normalise::words;

/// Longest `merchant_pattern`, in characters.
pub const MAX_PATTERN_CHARS: usize = 100;
/// Longest `merchant`, in characters (as expense-service allows).
pub const MAX_MERCHANT_CHARS: usize = 200;

/// Why a rule was refused; each names the field and what it expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleInputError {
    #[error("merchant_pattern is required: the words to look for in a text, e.g. \"swiggy\"")]
    PatternMissing,
    #[error("merchant_pattern {0:?} has no letter or digit; give the words to look for, e.g. \"swiggy\"")]
    PatternWithoutWords(String),
    #[error("merchant_pattern is {0} characters long; at most {MAX_PATTERN_CHARS} are allowed")]
    PatternTooLong(usize),
    #[error("merchant is {0} characters long; at most {MAX_MERCHANT_CHARS} are allowed (or leave it empty to keep the extractor's)")]
    MerchantTooLong(usize),
    #[error("category is required: one of {}", Category::NAMES.join(", "))]
    CategoryMissing,
    #[error("category {0} is not a known category; use one of {names}", names = Category::NAMES.join(", "))]
    CategoryUnknown(i32),
}

/// A valid explicit rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplicitRule {
    /// The pattern's words, lower case, single spaces: "Swiggy  Instamart!" → "swiggy instamart".
    pub pattern: String,
    /// Trimmed; empty keeps the extractor's merchant.
    pub merchant: String,
    pub category: Category,
}

impl ExplicitRule {
    /// Parses the request's fields (`category` is the proto enum number).
    pub fn parse(pattern: &str, merchant: &str, category: i32) -> Result<Self, RuleInputError> {
        let trimmed = pattern.trim();
        if trimmed.is_empty() {
            return Err(RuleInputError::PatternMissing);
        }
        let chars = trimmed.chars().count();
        if chars > MAX_PATTERN_CHARS {
            return Err(RuleInputError::PatternTooLong(chars));
        }
        let folded = words(trimmed).join(" ");
        if folded.is_empty() {
            return Err(RuleInputError::PatternWithoutWords(trimmed.to_owned()));
        }
        let merchant = merchant.trim();
        let merchant_chars = merchant.chars().count();
        if merchant_chars > MAX_MERCHANT_CHARS {
            return Err(RuleInputError::MerchantTooLong(merchant_chars));
        }
        let category = match category {
            0 => return Err(RuleInputError::CategoryMissing),
            n => Category::from_proto_number(n).ok_or(RuleInputError::CategoryUnknown(n))?,
        };
        Ok(Self {
            pattern: folded,
            merchant: merchant.to_owned(),
            category,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_is_folded_and_trimmed() {
        let r = ExplicitRule::parse(
            "  Swiggy  Instamart! ",
            " Instamart ",
            Category::Groceries.proto_number(),
        )
        .unwrap();
        assert_eq!(r.pattern, "swiggy instamart");
        assert_eq!(r.merchant, "Instamart");
        assert_eq!(r.category, Category::Groceries);
    }

    #[test]
    fn each_bad_field_is_named() {
        let food = Category::FoodAndDrink.proto_number();
        let cases = [
            (ExplicitRule::parse(" ", "", food), "merchant_pattern is required"),
            (ExplicitRule::parse("*** !", "", food), "has no letter or digit"),
            (
                ExplicitRule::parse(&"a".repeat(101), "", food),
                "merchant_pattern is 101 characters",
            ),
            (
                ExplicitRule::parse("swiggy", &"m".repeat(201), food),
                "merchant is 201 characters",
            ),
            (ExplicitRule::parse("swiggy", "", 0), "category is required"),
            (
                ExplicitRule::parse("swiggy", "", 99),
                "category 99 is not a known category",
            ),
        ];
        for (got, expected) in cases {
            let msg = got.unwrap_err().to_string();
            assert!(msg.contains(expected), "{msg}");
        }
        assert!(
            ExplicitRule::parse(&"é".repeat(100), "", food).is_ok(),
            "characters, not bytes"
        );
    }
}
