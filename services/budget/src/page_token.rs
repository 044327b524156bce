//! ListAlerts' keyset page tokens: the (created_at, id) of the last alert of a page,
//! base64url so clients treat it as opaque.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::FieldError;

pub fn encode(created_at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("a1:{}:{id}", created_at.timestamp_micros()))
}

/// The position a token names; empty is the first page.
pub fn decode(token: &str) -> Result<Option<(DateTime<Utc>, Uuid)>, FieldError> {
    if token.is_empty() {
        return Ok(None);
    }
    let refused = || {
        FieldError::new(
            "page_token",
            "is not a token this service issued; send the next_page_token of the previous page, or none for the first",
        )
    };
    let text = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(refused)?;
    let mut parts = text.splitn(3, ':');
    let (Some("a1"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refused());
    };
    let at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(refused)?;
    let id = Uuid::parse_str(id).map_err(|_| refused())?;
    Ok(Some((at, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        let at = DateTime::from_timestamp_micros(1_764_633_600_123_456).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(at, id)).unwrap(), Some((at, id)));
        assert_eq!(decode("").unwrap(), None);
        for bad in [
            "x",
            "!!!",
            &URL_SAFE_NO_PAD.encode("a1:abc:def"),
            &URL_SAFE_NO_PAD.encode("b2:1:x"),
        ] {
            assert_eq!(decode(bad).unwrap_err().field, "page_token", "{bad}");
        }
    }
}
