use chrono::{DateTime, Utc};
use domain::{Currency, Email};
use uuid::Uuid;

/// Why a profile field was refused; each message names the field.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProfileError {
    #[error("display_name must be 1 to 80 characters (got {0})")]
    DisplayNameLength(usize),
    #[error("default_currency: {0}")]
    Currency(String),
    #[error("timezone {0:?} is not an IANA time zone such as \"Europe/Berlin\" or \"Asia/Kolkata\"")]
    TimeZone(String),
    #[error("update_mask is empty: name the fields to change, e.g. [\"display_name\"]")]
    EmptyMask,
    #[error("update_mask names unknown fields: {}; allowed: display_name, default_currency, timezone", .0.join(", "))]
    UnknownMaskPaths(Vec<String>),
}

/// 1 to 80 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(s: &str) -> Result<Self, ProfileError> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 || n > 80 || t.chars().any(char::is_control) {
            return Err(ProfileError::DisplayNameLength(n));
        }
        Ok(Self(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self, ProfileError> {
        s.trim()
            .parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| ProfileError::TimeZone(snippet(s)))
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

pub fn parse_currency(s: &str) -> Result<Currency, ProfileError> {
    Currency::parse(s).map_err(|e| ProfileError::Currency(e.to_string()))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub default_currency: Currency,
    pub timezone: TimeZone,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Profile {
    /// A new profile from a registration: the event's currency and zone when present and
    /// valid, else the service defaults. A malformed email is kept as sent (auth validated
    /// it; this service must not drop a registration over it).
    pub fn from_registration(
        user_id: Uuid,
        email: &str,
        display_name: &str,
        currency: &str,
        timezone: &str,
        defaults: (Currency, TimeZone),
        at: DateTime<Utc>,
    ) -> Self {
        // Without NUL bytes, which Postgres `TEXT` cannot hold: a refused insert would be
        // retried for ever and hold up the partition.
        let email = Email::parse(email)
            .map(|e| e.into_inner())
            .unwrap_or_else(|_| email.trim().replace('\0', ""));
        let display_name = DisplayName::parse(display_name).map(|d| d.0).unwrap_or_else(|_| {
            email
                .split('@')
                .next()
                .unwrap_or("user")
                .chars()
                .take(80)
                .collect()
        });
        Self {
            user_id,
            email,
            display_name,
            default_currency: parse_currency(currency).unwrap_or(defaults.0),
            timezone: TimeZone::parse(timezone).unwrap_or(defaults.1),
            created_at: at,
            updated_at: at,
        }
    }
}

/// How many unknown update_mask paths an error names.
const MAX_SHOWN_PATHS: usize = 5;

/// At most 40 characters of client input, for error messages.
fn snippet(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        s.chars().take(40).chain(std::iter::once('…')).collect()
    }
}

/// A validated partial update: only the fields named in the mask.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProfileUpdate {
    pub display_name: Option<DisplayName>,
    pub default_currency: Option<Currency>,
    pub timezone: Option<TimeZone>,
}

impl ProfileUpdate {
    pub fn parse(
        mask: &[String],
        display_name: &str,
        currency: &str,
        timezone: &str,
    ) -> Result<Self, ProfileError> {
        if mask.is_empty() {
            return Err(ProfileError::EmptyMask);
        }
        let unknown: Vec<&String> = mask
            .iter()
            .filter(|p| !matches!(p.as_str(), "display_name" | "default_currency" | "timezone"))
            .collect();
        if !unknown.is_empty() {
            // Quoted in the status message, which travels in a header: keep it short.
            let mut shown: Vec<String> = unknown.iter().take(MAX_SHOWN_PATHS).map(|p| snippet(p)).collect();
            if unknown.len() > MAX_SHOWN_PATHS {
                shown.push(format!("and {} more", unknown.len() - MAX_SHOWN_PATHS));
            }
            return Err(ProfileError::UnknownMaskPaths(shown));
        }
        let has = |f: &str| mask.iter().any(|p| p == f);
        Ok(Self {
            display_name: has("display_name")
                .then(|| DisplayName::parse(display_name))
                .transpose()?,
            default_currency: has("default_currency")
                .then(|| parse_currency(currency))
                .transpose()?,
            timezone: has("timezone").then(|| TimeZone::parse(timezone)).transpose()?,
        })
    }

    pub fn apply(&self, p: &mut Profile, at: DateTime<Utc>) {
        if let Some(d) = &self.display_name {
            p.display_name = d.as_str().to_owned();
        }
        if let Some(c) = self.default_currency {
            p.default_currency = c;
        }
        if let Some(t) = self.timezone {
            p.timezone = t;
        }
        p.updated_at = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Asha  ").unwrap().as_str(), "Asha");
        assert_eq!(DisplayName::parse("   "), Err(ProfileError::DisplayNameLength(0)));
        assert!(DisplayName::parse(&"x".repeat(80)).is_ok());
        assert_eq!(
            DisplayName::parse(&"é".repeat(81)),
            Err(ProfileError::DisplayNameLength(81))
        );
    }

    #[test]
    fn zones_must_be_iana_names() {
        assert_eq!(TimeZone::parse("Asia/Kolkata").unwrap().name(), "Asia/Kolkata");
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert!(TimeZone::parse("").is_err());
    }

    #[test]
    fn unknown_mask_paths_are_named() {
        let err =
            ProfileUpdate::parse(&mask(&["display_name", "email", "user_id"]), "A", "", "").unwrap_err();
        assert_eq!(
            err,
            ProfileError::UnknownMaskPaths(vec!["email".into(), "user_id".into()])
        );
        assert!(err.to_string().contains("email, user_id"));
        assert_eq!(
            ProfileUpdate::parse(&[], "", "", ""),
            Err(ProfileError::EmptyMask)
        );
    }

    #[test]
    fn only_masked_fields_are_validated_and_applied() {
        // The currency is junk but not in the mask: ignored.
        let u = ProfileUpdate::parse(&mask(&["timezone"]), "", "???", "Europe/Paris").unwrap();
        assert_eq!(u.display_name, None);
        assert_eq!(u.timezone.unwrap().name(), "Europe/Paris");
        assert!(ProfileUpdate::parse(&mask(&["default_currency"]), "", "XYZ", "").is_err());
    }

    #[test]
    fn registration_falls_back_to_defaults() {
        let defaults = (Currency::parse("USD").unwrap(), TimeZone::parse("UTC").unwrap());
        let p = Profile::from_registration(
            Uuid::nil(),
            "A@B.com",
            "",
            "",
            "Nowhere/Zone",
            defaults,
            Utc::now(),
        );
        assert_eq!(p.email, "a@b.com");
        assert_eq!(p.display_name, "a");
        assert_eq!(p.default_currency.code(), "USD");
        assert_eq!(p.timezone.name(), "UTC");
        let p = Profile::from_registration(
            Uuid::nil(),
            "a@b.com",
            "Asha",
            "inr",
            "Asia/Kolkata",
            defaults,
            Utc::now(),
        );
        assert_eq!(
            (p.default_currency.code(), p.timezone.name()),
            ("INR", "Asia/Kolkata")
        );
    }
}
