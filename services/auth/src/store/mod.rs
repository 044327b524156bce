//! Postgres storage: the schema (as `diesel print-schema` writes it), rows, and queries.

pub mod models;
pub mod queries;
pub mod schema;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};

/// auth-service's own migrations; `platform::db::migrate` runs the platform's first.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
