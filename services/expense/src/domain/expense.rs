//! An expense, and the rules for recording and changing one.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Category, Currency, Money};
use uuid::Uuid;

use super::{
    change::changed_fields,
    error::{ExpenseError, FieldError, Violations},
    fields::{self, Merchant, Note},
};

/// How an expense came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Entered field by field.
    Manual,
    /// Extracted from text by the rule-based extractor.
    TextRules,
    /// Extracted from text by the LLM.
    TextLlm,
    /// A row of an imported bank or app export.
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Manual => "MANUAL",
            Source::TextRules => "TEXT_RULES",
            Source::TextLlm => "TEXT_LLM",
            Source::Import => "IMPORT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Source::Manual, Source::TextRules, Source::TextLlm, Source::Import]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// The proto enum number (`SOURCE_UNSPECIFIED` is 0).
    pub fn proto_number(self) -> i32 {
        match self {
            Source::Manual => 1,
            Source::TextRules => 2,
            Source::TextLlm => 3,
            Source::Import => 4,
        }
    }

    pub fn from_proto_number(n: i32) -> Option<Self> {
        match n {
            1 => Some(Source::Manual),
            2 => Some(Source::TextRules),
            3 => Some(Source::TextLlm),
            4 => Some(Source::Import),
            _ => None,
        }
    }
}

/// One expense of one user.
#[derive(Debug, Clone, PartialEq)]
pub struct Expense {
    pub id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    pub merchant: Merchant,
    pub category: Category,
    /// The date in the user's own time zone.
    pub occurred_on: NaiveDate,
    pub note: Note,
    pub raw_text: String,
    pub source: Source,
    /// 0..=1; 1 for manual entries. A score, not money: `f32` is fine here.
    pub confidence: f32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// 1 when recorded, +1 per change that changed something: consumers of the change
    /// events order one expense's changes by it.
    pub version: i32,
}

/// The fields of a manual entry, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualInput<'a> {
    pub amount: &'a str,
    pub currency: &'a str,
    pub merchant: &'a str,
    /// Proto `Category` number; 0 means OTHER.
    pub category: i32,
    pub occurred_on: &'a str,
    pub note: &'a str,
}

