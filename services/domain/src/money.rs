//! Money: integer minor units plus a currency.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::error::{snippet, DomainError};

/// The largest amount an expense can hold, in major units (one trillion). Far above any
/// real purchase, and small enough that `MAX_MAJOR_UNITS * 10^exponent` fits an `i64` for
/// every ISO exponent (at most 4).
pub const MAX_MAJOR_UNITS: i64 = 1_000_000_000_000;

/// A positive amount of money: a count of the currency's minor units (cents, fils, yen)
/// and the currency. Never a float.
///
/// Invariant: `0 < minor <= MAX_MAJOR_UNITS * 10^exponent`. An expense of nothing, or of
/// less than nothing, is not an expense.
///
/// Serialises as `{"amount": "12.50", "currency": "USD"}` (the amount a decimal string,
/// as everywhere on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyRepr", into = "MoneyRepr")]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Parses a plain positive decimal string: `"12.50"`, `"12"`, `"0.5"`.
    ///
    /// Rejected, each with a message saying why: signs, exponents (`1e3`), grouping or
    /// decimal commas, spaces, a bare or trailing `.`, more significant decimals than the
    /// currency's minor unit (`"0.001"` USD, `"100.5"` JPY), zero, and more than
    /// [`MAX_MAJOR_UNITS`]. Trailing zeros past the exponent are accepted because they do
    /// not change the value (`"1200.00"` JPY is 1200 yen).
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, DomainError> {
        let invalid = |reason: &'static str| DomainError::InvalidAmount {
            input: snippet(amount),
            reason,
        };
        if amount.is_empty() {
            return Err(invalid("it is empty; write a number such as 12.50"));
        }
        if amount.chars().any(char::is_whitespace) {
            return Err(invalid("remove the spaces; write a number such as 1234.50"));
        }
        if amount.starts_with('-') {
            return Err(invalid("amounts are positive; write it without a minus sign"));
        }
        if amount.starts_with('+') {
            return Err(invalid("write it without a plus sign"));
        }
        if amount.contains(['e', 'E']) {
            return Err(invalid("exponent notation is not accepted; write the digits out"));
        }
        if amount.contains(',') {
            return Err(invalid(
                "remove grouping commas and use '.' for decimals, e.g. 1234.50",
            ));
        }
        if !amount.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(invalid("only digits and one '.' are allowed, e.g. 12.50"));
        }
        let (int_part, frac_part) = match amount.split_once('.') {
            None => (amount, ""),
            Some((_, frac)) if frac.contains('.') => {
                return Err(invalid("only one decimal point is allowed"));
            }
            Some(("", _)) => return Err(invalid("write a digit before the decimal point, e.g. 0.5")),
            Some((_, "")) => return Err(invalid("write digits after the decimal point, or drop it")),
            Some(parts) => parts,
        };

        let exponent = currency.exponent();
        let significant_frac = frac_part.trim_end_matches('0');
        if significant_frac.len() > exponent as usize {
            return Err(DomainError::TooManyDecimals {
                input: snippet(amount),
                decimals: significant_frac.len() as u32,
                currency: currency.code(),
                allowed: exponent,
            });
        }
        let int_digits = int_part.trim_start_matches('0');
        // 13 digits is 10^12; anything longer is over the limit whatever its value, and
        // checking the length first keeps the arithmetic below from overflowing.
        if int_digits.len() > 13 {
            return Err(DomainError::TooLarge {
                input: snippet(amount),
                currency: currency.code(),
            });
        }
        let mut minor: i64 = 0;
        for b in int_digits.bytes() {
            minor = minor * 10 + i64::from(b - b'0');
        }
        let mut frac_digits = significant_frac.bytes();
        for _ in 0..exponent {
            let digit = frac_digits.next().map_or(0, |b| i64::from(b - b'0'));
            minor = minor * 10 + digit;
        }
        Self::checked(minor, currency, amount)
    }

    /// Builds money from a count of minor units (1250 USD cents is 12.50 USD).
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Self, DomainError> {
        Self::checked(minor, currency, &minor.to_string())
    }

    /// Builds money from an exact decimal. Nothing is rounded: a value with more
    /// significant decimals than the currency allows is an error (`12.345` USD), while
    /// trailing zeros are fine (`12.500` USD is 12.50).
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Self, DomainError> {
        let input = || snippet(&amount.to_string());
        if amount <= Decimal::ZERO {
            return Err(DomainError::NotPositive { input: input() });
        }
        let normalized = amount.normalize();
        let exponent = currency.exponent();
        if normalized.scale() > exponent {
            return Err(DomainError::TooManyDecimals {
                input: input(),
                decimals: normalized.scale(),
                currency: currency.code(),
                allowed: exponent,
            });
        }
        // mantissa < 2^96 and the factor is at most 10^4: no i128 overflow.
        let minor = normalized.mantissa() * 10i128.pow(exponent - normalized.scale());
        let minor = i64::try_from(minor).map_err(|_| DomainError::TooLarge {
            input: input(),
            currency: currency.code(),
        })?;
        Self::checked(minor, currency, &amount.to_string())
    }

    fn checked(minor: i64, currency: Currency, input: &str) -> Result<Self, DomainError> {
        if minor <= 0 {
            return Err(DomainError::NotPositive {
                input: snippet(input),
            });
        }
        if minor > Self::max_minor(currency) {
            return Err(DomainError::TooLarge {
                input: snippet(input),
                currency: currency.code(),
            });
        }
        Ok(Money { minor, currency })
    }

    fn max_minor(currency: Currency) -> i64 {
        MAX_MAJOR_UNITS * 10i64.pow(currency.exponent())
    }

    /// The amount in minor units (what the database stores as `BIGINT`).
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The exact amount as a decimal whose scale is the currency's exponent.
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// The amount with exactly `exponent` decimals: 12.50 USD is `"12.50"`, 1200 JPY is
    /// `"1200"`, 1.25 BHD is `"1.250"`.
    pub fn to_decimal_string(&self) -> String {
        format_minor(self.minor, self.currency.exponent())
    }
}

