//! Identity rules, free of transport and storage: what a valid signup is, how passwords
//! are hashed and checked, how tokens are minted, and when login attempts are throttled.
//!
//! Nothing here imports tonic, diesel or rdkafka; `grpc.rs` and `store/` map these types
//! to proto messages and rows.

pub mod keys;
pub mod password;
pub mod profile;
pub mod throttle;
pub mod tokens;

pub use domain::Email;
pub use keys::{KeyError, PublicKey, SigningKey, SigningKeys};
pub use password::{Password, PasswordError, PasswordHasher};
pub use profile::{DisplayName, NewAccount, ProfileError, TimeZone};
pub use throttle::{AttemptState, ThrottlePolicy};
pub use tokens::{AccessToken, AccessTokenIssuer, RefreshToken, RefreshTokenError};
