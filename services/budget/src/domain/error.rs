//! Why a request about budgets was refused.

use std::fmt;

/// One refused field: its proto name and what is wrong with it, worded for a person.
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

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// Every violation of the request, so a client can fix them all at once.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such budget *for this caller*: another user's budget looks exactly like a
    /// missing one, so ids cannot be probed.
    #[error("budget not found")]
    NotFound,
    /// The caller already has the most budgets one may have.
    #[error("you already have {0} budgets, the most one account may have; delete one first")]
    TooMany(usize),
}

impl BudgetError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// Collects the errors of several parsed fields into one error, or none.
    pub fn collect(errors: impl IntoIterator<Item = FieldError>) -> Result<(), Self> {
        let errors: Vec<FieldError> = errors.into_iter().collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self::Invalid(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_violation_is_listed_with_its_field() {
        let e = BudgetError::collect([
            FieldError::new("name", "must not be empty"),
            FieldError::new("currency", "unknown currency code 'XYZ'"),
        ])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "name: must not be empty; currency: unknown currency code 'XYZ'"
        );
        assert_eq!(BudgetError::collect([]), Ok(()));
    }
}
