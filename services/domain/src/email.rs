//! Email addresses.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{snippet, DomainError};

/// A syntactically valid email address, trimmed and lower-cased (so that
/// `" Ana@Example.COM "` and `"ana@example.com"` are one account).
///
/// Checked: total length at most 254, exactly one `@`, a local part of 1..=64 characters
/// without spaces, control characters or `"(),:;<>[\]`, no leading, trailing or doubled
/// dot, and a domain of dot-separated labels (letters, digits, hyphens; at least two
/// labels; no label starting or ending with a hyphen; a top-level label that is not all
/// digits). Deliverability is not checked: only a confirmation mail could.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Maximum length of an address (RFC 5321 path limit less the brackets).
    pub const MAX_LEN: usize = 254;

    /// Parses and normalises an address.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let invalid = |reason: &'static str| DomainError::InvalidEmail {
            input: snippet(input.trim()),
            reason,
        };
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err(invalid("it is empty; write an address such as name@example.com"));
        }
        if email.chars().count() > Self::MAX_LEN {
            return Err(invalid("it is longer than 254 characters"));
        }
        if email.chars().any(char::is_whitespace) {
            return Err(invalid("it contains a space; remove it"));
        }
        if email.chars().any(char::is_control) {
            return Err(invalid("it contains a control character"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("it has no '@'; write it as name@example.com"));
        };
        if domain.contains('@') {
            return Err(invalid("it has more than one '@'"));
        }
        if local.is_empty() {
            return Err(invalid("the part before '@' is empty"));
        }
        if local.chars().count() > 64 {
            return Err(invalid("the part before '@' is longer than 64 characters"));
        }
        if local.contains(['"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']) {
            return Err(invalid(
                "the part before '@' contains one of the characters \"(),:;<>[\\]",
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid(
                "the part before '@' starts or ends with a dot, or has two dots in a row",
            ));
        }
        if domain.is_empty() {
            return Err(invalid("the domain after '@' is empty"));
        }
        if !domain.contains('.') {
            return Err(invalid("the domain after '@' needs a dot, as in example.com"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.iter().any(|l| l.is_empty()) {
            return Err(invalid("the domain has an empty part between dots"));
        }
        for label in &labels {
            if label.chars().count() > 63 {
                return Err(invalid("a part of the domain is longer than 63 characters"));
            }
            if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
                return Err(invalid(
                    "the domain may only contain letters, digits, hyphens and dots",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a part of the domain starts or ends with a hyphen"));
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid(
                "the domain ends in a number; write a name such as example.com",
            ));
        }
        Ok(Email(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl FromStr for Email {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Email::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases() {
        let e = Email::parse("  Ana.Lopez+tag@Example.COM \n").unwrap();
        assert_eq!(e.as_str(), "ana.lopez+tag@example.com");
        assert_eq!(e.to_string(), "ana.lopez+tag@example.com");
    }

    #[test]
    fn accepts_common_addresses() {
        for ok in [
            "a@b.co",
            "first.last@sub.example.org",
            "user_name-1@my-domain.io",
            "o'brien@example.ie",
            "josé@exämple.de",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_invalid_addresses_with_reasons() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("plainaddress", "no '@'"),
            ("@example.com", "before '@' is empty"),
            ("ana@", "domain after '@' is empty"),
            ("ana@localhost", "needs a dot"),
            ("ana@@example.com", "more than one '@'"),
            ("a@b@example.com", "more than one '@'"),
            ("ana lopez@example.com", "space"),
            ("ana@exa mple.com", "space"),
            (".ana@example.com", "dot"),
            ("ana.@example.com", "dot"),
            ("an..a@example.com", "dot"),
            ("ana@example..com", "empty part"),
            ("ana@-example.com", "hyphen"),
            ("ana@example_1.com", "letters, digits"),
            ("ana@1.2.3.4", "ends in a number"),
            ("an<a>@example.com", "characters"),
        ];
        for (input, needle) in cases {
            let err = Email::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn enforces_lengths() {
        let local = "a".repeat(65);
        assert!(Email::parse(&format!("{local}@example.com")).is_err());
        let long = format!("a@{}.com", "b".repeat(250));
        assert!(Email::parse(&long).unwrap_err().to_string().contains("254"));
    }

    #[test]
    fn serde_round_trip_validates() {
        let e: Email = serde_json::from_str("\"Ana@Example.com\"").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"ana@example.com\"");
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }

    proptest! {
        #[test]
        fn valid_shapes_parse_and_normalise(
            local in "[A-Za-z0-9_+-]{1,20}(\\.[A-Za-z0-9_+-]{1,10})?",
            domain in "[A-Za-z0-9]{1,20}(-[A-Za-z0-9]{1,5})?",
            tld in "[A-Za-z]{2,6}",
        ) {
            let raw = format!(" {local}@{domain}.{tld} ");
            let email = Email::parse(&raw).unwrap();
            prop_assert_eq!(email.as_str(), raw.trim().to_lowercase());
            // Normalisation is idempotent.
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
        }

        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = Email::parse(&s);
        }

        #[test]
        fn anything_with_inner_whitespace_is_rejected(a in "[a-z]{1,8}", b in "[a-z]{1,8}") {
            let raw = format!("{a} {b}@example.com");
            prop_assert!(Email::parse(&raw).is_err());
        }
    }
}
