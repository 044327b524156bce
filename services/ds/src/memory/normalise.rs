//! Merchant names folded to one key. The folding lives in the domain crate because
//! expense-service groups recurring expenses by the same key the learned rules use.

pub use domain::merchant_key::{contains_words, merchant_key, words};