/// `minor` units with `exponent` decimals, exactly, signed: what a `Money` prints, and what
/// sums and differences of amounts print (spending can be zero, a remainder negative):
/// (-1250, 2) is `"-12.50"`, (0, 2) `"0.00"`, (1200, 0) `"1200"`.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    // unsigned_abs: i64::MIN has no positive i64.
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let factor = 10u64.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        abs / factor,
        abs % factor,
        width = exponent as usize
    )
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

/// The wire shape of [`Money`].
#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    amount: String,
    currency: Currency,
}

impl TryFrom<MoneyRepr> for Money {
    type Error = DomainError;

    fn try_from(repr: MoneyRepr) -> Result<Self, Self::Error> {
        Money::parse(&repr.amount, repr.currency)
    }
}

impl From<Money> for MoneyRepr {
    fn from(money: Money) -> Self {
        MoneyRepr {
            amount: money.to_decimal_string(),
            currency: money.currency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_minor_amounts_are_exact_with_the_currency_exponent() {
        assert_eq!(format_minor(1250, 2), "12.50");
        assert_eq!(format_minor(-1250, 2), "-12.50");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(0, 2), "0.00");
        assert_eq!(format_minor(0, 0), "0");
        assert_eq!(format_minor(1200, 0), "1200");
        assert_eq!(format_minor(1250, 3), "1.250");
        assert_eq!(format_minor(i64::MIN, 2), "-92233720368547758.08");
    }

    use proptest::prelude::*;
    use std::str::FromStr;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    fn money(amount: &str, code: &str) -> Result<Money, DomainError> {
        Money::parse(amount, cur(code))
    }

    #[test]
    fn parses_plain_decimals() {
        assert_eq!(money("12.50", "USD").unwrap().minor(), 1250);
        assert_eq!(money("12", "USD").unwrap().minor(), 1200);
        assert_eq!(money("0.5", "USD").unwrap().minor(), 50);
        assert_eq!(money("1200", "JPY").unwrap().minor(), 1200);
        assert_eq!(money("1.25", "BHD").unwrap().minor(), 1250);
        assert_eq!(money("007.10", "EUR").unwrap().minor(), 710);
    }

    #[test]
    fn trailing_zeros_past_the_exponent_do_not_change_the_value() {
        assert_eq!(money("1200.00", "JPY").unwrap().minor(), 1200);
        assert_eq!(money("12.500", "USD").unwrap().minor(), 1250);
    }

    #[test]
    fn formats_with_exactly_the_exponent_decimals() {
        assert_eq!(money("12.5", "USD").unwrap().to_decimal_string(), "12.50");
        assert_eq!(money("1200", "JPY").unwrap().to_decimal_string(), "1200");
        assert_eq!(money("1.25", "BHD").unwrap().to_decimal_string(), "1.250");
        assert_eq!(money("0.05", "EUR").unwrap().to_decimal_string(), "0.05");
        assert_eq!(money("3", "CLF").unwrap().to_decimal_string(), "3.0000");
        assert_eq!(money("12.5", "USD").unwrap().to_string(), "12.50 USD");
    }

    #[test]
    fn rejects_too_many_decimals_naming_the_currency() {
        let err = money("12.345", "USD").unwrap_err();
        assert_eq!(
            err.to_string(),
            "amount '12.345' has 3 decimal places but USD allows at most 2"
        );
        let err = money("100.5", "JPY").unwrap_err();
        assert!(err.to_string().contains("JPY allows at most 0"), "{err}");
        assert!(money("1.2345", "BHD").is_err());
    }

    #[test]
    fn rejects_malformed_amounts_with_a_reason() {
        for bad in [
            "", " 12", "12 ", "1 000", "-5", "+5", "1e3", "1,234.50", "12,50", "12.5.0", ".5", "5.", "abc",
            "12$", "١٢", "0x10", "NaN", "∞",
        ] {
            let err = money(bad, "USD").unwrap_err();
            assert!(
                matches!(err, DomainError::InvalidAmount { .. }),
                "{bad:?} gave {err}"
            );
        }
        assert!(money("1,234.50", "USD")
            .unwrap_err()
            .to_string()
            .contains("remove grouping commas"));
    }

    #[test]
    fn rejects_zero() {
        for zero in ["0", "0.00", "000", "0.0000"] {
            assert!(matches!(
                money(zero, "USD").unwrap_err(),
                DomainError::NotPositive { .. }
            ));
        }
        assert!(Money::from_minor(0, Currency::USD).is_err());
        assert!(Money::from_minor(-1, Currency::USD).is_err());
    }

    #[test]
    fn accepts_up_to_one_trillion_major_units() {
        assert_eq!(
            money("1000000000000", "USD").unwrap().to_decimal_string(),
            "1000000000000.00"
        );
        assert!(money("1000000000000.00", "USD").is_ok());
        for big in ["1000000000000.01", "1000000000001", "99999999999999999999999999"] {
            assert!(
                matches!(money(big, "USD").unwrap_err(), DomainError::TooLarge { .. }),
                "{big}"
            );
        }
        assert!(money("1000000000000.0001", "CLF").is_err());
        assert!(Money::from_minor(i64::MAX, Currency::JPY).is_err());
    }

    #[test]
    fn from_decimal_never_rounds() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(
            Money::from_decimal(d("12.5"), Currency::USD).unwrap().minor(),
            1250
        );
        assert_eq!(
            Money::from_decimal(d("12.500"), Currency::USD).unwrap().minor(),
            1250
        );
        assert_eq!(
            Money::from_decimal(d("1200.0"), Currency::JPY).unwrap().minor(),
            1200
        );
        assert!(matches!(
            Money::from_decimal(d("12.345"), Currency::USD).unwrap_err(),
            DomainError::TooManyDecimals {
                decimals: 3,
                allowed: 2,
                ..
            }
        ));
        assert!(Money::from_decimal(d("0"), Currency::USD).is_err());
        assert!(Money::from_decimal(d("-3"), Currency::USD).is_err());
        assert!(Money::from_decimal(Decimal::MAX, Currency::USD).is_err());
    }

