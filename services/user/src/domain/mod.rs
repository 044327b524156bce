//! Profile rules, free of transport and storage.

mod profile;

pub use profile::{DisplayName, Profile, ProfileError, ProfileUpdate, TimeZone};
