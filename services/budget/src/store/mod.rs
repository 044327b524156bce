//! budget-service's tables in Postgres.

pub mod models;
pub mod queries;
pub mod schema;
