//! auth-service settings, all from environment variables (through `platform::config::Env`,
//! so a bad value fails start-up naming the variable).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | (required) | Postgres URL of the auth database |
//! | `DATABASE_POOL_SIZE` | `10` | connections in the pool |
//! | `SERVICE_NAME` | `auth-service` | logs, traces, CloudEvents `ce_source` |
//! | `GRPC_ADDR` | `127.0.0.1:50051` | listen address |
//! | `KAFKA_BROKERS` | `127.0.0.1:59092` | bootstrap servers |
//! | `KAFKA_TOPIC_SUFFIX` | empty | appended to every topic and to the consumer group |
//! | `OUTBOX_INSTANCE` | `HOSTNAME` or `local` | stable per replica: the relay's transactional id is `<service>-outbox-<instance>` |
//! | `JWT_ISSUER` | `expense-tracker` | `iss` claim (Kong's jwt plugin selects the credential by it) |
//! | `JWT_AUDIENCE` | `expense-tracker-api` | `aud` claim |
//! | `JWT_KEY_ID` | `dev-1` | `kid` of the signing key |
//! | `JWT_PRIVATE_KEY_FILE` / `JWT_PRIVATE_KEY_PEM` | one required (the PEM wins) | RSA signing key, PKCS#8 (or PKCS#1) PEM, ≥ 2048 bits |
//! | `JWT_PREVIOUS_PUBLIC_KEYS_FILE` / `JWT_PREVIOUS_PUBLIC_KEYS_PEM` | none | retired public keys still published in the JWKS (see below) |
//! | `ACCESS_TOKEN_TTL_SECS` | `900` | access-token lifetime |
//! | `REFRESH_TOKEN_TTL_SECS` | `2592000` (30 days) | refresh-token lifetime (each rotation starts a new one) |
//! | `LOGIN_MAX_FAILURES_PER_ACCOUNT` | `5` | failures (within the window) after which an account is locked 1 s, 2 s, 4 s … |
//! | `LOGIN_MAX_FAILURES_PER_CLIENT` | `20` | the same per client address (`x-forwarded-for`'s last entry, the one the edge added, else the peer) |
//! | `LOGIN_FAILURE_WINDOW_SECS` | `900` | failures are forgotten after this long without one |
//! | `LOGIN_MAX_DELAY_SECS` | `900` | cap of the lock |
//! | `PASSWORD_HASH_MEMORY_MIB` | `64` | memory all concurrent argon2id hashes may hold together; one hash takes 19 MiB (OWASP's m = 19456 KiB), so `64` runs 3 at once; at least `19` |
//! | `PASSWORD_HASH_MAX_WAIT_MS` | `2000` | how long a signup or login waits for a hashing slot (each worker has two: one running, one queued) before it is refused with RESOURCE_EXHAUSTED (HTTP 429, `Retry-After: 1`); `0` refuses at once |
//! | `RUST_LOG` | `info` | log filter |
//!
//! Sizing: the pod's memory is about 20 MiB idle plus `PASSWORD_HASH_MEMORY_MIB` (see
//! docs/PERFORMANCE.md); raise the budget only with the memory limit, and only up to the
//! CPUs the pod has (a hash is CPU-bound, more at once than cores buys nothing).
//!
//! Key rotation: generate the new key pair, move the current public key into the
//! previous-keys bundle with a `kid: <old JWT_KEY_ID>` line right before its
//! `-----BEGIN PUBLIC KEY-----` line, then switch `JWT_PRIVATE_KEY_*` and `JWT_KEY_ID` to the
//! new key. Tokens signed by the old key keep verifying (their `kid` is in the JWKS) until
//! they expire; drop the old key from the bundle after `ACCESS_TOKEN_TTL_SECS`. A block
//! without a `kid:` line is published as `<JWT_KEY_ID>-prev-<n>` (n = its position, from 1),
//! which only suits keys that never signed under another id.

use std::time::Duration;

