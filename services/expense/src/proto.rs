//! Domain ↔ proto: the `Expense` message, as the API answers it and change events carry it,
//! and an `ExpenseExtracted` read as the domain's input.

use chrono::{DateTime, Utc};
use contracts::{events::ExpenseExtracted, expense as pb};

use crate::domain::{recurring::Series, Expense, ExtractedInput};

pub fn expense(e: &Expense) -> pb::Expense {
    pb::Expense {
        id: e.id.to_string(),
        user_id: e.user_id.to_string(),
        amount: e.amount.to_decimal_string(),
        currency: e.amount.currency().code().to_owned(),
        merchant: e.merchant.as_str().to_owned(),
        category: e.category.proto_number(),
        occurred_on: e.occurred_on.format("%Y-%m-%d").to_string(),
        note: e.note.as_str().to_owned(),
        raw_text: e.raw_text.clone(),
        source: e.source.proto_number(),
        confidence: e.confidence,
        created_at: Some(timestamp(e.created_at)),
        updated_at: Some(timestamp(e.updated_at)),
        version: e.version,
    }
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

/// A proto timestamp as a time; `None` when absent or out of range.
pub fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// The fields of an `ExpenseExtracted` as the domain's input (the consumer, its bench and
/// its property tests read events the same way).
pub fn extracted_input(e: &ExpenseExtracted) -> ExtractedInput<'_> {
    ExtractedInput {
        expense_id: &e.expense_id,
        user_id: &e.user_id,
        amount: &e.amount,
        currency: &e.currency,
        merchant: &e.merchant,
        category: e.category,
        occurred_on: &e.occurred_on,
        raw_text: &e.raw_text,
        source: e.source,
        confidence: e.confidence,
        extractor: &e.extractor,
    }
}

/// A recurring series as the API answers it.
pub fn series(s: &Series) -> pb::Series {
    let date = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    pb::Series {
        merchant: s.merchant.clone(),
        category: s.category.proto_number(),
        currency: s.currency.code().to_owned(),
        typical_amount: s.typical_amount.to_decimal_string(),
        cadence: s.cadence.proto_number(),
        count: i32::try_from(s.expense_ids.len()).unwrap_or(i32::MAX),
        first_on: date(s.first_on),
        last_on: date(s.last_on),
        next_expected_on: date(s.next_expected_on),
        expense_ids: s.expense_ids.iter().map(ToString::to_string).collect(),
    }
}
