//! The ds domain: text in, expense out. No transport, storage or broker code here.

pub mod extract;
pub mod input;

pub use extract::{extract, ExtractContext, Extraction, Rejection, NO_CATEGORY_WARNING, NO_DATE_WARNING};
pub use input::{ExtractionInput, InputError, MAX_REQUEST_CHARS};
