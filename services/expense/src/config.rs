//! expense-service settings, from the environment.
//!
//! | variable | default | |
//! |---|---|---|
//! | `DATABASE_URL` | required | the expense database |
//! | `GRPC_ADDR` | `127.0.0.1:50053` | |
//! | `KAFKA_BROKERS` | `127.0.0.1:59092` | |
//! | `KAFKA_TOPIC_SUFFIX` | empty | appended to every topic and to the consumer group |
//! | `JWT_*` | | see `platform::jwt::verifier_from_env` |
//! | `DB_POOL_SIZE` | 16 | connections |
//! | `CONSUMER_BATCH_SIZE` | 1000 | most ExpenseExtracted events stored per transaction |
//! | `CONSUMER_BATCH_WAIT_MS` | 20 | how long a batch waits to fill once its first event arrived |
//! | `OUTBOX_INSTANCE` | `HOSTNAME` or `local` | stable per replica: the relay's transactional id is `expense-service-outbox-<instance>` |
//! | `RUST_LOG` | `info` | |

use std::time::Duration;

use platform::{
    config::{CommonConfig, Env},
    BoxError,
};

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub database_url: String,
    pub pool_size: usize,
    pub batch_size: usize,
    pub batch_wait: Duration,
    pub outbox_instance: String,
    pub jwt: platform::jwt::JwtVerifier,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, BoxError> {
        let (batch_size, batch_wait) = platform::config::consumer_batch(env)?;
        Ok(Self {
            common: CommonConfig::from_env(env, "expense-service", 50053)?,
            database_url: env.required("DATABASE_URL", "a postgres:// URL of the expense database")?,
            pool_size: env.or("DB_POOL_SIZE", 16, "a number of connections")?,
            batch_size,
            batch_wait,
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
            ("DATABASE_URL", "postgres://x@localhost/expenses"),
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
        let c = Config::from_env(&env(&[])).unwrap();
        assert_eq!(c.common.grpc_addr.to_string(), "127.0.0.1:50053");
        assert_eq!(c.common.service_name, "expense-service");
        assert_eq!((c.batch_size, c.batch_wait), (1000, Duration::from_millis(20)));
    }

    #[test]
    fn the_database_and_a_sane_batch_size_are_required() {
        let err = Config::from_env(&Env::from_pairs([])).unwrap_err().to_string();
        assert!(err.contains("DATABASE_URL"), "{err}");
        let err = Config::from_env(&env(&[("CONSUMER_BATCH_SIZE", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CONSUMER_BATCH_SIZE"), "{err}");
    }
}
