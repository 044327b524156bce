//! What a signup carries besides the password: display name, and the optional default
//! currency and time zone handed to user-service through `UserRegistered`.

use std::{fmt, str::FromStr};

use domain::{Currency, Email};

use super::password::{Password, PasswordError};

/// A field of a request that could not be accepted; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ProfileError {
    pub field: &'static str,
    pub reason: String,
}

impl ProfileError {
    pub fn new(field: &'static str, reason: impl fmt::Display) -> Self {
        Self {
            field,
            reason: reason.to_string(),
        }
    }
}

/// A display name: trimmed, 1 to 80 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(input: &str) -> Result<Self, ProfileError> {
        let name = input.trim();
        let err = |reason: String| ProfileError::new("display_name", reason);
        if name.is_empty() {
            return Err(err("must not be empty; say how you want to be called".into()));
        }
        let len = name.chars().count();
        if len > Self::MAX_CHARS {
            return Err(err(format!(
                "must be at most {} characters (it has {len})",
                Self::MAX_CHARS
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(err(
                "must not contain control characters such as line breaks or tabs".into(),
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone (`Europe/Paris`, `UTC`), in its canonical spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(input: &str) -> Result<Self, ProfileError> {
        let name = input.trim();
        chrono_tz::Tz::from_str(name).map(Self).map_err(|_| {
            let shown: String = name.chars().take(64).collect();
            ProfileError::new(
                "timezone",
                format!("unknown time zone '{shown}'; expected an IANA name such as Europe/Paris or UTC"),
            )
        })
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

/// A validated signup.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: Email,
    pub password: Password,
    pub display_name: DisplayName,
    pub default_currency: Option<Currency>,
    pub timezone: Option<TimeZone>,
}

impl NewAccount {
    /// Parses every field of a signup; empty `default_currency`/`timezone` mean "not given".
    /// The first invalid field (in request order) is reported.
    pub fn parse(
        email: &str,
        password: &str,
        display_name: &str,
        default_currency: &str,
        timezone: &str,
    ) -> Result<Self, ProfileError> {
        let email = Email::parse(email).map_err(|e| ProfileError::new("email", e))?;
        let password = Password::parse(password).map_err(password_error)?;
        let display_name = DisplayName::parse(display_name)?;
        let default_currency = match default_currency.trim() {
            "" => None,
            code => Some(Currency::parse(code).map_err(|e| ProfileError::new("default_currency", e))?),
        };
        let timezone = match timezone.trim() {
            "" => None,
            zone => Some(TimeZone::parse(zone)?),
        };
        Ok(Self {
            email,
            password,
            display_name,
            default_currency,
            timezone,
        })
    }
}

fn password_error(e: PasswordError) -> ProfileError {
    // The password error's text already starts with "password".
    let text = e.to_string();
    let reason = text.strip_prefix("password ").unwrap_or(&text).to_owned();
    ProfileError {
        field: "password",
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signup(
        email: &str,
        password: &str,
        name: &str,
        cur: &str,
        tz: &str,
    ) -> Result<NewAccount, ProfileError> {
        NewAccount::parse(email, password, name, cur, tz)
    }

    #[test]
    fn a_valid_signup_is_normalised() {
        let a = signup(
            "  Ana@Example.COM ",
            "a long passphrase",
            "  Ana López ",
            " eur ",
            "Europe/Madrid",
        )
        .unwrap();
        assert_eq!(a.email.as_str(), "ana@example.com");
        assert_eq!(a.display_name.as_str(), "Ana López");
        assert_eq!(a.default_currency.unwrap().code(), "EUR");
        assert_eq!(a.timezone.unwrap().name(), "Europe/Madrid");
        let b = signup("b@example.com", "a long passphrase", "B", "", "").unwrap();
        assert!(b.default_currency.is_none() && b.timezone.is_none());
    }

    #[test]
    fn each_invalid_field_is_named_in_the_message() {
        let cases = [
            (
                signup("nope", "a long passphrase", "Ana", "", ""),
                "email: invalid email address 'nope'",
            ),
            (
                signup("a@example.com", "short", "Ana", "", ""),
                "password: must be at least 8 characters",
            ),
            (
                signup("a@example.com", "password123", "Ana", "", ""),
                "password: is on the list of commonly used",
            ),
            (
                signup("a@example.com", "a long passphrase", "   ", "", ""),
                "display_name: must not be empty",
            ),
            (
                signup("a@example.com", "a long passphrase", &"x".repeat(81), "", ""),
                "display_name: must be at most 80",
            ),
            (
                signup("a@example.com", "a long passphrase", "A\nB", "", ""),
                "display_name: must not contain control",
            ),
            (
                signup("a@example.com", "a long passphrase", "Ana", "XYZ", ""),
                "default_currency: unknown currency code",
            ),
            (
                signup("a@example.com", "a long passphrase", "Ana", "", "Mars/Olympus"),
                "timezone: unknown time zone",
            ),
        ];
        for (result, expected) in cases {
            let msg = result.unwrap_err().to_string();
            assert!(
                msg.starts_with(expected),
                "{msg:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn display_names_of_exactly_80_characters_are_fine() {
        assert!(DisplayName::parse(&"é".repeat(80)).is_ok());
    }

    #[test]
    fn utc_and_canonical_zone_names_are_accepted() {
        assert_eq!(TimeZone::parse("UTC").unwrap().name(), "UTC");
        assert_eq!(
            TimeZone::parse(" America/New_York ").unwrap().name(),
            "America/New_York"
        );
        assert!(
            TimeZone::parse("europe/paris").is_err(),
            "IANA names are case-sensitive"
        );
    }
}
