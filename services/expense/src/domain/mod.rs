//! Expense rules, free of transport and storage.

mod change;
mod error;
mod expense;
pub mod export;
pub mod fields;
mod listing;
pub mod recurring;
mod summary;

pub use change::{changed_fields, now, re_extracted};
pub use error::{ExpenseError, FieldError};
pub use expense::{
    parse_id, Expense, ExpenseUpdate, ExtractedInput, ManualInput, Source, UpdateInput, UPDATABLE,
};
pub use fields::{Merchant, Note};
pub use listing::{
    escape_like, next_page_token, Cursor, ListFilter, ListInput, ListQuery, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};
pub use summary::{format_minor_total, GroupBy, SummaryGroup, SummaryQuery};
