//! The offline, rule-based extractor: a sentence about a purchase (typed by a person or
//! sent by a bank) in, amount, currency, merchant, category and date out.
//!
//! The text is tokenized once; then, in order:
//! 1. [`bank`] rejects what is not an expense (credits, OTPs, balance alerts, reminders,
//!    promotions, failed payments);
//! 2. [`date`] finds date and time expressions and marks them, so "19/09" or "at 7pm" are
//!    never taken for amounts;
//! 3. [`currency`] finds currency markers and [`amount`] scores every number, preferring one
//!    next to a currency or a spend word, and avoiding balances, account digits, quantities,
//!    reference numbers and percentages;
//! 4. [`merchant`] reads the merchant from where merchants are named;
//! 5. [`category`] weighs a known merchant against keywords.
//!
//! It never panics, runs in time linear in the text (no backtracking regexes), and keeps
//! its word lists in `services/ds/data/`.

mod amount;
mod bank;
mod category;
mod confidence;
mod currency;
mod date;
mod language;
mod lexicon;
mod merchant;
mod token;

use std::fmt;

use chrono::NaiveDate;
use domain::{Category, Currency, Money};
use rust_decimal::{Decimal, RoundingStrategy};

use token::Token;

/// The longest text the extractor reads, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Below this confidence the extraction carries a "low confidence" warning.
pub const LOW_CONFIDENCE: f32 = 0.6;

/// The warning of an extraction whose text gives no date (`date` is `None`): the caller
/// replaces it with the date it used.
pub const NO_DATE_WARNING: &str = "no date in text; caller uses today";

/// The warning of an extraction that found no category (`category` is OTHER): moot once a
/// rule of the caller's sets the category.
pub const NO_CATEGORY_WARNING: &str = "no category matched; used OTHER";

/// What the extractor needs to know about the person and the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractContext {
    /// The user's today: relative dates resolve against it and no date lands after it.
    pub reference_date: NaiveDate,
    /// Used when the text names no currency, and to settle "$", "kr", "¥" or "Rs".
    pub default_currency: Currency,
    /// Read "03/05" as 3 May (true) or as March 5 (false).
    pub day_first: bool,
}

impl ExtractContext {
    /// A context that reads numeric dates the way the default currency's country writes
    /// them: month first for US and Canadian dollars, Philippine pesos and the East Asian
    /// currencies ("10/02" is October 2 on a US card alert, "04/01" April 1 on a Korean card
    /// approval or a Chinese card statement), day first everywhere else.
    pub fn new(reference_date: NaiveDate, default_currency: Currency) -> Self {
        ExtractContext {
            reference_date,
            default_currency,
            day_first: !matches!(
                default_currency.code(),
                "USD" | "PHP" | "CAD" | "KRW" | "CNY" | "JPY" | "TWD"
            ),
        }
    }
}

/// An expense read from text.
#[derive(Debug, Clone, PartialEq)]
pub struct Extraction {
    /// Exact, positive, with scale equal to the currency's exponent ("12.50" USD, "1200"
    /// JPY). Never a float.
    pub amount: Decimal,
    pub currency: Currency,
    /// `None` when the text names no merchant.
    pub merchant: Option<String>,
    pub category: Category,
    /// `None` when the text gives no date: the caller uses the user's today.
    pub date: Option<NaiveDate>,
    /// How sure the extractor is, 0..=1 (two decimals).
    pub confidence: f32,
    /// What was guessed or defaulted, field by field.
    pub warnings: Vec<String>,
}

impl Extraction {
    /// The amount as [`Money`].
    pub fn money(&self) -> Money {
        // The extractor only returns amounts that `Money` accepts.
        Money::from_decimal(self.amount, self.currency).expect("extract() returns amounts valid as Money")
    }
}

