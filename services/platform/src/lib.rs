//! The shared runtime of every expense-tracker service, written once: configuration,
//! telemetry, gRPC server assembly with JWT verification, Postgres, Kafka (producer,
//! at-least-once consumer, dead-lettering), the transactional outbox and idempotent
//! consumption, safe retries of creating RPCs (`request_id`), Prometheus metrics, and one error type mapped to `tonic::Status`.

pub mod app;
pub mod batch_consumer;
pub mod config;
pub mod db;
pub mod error;
pub mod grpc;
pub mod idempotency;
pub mod jwt;
pub mod kafka;
pub mod metrics;
pub mod outbox;
pub mod profile;
pub mod requests;
mod schema;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, Result};

/// A boxed error for start-up paths, where any failure ends the process with its message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
