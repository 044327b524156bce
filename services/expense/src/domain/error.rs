//! Why a request about expenses was refused.

use std::fmt;

/// One refused field: its name (as in the proto) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Every message names its field: messages that do not start with the field's name get it
/// as a prefix ("currency: unknown currency code 'XYZ'…").
impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.starts_with(self.field) {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpenseError {
    /// The request is invalid; every violation is listed, not only the first, so a client
    /// can fix them all at once.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such expense *for this caller*: another user's expense is reported exactly like
    /// a missing one, so ids cannot be probed.
    #[error("expense not found")]
    NotFound,
}

impl ExpenseError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// The fields named in the error (empty for `NotFound`).
    pub fn fields(&self) -> Vec<&'static str> {
        match self {
            Self::Invalid(v) => v.iter().map(|e| e.field).collect(),
            Self::NotFound => vec![],
        }
    }
}

/// Collects field errors while a request is parsed, so every violation is reported.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<FieldError>);

impl Violations {
    /// Keeps the value, or records the error and returns `None`.
    pub fn check<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<(), ExpenseError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ExpenseError::Invalid(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_names_its_field_once() {
        let e = ExpenseError::Invalid(vec![
            FieldError::new("currency", "currency is required"),
            FieldError::new("merchant", "must not contain control characters"),
        ]);
        assert_eq!(
            e.to_string(),
            "currency is required; merchant: must not contain control characters"
        );
        assert_eq!(e.fields(), vec!["currency", "merchant"]);
    }
}