use platform::config::{CommonConfig, ConfigError, Env};

use crate::{
    domain::{
        keys::parse_public_bundle, AccessTokenIssuer, PasswordHasher, SigningKey, SigningKeys, ThrottlePolicy,
    },
    hashing::HashBudget,
};

/// The default port of auth-service.
pub const DEFAULT_PORT: u16 = 50051;

/// Every setting of the service.
#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// May carry a password: redacted in `Debug`.
    pub database_url: Secret,
    pub database_pool_size: usize,
    pub outbox_instance: String,
    pub jwt: JwtConfig,
    pub refresh_token_ttl: Duration,
    pub account_throttle: ThrottlePolicy,
    pub client_throttle: ThrottlePolicy,
    pub password_hashing: HashBudget,
}

/// Access-token settings with the parsed keys.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub issuer: String,
    pub audience: String,
    pub keys: SigningKeys,
    pub access_token_ttl: Duration,
}

impl JwtConfig {
    pub fn issuer(&self) -> AccessTokenIssuer {
        AccessTokenIssuer::new(
            self.keys.clone(),
            &self.issuer,
            &self.audience,
            self.access_token_ttl,
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigLoadError {
    #[error(transparent)]
    Env(#[from] ConfigError),
    #[error("environment variable {name}: {reason}")]
    Other { name: &'static str, reason: String },
}

fn other(name: &'static str, reason: impl std::fmt::Display) -> ConfigLoadError {
    ConfigLoadError::Other {
        name,
        reason: reason.to_string(),
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigLoadError> {
        let common = CommonConfig::from_env(env, "auth-service", DEFAULT_PORT)?;
        let database_url: String = env.required("DATABASE_URL", "a postgres:// URL of the auth database")?;
        let database_pool_size: usize =
            env.or("DATABASE_POOL_SIZE", 10, "a number of connections, 1 or more")?;
        if database_pool_size == 0 {
            return Err(other("DATABASE_POOL_SIZE", "must be at least 1"));
        }
        let outbox_instance = env.or(
            "OUTBOX_INSTANCE",
            platform::app::instance_name(),
            "a name stable across restarts of this replica (e.g. the pod name)",
        )?;

        let issuer: String = env.or("JWT_ISSUER", "expense-tracker".to_owned(), "the token issuer")?;
        let audience: String = env.or(
            "JWT_AUDIENCE",
            "expense-tracker-api".to_owned(),
            "the token audience",
        )?;
        let kid: String = env.or("JWT_KEY_ID", "dev-1".to_owned(), "a key id")?;
        let (key_var, private_pem) = match (env.raw("JWT_PRIVATE_KEY_PEM"), env.raw("JWT_PRIVATE_KEY_FILE")) {
            (Some(pem), _) => ("JWT_PRIVATE_KEY_PEM", pem),
            (None, Some(path)) => ("JWT_PRIVATE_KEY_FILE", read_file("JWT_PRIVATE_KEY_FILE", &path)?),
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "JWT_PRIVATE_KEY_FILE".into(),
                    expects: "the path of the RSA signing key (PKCS#8 PEM); or set JWT_PRIVATE_KEY_PEM"
                        .into(),
                }
                .into())
            }
        };
        let signing = SigningKey::from_pem(&kid, &private_pem).map_err(|e| other(key_var, e))?;
        let (prev_var, previous) = match (
            env.raw("JWT_PREVIOUS_PUBLIC_KEYS_PEM"),
            env.raw("JWT_PREVIOUS_PUBLIC_KEYS_FILE"),
        ) {
            (Some(pem), _) => ("JWT_PREVIOUS_PUBLIC_KEYS_PEM", pem),
            (None, Some(path)) => (
                "JWT_PREVIOUS_PUBLIC_KEYS_FILE",
                read_file("JWT_PREVIOUS_PUBLIC_KEYS_FILE", &path)?,
            ),
            (None, None) => ("JWT_PREVIOUS_PUBLIC_KEYS_FILE", String::new()),
        };
        let previous = parse_public_bundle(&previous, &kid).map_err(|e| other(prev_var, e))?;
        let keys = SigningKeys::new(signing, previous).map_err(|e| other(prev_var, e))?;

        let access_token_ttl = secs(env, "ACCESS_TOKEN_TTL_SECS", 900, 60, i32::MAX as u64)?;
        let refresh_token_ttl = secs(
            env,
            "REFRESH_TOKEN_TTL_SECS",
            30 * 24 * 3600,
            60,
            10 * 365 * 24 * 3600,
        )?;

        let window = secs(env, "LOGIN_FAILURE_WINDOW_SECS", 900, 1, 7 * 24 * 3600)?;
        let max_delay = secs(env, "LOGIN_MAX_DELAY_SECS", 900, 1, 7 * 24 * 3600)?;
        let per_account: u32 = env.or(
            "LOGIN_MAX_FAILURES_PER_ACCOUNT",
            5,
            "a number of failures, 1 or more",
        )?;
        let per_client: u32 = env.or(
            "LOGIN_MAX_FAILURES_PER_CLIENT",
            20,
            "a number of failures, 1 or more",
        )?;
        if per_account == 0 {
            return Err(other("LOGIN_MAX_FAILURES_PER_ACCOUNT", "must be at least 1"));
        }
        if per_client == 0 {
            return Err(other("LOGIN_MAX_FAILURES_PER_CLIENT", "must be at least 1"));
        }
        let base = ThrottlePolicy {
            max_failures: per_account,
            window,
            base_delay: Duration::from_secs(1),
            max_delay,
        };

        let one_hash_mib = PasswordHasher::OWASP_MEMORY_KIB.div_ceil(1024);
        let memory_mib: u32 = env.or(
            "PASSWORD_HASH_MEMORY_MIB",
            HashBudget::DEFAULT_MEMORY_MIB,
            "a number of MiB",
        )?;
        if !(one_hash_mib..=65_536).contains(&memory_mib) {
            return Err(other(
                "PASSWORD_HASH_MEMORY_MIB",
                format!(
                    "must be between {one_hash_mib} (one argon2id hash with m = {} KiB) and 65536 MiB, got {memory_mib}",
                    PasswordHasher::OWASP_MEMORY_KIB
                ),
            ));
        }
        let max_wait_ms: u64 = env.or(
            "PASSWORD_HASH_MAX_WAIT_MS",
            HashBudget::DEFAULT_MAX_WAIT.as_millis() as u64,
            "a number of milliseconds",
        )?;
        if max_wait_ms > 60_000 {
            return Err(other(
                "PASSWORD_HASH_MAX_WAIT_MS",
                format!("must be between 0 and 60000 ms, got {max_wait_ms}"),
            ));
        }

        Ok(Self {
            common,
            database_url: Secret(database_url),
            database_pool_size,
            outbox_instance,
            jwt: JwtConfig {
                issuer,
                audience,
                keys,
                access_token_ttl,
            },
            refresh_token_ttl,
            account_throttle: base,
            client_throttle: ThrottlePolicy {
                max_failures: per_client,
                ..base
            },
            password_hashing: HashBudget {
                memory_mib,
                max_wait: Duration::from_millis(max_wait_ms),
            },
        })
    }
}

/// A string that `Debug` does not print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn read_file(name: &'static str, path: &str) -> Result<String, ConfigLoadError> {
    std::fs::read_to_string(path).map_err(|e| other(name, format!("cannot read {path:?}: {e}")))
}

/// A whole number of seconds in `min..=max`, or `default`.
fn secs(
    env: &Env,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigLoadError> {
    let v: u64 = env.or(name, default, "a whole number of seconds")?;
    if !(min..=max).contains(&v) {
        return Err(other(
            name,
            format!("must be between {min} and {max} seconds, got {v}"),
        ));
    }
    Ok(Duration::from_secs(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../tests/fixtures/signing.key.pem");
    const OTHER_PUB: &str = include_str!("../tests/fixtures/other.pub.pem");

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            ("DATABASE_URL", "postgres://x@localhost/auth"),
            ("JWT_PRIVATE_KEY_PEM", KEY),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let c = Config::from_env(&env(&[])).unwrap();
        assert_eq!(c.common.grpc_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(c.common.service_name, "auth-service");
        assert_eq!(c.jwt.issuer, "expense-tracker");
        assert_eq!(c.jwt.audience, "expense-tracker-api");
        assert_eq!(c.jwt.keys.signing.kid, "dev-1");
        assert!(c.jwt.keys.previous.is_empty());
        assert_eq!(c.jwt.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(2_592_000));
        assert_eq!(c.account_throttle, ThrottlePolicy::per_account());
        assert_eq!(c.client_throttle, ThrottlePolicy::per_client());
        assert_eq!(
            c.password_hashing,
            HashBudget {
                memory_mib: 64,
                max_wait: Duration::from_secs(2)
            }
        );
    }

    #[test]
    fn missing_values_name_the_variable() {
        let err = Config::from_env(&Env::from_pairs([("JWT_PRIVATE_KEY_PEM", KEY)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let err = Config::from_env(&Env::from_pairs([("DATABASE_URL", "postgres://x")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("JWT_PRIVATE_KEY_FILE") && err.contains("JWT_PRIVATE_KEY_PEM"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (pairs, var) in [
            (vec![("ACCESS_TOKEN_TTL_SECS", "soon")], "ACCESS_TOKEN_TTL_SECS"),
            (vec![("ACCESS_TOKEN_TTL_SECS", "5")], "ACCESS_TOKEN_TTL_SECS"),
            (
                vec![(
                    "JWT_PRIVATE_KEY_PEM",
                    "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----",
                )],
                "JWT_PRIVATE_KEY_PEM",
            ),
            (
                vec![
                    ("JWT_PRIVATE_KEY_PEM", ""),
                    ("JWT_PRIVATE_KEY_FILE", "/nonexistent/key.pem"),
                ],
                "JWT_PRIVATE_KEY_FILE",
            ),
            (
                vec![(
                    "JWT_PREVIOUS_PUBLIC_KEYS_PEM",
                    "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----",
                )],
                "JWT_PREVIOUS_PUBLIC_KEYS_PEM",
            ),
            (
                vec![("LOGIN_MAX_FAILURES_PER_ACCOUNT", "0")],
                "LOGIN_MAX_FAILURES_PER_ACCOUNT",
            ),
            (vec![("GRPC_ADDR", "nowhere")], "GRPC_ADDR"),
            (
                vec![("PASSWORD_HASH_MEMORY_MIB", "18")],
                "PASSWORD_HASH_MEMORY_MIB",
            ),
            (
                vec![("PASSWORD_HASH_MEMORY_MIB", "lots")],
                "PASSWORD_HASH_MEMORY_MIB",
            ),
            (
                vec![("PASSWORD_HASH_MAX_WAIT_MS", "60001")],
                "PASSWORD_HASH_MAX_WAIT_MS",
            ),
        ] {
            let err = Config::from_env(&env(&pairs)).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn previous_public_keys_are_published_with_their_kids() {
        let bundle: &'static str = Box::leak(format!("kid: 2026-10\n{OTHER_PUB}").into_boxed_str());
        let c = Config::from_env(&env(&[
            ("JWT_PREVIOUS_PUBLIC_KEYS_PEM", bundle),
            ("JWT_KEY_ID", "2026-11"),
        ]))
        .unwrap();
        let kids: Vec<_> = c.jwt.keys.public_keys().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["2026-11", "2026-10"]);
    }

    #[test]
    fn the_signing_key_never_shows_in_debug_output() {
        let c = Config::from_env(&env(&[])).unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("PRIVATE KEY") && !shown.contains("postgres://"),
            "{shown}"
        );
    }
}
