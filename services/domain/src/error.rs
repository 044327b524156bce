//! The one error type of the domain crate.

use crate::category::Category;

/// Why a value could not be turned into a domain type.
///
/// Every message names the offending input (shortened when long) and says what would be
/// accepted, so it can be shown to the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// Not an ISO 4217 alphabetic code.
    #[error("unknown currency code '{0}'; expected an ISO 4217 code such as USD")]
    UnknownCurrency(String),

    /// An ISO 4217 code with no minor unit (precious metals, fund and testing codes such
    /// as XAU, XDR, XXX): these are units of account, not currencies a purchase is paid in.
    #[error(
        "'{0}' is an ISO 4217 unit without a minor unit (a metal, fund or test code) and cannot \
         hold an expense; use a currency such as USD"
    )]
    CurrencyWithoutMinorUnit(&'static str),

    /// The amount string is not a plain positive decimal number.
    #[error("invalid amount '{input}': {reason}")]
    InvalidAmount { input: String, reason: &'static str },

    /// More decimal places than the currency's minor unit allows.
    #[error("amount '{input}' has {decimals} decimal places but {currency} allows at most {allowed}")]
    TooManyDecimals {
        input: String,
        decimals: u32,
        currency: &'static str,
        allowed: u32,
    },

    /// Zero or negative.
    #[error("amount '{input}' must be greater than zero")]
    NotPositive { input: String },

    /// Above [`crate::MAX_MAJOR_UNITS`].
    #[error("amount '{input}' is too large; the most an expense can be is 1000000000000 {currency}")]
    TooLarge { input: String, currency: &'static str },

    /// Not one of the category names.
    #[error("unknown category '{0}'; expected one of {names}", names = Category::NAMES.join(", "))]
    UnknownCategory(String),

    /// Not a syntactically valid email address.
    #[error("invalid email address '{input}': {reason}")]
    InvalidEmail { input: String, reason: &'static str },
}

/// The input as quoted in an error message: at most 64 characters, so that a pasted
/// novel does not end up in a log line or a response body.
pub(crate) fn snippet(input: &str) -> String {
    const MAX: usize = 64;
    if input.chars().count() <= MAX {
        input.to_owned()
    } else {
        let mut s: String = input.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
