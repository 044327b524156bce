//! Listing: filters, page size and the opaque keyset cursor.
//!
//! Pages are cut by keyset, not OFFSET: a page token carries the sort key of the last row
//! sent, `(occurred_on, id)`, and the next page is "rows strictly after it in
//! `occurred_on DESC, id DESC` order". An expense added meanwhile either sorts before the
//! cursor (newer: it is not on later pages and shifts nothing) or after it (it shows up in
//! its place); no row is ever skipped or repeated.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::NaiveDate;
use domain::{Category, Currency};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    error::{ExpenseError, FieldError, Violations},
    fields,
};

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 500;

/// The filters of a list request, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<Category>,
    /// Case-insensitive substring; trimmed, never empty.
    pub merchant: Option<String>,
    pub currency: Option<Currency>,
    /// Inclusive bounds in minor units of `currency`.
    pub min_minor: Option<i64>,
    pub max_minor: Option<i64>,
}

/// Where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_on: NaiveDate,
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: ListFilter,
    pub page_size: usize,
    pub after: Option<Cursor>,
}

/// A list request, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListInput<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub category: i32,
    pub merchant: &'a str,
    pub min_amount: &'a str,
    pub max_amount: &'a str,
    pub currency: &'a str,
    pub page_size: i32,
    pub page_token: &'a str,
}

/// Inclusive date bounds; empty means unbounded. Shared with summaries.
pub(crate) fn date_range(v: &mut Violations, from: &str, to: &str) -> (Option<NaiveDate>, Option<NaiveDate>) {
    let parse = |field, s: &str| (!s.trim().is_empty()).then(|| fields::date(field, s)).transpose();
    let from = v.check(parse("from", from)).flatten();
    let to = v.check(parse("to", to)).flatten();
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            v.push(FieldError::new("from", format!("from {f} is after to {t}")));
        }
    }
    (from, to)
}

/// An optional currency filter; empty means any.
pub(crate) fn optional_currency(v: &mut Violations, s: &str) -> Option<Currency> {
    if s.trim().is_empty() {
        None
    } else {
        v.check(fields::currency("currency", s))
    }
}

impl ListQuery {
    pub fn parse(input: ListInput<'_>) -> Result<Self, ExpenseError> {
        let mut v = Violations::default();
        let (from, to) = date_range(&mut v, input.from, input.to);
        let category = v.check(fields::category("category", input.category)).flatten();
        let merchant = Some(input.merchant.trim())
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        if let Some(m) = &merchant {
            if m.chars().count() > fields::MERCHANT_MAX_CHARS {
                v.push(FieldError::new(
                    "merchant",
                    format!(
                        "merchant filter is longer than {} characters",
                        fields::MERCHANT_MAX_CHARS
                    ),
                ));
            }
            // No stored merchant holds one (they are refused or replaced), and Postgres
            // refuses NUL in a text parameter: it would be an internal error, not a 400.
            if m.chars().any(char::is_control) {
                v.push(FieldError::new(
                    "merchant",
                    "merchant filter must not contain control characters",
                ));
            }
        }
        let currency = optional_currency(&mut v, input.currency);
        let mut bound = |field: &'static str, s: &str| -> Option<i64> {
            if s.trim().is_empty() {
                return None;
            }
            match currency {
                Some(c) => v.check(fields::amount(field, s, c)).map(|m| m.minor()),
                None if input.currency.trim().is_empty() => {
                    v.push(FieldError::new(
                        field,
                        format!("{field} needs currency: amounts are only comparable within one currency"),
                    ));
                    None
                }
                // The currency itself is invalid and already reported.
                None => None,
            }
        };
        let min_minor = bound("min_amount", input.min_amount);
        let max_minor = bound("max_amount", input.max_amount);
        if let (Some(lo), Some(hi)) = (min_minor, max_minor) {
            if lo > hi {
                v.push(FieldError::new("min_amount", "min_amount is above max_amount"));
            }
        }
        let page_size = match input.page_size {
            0 => Some(DEFAULT_PAGE_SIZE),
            n if n < 0 => {
                v.push(FieldError::new("page_size", format!("page_size {n} is negative")));
                None
            }
            n if n as usize > MAX_PAGE_SIZE => {
                v.push(FieldError::new(
                    "page_size",
                    format!("page_size {n} is above the maximum of {MAX_PAGE_SIZE}"),
                ));
                None
            }
            n => Some(n as usize),
        };
        let filter = ListFilter {
            from,
            to,
            category,
            merchant,
            currency,
            min_minor,
            max_minor,
        };
        // The token is checked against the filters only once they are valid.
        let after = if input.page_token.trim().is_empty() {
            None
        } else if v.is_empty() {
            v.check(PageToken::decode(input.page_token.trim(), &filter))
        } else {
            None
        };
        v.finish()?;
        Ok(Self {
            filter,
            page_size: page_size.expect("checked"),
            after,
        })
    }
}

