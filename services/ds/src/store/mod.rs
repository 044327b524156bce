//! Each user's memory in Postgres: rules, the newest version seen of each expense, and
//! tombstones of deleted users.

pub mod models;
pub mod queries;
pub mod schema;
