//! auth-service API tests: the real server on port 0, against the project's real
//! PostgreSQL and Kafka (`scripts/infra.sh up`; `eval "$(scripts/infra.sh env)"`). Each
//! test gets a fresh database and its own topics. One binary, test names read as sentences.

mod hashing;
mod helpers;
mod login;
mod logs;
mod outbox;
mod security;
mod signup;
mod tokens;
mod user_deleted;
