//! One error type for every service, mapped once to `tonic::Status` and, through the same
//! table, to the HTTP status Kong's grpc-gateway plugin answers with.
//!
//! Causes of internal errors are logged where they are converted, never sent to clients.

use std::time::Duration;

use tonic::{Code, Status};

/// What went wrong, in terms a client can act on. The message of every variant but
/// `Internal` and `Unavailable` is shown to the client as-is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message names the field and what it expects.
    #[error("{0}")]
    InvalidArgument(String),
    /// The addressed resource does not exist for this caller.
    #[error("{0}")]
    NotFound(String),
    /// The resource to create exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// Missing or invalid credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials, but not allowed.
    #[error("{0}")]
    PermissionDenied(String),
    /// Throttled; retry after the delay.
    #[error("{message}")]
    ResourceExhausted { message: String, retry_after: Duration },
    /// A dependency (database, broker, another service) is unreachable; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected state. The cause is logged; the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidArgument(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::Unavailable(msg.into())
    }

    /// The gRPC code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::NotFound(_) => Code::NotFound,
            Error::AlreadyExists(_) => Code::AlreadyExists,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::ResourceExhausted { .. } => Code::ResourceExhausted,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Status::internal("internal error; it has been logged")
            }
            Error::Unavailable(msg) => {
                tracing::warn!(error = %msg, "dependency unavailable");
                Status::unavailable(msg)
            }
            Error::ResourceExhausted { message, retry_after } => {
                use tonic_types::{ErrorDetails, StatusExt};
                let details = ErrorDetails::with_retry_info(Some(retry_after));
                let mut status = Status::with_error_details(Code::ResourceExhausted, message, details);
                // Plain header too, for clients (and the edge) that don't decode details.
                if let Ok(v) = retry_after.as_secs().max(1).to_string().parse() {
                    status.metadata_mut().insert("retry-after", v);
                }
                status
            }
            other => Status::new(other.code(), other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as D};
        match &err {
            D::NotFound => Error::NotFound("not found".into()),
            D::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, _) => {
                Error::Unavailable("the database is unavailable; retry later".into())
            }
            D::DatabaseError(K::SerializationFailure, _) => {
                Error::Unavailable("concurrent update conflict; retry".into())
            }
            // The server shutting down or restarting under a query (SQLSTATE 57P01–57P03,
            // which diesel reports as Unknown): the database is away, not a bug.
            D::DatabaseError(_, info) if is_server_going_away(info.message()) => {
                Error::Unavailable("the database is unavailable; retry later".into())
            }
            _ => Error::Internal(err.to_string()),
        }
    }
}

/// PostgreSQL's messages for admin_shutdown, crash_shutdown and cannot_connect_now.
fn is_server_going_away(message: &str) -> bool {
    message.starts_with("terminating connection due to administrator command")
        || message.starts_with("terminating connection because of crash of another server process")
        || message.starts_with("the database system is shutting down")
        || message.starts_with("the database system is starting up")
        || message.starts_with("the database system is in recovery mode")
}

impl From<crate::db::PoolError> for Error {
    fn from(err: crate::db::PoolError) -> Self {
        crate::metrics::pool_error(&err);
        tracing::warn!(error = %err, "database pool");
        Error::Unavailable("the database is unavailable; retry later".into())
    }
}

/// Kong's grpc-gateway table: the HTTP status a gRPC code is answered with at the edge.
pub fn http_status(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::Unknown => 500,
        Code::InvalidArgument => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::FailedPrecondition => 400,
        Code::Aborted => 409,
        Code::OutOfRange => 400,
        Code::Unimplemented => 500,
        Code::Internal => 500,
        Code::Unavailable => 503,
        Code::DataLoss => 500,
        Code::Unauthenticated => 401,
    }
}

/// The canonical upper-snake name of a gRPC code ("INVALID_ARGUMENT"), used in JSON error bodies.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kongs_table_maps_the_codes_clients_see_most() {
        assert_eq!(http_status(Code::InvalidArgument), 400);
        assert_eq!(http_status(Code::NotFound), 404);
        assert_eq!(http_status(Code::AlreadyExists), 409);
        assert_eq!(http_status(Code::PermissionDenied), 403);
        assert_eq!(http_status(Code::ResourceExhausted), 429);
        assert_eq!(http_status(Code::Unavailable), 503);
        assert_eq!(http_status(Code::Unauthenticated), 401);
        assert_eq!(http_status(Code::Cancelled), 499);
        assert_eq!(http_status(Code::DeadlineExceeded), 504);
    }

    #[test]
    fn a_server_shutting_down_under_a_query_is_unavailable() {
        use diesel::result::{DatabaseErrorKind, Error as D};
        let db = |m: &str| D::DatabaseError(DatabaseErrorKind::Unknown, Box::new(m.to_owned()));
        let e = Error::from(db("terminating connection due to administrator command"));
        assert_eq!(e.code(), Code::Unavailable, "{e:?}");
        let e = Error::from(db("the database system is shutting down"));
        assert_eq!(e.code(), Code::Unavailable, "{e:?}");
        let e = Error::from(db("relation \"expenses\" does not exist"));
        assert_eq!(e.code(), Code::Internal, "{e:?}");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let status = Status::from(Error::internal("password=hunter2 leaked in cause"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }

    #[test]
    fn throttling_carries_retry_info() {
        use tonic_types::StatusExt;
        let status = Status::from(Error::ResourceExhausted {
            message: "too many attempts".into(),
            retry_after: Duration::from_secs(4),
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        let info = status.get_details_retry_info().expect("retry info");
        assert_eq!(info.retry_delay, Some(Duration::from_secs(4)));
        assert_eq!(status.metadata().get("retry-after").unwrap(), "4");
    }
}
