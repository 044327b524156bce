//! ds-service settings, from the environment.

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
