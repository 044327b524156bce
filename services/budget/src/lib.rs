//! budget-service: budgets per week or month, their spending from a projection of the
//! owner's expenses (built from `ExpenseChanged`), and alerts once per threshold.

pub mod config;

use diesel_migrations::{embed_migrations, EmbeddedMigrations};

pub use config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
