//! Typed configuration from environment variables. A missing or malformed value fails
//! start-up with a message naming the variable and what it expects.

use std::{fmt::Display, str::FromStr, time::Duration};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required: {expects}")]
    Missing { name: String, expects: String },
    #[error("environment variable {name}={value:?} is invalid: expected {expects} ({reason})")]
    Invalid {
        name: String,
        value: String,
        expects: String,
        reason: String,
    },
}

/// Reads variables from the process environment (or a map, in tests).
#[derive(Debug, Default, Clone)]
pub struct Env {
    overrides: Option<std::collections::HashMap<String, String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// A fixed set of variables, for tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            overrides: Some(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect()),
        }
    }

    /// The raw value; empty strings count as unset.
    pub fn raw(&self, name: &str) -> Option<String> {
        let v = match &self.overrides {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        v.filter(|s| !s.trim().is_empty())
    }

    /// A required variable parsed as `T`.
    pub fn required<T>(&self, name: &str, expects: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(name) {
            Some(v) => parse(name, &v, expects),
            None => Err(ConfigError::Missing {
                name: name.into(),
                expects: expects.into(),
            }),
        }
    }

    /// An optional variable parsed as `T`, or `default`.
    pub fn or<T>(&self, name: &str, default: T, expects: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.optional(name, expects).map(|v| v.unwrap_or(default))
    }

    /// An optional variable parsed as `T`.
    pub fn optional<T>(&self, name: &str, expects: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(name).map(|v| parse(name, &v, expects)).transpose()
    }

    /// A duration in milliseconds, or `default`.
    pub fn millis(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        Ok(self
            .optional::<u64>(name, "a whole number of milliseconds")?
            .map(Duration::from_millis)
            .unwrap_or(default))
    }
}

fn parse<T>(name: &str, value: &str, expects: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    value.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
        name: name.into(),
        value: value.into(),
        expects: expects.into(),
        reason: e.to_string(),
    })
}

/// Settings every service shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `SERVICE_NAME`: used in logs, traces and CloudEvents `ce_source`.
    pub service_name: String,
    /// `GRPC_ADDR`: where the gRPC server listens.
    pub grpc_addr: std::net::SocketAddr,
    /// `KAFKA_BROKERS`: bootstrap servers.
    pub kafka_brokers: String,
    /// `KAFKA_TOPIC_SUFFIX`: appended to every topic name (default empty); tests use it to
    /// give each app its own topics.
    pub topic_suffix: String,
    /// `METRICS_ADDR`: where `GET /metrics` is served (default: the gRPC address with its
    /// port + 1000); `off` serves none and records nothing.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `KAFKA_STATISTICS_INTERVAL_MS`: how often each consumer reports its lag per partition
    /// (`messaging_kafka_consumer_lag`; default 2000).
    pub kafka_statistics_interval: Duration,
}

impl CommonConfig {
    pub fn from_env(env: &Env, service: &str, default_port: u16) -> Result<Self, ConfigError> {
        let grpc_addr = env.or(
            "GRPC_ADDR",
            std::net::SocketAddr::from(([127, 0, 0, 1], default_port)),
            "a socket address such as 0.0.0.0:50051",
        )?;
        Ok(Self {
            service_name: env.or("SERVICE_NAME", service.to_owned(), "a service name")?,
            grpc_addr,
            kafka_brokers: env.or(
                "KAFKA_BROKERS",
                "127.0.0.1:59092".to_owned(),
                "host:port[,host:port]",
            )?,
            topic_suffix: env.or("KAFKA_TOPIC_SUFFIX", String::new(), "a topic name suffix")?,
            metrics_addr: metrics_addr(env, crate::metrics::default_addr(grpc_addr))?,
            kafka_statistics_interval: env.millis(
                "KAFKA_STATISTICS_INTERVAL_MS",
                crate::metrics::KAFKA_STATISTICS_INTERVAL,
            )?,
        })
    }
}

/// `METRICS_ADDR`: a socket address, or `off`; `default` when unset.
pub fn metrics_addr(
    env: &Env,
    default: std::net::SocketAddr,
) -> Result<Option<std::net::SocketAddr>, ConfigError> {
    match env.raw("METRICS_ADDR") {
        Some(v) if v.trim().eq_ignore_ascii_case("off") => Ok(None),
        Some(_) => env.optional("METRICS_ADDR", "a socket address such as 0.0.0.0:51051, or off"),
        None => Ok(Some(default)),
    }
}

/// A batching consumer's limits (`crate::batch_consumer::BatchSettings`), the same
/// variables in every service that runs one: `CONSUMER_BATCH_SIZE` (default 1000, 1 to
/// 10000), the most events applied per transaction, and `CONSUMER_BATCH_WAIT_MS` (default
/// 20), how long a batch waits to fill once its first event arrived.
pub fn consumer_batch(env: &Env) -> Result<(usize, Duration), crate::BoxError> {
    let size: usize = env.or("CONSUMER_BATCH_SIZE", 1000, "a number of events, 1 to 10000")?;
    if !(1..=10_000).contains(&size) {
        return Err(format!("CONSUMER_BATCH_SIZE={size} is invalid: expected 1 to 10000").into());
    }
    Ok((
        size,
        env.millis("CONSUMER_BATCH_WAIT_MS", Duration::from_millis(20))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_names_the_variable_and_what_it_expects() {
        let env = Env::from_pairs([("GRPC_ADDR", "not-an-address")]);
        let err = CommonConfig::from_env(&env, "auth", 50051)
            .unwrap_err()
            .to_string();
        assert!(err.contains("GRPC_ADDR"), "{err}");
        assert!(err.contains("socket address"), "{err}");
    }

    #[test]
    fn a_missing_required_value_names_the_variable() {
        let env = Env::from_pairs([]);
        let err = env
            .required::<String>("DATABASE_URL", "a postgres:// URL")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable DATABASE_URL is required: a postgres:// URL"
        );
    }

    #[test]
    fn defaults_apply_when_unset_or_blank() {
        let env = Env::from_pairs([("KAFKA_BROKERS", "  ")]);
        let cfg = CommonConfig::from_env(&env, "user", 50052).unwrap();
        assert_eq!(cfg.grpc_addr.port(), 50052);
        assert_eq!(cfg.kafka_brokers, "127.0.0.1:59092");
        assert_eq!(cfg.service_name, "user");
        assert_eq!(cfg.metrics_addr.map(|a| a.port()), Some(51052));
    }

    #[test]
    fn metrics_can_move_or_be_switched_off() {
        let moved = Env::from_pairs([("METRICS_ADDR", "0.0.0.0:9999")]);
        let cfg = CommonConfig::from_env(&moved, "user", 50052).unwrap();
        assert_eq!(cfg.metrics_addr.map(|a| a.port()), Some(9999));
        let off = Env::from_pairs([("METRICS_ADDR", "OFF")]);
        assert_eq!(
            CommonConfig::from_env(&off, "user", 50052).unwrap().metrics_addr,
            None
        );
        let bad = Env::from_pairs([("METRICS_ADDR", "nine")]);
        let err = CommonConfig::from_env(&bad, "user", 50052)
            .unwrap_err()
            .to_string();
        assert!(err.contains("METRICS_ADDR") && err.contains("or off"), "{err}");
    }
}