    #[test]
    fn serialises_with_a_decimal_string() {
        let m = money("12.5", "EUR").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"12.50","currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        assert!(serde_json::from_str::<Money>(r#"{"amount":"0","currency":"EUR"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"amount":"1.5","currency":"JPY"}"#).is_err());
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(vec!["USD", "JPY", "BHD", "EUR", "KRW", "CLF", "INR", "KWD"]).prop_map(cur)
    }

    fn any_money() -> impl Strategy<Value = Money> {
        any_currency().prop_flat_map(|c| {
            (1..=Money::max_minor(c)).prop_map(move |minor| Money::from_minor(minor, c).unwrap())
        })
    }

    proptest! {
        #[test]
        fn decimal_string_round_trips(m in any_money()) {
            let s = m.to_decimal_string();
            prop_assert_eq!(Money::parse(&s, m.currency()).unwrap(), m);
        }

        #[test]
        fn decimal_round_trips(m in any_money()) {
            prop_assert_eq!(m.to_decimal().scale(), m.currency().exponent());
            prop_assert_eq!(Money::from_decimal(m.to_decimal(), m.currency()).unwrap(), m);
            prop_assert_eq!(m.to_decimal().to_string(), m.to_decimal_string());
        }

        #[test]
        fn small_minor_values_round_trip(minor in 1i64..100_000, c in any_currency()) {
            let m = Money::from_minor(minor, c).unwrap();
            prop_assert_eq!(Money::parse(&m.to_decimal_string(), c).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}", c in any_currency()) {
            let _ = Money::parse(&s, c);
        }

        #[test]
        fn parse_accepts_exactly_what_it_prints(
            int in 0u64..10_000_000, frac in 0u32..100, c in any_currency()
        ) {
            let s = format!("{int}.{frac:02}");
            match Money::parse(&s, c) {
                Ok(m) => {
                    let back = Money::parse(&m.to_decimal_string(), c).unwrap();
                    prop_assert_eq!(back, m);
                }
                Err(e) => prop_assert!(
                    matches!(e, DomainError::NotPositive { .. } | DomainError::TooManyDecimals { .. }),
                    "{} gave {}", s, e
                ),
            }
        }
    }
}
