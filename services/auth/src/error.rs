//! The one error type of auth-service, mapped to `tonic::Status` through platform's table
//! (Kong's mapping). Causes of internal failures are logged by platform, never sent.

use std::time::Duration;

use tonic::Status;

/// The message of every login failure: unknown email, wrong password and disabled account
/// look the same, so the answer does not reveal which accounts exist.
pub const INVALID_CREDENTIALS: &str = "invalid email or password";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A request field is missing or invalid; the message names it.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("{INVALID_CREDENTIALS}")]
    InvalidCredentials,
    #[error("too many failed sign-in attempts; try again in {} s", whole_secs(*retry_after))]
    Throttled { retry_after: Duration },
    /// Every password-hashing slot stayed taken for the whole wait.
    #[error("too many sign-ups and sign-ins are being checked right now; retry in {} s", whole_secs(*retry_after))]
    Busy { retry_after: Duration },
    #[error("refresh token is invalid, expired or revoked; sign in again")]
    InvalidRefreshToken,
    /// Database or other infrastructure failures, already classified by platform.
    #[error(transparent)]
    Platform(#[from] platform::Error),
}

/// Seconds, rounded up (a client told "0 s" would retry too early).
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl AuthError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Platform(platform::Error::internal(cause))
    }
}

impl From<crate::hashing::HashError> for AuthError {
    fn from(e: crate::hashing::HashError) -> Self {
        match e {
            crate::hashing::HashError::Busy { retry_after } => Self::Busy { retry_after },
            crate::hashing::HashError::Failed(cause) => Self::internal(cause),
        }
    }
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Platform(e.into())
    }
}

impl From<platform::db::PoolError> for AuthError {
    fn from(e: platform::db::PoolError) -> Self {
        Self::Platform(e.into())
    }
}

impl From<AuthError> for platform::Error {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidArgument(m) => platform::Error::InvalidArgument(m),
            AuthError::EmailTaken => platform::Error::AlreadyExists(e.to_string()),
            AuthError::InvalidCredentials | AuthError::InvalidRefreshToken => {
                platform::Error::Unauthenticated(e.to_string())
            }
            AuthError::Throttled { retry_after } | AuthError::Busy { retry_after } => {
                platform::Error::ResourceExhausted {
                    message: e.to_string(),
                    retry_after,
                }
            }
            AuthError::Platform(p) => p,
        }
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Self {
        platform::Error::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn each_error_gets_its_code_and_message() {
        let cases = [
            (
                AuthError::InvalidArgument("email: is required".into()),
                Code::InvalidArgument,
                "email: is required",
            ),
            (
                AuthError::EmailTaken,
                Code::AlreadyExists,
                "an account with this email already exists",
            ),
            (
                AuthError::InvalidCredentials,
                Code::Unauthenticated,
                "invalid email or password",
            ),
            (
                AuthError::InvalidRefreshToken,
                Code::Unauthenticated,
                "refresh token is invalid",
            ),
            (
                AuthError::Throttled {
                    retry_after: Duration::from_millis(1500),
                },
                Code::ResourceExhausted,
                "try again in 2 s",
            ),
            (
                AuthError::Busy {
                    retry_after: Duration::from_secs(1),
                },
                Code::ResourceExhausted,
                "retry in 1 s",
            ),
        ];
        for (err, code, msg) in cases {
            let status = Status::from(err);
            assert_eq!(status.code(), code);
            assert!(status.message().contains(msg), "{:?}", status.message());
        }
    }

    #[test]
    fn throttling_carries_retry_info() {
        use tonic_types::StatusExt as _;
        let status = Status::from(AuthError::Throttled {
            retry_after: Duration::from_secs(4),
        });
        assert_eq!(
            status.get_details_retry_info().unwrap().retry_delay,
            Some(Duration::from_secs(4))
        );
    }

    #[test]
    fn internal_causes_are_not_sent() {
        let status = Status::from(AuthError::internal("argon2 exploded with password hunter2"));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
