//! The gRPC adapter of `expense_tracker.auth.v1.AuthService`: parse the request into
//! domain types (INVALID_ARGUMENT naming the field), call [`Auth`], map the answer.
//! Every RPC is public (no bearer token).

use std::net::IpAddr;

use contracts::auth::{
    auth_service_server::AuthService, GetJwksRequest, GetJwksResponse, Jwk, LoginRequest, LogoutRequest,
    LogoutResponse, RefreshRequest, SignupRequest, TokenResponse,
};
use tonic::{Request, Response, Status};

use crate::{
    domain::{throttle::Subject, Email, NewAccount, Password, RefreshToken, RefreshTokenError},
    error::AuthError,
    service::{Auth, Session},
};

/// Method paths that need no token: all of this service's.
pub const PUBLIC_PATHS: &[&str] = &["/expense_tracker.auth.v1.AuthService/"];

/// Implements the generated `AuthService` trait over [`Auth`].
#[derive(Clone)]
pub struct AuthGrpc {
    auth: Auth,
}

impl AuthGrpc {
    pub fn new(auth: Auth) -> Self {
        Self { auth }
    }
}

fn invalid(msg: impl Into<String>) -> Status {
    AuthError::InvalidArgument(msg.into()).into()
}

fn token_response(s: Session) -> TokenResponse {
    TokenResponse {
        user_id: s.user_id.to_string(),
        access_token: s.access.token,
        refresh_token: s.refresh.expose(),
        // The configuration caps the lifetime at i32::MAX seconds.
        expires_in: i32::try_from(s.access.expires_in.as_secs()).unwrap_or(i32::MAX),
        token_type: "Bearer".to_owned(),
    }
}

/// The throttling subject of the caller: the last `x-forwarded-for` entry when it is an
/// IP address, else the TCP peer. Kong and the edge *append* the address they were
/// connected from to whatever the client sent, so only the last entry is theirs: the
/// first one is the client's to choose, and trusting it would let an attacker escape the
/// per-client limit by sending a new `X-Forwarded-For` with every guess.
pub fn client_subject<T>(req: &Request<T>) -> Subject {
    let forwarded = req
        .metadata()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| parse_ip(last.trim()));
    match forwarded.or_else(|| req.remote_addr().map(|a| a.ip())) {
        Some(ip) => Subject::client(ip),
        None => Subject::Client("unknown".to_owned()),
    }
}

/// An address as found in `x-forwarded-for`: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or
/// `[2001:db8::1]:5678`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| s.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

fn refresh_token(field: &str) -> Result<RefreshToken, Status> {
    RefreshToken::parse(field).map_err(|e| invalid(e.to_string()))
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    async fn signup(&self, req: Request<SignupRequest>) -> Result<Response<TokenResponse>, Status> {
        let r = req.into_inner();
        let account = NewAccount::parse(
            &r.email,
            &r.password,
            &r.display_name,
            &r.default_currency,
            &r.timezone,
        )
        .map_err(|e| invalid(e.to_string()))?;
        let session = self.auth.signup(account).await?;
        Ok(Response::new(token_response(session)))
    }

    async fn login(&self, req: Request<LoginRequest>) -> Result<Response<TokenResponse>, Status> {
        let client = client_subject(&req);
        let r = req.into_inner();
        if r.email.trim().is_empty() {
            return Err(invalid("email: is required"));
        }
        if r.password.is_empty() {
            return Err(invalid("password: is required"));
        }
        // A malformed address cannot belong to an account; saying so reveals nothing.
        let email = Email::parse(&r.email).map_err(|e| invalid(format!("email: {e}")))?;
        // No account has a longer password; refusing early keeps huge inputs off argon2.
        if r.password.chars().count() > Password::MAX_CHARS {
            return Err(invalid(format!(
                "password: must be at most {} characters",
                Password::MAX_CHARS
            )));
        }
        let session = self.auth.login(&email, r.password, client).await?;
        Ok(Response::new(token_response(session)))
    }

    async fn refresh(&self, req: Request<RefreshRequest>) -> Result<Response<TokenResponse>, Status> {
        let token = refresh_token(&req.into_inner().refresh_token)?;
        let session = self.auth.refresh(token).await?;
        Ok(Response::new(token_response(session)))
    }

    async fn logout(&self, req: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        match RefreshToken::parse(&req.into_inner().refresh_token) {
            Ok(token) => self.auth.logout(token).await?,
            Err(RefreshTokenError::Missing) => return Err(invalid(RefreshTokenError::Missing.to_string())),
            // Nothing can match a malformed token; like an unknown one, that is fine.
            Err(RefreshTokenError::Malformed) => {}
        }
        Ok(Response::new(LogoutResponse {}))
    }

    async fn get_jwks(&self, _req: Request<GetJwksRequest>) -> Result<Response<GetJwksResponse>, Status> {
        let keys = self
            .auth
            .keys()
            .public_keys()
            .map(|k| Jwk {
                kty: "RSA".into(),
                kid: k.kid.clone(),
                alg: "RS256".into(),
                r#use: "sig".into(),
                n: k.n.clone(),
                e: k.e.clone(),
            })
            .collect();
        Ok(Response::new(GetJwksResponse { keys }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req_with_xff(xff: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(v) = xff {
            r.metadata_mut().insert("x-forwarded-for", v.parse().unwrap());
        }
        r
    }

    #[test]
    fn the_last_forwarded_address_is_the_client() {
        let key = |xff| client_subject(&req_with_xff(xff)).parts().1.to_owned();
        // The edge appended 203.0.113.9; "10.0.0.1" is what the client claimed.
        assert_eq!(key(Some("10.0.0.1, 203.0.113.9")), "203.0.113.9");
        assert_eq!(key(Some("203.0.113.9:4711")), "203.0.113.9");
        assert_eq!(key(Some("[2001:db8::1]:443")), "2001:db8::/64");
        // Garbage is ignored; without a peer address the client is "unknown".
        assert_eq!(key(Some("not-an-ip")), "unknown");
        assert_eq!(key(None), "unknown");
    }
}