/// Why a text gave no expense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Nothing in the text reads as an amount of money.
    NoAmount,
    /// The text is about money but is not an expense: a credit, an OTP, a balance alert,
    /// a payment reminder, a promotion, a failed payment…
    NotAnExpense(String),
    /// Empty or only whitespace.
    Empty,
    /// Longer than [`MAX_TEXT_CHARS`].
    TooLong,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NoAmount => f.write_str("no amount found in text"),
            Rejection::NotAnExpense(reason) => write!(f, "not an expense: {reason}"),
            Rejection::Empty => f.write_str("text is empty"),
            Rejection::TooLong => {
                write!(f, "text is longer than {MAX_TEXT_CHARS} characters")
            }
        }
    }
}

impl std::error::Error for Rejection {}

/// What a token turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Free,
    Date,
    Time,
    Amount,
    Currency,
}

/// How the text is written, which changes what capital letters mean.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Style {
    /// Mostly upper case: capitals say nothing about names.
    pub shouting: bool,
    /// Every Word Capitalised: same.
    pub title_case: bool,
    /// A bank or wallet message.
    pub bank: bool,
}

impl Style {
    fn of(tokens: &[Token]) -> Style {
        let mut letters = 0usize;
        let mut upper = 0usize;
        let mut words = 0usize;
        let mut capitalised = 0usize;
        for t in tokens.iter().filter(|t| t.is_word()) {
            for c in t.raw.chars().filter(|c| c.is_alphabetic()) {
                letters += 1;
                upper += usize::from(c.is_uppercase());
            }
            if t.raw.chars().count() > 3 {
                words += 1;
                capitalised += usize::from(t.is_capitalized());
            }
        }
        Style {
            shouting: letters >= 12 && upper * 10 >= letters * 7,
            title_case: words >= 4 && capitalised * 10 >= words * 8,
            bank: bank::is_bank_style(tokens),
        }
    }
}

/// The tokens and what has been learned about them so far.
pub(crate) struct Analysis<'a> {
    pub tokens: Vec<Token<'a>>,
    pub roles: Vec<Role>,
    pub style: Style,
    /// A cash withdrawal ("ATM", "retrait", "снятие"): no merchant expected.
    pub cash: bool,
    /// Each token's roles in the language data and how many tokens the phrase covers
    /// ([`language::roles_at`]).
    pub words: Vec<(language::Roles, usize)>,
}