impl Expense {
    /// A manual entry: every field checked, every violation reported.
    pub fn manual(user_id: Uuid, input: ManualInput<'_>, now: DateTime<Utc>) -> Result<Self, ExpenseError> {
        let mut v = Violations::default();
        let currency = v.check(fields::currency("currency", input.currency));
        let amount = match currency {
            Some(c) => v.check(fields::amount("amount", input.amount, c)),
            // Without a currency the decimals cannot be checked; an empty amount is still worth reporting.
            None if input.amount.trim().is_empty() => v.check(fields::amount("amount", "", Currency::USD)),
            None => None,
        };
        let merchant = v.check(Merchant::parse(input.merchant));
        let category = v.check(fields::category("category", input.category));
        let occurred_on = v.check(fields::occurred_on(input.occurred_on, now));
        let note = v.check(Note::parse(input.note));
        v.finish()?;
        let (Some(amount), Some(merchant), Some(category), Some(occurred_on), Some(note)) =
            (amount, merchant, category, occurred_on, note)
        else {
            unreachable!("no violation means every field parsed");
        };
        Ok(Self {
            id: Uuid::now_v7(),
            user_id,
            amount,
            merchant,
            category: category.unwrap_or_default(),
            occurred_on,
            note,
            raw_text: String::new(),
            source: Source::Manual,
            confidence: 1.0,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }

    /// An expense extracted from text by ds-service. Amount, currency, ids and date must be
    /// valid (an invalid one is refused: the event goes to the dead-letter topic); the rest
    /// is made to fit rather than refused, since losing the expense would be worse.
    pub fn extracted(input: ExtractedInput<'_>, now: DateTime<Utc>) -> Result<Self, ExpenseError> {
        let mut v = Violations::default();
        let id = v.check(uuid("expense_id", input.expense_id));
        let user_id = v.check(uuid("user_id", input.user_id));
        let currency = v.check(fields::currency("currency", input.currency));
        let amount = currency.and_then(|c| v.check(fields::amount("amount", input.amount, c)));
        let occurred_on = if input.occurred_on.trim().is_empty() {
            v.push(FieldError::new("occurred_on", "occurred_on is required"));
            None
        } else {
            v.check(fields::occurred_on(input.occurred_on, now))
        };
        v.finish()?;
        let (Some(id), Some(user_id), Some(amount), Some(occurred_on)) = (id, user_id, amount, occurred_on)
        else {
            unreachable!("no violation means every field parsed");
        };
        // An unknown category (a newer producer) is OTHER rather than a lost expense.
        let category = Category::from_proto_number(input.category).unwrap_or_default();
        let source = match Source::from_proto_number(input.source) {
            Some(s @ (Source::TextRules | Source::TextLlm | Source::Import)) => s,
            _ if input.extractor.starts_with("llm") => Source::TextLlm,
            _ => Source::TextRules,
        };
        let confidence = if input.confidence.is_nan() {
            0.0
        } else {
            input.confidence.clamp(0.0, 1.0)
        };
        Ok(Self {
            id,
            user_id,
            amount,
            merchant: Merchant::sanitize(input.merchant),
            category,
            occurred_on,
            note: Note::default(),
            raw_text: fields::without_nul(input.raw_text),
            source,
            confidence,
            created_at: now,
            updated_at: now,
            version: 1,
        })
    }
}

/// The fields of an `ExpenseExtracted` event, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractedInput<'a> {
    pub expense_id: &'a str,
    pub user_id: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub merchant: &'a str,
    pub category: i32,
    pub occurred_on: &'a str,
    pub raw_text: &'a str,
    pub source: i32,
    pub confidence: f32,
    pub extractor: &'a str,
}

/// An expense id from a request.
pub fn parse_id(s: &str) -> Result<Uuid, ExpenseError> {
    uuid("id", s).map_err(|e| ExpenseError::Invalid(vec![e]))
}

fn uuid(field: &'static str, s: &str) -> Result<Uuid, FieldError> {
    Uuid::parse_str(s.trim())
        .map_err(|_| FieldError::new(field, format!("{field} {:?} is not a UUID", fields::snippet(s))))
}

/// The fields an update may name.
pub const UPDATABLE: [&str; 6] = [
    "amount",
    "currency",
    "merchant",
    "category",
    "occurred_on",
    "note",
];

/// The fields of an update, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpdateInput<'a> {
    pub amount: &'a str,
    pub currency: &'a str,
    pub merchant: &'a str,
    pub category: i32,
    pub occurred_on: &'a str,
    pub note: &'a str,
}

/// A validated partial update: only the fields named in the mask. The amount is checked
/// against the currency when applied, since it may be the stored one.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpenseUpdate {
    amount: Option<String>,
    currency: Option<Currency>,
    merchant: Option<Merchant>,
    category: Option<Category>,
    occurred_on: Option<NaiveDate>,
    note: Option<Note>,
}

