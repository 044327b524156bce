//! user-service settings, from the environment.

use std::time::Duration;

use domain::Currency;
use platform::{
    config::{CommonConfig, Env},
    BoxError,
};

use crate::domain::TimeZone;

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `DEFAULT_CURRENCY` (default USD) and `DEFAULT_TIMEZONE` (default UTC): used when a
    /// registration carries none.
    pub default_currency: Currency,
    pub default_timezone: TimeZone,
    /// `PROFILE_WAIT_MS` (default 3000): how long GetMe waits for a just-registered user's
    /// profile to be created before answering NOT_FOUND.
    pub profile_wait: Duration,
    /// `OUTBOX_INSTANCE` (default `HOSTNAME`): stable name of this replica's outbox relay.
    pub outbox_instance: String,
    pub jwt: platform::jwt::JwtVerifier,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, BoxError> {
        let currency: String = env.or("DEFAULT_CURRENCY", "USD".into(), "an ISO 4217 code")?;
        let zone: String = env.or("DEFAULT_TIMEZONE", "UTC".into(), "an IANA time zone")?;
        Ok(Self {
            common: CommonConfig::from_env(env, "user-service", 50052)?,
            database_url: env.required("DATABASE_URL", "a postgres:// URL of the user database")?,
            default_currency: Currency::parse(&currency).map_err(|e| format!("DEFAULT_CURRENCY: {e}"))?,
            default_timezone: TimeZone::parse(&zone).map_err(|e| format!("DEFAULT_TIMEZONE: {e}"))?,
            profile_wait: env.millis("PROFILE_WAIT_MS", Duration::from_secs(3))?,
            outbox_instance: env.or(
                "OUTBOX_INSTANCE",
                platform::app::instance_name(),
                "a replica name",
            )?,
            jwt: platform::jwt::verifier_from_env(env)?,
        })
    }
}
