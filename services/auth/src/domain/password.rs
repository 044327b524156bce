//! Passwords: the signup rules (NIST SP 800-63B style: length and a deny list, no
//! composition rules) and argon2id hashing with OWASP's parameters.

use std::{collections::HashSet, fmt, sync::LazyLock};

pub use argon2::Block;
use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, PasswordHasher as _, SaltString},
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
/// milliseconds and `memory_blocks()` KiB): the service runs them on `hashing::HashPool`'s
/// threads with reused buffers (`hash_in`/`verify_in`), never on the async runtime.
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
        Self::with_params(Self::OWASP_MEMORY_KIB, 2, 1).expect("OWASP argon2 parameters are valid")
    }

    /// OWASP's m: the memory of one hash, in KiB.
    pub const OWASP_MEMORY_KIB: u32 = 19_456;

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
    /// fresh random salt, in freshly allocated memory.
    pub fn hash(&self, password: &Password) -> Result<String, argon2::password_hash::Error> {
        self.hash_in(password, &mut Vec::new())
    }

    /// Whether `password` matches `stored` (a PHC string; its own parameters are used, so
    /// hashes made with older parameters still verify). With `stored = None` the dummy
    /// hash is verified and the answer is always false.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        self.verify_in(password, stored, &mut Vec::new())
    }

    /// Memory one hash with the configured parameters needs, in argon2 blocks (1 KiB each).
    pub fn memory_blocks(&self) -> usize {
        self.argon2.params().block_count()
    }

    /// [`Self::hash`] with the caller's buffer for argon2's memory, grown when too small
    /// and otherwise reused as it is (argon2's first pass overwrites every block before
    /// reading it, so leftovers of an earlier hash do not matter).
    pub fn hash_in(
        &self,
        password: &Password,
        memory: &mut Vec<Block>,
    ) -> Result<String, argon2::password_hash::Error> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
        let params = self.argon2.params();
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let blocks = sized(memory, params.block_count());
        let output = Output::init_with(output_len, |out| {
            Ok(self.argon2.hash_password_into_with_memory(
                password.expose().as_bytes(),
                salt_bytes,
                out,
                &mut *blocks,
            )?)
        })?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        }
        .to_string())
    }

    /// [`Self::verify`] with the caller's buffer (see [`Self::hash_in`]).
    pub fn verify_in(&self, password: &str, stored: Option<&str>, memory: &mut Vec<Block>) -> bool {
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy_hash.as_str(), false),
        };
        match verify_phc(password.as_bytes(), phc, memory) {
            Ok(ok) => ok && real,
            Err(_) => {
                // A corrupt stored hash: spend the same time anyway, then refuse.
                let _ = verify_phc(password.as_bytes(), &self.dummy_hash, memory);
                false
            }
        }
    }
}

/// The most memory a stored hash may ask for (256 MiB): 13 times today's parameters.
const MAX_VERIFY_BLOCKS: usize = 256 * 1024;

/// The first `n` blocks of `memory`, grown to `n` when shorter.
fn sized(memory: &mut Vec<Block>, n: usize) -> &mut [Block] {
    if memory.len() < n {
        memory.resize(n, Block::default());
    }
    &mut memory[..n]
}

/// Whether `password` hashes to `phc` under `phc`'s own algorithm, version and
/// parameters; the comparison is constant-time (`Output`'s `PartialEq`).
fn verify_phc(
    password: &[u8],
    phc: &str,
    memory: &mut Vec<Block>,
) -> Result<bool, argon2::password_hash::Error> {
    use argon2::password_hash::Error as E;
    let parsed = PasswordHash::new(phc)?;
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(&parsed)?;
    if params.block_count() > MAX_VERIFY_BLOCKS {
        // Not a hash this service made; refusing beats allocating whatever it asks for.
        return Err(E::ParamValueInvalid(
            argon2::password_hash::errors::InvalidValue::TooLong,
        ));
    }
    let expected = parsed.hash.ok_or(E::PhcStringField)?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = parsed
        .salt
        .ok_or(E::PhcStringField)?
        .decode_b64(&mut salt_bytes)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let blocks = sized(memory, params.block_count());
    let actual = Output::init_with(expected.len(), |out| {
        Ok(argon2.hash_password_into_with_memory(password, salt_bytes, out, &mut *blocks)?)
    })?;
    Ok(actual == expected)
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
    fn reused_memory_gives_hashes_the_argon2_crate_agrees_with() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = hasher();
        let p = Password::parse("tr0ub4dor&3-horse").unwrap();
        // A buffer left dirty by an earlier hash of another password, and too big.
        let mut mem = Vec::new();
        h.hash_in(&Password::parse("another passphrase").unwrap(), &mut mem)
            .unwrap();
        mem.resize(mem.len() + 7, Block::default());
        let ours = h.hash_in(&p, &mut mem).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(h.argon2.verify_password(p.expose().as_bytes(), &parsed).is_ok());
        // And the other way: the crate's own hash verifies in our (dirty) memory.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = h
            .argon2
            .hash_password(p.expose().as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert!(h.verify_in(p.expose(), Some(&theirs), &mut mem));
        assert!(!h.verify_in("tr0ub4dor&3-horsE", Some(&theirs), &mut mem));
    }

    #[test]
    fn stored_hashes_with_other_parameters_verify_and_absurd_ones_are_refused() {
        let old = PasswordHasher::with_params(512, 2, 1).unwrap();
        let phc = old.hash(&Password::parse("tr0ub4dor&3-horse").unwrap()).unwrap();
        let h = hasher();
        let mut mem = Vec::new();
        assert!(h.verify_in("tr0ub4dor&3-horse", Some(&phc), &mut mem));
        // m = 4 GiB in a stored string: refused without allocating it.
        let absurd = phc.replace("m=512", "m=4194304");
        assert!(!h.verify_in("tr0ub4dor&3-horse", Some(&absurd), &mut mem));
        assert!(mem.len() <= 512);
    }

    #[test]
    fn owasp_parameters_are_the_default() {
        let h = PasswordHasher::owasp();
        let p = h.argon2.params();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19_456, 2, 1));
        assert!(h.dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    }
}
