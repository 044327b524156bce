//! ds-service settings, from the environment.
//!
//! | variable | default | |
//! |---|---|---|
//! | `DATABASE_URL` | required | the ds database: each user's extraction rules (`ds-extract` needs none) |
//! | `DB_POOL_SIZE` | 8 | connections |
//! | `MEMORY_TIMEOUT_MS` | 300 | how long an extraction waits for the caller's rules before answering without them (with a warning) |
//! | `GRPC_ADDR` | `127.0.0.1:50054` | |
//! | `KAFKA_BROKERS` | `127.0.0.1:59092` | |
//! | `KAFKA_TOPIC_SUFFIX` | empty | appended to every topic and to the consumer group |
//! | `KAFKA_CONSUMER_GROUP` | `ds-service` + suffix | a new group reads the topics from the beginning: how an empty database is rebuilt |
//! | `KAFKA_PUBLISH_TIMEOUT_MS` | 5000 | |
//! | `USER_SERVICE_ADDR`, `USER_SERVICE_TIMEOUT_MS` | `http://127.0.0.1:50052`, 500 | |
//! | `DEFAULT_CURRENCY`, `DEFAULT_TIMEZONE` | `USD`, `UTC` | |
//! | `MISTRAL_API_KEY`, `LLM_*` | unset | see `llm::LlmConfig` |
//! | `LLM_MODE`, `LLM_BELOW_CONFIDENCE` | `first`, 0.6 | with Mistral: `first` asks the model about every expense; `fallback` only when the rules' confidence is below the threshold |
//! | `JWT_*` | | see `platform::jwt::verifier_from_env` |

use std::time::Duration;

use chrono_tz::Tz;
use domain::Currency;
use platform::{
    config::{CommonConfig, Env},
    BoxError,
};

use crate::llm::LlmConfig;

#[derive(Debug, Clone)]
pub struct Config {
    /// `SERVICE_NAME`, `GRPC_ADDR` (default 127.0.0.1:50054), `KAFKA_BROKERS`,
    /// `KAFKA_TOPIC_SUFFIX`.
    pub common: CommonConfig,
    /// `DATABASE_URL` (required): each user's memory (rules learned and written).
    pub database_url: String,
    /// `DB_POOL_SIZE` (default 8).
    pub pool_size: usize,
    /// `MEMORY_TIMEOUT_MS` (default 300): past it, an extraction answers without the
    /// caller's rules and says so.
    pub memory_timeout: Duration,
    /// `KAFKA_CONSUMER_GROUP` (default `ds-service<KAFKA_TOPIC_SUFFIX>`).
    pub consumer_group: String,
    /// `KAFKA_PUBLISH_TIMEOUT_MS` (default 5000): how long an RPC waits for the broker to
    /// acknowledge `ExpenseExtracted` before answering UNAVAILABLE.
    pub publish_timeout: Duration,
    /// `USER_SERVICE_ADDR` (default http://127.0.0.1:50052): where GetUser is asked for the
    /// caller's currency and time zone.
    pub user_service_addr: String,
    /// `USER_SERVICE_TIMEOUT_MS` (default 500): past it, the defaults below are used.
    pub user_service_timeout: Duration,
    /// `DEFAULT_CURRENCY` (default USD) and `DEFAULT_TIMEZONE` (default UTC): used when
    /// neither the request nor the profile says.
    pub default_currency: Currency,
    pub default_timezone: Tz,
    /// `MISTRAL_API_KEY` and friends; `None` (no key) means the offline extractor only.
    /// `LLM_MODE` (default `first`): `first` asks the model about every expense, the rules
    /// as fallback; `fallback` lets the rules answer and asks the model only below
    /// `LLM_BELOW_CONFIDENCE` (default 0.6) or when they find no amount — cheaper and faster.
    /// Either way the model's answer is checked against the text.
    pub llm: Option<LlmConfig>,
    pub jwt: platform::jwt::JwtVerifier,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, BoxError> {
        let currency: String = env.or("DEFAULT_CURRENCY", "USD".into(), "an ISO 4217 code")?;
        let zone: String = env.or("DEFAULT_TIMEZONE", "UTC".into(), "an IANA time zone")?;
        Ok(Self {
            common: CommonConfig::from_env(env, "ds-service", 50054)?,
            database_url: env.required("DATABASE_URL", "a postgres:// URL of the ds database")?,
            pool_size: env.or("DB_POOL_SIZE", 8, "a number of connections")?,
            memory_timeout: env.millis("MEMORY_TIMEOUT_MS", Duration::from_millis(300))?,
            consumer_group: env.or(
                "KAFKA_CONSUMER_GROUP",
                format!("ds-service{}", env.raw("KAFKA_TOPIC_SUFFIX").unwrap_or_default()),
                "a Kafka consumer group id",
            )?,
            publish_timeout: env.millis("KAFKA_PUBLISH_TIMEOUT_MS", Duration::from_secs(5))?,
            user_service_addr: env.or(
                "USER_SERVICE_ADDR",
                "http://127.0.0.1:50052".to_owned(),
                "an http:// URL of user-service",
            )?,
            user_service_timeout: env.millis("USER_SERVICE_TIMEOUT_MS", Duration::from_millis(500))?,
            default_currency: Currency::parse(&currency).map_err(|e| format!("DEFAULT_CURRENCY: {e}"))?,
            default_timezone: parse_zone(&zone).map_err(|e| format!("DEFAULT_TIMEZONE: {e}"))?,
            llm: LlmConfig::from_env(env)?,
            jwt: platform::jwt::verifier_from_env(env)?,
        })
    }
}

