//! ds-service's errors about rules, mapped once to platform's codes.

use uuid::Uuid;

use crate::memory::{RuleInputError, MAX_RULES_PER_USER};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    RuleInput(#[from] RuleInputError),
    #[error("id {0:?} is not a rule id (a UUID, as ListExtractionRules shows)")]
    RuleId(String),
    #[error("you have no extraction rule {0}")]
    RuleNotFound(Uuid),
    #[error(
        "you already have {MAX_RULES_PER_USER} extraction rules, the most one user can have; delete some first (DELETE /v1/extraction-rules/{{id}})"
    )]
    TooManyRules,
    #[error("this account has been deleted")]
    AccountDeleted,
    #[error(transparent)]
    Platform(#[from] platform::Error),
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        Error::Platform(e.into())
    }
}

impl From<platform::db::PoolError> for Error {
    fn from(e: platform::db::PoolError) -> Self {
        Error::Platform(e.into())
    }
}

impl From<Error> for platform::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::RuleInput(_) | Error::RuleId(_) => platform::Error::invalid(e.to_string()),
            Error::RuleNotFound(_) => platform::Error::not_found(e.to_string()),
            // Waiting does not lift the limit: no retry delay worth announcing.
            Error::TooManyRules => platform::Error::ResourceExhausted {
                message: e.to_string(),
                retry_after: std::time::Duration::ZERO,
            },
            Error::AccountDeleted => platform::Error::PermissionDenied(e.to_string()),
            Error::Platform(p) => p,
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        platform::Error::from(e).into()
    }
}