/// Reads an expense from `text`.
pub fn extract(text: &str, ctx: &ExtractContext) -> Result<Extraction, Rejection> {
    if text.len() > MAX_TEXT_CHARS && text.chars().count() > MAX_TEXT_CHARS {
        return Err(Rejection::TooLong);
    }
    if text.trim().is_empty() {
        return Err(Rejection::Empty);
    }
    let tokens = token::tokenize(text);
    if tokens.is_empty() {
        return Err(Rejection::Empty);
    }
    let style = Style::of(&tokens);
    if let Some(reason) = bank::non_expense(&tokens, style.bank) {
        return Err(Rejection::NotAnExpense(reason.to_owned()));
    }
    let mut warnings = Vec::new();
    let mut roles = vec![Role::Free; tokens.len()];

    // Dates first, so their numbers are not amounts (a number right after a currency
    // marker is never a day, though: "$30 feb 12").
    let markers = currency::find_markers(&tokens, style.shouting);
    let dates = date::scan(
        &tokens,
        &mut roles,
        date::DateRules {
            reference: ctx.reference_date,
            day_first: ctx.day_first,
        },
        &markers,
    );

    // Amounts.
    let mut candidates = amount::Finder {
        tokens: &tokens,
        roles: &roles,
        markers: &markers,
    }
    .candidates();
    candidates.retain(|c| c.score > -30);
    // Best first; among equals, the earlier one.
    candidates.sort_by(|a, b| b.score.cmp(&a.score).then(a.first.cmp(&b.first)));

    let default = ctx.default_currency;
    let mut chosen = None;
    for c in &candidates {
        let (currency, currency_note) = pick_currency(c, &markers, &candidates, &tokens, default);
        if let Some((amount, notes)) = fit_amount(&c.reading, currency) {
            chosen = Some((c.clone(), currency, currency_note, amount, notes));
            break;
        }
    }
    let Some((best, currency, currency_note, amount, amount_notes)) = chosen else {
        return Err(Rejection::NoAmount);
    };
    // "+50,00" on a statement or export line: money in, whatever the words say.
    if best.first > 0 && !tokens[best.first].space_before && tokens[best.first - 1].is_sym('+') {
        let plus = &tokens[best.first - 1];
        if plus.space_before && best.marker.is_none_or(|k| markers[k].first > best.last) {
            return Err(Rejection::NotAnExpense("credit (a '+' amount)".to_owned()));
        }
    }
    roles[best.first..=best.last].fill(Role::Amount);
    for m in &markers {
        if (m.first..=m.last).all(|k| roles[k] == Role::Free) {
            roles[m.first..=m.last].fill(Role::Currency);
        }
    }

    let amount_text = amount.to_string();
    let competing: Vec<_> = candidates.iter().filter(|c| c.score >= 0).collect();
    let contested = competing.len() > 1;
    if contested {
        let why = if best.why.is_empty() {
            "the first one".to_owned()
        } else {
            best.why.clone()
        };
        warnings.push(format!("several amounts; picked {amount_text} {why}"));
    }
    warnings.extend(amount_notes);
    match currency_note {
        CurrencyNote::Written => {}
        CurrencyNote::Guessed(marker) => warnings.push(format!(
            "'{marker}' is used by several currencies; read it as {}",
            currency.code()
        )),
        CurrencyNote::Apart => warnings.push(format!(
            "currency {} is written apart from the amount",
            currency.code()
        )),
        CurrencyNote::Default => {
            warnings.push(format!("currency not written; used default {}", currency.code()))
        }
    }

    // Cash withdrawals and transfers to people: no merchant or no category may be right.
    // The language data's roles of each token, looked up once (the merchant and category
    // passes ask about most tokens several times).
    let words: Vec<(language::Roles, usize)> = (0..tokens.len())
        .map(|i| language::roles_at(&tokens, i))
        .collect();
    let cash = words.iter().any(|w| w.0.has(language::Roles::CASH));
    let transfer = words.iter().any(|w| w.0.has(language::Roles::TRANSFER));
    let analysis = Analysis {
        tokens,
        roles,
        style,
        cash,
        words,
    };
    let merchant = merchant::find(&analysis);
    let (category, category_source) = category::categorize(&analysis, merchant.as_ref());

    if merchant.is_none() {
        warnings.push("no merchant named".to_owned());
    }
    if category_source == category::Source::Default {
        warnings.push(NO_CATEGORY_WARNING.to_owned());
    }
    warnings.extend(dates.warnings);
    if dates.other_dates {
        warnings.push("several dates written; used the first".to_owned());
    }
    if dates.date.is_none() {
        warnings.push(NO_DATE_WARNING.to_owned());
    }

    // Confidence from the evidence behind each field (see `confidence`).
    let close_rival = contested
        && competing
            .iter()
            .map(|c| c.score)
            .filter(|&s| s <= best.score)
            .nth(1)
            .is_some_and(|s| best.score - s < 15);
    let evidence = confidence::Evidence {
        amount: match currency_note {
            _ if close_rival => confidence::AmountCue::Rivalled,
            CurrencyNote::Written if best.score >= 25 => confidence::AmountCue::Clear,
            CurrencyNote::Written | CurrencyNote::Default => confidence::AmountCue::Bare,
            CurrencyNote::Guessed(_) | CurrencyNote::Apart => confidence::AmountCue::Loose,
        },
        spoken: best.words,
        merchant: match &merchant {
            None => confidence::MerchantCue::None,
            Some(m) if m.known.is_some_and(|k| k.instrument) => confidence::MerchantCue::Instrument,
            Some(m) if m.known.is_some() && m.placed >= 55 => confidence::MerchantCue::KnownInSlot,
            Some(m) if m.known.is_some() => confidence::MerchantCue::Known,
            // A payee slot ("at", "to", a VPA, "Info:", a label) is 55 and up.
            Some(m) if m.placed >= 55 => confidence::MerchantCue::Slot,
            Some(_) => confidence::MerchantCue::Placed,
        },
        category: match category_source {
            category::Source::Merchant
                if merchant.as_ref().and_then(|m| m.known).is_some_and(|k| k.strong) =>
            {
                confidence::CategoryCue::Merchant
            }
            category::Source::Merchant | category::Source::Keyword => confidence::CategoryCue::Keyword,
            category::Source::Default => confidence::CategoryCue::Default,
        },
        dated: dates.date.is_some(),
        several_dates: dates.other_dates,
        bank: analysis.style.bank,
        cash,
        transfer,
    };
    let confidence = confidence::confidence(&evidence);
    if confidence < LOW_CONFIDENCE {
        // Calibrated on the development corpus: below this, more than half the answers have
        // a field wrong (43% fully right on dev); `LLM_MODE=fallback` asks the model about
        // these.
        warnings.push(format!(
            "low confidence ({confidence:.2}): check the amount, merchant and category"
        ));
    }

    Ok(Extraction {
        amount,
        currency,
        merchant: merchant.map(|m| m.name),
        category,
        date: dates.date,
        confidence,
        warnings,
    })
}