/// An IANA zone name ("Asia/Kolkata"), or why not.
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.trim()
        .parse()
        .map_err(|_| format!("'{name}' is not an IANA time zone such as Europe/Warsaw"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(extra: &[(&'a str, &'a str)]) -> Env {
        let mut vars = platform::testing::tokens::verifier_env();
        vars.push(("DATABASE_URL", "postgres://x@localhost/ds"));
        vars.retain(|(k, _)| !extra.iter().any(|(o, _)| o == k));
        vars.extend_from_slice(extra);
        Env::from_pairs(vars)
    }

    #[test]
    fn defaults_work_locally_without_an_llm() {
        let c = Config::from_env(&env(&[])).unwrap();
        assert_eq!(c.common.grpc_addr.to_string(), "127.0.0.1:50054");
        assert_eq!(c.common.service_name, "ds-service");
        assert_eq!(c.user_service_addr, "http://127.0.0.1:50052");
        assert_eq!(c.user_service_timeout, Duration::from_millis(500));
        assert_eq!(c.default_currency, Currency::USD);
        assert_eq!(c.default_timezone, Tz::UTC);
        assert!(c.llm.is_none());
        assert_eq!(c.pool_size, 8);
        assert_eq!(c.memory_timeout, Duration::from_millis(300));
    }

    #[test]
    fn the_database_is_required() {
        let err = Config::from_env(&env(&[("DATABASE_URL", "")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
    }

    #[test]
    fn a_bad_default_names_the_variable() {
        let err = Config::from_env(&env(&[("DEFAULT_TIMEZONE", "Mars/Base")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DEFAULT_TIMEZONE"), "{err}");
        let err = Config::from_env(&env(&[("DEFAULT_CURRENCY", "XYZ")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DEFAULT_CURRENCY"), "{err}");
    }

    #[test]
    fn llm_mode_and_threshold() {
        use crate::llm::LlmMode;
        let c = Config::from_env(&env(&[("MISTRAL_API_KEY", "k")])).unwrap();
        let llm = c.llm.unwrap();
        assert_eq!(llm.mode, LlmMode::First);
        assert_eq!(llm.below_confidence, 0.6);
        let c = Config::from_env(&env(&[
            ("MISTRAL_API_KEY", "k"),
            ("LLM_MODE", "Fallback"),
            ("LLM_BELOW_CONFIDENCE", "0.75"),
        ]))
        .unwrap();
        let llm = c.llm.unwrap();
        assert_eq!(llm.mode, LlmMode::Fallback);
        assert_eq!(llm.below_confidence, 0.75);
        for (name, value) in [("LLM_MODE", "sometimes"), ("LLM_BELOW_CONFIDENCE", "1.5")] {
            let err = Config::from_env(&env(&[("MISTRAL_API_KEY", "k"), (name, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn a_key_turns_the_llm_on() {
        let c = Config::from_env(&env(&[("MISTRAL_API_KEY", "sk-test")])).unwrap();
        let llm = c.llm.expect("llm configured");
        assert_eq!(llm.base_url, "https://api.mistral.ai");
        assert_eq!(llm.model, "mistral-small-latest");
        assert!(
            !format!("{llm:?}").contains("sk-test"),
            "the key never shows in Debug"
        );
    }
}