impl ExpenseUpdate {
    pub fn parse(mask: &[String], input: UpdateInput<'_>, now: DateTime<Utc>) -> Result<Self, ExpenseError> {
        if mask.iter().all(|p| p.trim().is_empty()) {
            return Err(ExpenseError::invalid(
                "update_mask",
                format!(
                    "update_mask is empty: name the fields to change, e.g. [\"amount\", \"category\"]; allowed: {}",
                    UPDATABLE.join(", ")
                ),
            ));
        }
        let unknown: Vec<&str> = mask
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty() && !UPDATABLE.contains(p))
            .collect();
        if !unknown.is_empty() {
            // Quoted in the status message, which travels in a header: keep it short.
            const SHOWN: usize = 5;
            let mut shown: Vec<String> = unknown.iter().take(SHOWN).map(|p| fields::snippet(p)).collect();
            if unknown.len() > SHOWN {
                shown.push(format!("and {} more", unknown.len() - SHOWN));
            }
            return Err(ExpenseError::invalid(
                "update_mask",
                format!(
                    "update_mask names unknown fields: {}; allowed: {}",
                    shown.join(", "),
                    UPDATABLE.join(", ")
                ),
            ));
        }
        let has = |f: &str| mask.iter().any(|p| p.trim() == f);
        let mut v = Violations::default();
        let currency = if has("currency") {
            v.check(fields::currency("currency", input.currency))
        } else {
            None
        };
        let amount = if has("amount") {
            if input.amount.trim().is_empty() {
                v.check(fields::amount("amount", "", Currency::USD).map(|_| String::new()))
            } else {
                Some(input.amount.trim().to_owned())
            }
        } else {
            None
        };
        let merchant = if has("merchant") {
            v.check(Merchant::parse(input.merchant))
        } else {
            None
        };
        let category = if has("category") {
            v.check(fields::category("category", input.category))
                .map(Option::unwrap_or_default)
        } else {
            None
        };
        let occurred_on = if has("occurred_on") {
            if input.occurred_on.trim().is_empty() {
                v.push(FieldError::new(
                    "occurred_on",
                    "occurred_on is required when named in update_mask (YYYY-MM-DD)",
                ));
                None
            } else {
                v.check(fields::occurred_on(input.occurred_on, now))
            }
        } else {
            None
        };
        let note = if has("note") {
            v.check(Note::parse(input.note))
        } else {
            None
        };
        v.finish()?;
        Ok(Self {
            amount,
            currency,
            merchant,
            category,
            occurred_on,
            note,
        })
    }

    /// Applies the update and returns the fields whose values changed (see
    /// [`changed_fields`]). Only a change that changed something counts: it bumps `version`
    /// and `updated_at`; writing the stored values again leaves the expense as it was.
    /// Changing the currency re-checks the amount (the new one, or the stored one) against
    /// the new currency's decimals: 12.50 USD cannot become JPY without a new amount, 12.00
    /// USD becomes 12 JPY.
    pub fn apply(
        &self,
        expense: &mut Expense,
        now: DateTime<Utc>,
    ) -> Result<Vec<&'static str>, ExpenseError> {
        let mut after = expense.clone();
        self.apply_fields(&mut after)?;
        let changed = changed_fields(expense, &after);
        if !changed.is_empty() {
            after.updated_at = now;
            after.version += 1;
            *expense = after;
        }
        Ok(changed)
    }

    fn apply_fields(&self, e: &mut Expense) -> Result<(), ExpenseError> {
        let currency = self.currency.unwrap_or(e.amount.currency());
        e.amount = match &self.amount {
            Some(a) => fields::amount("amount", a, currency).map_err(|f| ExpenseError::Invalid(vec![f]))?,
            None if currency != e.amount.currency() => {
                let stored = e.amount.to_decimal_string();
                Money::parse(&stored, currency).map_err(|err| {
                    ExpenseError::invalid(
                        "currency",
                        format!(
                            "currency {currency}: the stored amount {stored} does not fit it ({err}); \
                             send a new amount with the currency"
                        ),
                    )
                })?
            }
            None => e.amount,
        };
        if let Some(m) = &self.merchant {
            e.merchant = m.clone();
        }
        if let Some(c) = self.category {
            e.category = c;
        }
        if let Some(d) = self.occurred_on {
            e.occurred_on = d;
        }
        if let Some(n) = &self.note {
            e.note = n.clone();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 5, 1, 12, 0, 0).unwrap()
    }

    fn input() -> ManualInput<'static> {
        ManualInput {
            amount: "12.50",
            currency: "usd",
            merchant: " Subway ",
            category: 1,
            occurred_on: "2025-04-30",
            note: "lunch",
        }
    }

    fn mask(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_manual_entry_is_normalised() {
        let e = Expense::manual(Uuid::nil(), input(), now()).unwrap();
        assert_eq!(e.amount.to_decimal_string(), "12.50");
        assert_eq!(e.amount.currency().code(), "USD");
        assert_eq!(e.merchant.as_str(), "Subway");
        assert_eq!(e.category, Category::FoodAndDrink);
        assert_eq!((e.source, e.confidence), (Source::Manual, 1.0));
        assert_eq!(e.id.get_version_num(), 7);
        let e = Expense::manual(
            Uuid::nil(),
            ManualInput {
                category: 0,
                occurred_on: "",
                ..input()
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            (e.category, e.occurred_on.to_string().as_str()),
            (Category::Other, "2025-05-01")
        );
    }

    #[test]
    fn every_violation_is_reported() {
        let e = Expense::manual(
            Uuid::nil(),
            ManualInput {
                amount: "",
                currency: "",
                merchant: "a\u{1}",
                category: 99,
                occurred_on: "2025-02-30",
                note: "\u{7}",
            },
            now(),
        )
        .unwrap_err();
        assert_eq!(
            e.fields(),
            vec![
                "currency",
                "amount",
                "merchant",
                "category",
                "occurred_on",
                "note"
            ]
        );
    }

    #[test]
    fn an_update_names_unknown_paths() {
        let e = ExpenseUpdate::parse(&mask(&["amount", "user_id", "source"]), Default::default(), now())
            .unwrap_err();
        assert!(e.to_string().contains("user_id, source"), "{e}");
        assert!(ExpenseUpdate::parse(&[], Default::default(), now()).is_err());
    }

    #[test]
    fn changing_the_currency_rechecks_the_amount() {
        let mut e = Expense::manual(Uuid::nil(), input(), now()).unwrap();
        let to_jpy = ExpenseUpdate::parse(
            &mask(&["currency"]),
            UpdateInput {
                currency: "JPY",
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        let err = to_jpy.apply(&mut e.clone(), now()).unwrap_err();
        assert_eq!(err.fields(), vec!["currency"]);
        e.amount = Money::parse("12", Currency::USD).unwrap();
        to_jpy.apply(&mut e, now()).unwrap();
        assert_eq!(e.amount.to_decimal_string(), "12");
        assert_eq!(e.amount.currency(), Currency::JPY);

        let both = ExpenseUpdate::parse(
            &mask(&["currency", "amount"]),
            UpdateInput {
                currency: "BHD",
                amount: "1.255",
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        both.apply(&mut e, now()).unwrap();
        assert_eq!(e.amount.to_string(), "1.255 BHD");
    }

    #[test]
    fn extracted_expenses_are_fitted_not_refused() {
        let id = Uuid::now_v7().to_string();
        let user = Uuid::now_v7().to_string();
        let base = ExtractedInput {
            expense_id: &id,
            user_id: &user,
            amount: "250",
            currency: "INR",
            merchant: "Subway\n",
            category: 42,
            occurred_on: "2025-04-30",
            raw_text: "spent 250\0 on lunch",
            source: 0,
            confidence: 7.0,
            extractor: "llm:mistral-small",
        };
        let e = Expense::extracted(base, now()).unwrap();
        assert_eq!(e.category, Category::Other);
        assert_eq!(e.source, Source::TextLlm);
        assert_eq!(e.confidence, 1.0);
        assert_eq!(e.merchant.as_str(), "Subway");
        assert_eq!(e.raw_text, "spent 250 on lunch");
        for bad in [
            ExtractedInput {
                amount: "2.5.0",
                ..base
            },
            ExtractedInput {
                currency: "RUPEES",
                ..base
            },
            ExtractedInput {
                occurred_on: "",
                ..base
            },
            ExtractedInput {
                occurred_on: "2025-13-01",
                ..base
            },
            ExtractedInput {
                user_id: "me",
                ..base
            },
        ] {
            assert!(Expense::extracted(bad, now()).is_err(), "{bad:?}");
        }
    }
}
