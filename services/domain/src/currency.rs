//! ISO 4217 currencies.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{snippet, DomainError};

/// An ISO 4217 currency that money can be recorded in.
///
/// Built only by [`Currency::parse`] (or [`FromStr`]), which accepts any alphabetic ISO 4217
/// code, including superseded ones such as HRK that old records still carry. Codes that ISO
/// defines without a minor unit (XAU, XAG, XDR, XXX, …) are **rejected**: they are metals,
/// fund and test units, nobody pays for lunch in them, and money needs an exponent to be
/// stored as integer minor units.
///
/// Serialises as its code (`"USD"`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// United States dollar.
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    /// Euro.
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    /// Pound sterling.
    pub const GBP: Currency = Currency(iso_currency::Currency::GBP);
    /// Indian rupee.
    pub const INR: Currency = Currency(iso_currency::Currency::INR);
    /// Japanese yen (exponent 0).
    pub const JPY: Currency = Currency(iso_currency::Currency::JPY);

    /// Parses an ISO 4217 alphabetic code; surrounding whitespace and case are ignored
    /// (`" usd "` is USD).
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        let trimmed = code.trim();
        // Every ISO code is three ASCII letters: checking that first keeps the lookup cheap
        // and avoids upper-casing arbitrary input.
        if trimmed.len() != 3 || !trimmed.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(DomainError::UnknownCurrency(snippet(trimmed)));
        }
        let upper = trimmed.to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| DomainError::UnknownCurrency(trimmed.to_owned()))?;
        if iso.exponent().is_none() {
            return Err(DomainError::CurrencyWithoutMinorUnit(iso.code()));
        }
        Ok(Currency(iso))
    }

    /// The three-letter code, upper case (`"USD"`).
    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// Number of decimal places of the minor unit: JPY 0, USD 2, BHD 3 (CLF 4).
    pub fn exponent(&self) -> u32 {
        // `parse` only admits currencies that have an exponent.
        u32::from(self.0.exponent().unwrap_or(0))
    }

    /// The English name ("United States dollar").
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The commonly used symbol ("$", "€", "zł"); `¤` when ISO data has none.
    pub fn symbol(&self) -> String {
        self.0.symbol().symbol
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

impl FromStr for Currency {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl TryFrom<&str> for Currency {
    type Error = DomainError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codes_ignoring_case_and_whitespace() {
        assert_eq!(Currency::parse("usd").unwrap(), Currency::USD);
        assert_eq!(Currency::parse("  Eur\n").unwrap(), Currency::EUR);
        assert_eq!("INR".parse::<Currency>().unwrap().code(), "INR");
    }

    #[test]
    fn knows_exponents() {
        let exp = |c: &str| Currency::parse(c).unwrap().exponent();
        assert_eq!(exp("JPY"), 0);
        assert_eq!(exp("KRW"), 0);
        assert_eq!(exp("USD"), 2);
        assert_eq!(exp("HRK"), 2);
        assert_eq!(exp("BHD"), 3);
        assert_eq!(exp("KWD"), 3);
        assert_eq!(exp("CLF"), 4);
    }

    #[test]
    fn rejects_unknown_codes_with_an_actionable_message() {
        let err = Currency::parse("XYZ").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown currency code 'XYZ'; expected an ISO 4217 code such as USD"
        );
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("USDX").is_err());
        assert!(Currency::parse("€").is_err());
        assert!(Currency::parse("12$").is_err());
    }

    #[test]
    fn rejects_units_without_a_minor_unit() {
        for code in ["XAU", "xag", "XDR", "XXX", "XTS"] {
            let err = Currency::parse(code).unwrap_err();
            assert!(
                matches!(err, DomainError::CurrencyWithoutMinorUnit(_)),
                "{code}: {err}"
            );
            assert!(err.to_string().contains("use a currency such as USD"));
        }
    }

    #[test]
    fn long_garbage_is_shortened_in_the_message() {
        let input = "x".repeat(10_000);
        let msg = Currency::parse(&input).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
    }

    #[test]
    fn serialises_as_the_code() {
        assert_eq!(serde_json::to_string(&Currency::JPY).unwrap(), "\"JPY\"");
        let c: Currency = serde_json::from_str("\"pln\"").unwrap();
        assert_eq!(c.code(), "PLN");
        assert!(serde_json::from_str::<Currency>("\"ABC\"").is_err());
    }

    #[test]
    fn displays_as_the_code() {
        assert_eq!(Currency::GBP.to_string(), "GBP");
        assert_eq!(format!("{:?}", Currency::GBP), "Currency(GBP)");
        assert_eq!(Currency::EUR.symbol(), "€");
        assert_eq!(Currency::USD.name(), "United States dollar");
    }
}
