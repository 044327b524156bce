//! The ledger as a file: RFC 4180 CSV (comma-separated, `"`-quoted when needed, CRLF line
//! ends) with a header row and every field of `Expense`.
//!
//! Bounded, not streamed: Kong's grpc-gateway answers a server stream as JSON objects
//! concatenated, which no JSON client reads as one file, so one answer is one message. A
//! part holds at most [`MAX_ROWS`] expenses and about [`MAX_BYTES`] of CSV — what one
//! import accepts, so every part can be imported back as it is — and a larger ledger
//! continues with a page token. Parts are cut by the same keyset as the listing (newest
//! first), so an expense recorded while a client walks the parts is never repeated or
//! skipped among the older ones.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::{
    error::{ExpenseError, FieldError},
    expense::Expense,
    listing::{Cursor, ListInput, ListQuery},
};

/// Expenses in one part.
pub const MAX_ROWS: usize = 10_000;
/// CSV bytes in one part (a part always holds at least one expense, whatever its size).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The columns, in order: the fields of `Expense` as the API names them.
pub const HEADER: [&str; 14] = [
    "id",
    "user_id",
    "amount",
    "currency",
    "merchant",
    "category",
    "occurred_on",
    "note",
    "raw_text",
    "source",
    "confidence",
    "version",
    "created_at",
    "updated_at",
];

/// An export request, parsed: the range and where to resume, as a listing query of
/// [`MAX_ROWS`] per page.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportQuery {
    pub list: ListQuery,
}

impl ExportQuery {
    /// `format` is the proto enum number: 0 (unspecified) and 1 are CSV.
    pub fn parse(format: i32, from: &str, to: &str, page_token: &str) -> Result<Self, ExpenseError> {
        let format_error = (!matches!(format, 0 | 1)).then(|| {
            FieldError::new(
                "format",
                format!("format {format} is unknown; CSV is the only format"),
            )
        });
        let list = ListQuery::parse(ListInput {
            from,
            to,
            page_token,
            ..ListInput::default()
        });
        match (format_error, list) {
            (None, Ok(mut list)) => {
                list.page_size = MAX_ROWS;
                Ok(Self { list })
            }
            (Some(f), Ok(_)) => Err(ExpenseError::Invalid(vec![f])),
            (Some(f), Err(ExpenseError::Invalid(mut v))) => {
                v.insert(0, f);
                Err(ExpenseError::Invalid(v))
            }
            (_, Err(e)) => Err(e),
        }
    }

    /// The file's name: `expenses-<from|start>-<to|today>.csv`.
    pub fn filename(&self, today: NaiveDate) -> String {
        let from = self
            .list
            .filter
            .from
            .map(|d| d.to_string())
            .unwrap_or_else(|| "start".into());
        let to = self.list.filter.to.unwrap_or(today);
        format!("expenses-{from}-{to}.csv")
    }
}

/// One part of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvPart {
    pub content: String,
    /// Expenses written (rows after the header).
    pub rows: usize,
    /// The last expense written, when the rows given did not all fit.
    pub resume_after: Option<Cursor>,
}

/// Writes the header and as many of `expenses` as fit in [`MAX_BYTES`] and `max_rows`.
/// `more` says whether expenses beyond these exist (the part then ends with a cursor).
pub fn write_csv(expenses: &[Expense], max_rows: usize, more: bool) -> Result<CsvPart, csv::Error> {
    let mut out = record(HEADER)?;
    let mut rows = 0;
    let mut last: Option<Cursor> = None;
    for e in expenses.iter().take(max_rows) {
        let line = record(fields(e))?;
        if rows > 0 && out.len() + line.len() > MAX_BYTES {
            break;
        }
        out.extend_from_slice(&line);
        rows += 1;
        last = Some(Cursor {
            occurred_on: e.occurred_on,
            id: e.id,
        });
    }
    let complete = rows == expenses.len() && !more;
    Ok(CsvPart {
        // Every field is a Rust string: the bytes are UTF-8.
        content: String::from_utf8(out).expect("CSV of UTF-8 fields is UTF-8"),
        rows,
        resume_after: if complete { None } else { last },
    })
}

/// One CSV record, terminated by CRLF.
fn record<I, T>(fields: I) -> Result<Vec<u8>, csv::Error>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::with_capacity(256));
    w.write_record(fields)?;
    w.into_inner().map_err(|e| e.into_error().into())
}