/// How the currency was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CurrencyNote {
    /// Written next to the amount.
    Written,
    /// A marker shared by several currencies, settled without the default's help.
    Guessed(&'static str),
    /// Named elsewhere in the text.
    Apart,
    /// Not written: the user's default.
    Default,
}

fn pick_currency(
    c: &amount::Candidate,
    markers: &[currency::Marker],
    candidates: &[amount::Candidate],
    tokens: &[Token],
    default: Currency,
) -> (Currency, CurrencyNote) {
    if let Some(k) = c.marker {
        let m = &markers[k];
        if m.hint.names_currency() {
            let (currency, guessed) = m.hint.resolve(default);
            let note = match guessed {
                Some(_) => {
                    let text = tokens[m.first..=m.last]
                        .iter()
                        .find(|t| t.kind != token::Kind::Word || m.first == m.last)
                        .map_or("?", |t| t.raw);
                    let marker: &'static str = match text {
                        "$" => "$",
                        "¥" => "¥",
                        "£" => "£",
                        "kr" | "Kr" | "KR" => "kr",
                        _ => "the currency word",
                    };
                    CurrencyNote::Guessed(marker)
                }
                None => CurrencyNote::Written,
            };
            return (currency, note);
        }
    }
    // Named elsewhere, and not next to another number: "EUR: lunch 12".
    let elsewhere: Vec<Currency> = markers
        .iter()
        .enumerate()
        .filter(|(k, m)| {
            m.hint.names_currency()
                && m.side == currency::Side::Both
                && !candidates.iter().any(|o| o.marker == Some(*k))
        })
        .map(|(_, m)| m.hint.resolve(default).0)
        .collect();
    if let Some(first) = elsewhere.first() {
        if elsewhere.iter().all(|x| x == first) {
            return (*first, CurrencyNote::Apart);
        }
    }
    (default, CurrencyNote::Default)
}

/// The amount at the currency's scale, or `None` when it cannot be an expense in that
/// currency (zero after rounding, or over the limit).
fn fit_amount(reading: &amount::Reading, currency: Currency) -> Option<(Decimal, Vec<String>)> {
    let exponent = currency.exponent();
    let mut notes = Vec::new();
    let mut value = reading.value;
    if let Some(thousands) = reading.thousands {
        // "1.500" is fifteen hundred unless the currency has three decimals (BHD, KWD).
        if exponent < 3 {
            notes.push(format!(
                "read '{}' as {thousands} (dot as thousands separator)",
                reading.value
            ));
            value = thousands;
        }
    }
    let normalized = value.normalize();
    if normalized.scale() > exponent {
        let rounded = value.round_dp_with_strategy(exponent, RoundingStrategy::MidpointNearestEven);
        notes.push(format!(
            "amount {normalized} has more decimals than {} allows; rounded to {rounded}",
            currency.code()
        ));
        value = rounded;
    }
    value.rescale(exponent);
    Money::from_decimal(value, currency).ok()?;
    Some((value, notes))
}

#[cfg(test)]
mod tests;
