//! The caller's currency and time zone, from user-service (`GetUser` on the caller's
//! behalf: their own token and the current trace context travel with the call). One copy
//! for every service that needs them (ds-service's extraction defaults, budget-service's
//! "today").
//!
//! The profile only supplies defaults, so the call is short and failure is not an error:
//! the caller gets the configured defaults and a warning saying why.

use std::time::Duration;

use crate::{
    jwt::Caller,
    telemetry::{inject, MetadataCarrier},
    BoxError,
};
use chrono_tz::Tz;
use contracts::user::{user_service_client::UserServiceClient, GetUserRequest};
use domain::Currency;
use tonic::{metadata::MetadataValue, transport::Channel, Code};
use tracing::Instrument;

/// What the profile says; a value that does not parse is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub currency: Option<Currency>,
    pub zone: Option<Tz>,
}

/// Why the profile could not be read, worded for the caller's warnings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileUnavailable {
    #[error("user-service did not answer within {0} ms")]
    Timeout(u64),
    #[error("user-service is unreachable")]
    Unreachable,
    #[error("your profile was not found")]
    NotFound,
    #[error("user-service answered {0:?}")]
    Failed(Code),
}

/// A user-service client with a short deadline.
#[derive(Debug, Clone)]
pub struct Profiles {
    client: UserServiceClient<Channel>,
    timeout: Duration,
}

impl Profiles {
    /// Connects lazily: user-service may start after its callers, or be down for a while.
    pub fn new(addr: &str, timeout: Duration) -> Result<Self, BoxError> {
        let channel = Channel::from_shared(addr.to_owned())
            .map_err(|e| format!("USER_SERVICE_ADDR={addr:?} is invalid: {e}"))?
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        Ok(Self {
            client: UserServiceClient::new(channel),
            timeout,
        })
    }

    /// The caller's preferences, within the deadline.
    pub async fn preferences(&self, caller: &Caller) -> Result<Preferences, ProfileUnavailable> {
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = "expense_tracker.user.v1.UserService/GetUser",
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.method = "/expense_tracker.user.v1.UserService/GetUser",
        );
        let mut req = tonic::Request::new(GetUserRequest {
            user_id: caller.user_id.to_string(),
        });
        // Tells user-service to give up too (grpc-timeout).
        req.set_timeout(self.timeout);
        let bearer = MetadataValue::try_from(format!("Bearer {}", caller.token))
            .map_err(|_| ProfileUnavailable::Failed(Code::Unauthenticated))?;
        req.metadata_mut().insert("authorization", bearer);
        inject(&span, &mut MetadataCarrier(req.metadata_mut()));

        let timeout_ms = self.timeout.as_millis() as u64;
        let mut client = self.client.clone();
        let started = std::time::Instant::now();
        let answer = tokio::time::timeout(self.timeout, client.get_user(req))
            .instrument(span)
            .await;
        let code = match &answer {
            Err(_) => Code::DeadlineExceeded,
            Ok(Err(status)) => status.code(),
            Ok(Ok(_)) => Code::Ok,
        };
        crate::metrics::rpc_client("expense_tracker.user.v1.UserService", "GetUser", code, started);
        let profile = match answer {
            Err(_) => return Err(ProfileUnavailable::Timeout(timeout_ms)),
            Ok(Err(status)) => {
                return Err(match status.code() {
                    Code::NotFound => ProfileUnavailable::NotFound,
                    // tonic servers answer CANCELLED ("Timeout expired") when the
                    // grpc-timeout we sent runs out; we never cancel a call ourselves.
                    Code::DeadlineExceeded | Code::Cancelled => ProfileUnavailable::Timeout(timeout_ms),
                    Code::Unavailable => ProfileUnavailable::Unreachable,
                    code => ProfileUnavailable::Failed(code),
                });
            }
            Ok(Ok(r)) => r.into_inner(),
        };
        Ok(Preferences {
            currency: Currency::parse(&profile.default_currency).ok(),
            zone: profile.timezone.trim().parse().ok(),
        })
    }
}