impl ListFilter {
    /// A stable fingerprint of the filters, so a token is only honoured with the filters it
    /// was issued for (the same position means something else under other filters).
    fn fingerprint(&self) -> String {
        let canonical = format!(
            "v1|{}|{}|{}|{}|{}|{}|{}",
            opt(self.from),
            opt(self.to),
            self.category.map(|c| c.as_str()).unwrap_or(""),
            self.merchant
                .as_deref()
                .map(str::to_lowercase)
                .unwrap_or_default(),
            self.currency.map(|c| c.code()).unwrap_or(""),
            opt(self.min_minor),
            opt(self.max_minor),
        );
        let digest = Sha256::digest(canonical.as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The wire form of a page token: base64url (no padding) of this JSON. Not a secret: it
/// only says where to resume in the caller's own expenses (the user always comes from the
/// access token), so tampering can at worst skip ahead in one's own list.
#[derive(Debug, Serialize, Deserialize)]
struct PageToken {
    /// occurred_on of the last row sent.
    d: NaiveDate,
    /// id of the last row sent.
    i: Uuid,
    /// Fingerprint of the filters.
    f: String,
}

impl PageToken {
    fn decode(token: &str, filter: &ListFilter) -> Result<Cursor, FieldError> {
        let invalid = || FieldError::new("page_token", "page_token is invalid");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let t: PageToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if t.f != filter.fingerprint() {
            return Err(FieldError::new(
                "page_token",
                "page_token was issued for other filters; send the same filters as the first page, \
                 or start again without a page_token",
            ));
        }
        Ok(Cursor {
            occurred_on: t.d,
            id: t.i,
        })
    }
}

/// The token of the page after `last`.
pub fn next_page_token(filter: &ListFilter, last: Cursor) -> String {
    let t = PageToken {
        d: last.occurred_on,
        i: last.id,
        f: filter.fingerprint(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&t).expect("serialisable"))
}

/// `s` with LIKE's wildcards (`%`, `_`) and its escape character (`\`) escaped, so a
/// merchant filter of "50%" matches the text "50%", not "50 anything".
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(input: ListInput<'_>) -> Result<ListQuery, ExpenseError> {
        ListQuery::parse(input)
    }

    #[test]
    fn defaults() {
        let l = q(ListInput::default()).unwrap();
        assert_eq!(l.page_size, 50);
        assert_eq!(l.filter, ListFilter::default());
        assert_eq!(l.after, None);
    }

    #[test]
    fn bad_filters_name_their_field() {
        let cases: [(ListInput<'_>, &str); 10] = [
            (
                ListInput {
                    from: "2025-02-30",
                    ..Default::default()
                },
                "from",
            ),
            (
                ListInput {
                    to: "soon",
                    ..Default::default()
                },
                "to",
            ),
            (
                ListInput {
                    from: "2025-03-02",
                    to: "2025-03-01",
                    ..Default::default()
                },
                "from",
            ),
            (
                ListInput {
                    category: 77,
                    ..Default::default()
                },
                "category",
            ),
            (
                ListInput {
                    currency: "EURO",
                    ..Default::default()
                },
                "currency",
            ),
            (
                ListInput {
                    min_amount: "5",
                    ..Default::default()
                },
                "min_amount",
            ),
            (
                ListInput {
                    max_amount: "5.123",
                    currency: "USD",
                    ..Default::default()
                },
                "max_amount",
            ),
            (
                ListInput {
                    min_amount: "9",
                    max_amount: "5",
                    currency: "USD",
                    ..Default::default()
                },
                "min_amount",
            ),
            (
                ListInput {
                    page_size: -1,
                    ..Default::default()
                },
                "page_size",
            ),
            (
                ListInput {
                    page_size: 501,
                    ..Default::default()
                },
                "page_size",
            ),
        ];
        for (input, field) in cases {
            let e = q(input).unwrap_err();
            assert_eq!(e.fields(), vec![field], "{input:?}: {e}");
        }
    }

    #[test]
    fn a_token_round_trips_only_with_the_same_filters() {
        let input = ListInput {
            merchant: "SubWay",
            currency: "usd",
            min_amount: "1",
            ..Default::default()
        };
        let first = q(input).unwrap();
        let cursor = Cursor {
            occurred_on: NaiveDate::from_ymd_opt(2025, 1, 2).unwrap(),
            id: Uuid::now_v7(),
        };
        let token = next_page_token(&first.filter, cursor);
        // Case of the merchant filter does not matter (the match is case-insensitive).
        let next = q(ListInput {
            page_token: &token,
            merchant: "subway",
            page_size: 10,
            ..input
        })
        .unwrap();
        assert_eq!(next.after, Some(cursor));
        let other = q(ListInput {
            page_token: &token,
            min_amount: "2",
            ..input
        })
        .unwrap_err();
        assert!(other.to_string().contains("other filters"), "{other}");
        for garbage in ["x", "!!!", "eyJhIjoxfQ", &token[1..]] {
            let e = q(ListInput {
                page_token: garbage,
                ..input
            })
            .unwrap_err();
            assert_eq!(e.to_string(), "page_token is invalid", "{garbage}");
        }
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