fn fields(e: &Expense) -> [String; 14] {
    [
        e.id.to_string(),
        e.user_id.to_string(),
        e.amount.to_decimal_string(),
        e.amount.currency().code().to_owned(),
        e.merchant.as_str().to_owned(),
        e.category.as_str().to_owned(),
        e.occurred_on.format("%Y-%m-%d").to_string(),
        e.note.as_str().to_owned(),
        e.raw_text.clone(),
        e.source.as_str().to_owned(),
        e.confidence.to_string(),
        e.version.to_string(),
        rfc3339(e.created_at),
        rfc3339(e.updated_at),
    ]
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use domain::{Category, Currency, Money};
    use uuid::Uuid;

    use super::*;
    use crate::domain::{Merchant, Note, Source};

    fn expense(merchant: &str, note: &str, raw: &str, amount: &str, currency: Currency) -> Expense {
        let now = DateTime::parse_from_rfc3339("2025-03-04T05:06:07.123456Z")
            .unwrap()
            .to_utc();
        Expense {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            amount: Money::parse(amount, currency).unwrap(),
            merchant: Merchant::parse(merchant).unwrap(),
            category: Category::FoodAndDrink,
            occurred_on: "2025-03-03".parse().unwrap(),
            note: Note::parse(note).unwrap(),
            raw_text: raw.into(),
            source: Source::TextRules,
            confidence: 0.87,
            created_at: now,
            updated_at: now,
            version: 2,
        }
    }

    fn parse(content: &str) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(content.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn every_field_is_written_and_quoted_when_it_must_be() {
        let e = expense(
            "Joe's \"Diner\", Main St",
            "split with\nAsha",
            "spent 1,250 at Joe's",
            "1.250",
            Currency::parse("BHD").unwrap(),
        );
        let part = write_csv(std::slice::from_ref(&e), MAX_ROWS, false).unwrap();
        assert_eq!(part.rows, 1);
        assert_eq!(part.resume_after, None);
        assert!(part.content.starts_with(&(HEADER.join(",") + "\r\n")));
        assert!(part.content.contains("\"Joe's \"\"Diner\"\", Main St\""));
        let rows = parse(&part.content);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], HEADER);
        assert_eq!(
            rows[1],
            [
                e.id.to_string(),
                e.user_id.to_string(),
                "1.250".into(),
                "BHD".into(),
                "Joe's \"Diner\", Main St".into(),
                "FOOD_AND_DRINK".into(),
                "2025-03-03".into(),
                "split with\nAsha".into(),
                "spent 1,250 at Joe's".into(),
                "TEXT_RULES".into(),
                "0.87".into(),
                "2".into(),
                "2025-03-04T05:06:07.123456Z".into(),
                "2025-03-04T05:06:07.123456Z".into(),
            ]
        );
    }

    #[test]
    fn a_part_stops_at_its_row_limit_and_says_where_to_resume() {
        let all: Vec<Expense> = (0..5)
            .map(|_| expense("Subway", "", "", "12.50", Currency::USD))
            .collect();
        let part = write_csv(&all[..3], 3, true).unwrap();
        assert_eq!(part.rows, 3);
        assert_eq!(part.resume_after.unwrap().id, all[2].id);
        assert_eq!(parse(&part.content).len(), 4);
        // Everything given, nothing more: complete.
        let part = write_csv(&all, 10, false).unwrap();
        assert_eq!((part.rows, part.resume_after), (5, None));
    }

    #[test]
    fn a_part_stops_before_its_byte_limit_but_holds_at_least_one_expense() {
        let big = "x".repeat(600 * 1024);
        let all: Vec<Expense> = (0..5)
            .map(|_| expense("Subway", "", &big, "12.50", Currency::USD))
            .collect();
        let part = write_csv(&all, MAX_ROWS, false).unwrap();
        assert_eq!(part.rows, 3, "three of 600 KiB fit in 2 MiB, four do not");
        assert!(part.content.len() <= MAX_BYTES);
        assert_eq!(part.resume_after.unwrap().id, all[2].id);

        let huge = "x".repeat(MAX_BYTES + 1);
        let one = [expense("Subway", "", &huge, "12.50", Currency::USD)];
        let part = write_csv(&one, MAX_ROWS, false).unwrap();
        assert_eq!((part.rows, part.resume_after), (1, None));
    }

    #[test]
    fn requests_are_checked_field_by_field() {
        let e = ExportQuery::parse(7, "2025-13-01", "", "").unwrap_err();
        assert_eq!(e.fields(), vec!["format", "from"]);
        let e = ExportQuery::parse(1, "", "", "garbage").unwrap_err();
        assert_eq!(e.fields(), vec!["page_token"]);
        let q = ExportQuery::parse(0, "2025-01-01", "2025-06-30", "").unwrap();
        assert_eq!(q.list.page_size, MAX_ROWS);
        assert_eq!(
            q.filename("2026-01-01".parse().unwrap()),
            "expenses-2025-01-01-2025-06-30.csv"
        );
        let q = ExportQuery::parse(1, "", "", "").unwrap();
        assert_eq!(
            q.filename("2026-01-01".parse().unwrap()),
            "expenses-start-2026-01-01.csv"
        );
    }
}
