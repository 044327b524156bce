//! The edge over HTTP, against fake gRPC services: one test binary (zero-to-production's
//! layout), test names read as sentences.

mod auth;
mod bad_input;
mod budgets;
mod errors;
mod health;
mod helpers;
mod kong_config;
mod limits;
mod propagation;
mod rules;
mod security;
mod transcoding;
