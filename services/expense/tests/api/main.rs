//! expense-service against the real PostgreSQL and Kafka: the app is spawned on port 0 with
//! a fresh database and its own topics.

mod bad_input;
mod batch_consumer;
mod changes;
mod events;
mod expenses;
mod export;
mod helpers;
mod listing;
mod recurring;
mod retries;
mod security;
mod summaries;
