//! Passwords: the signup rules (NIST SP 800-63B style: length and a deny list, no
//! composition rules) and argon2id hashing with OWASP's parameters.

use std::{collections::HashSet, fmt, sync::LazyLock};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString},
    Algorithm, Argon2, Params, Version,
};

/// Lowercased common passwords of 8 to 128 characters, one per line: the ≥ 8 character
/// entries of zxcvbn's password frequency list (the top 30 000 of the Xato 10M corpus; MIT)
/// and of Openwall's John the Ripper `password.lst` (public domain). Shorter ones are
/// already refused by the length rule.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Why a password is refused at signup. Messages are shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {min} characters long (it has {len})", min = Password::MIN_CHARS)]
    TooShort { len: usize },
    #[error("password must be at most {max} characters long (it has {len})", max = Password::MAX_CHARS)]
    TooLong { len: usize },
    #[error(
        "password is on the list of commonly used passwords and would be guessed quickly; \
         choose another one (a few unrelated words make a strong, memorable password)"
    )]
    Common,
}

/// A password that satisfies the signup rules. Never printed: `Debug` is redacted and
/// there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    /// Checks a new password. Length counts characters (not bytes), and nothing is trimmed:
    /// spaces are legitimate password characters.
    pub fn parse(input: &str) -> Result<Self, PasswordError> {
        let len = input.chars().count();
        if len < Self::MIN_CHARS {
            return Err(PasswordError::TooShort { len });
        }
        if len > Self::MAX_CHARS {
            return Err(PasswordError::TooLong { len });
        }
        if is_common(input) {
            return Err(PasswordError::Common);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Whether `password` (compared case-insensitively) is on the bundled list.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

/// Number of entries of the bundled common-password list.
pub fn common_password_count() -> usize {
    COMMON.len()
}

/// argon2id hashing and verification. Both are CPU- and memory-bound (tens of
/// milliseconds): call them from `spawn_blocking`, never on the async runtime.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// A hash of a random password with the same parameters, verified when the account
    /// does not exist so an unknown email costs as much time as a wrong password.
    dummy_hash: String,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", self.argon2.params())
            .finish()
    }
}

impl PasswordHasher {
    /// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
    pub fn owasp() -> Self {
        Self::with_params(19_456, 2, 1).expect("OWASP argon2 parameters are valid")
    }

    /// argon2id with `memory_kib`, `iterations` and `parallelism`. Computes the dummy hash,
    /// so it costs one hash.
    pub fn with_params(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, argon2::Error> {
        let params = Params::new(memory_kib, iterations, parallelism, None)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut random = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon2
            .hash_password(&random, &salt)
            .map_err(|_| argon2::Error::AlgorithmInvalid)?
            .to_string();
        Ok(Self { argon2, dummy_hash })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`, with a
    /// fresh random salt.
    pub fn hash(&self, password: &Password) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(self
            .argon2
            .hash_password(password.expose().as_bytes(), &salt)?
            .to_string())
    }

    /// Whether `password` matches `stored` (a PHC string; its own parameters are used, so
    /// hashes made with older parameters still verify). With `stored = None` the dummy
    /// hash is verified and the answer is always false.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            // A corrupt stored hash: spend the same time anyway, then refuse.
            let _ = self.verify(password, None);
            return false;
        };
        let ok = self.argon2.verify_password(password.as_bytes(), &parsed).is_ok();
        ok && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_between_8_and_128() {
        assert_eq!(
            Password::parse("short").unwrap_err(),
            PasswordError::TooShort { len: 5 }
        );
        // 7 characters, 14 bytes: still too short.
        assert_eq!(
            Password::parse("ééééééé").unwrap_err(),
            PasswordError::TooShort { len: 7 }
        );
        assert!(Password::parse("éééééééé-not-common").is_ok());
        assert!(Password::parse(&"x7".repeat(64)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129)).unwrap_err(),
            PasswordError::TooLong { len: 129 }
        );
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for p in [
            "password",
            "PASSWORD1",
            "12345678",
            "iloveyou",
            "Qwerty123",
            "baseball",
            "trustno1",
        ] {
            assert_eq!(Password::parse(p).unwrap_err(), PasswordError::Common, "{p}");
        }
        assert!(Password::parse("correct horse battery staple").is_ok());
        assert!(common_password_count() > 10_000, "the bundled list is loaded");
    }

    #[test]
    fn every_bundled_entry_is_lowercase_and_at_least_8_characters() {
        for line in COMMON_PASSWORDS.lines() {
            assert_eq!(line, line.to_lowercase());
            assert!(line.chars().count() >= 8, "{line}");
        }
    }

    #[test]
    fn messages_say_what_to_change_and_debug_hides_the_password() {
        let msg = Password::parse("abc").unwrap_err().to_string();
        assert!(msg.contains("at least 8"), "{msg}");
        let p = Password::parse("a perfectly fine passphrase").unwrap();
        assert!(!format!("{p:?}").contains("passphrase"));
    }

    // Cheap parameters: these tests are about behaviour, not cost.
    fn hasher() -> PasswordHasher {
        PasswordHasher::with_params(256, 1, 1).unwrap()
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hasher();
        let p = Password::parse("tr0ub4dor&3-horse").unwrap();
        let phc = h.hash(&p).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{phc}");
        assert!(h.verify("tr0ub4dor&3-horse", Some(&phc)));
        assert!(!h.verify("tr0ub4dor&3-horsE", Some(&phc)));
        // Same password, new salt, different hash.
        assert_ne!(phc, h.hash(&p).unwrap());
    }

    #[test]
    fn an_unknown_account_or_a_corrupt_hash_never_verifies() {
        let h = hasher();
        assert!(!h.verify("anything", None));
        assert!(!h.verify("anything", Some("not a phc string")));
    }

    #[test]
    fn owasp_parameters_are_the_default() {
        let h = PasswordHasher::owasp();
        let p = h.argon2.params();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
        assert!(h.dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }
}
