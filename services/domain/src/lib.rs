//! Shared domain types of the expense tracker.
//!
//! "Parse, don't validate": every type keeps its fields private and can only be built
//! through a constructor that checks its input, so a value of one of these types is
//! valid wherever it travels. Constructors fail with [`DomainError`], whose messages
//! tell a person what to change.
//!
//! No transport or storage concern lives here (no tonic, diesel or rdkafka): the
//! services map these types to proto messages and database rows at their edges.

mod category;
mod currency;
mod email;
mod error;
pub mod merchant_key;
mod money;

pub use category::Category;
pub use currency::Currency;
pub use email::Email;
pub use error::DomainError;
pub use merchant_key::merchant_key;
pub use money::{format_minor, Money, MAX_MAJOR_UNITS};
