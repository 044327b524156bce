//! user-service against the real PostgreSQL and Kafka: the app is spawned on port 0 with a
//! fresh database and its own topics.

mod bad_input;
mod helpers;
mod profiles;
mod security;
