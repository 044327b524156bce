//! Expense categories.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{snippet, DomainError};

/// What an expense was for. Exhaustive: every expense has exactly one, and [`Category::Other`]
/// (the default) catches what fits nowhere else.
///
/// The order is the proto enum's: variant `i` of [`Category::ALL`] is proto number `i + 1`,
/// number 0 being `CATEGORY_UNSPECIFIED`, which is not a category. Serialises as its name
/// (`"FOOD_AND_DRINK"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Category {
    FoodAndDrink,
    Groceries,
    Transport,
    Shopping,
    Housing,
    Utilities,
    Health,
    Entertainment,
    Travel,
    Education,
    PersonalCare,
    GiftsAndDonations,
    FeesAndCharges,
    Insurance,
    #[default]
    Other,
}

impl Category {
    /// Every category, in proto order.
    pub const ALL: [Category; 15] = [
        Category::FoodAndDrink,
        Category::Groceries,
        Category::Transport,
        Category::Shopping,
        Category::Housing,
        Category::Utilities,
        Category::Health,
        Category::Entertainment,
        Category::Travel,
        Category::Education,
        Category::PersonalCare,
        Category::GiftsAndDonations,
        Category::FeesAndCharges,
        Category::Insurance,
        Category::Other,
    ];

    /// Every name, in proto order.
    pub const NAMES: [&'static str; 15] = [
        "FOOD_AND_DRINK",
        "GROCERIES",
        "TRANSPORT",
        "SHOPPING",
        "HOUSING",
        "UTILITIES",
        "HEALTH",
        "ENTERTAINMENT",
        "TRAVEL",
        "EDUCATION",
        "PERSONAL_CARE",
        "GIFTS_AND_DONATIONS",
        "FEES_AND_CHARGES",
        "INSURANCE",
        "OTHER",
    ];

    /// The wire name: `"FOOD_AND_DRINK"`.
    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The proto enum number, 1..=15.
    pub fn proto_number(self) -> i32 {
        self as i32 + 1
    }

    /// The category of a proto enum number; `None` for 0 (unspecified) and unknown numbers.
    pub fn from_proto_number(number: i32) -> Option<Self> {
        let index = usize::try_from(number.checked_sub(1)?).ok()?;
        Self::ALL.get(index).copied()
    }

    /// Parses a name, ignoring case and surrounding whitespace (`"food_and_drink"`).
    pub fn parse(name: &str) -> Result<Self, DomainError> {
        let trimmed = name.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| DomainError::UnknownCategory(snippet(trimmed)))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::parse(s)
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Category::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_proto_order() {
        assert_eq!(Category::ALL.len(), 15);
        for (i, c) in Category::ALL.iter().enumerate() {
            assert_eq!(c.proto_number(), i as i32 + 1);
            assert_eq!(Category::from_proto_number(c.proto_number()), Some(*c));
            assert_eq!(c.as_str().parse::<Category>().unwrap(), *c);
        }
        assert_eq!(Category::FoodAndDrink.as_str(), "FOOD_AND_DRINK");
        assert_eq!(Category::GiftsAndDonations.as_str(), "GIFTS_AND_DONATIONS");
        assert_eq!(Category::Other.proto_number(), 15);
        assert_eq!(Category::from_proto_number(0), None);
        assert_eq!(Category::from_proto_number(16), None);
        assert_eq!(Category::from_proto_number(-1), None);
        assert_eq!(Category::from_proto_number(i32::MIN), None);
    }

    #[test]
    fn parses_case_insensitively() {
        assert_eq!(Category::parse("groceries").unwrap(), Category::Groceries);
        assert_eq!(
            " Personal_Care ".parse::<Category>().unwrap(),
            Category::PersonalCare
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let msg = Category::parse("FOOD").unwrap_err().to_string();
        assert!(msg.starts_with("unknown category 'FOOD'; expected one of FOOD_AND_DRINK, GROCERIES"));
        assert!(msg.ends_with("INSURANCE, OTHER"), "{msg}");
        assert!(Category::parse("").is_err());
        assert!(Category::parse("food and drink").is_err());
    }

    #[test]
    fn defaults_to_other() {
        assert_eq!(Category::default(), Category::Other);
    }

    #[test]
    fn serialises_as_the_name() {
        assert_eq!(
            serde_json::to_string(&Category::FeesAndCharges).unwrap(),
            "\"FEES_AND_CHARGES\""
        );
        assert_eq!(
            serde_json::from_str::<Category>("\"travel\"").unwrap(),
            Category::Travel
        );
        assert!(serde_json::from_str::<Category>("\"CATEGORY_UNSPECIFIED\"").is_err());
    }
}
