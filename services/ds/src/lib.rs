//! ds-service: turns a sentence about a purchase into a structured expense.

pub mod domain;
