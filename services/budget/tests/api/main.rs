//! budget-service against the real PostgreSQL and Kafka (`scripts/infra.sh up`): one
//! fresh database and topic namespace per test.

mod alerts;
mod budgets;
mod consumers;
mod helpers;
mod projection;
mod spending;
