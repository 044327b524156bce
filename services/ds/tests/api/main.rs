//! ds-service end to end: the real server on port 0 with its own Kafka topics and a fresh
//! database, the real user-service (own database) or a fake one, and a fake Mistral on
//! loopback.

mod extraction;
mod helpers;
mod llm;
mod memory;
mod profiles;
mod retries;
mod rules;
mod security;
