//! budget-service settings, from the environment.
//!
//! | variable | default | |
//! |---|---|---|
//! | `DATABASE_URL` | required | the budget database: budgets, the expense projection, alerts |
//! | `DB_POOL_SIZE` | 8 | connections |
//! | `CONSUMER_BATCH_SIZE` | 1000 | most ExpenseChanged events applied per transaction |
//! | `CONSUMER_BATCH_WAIT_MS` | 20 | how long a batch waits to fill once its first event arrived |
//! | `GRPC_ADDR` | `127.0.0.1:50055` | |
//! | `KAFKA_BROKERS` | `127.0.0.1:59092` | |
//! | `KAFKA_TOPIC_SUFFIX` | empty | appended to every topic and to the consumer group |
//! | `KAFKA_CONSUMER_GROUP` | `budget-service` + suffix | a new group reads the topics from the beginning: how an empty database is rebuilt |
//! | `USER_SERVICE_ADDR`, `USER_SERVICE_TIMEOUT_MS` | `http://127.0.0.1:50052`, 500 | where the caller's time zone is asked (for "today") |
//! | `DEFAULT_TIMEZONE` | `UTC` | "today" when the request has no `on` and the profile says no zone |
//! | `OUTBOX_INSTANCE` | `HOSTNAME` or `local` | stable per replica: the relay's transactional id is `budget-service-outbox-<instance>` |
//! | `JWT_*` | | see `platform::jwt::verifier_from_env` |
//! | `RUST_LOG` | `info` | |

use std::time::Duration;

use chrono_tz::Tz;
use platform::{
    config::{CommonConfig, Env},
    BoxError,
};

#[derive(Debug, Clone)]
pub struct Config {
    /// `SERVICE_NAME`, `GRPC_ADDR` (default 127.0.0.1:50055), `KAFKA_BROKERS`,
    /// `KAFKA_TOPIC_SUFFIX`.
    pub common: CommonConfig,
    pub database_url: String,
    pub pool_size: usize,
    /// Most `ExpenseChanged` per transaction, and how long a batch waits to fill.
    pub batch_size: usize,
    pub batch_wait: Duration,
    pub consumer_group: String,
    pub user_service_addr: String,
    pub user_service_timeout: Duration,
    pub default_timezone: Tz,
    pub outbox_instance: String,
    pub jwt: platform::jwt::JwtVerifier,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, BoxError> {
        let zone: String = env.or("DEFAULT_TIMEZONE", "UTC".into(), "an IANA time zone")?;
        let (batch_size, batch_wait) = platform::config::consumer_batch(env)?;
        Ok(Self {
            common: CommonConfig::from_env(env, "budget-service", 50055)?,
            database_url: env.required("DATABASE_URL", "a postgres:// URL of the budget database")?,
            pool_size: env.or("DB_POOL_SIZE", 8, "a number of connections")?,
            batch_size,
            batch_wait,
            consumer_group: env.or(
                "KAFKA_CONSUMER_GROUP",
                format!("budget-service{}", env.raw("KAFKA_TOPIC_SUFFIX").unwrap_or_default()),
                "a Kafka consumer group id",
            )?,
            user_service_addr: env.or(
                "USER_SERVICE_ADDR",
                "http://127.0.0.1:50052".to_owned(),
                "an http:// URL of user-service",
            )?,
            user_service_timeout: env.millis("USER_SERVICE_TIMEOUT_MS", Duration::from_millis(500))?,
            default_timezone: zone.parse().map_err(|_| {
                format!("environment variable DEFAULT_TIMEZONE={zone:?} is invalid: expected an IANA time zone such as Europe/Paris")
            })?,
            outbox_instance: env.or(
                "OUTBOX_INSTANCE",
                platform::app::instance_name(),
                "a replica name",
            )?,
            jwt: platform::jwt::verifier_from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut vars = vec![
            ("DATABASE_URL", "postgres://x@localhost/budgets"),
            (
                "JWT_PUBLIC_KEY_PEM",
                include_str!("../../platform/tests/fixtures/signing.pub.pem"),
            ),
        ];
        vars.extend_from_slice(extra);
        Env::from_pairs(vars)
    }

    #[test]
    fn defaults() {
        let c = Config::from_env(&env(&[("KAFKA_TOPIC_SUFFIX", "-t1")])).unwrap();
        assert_eq!(c.common.grpc_addr.to_string(), "127.0.0.1:50055");
        assert_eq!(c.common.service_name, "budget-service");
        assert_eq!(c.pool_size, 8);
        assert_eq!((c.batch_size, c.batch_wait), (1000, Duration::from_millis(20)));
        assert_eq!(c.consumer_group, "budget-service-t1");
        assert_eq!(c.user_service_addr, "http://127.0.0.1:50052");
        assert_eq!(c.user_service_timeout, Duration::from_millis(500));
        assert_eq!(c.default_timezone, chrono_tz::UTC);
    }

    #[test]
    fn the_database_and_a_real_zone_are_required() {
        let err = Config::from_env(&Env::from_pairs([])).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let err = Config::from_env(&env(&[("DEFAULT_TIMEZONE", "Mars/Olympus")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("DEFAULT_TIMEZONE"), "{err}");
        for size in ["0", "10001", "many"] {
            let err = Config::from_env(&env(&[("CONSUMER_BATCH_SIZE", size)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains("CONSUMER_BATCH_SIZE"), "{err}");
        }
    }
}
