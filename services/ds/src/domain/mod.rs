//! The ds domain: text in, expense out. No transport, storage or broker code here.

pub mod extract;

pub use extract::{extract, ExtractContext, Extraction, Rejection};
