//! Kong's jwt plugin (`key_claim_name: iss`, `claims_to_verify: [exp]`,
//! `run_on_preflight: false`), with platform's [`JwtVerifier`] doing the RS256 check.
//!
//! Kong's steps and messages, in its order: a bearer token ("Unauthorized"), a decodable
//! token ("Bad token; …"), an `iss` claim ("No mandatory 'iss' in claims"), a credential
//! for it ("No credentials found for given 'iss'"), the credential's algorithm ("Invalid
//! algorithm"), then signature ("Invalid signature") and `exp` ("token expired"). Every
//! failure is 401. `Authorization` goes upstream unchanged, with `X-Consumer-ID`,
//! `X-Consumer-Username` and `X-Credential-Identifier` as Kong sets them.

use std::{collections::HashMap, sync::Arc};

use axum::body::Body;
use base64::Engine;
use http::{HeaderValue, Method, Request, Response};
use platform::jwt::{JwtError, JwtVerifier};

use crate::{
    config::{Config, Issuer},
    error::EdgeError,
    middleware::{middleware_layer, BoxFuture, Middleware, Next},
    router::Matched,
};

/// Headers Kong's jwt plugin owns; a client's own values never reach upstream.
pub const CONSUMER_HEADERS: [&str; 3] = ["x-consumer-id", "x-consumer-username", "x-credential-identifier"];

/// The authenticated Kong consumer, for the rate limiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub id: String,
    pub username: String,
    pub iss: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    #[error("jwt issuer {iss:?}: cannot read {path}: {source}")]
    Read {
        iss: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("jwt issuer {iss:?}: {source}")]
    Key {
        iss: String,
        source: platform::jwt::KeyError,
    },
}

struct Credential {
    verifier: JwtVerifier,
    consumer: Consumer,
}

/// Credentials by issuer.
#[derive(Clone)]
pub struct JwtLayer {
    credentials: Arc<HashMap<String, Credential>>,
    verified: Arc<VerifiedCache>,
}

/// Tokens already verified, until their `exp` (+ the verifier's leeway): clients send the
/// same token for its whole life, and an RSA check per request is most of the edge's CPU.
/// Keyed by the whole token, signature included, so only identical bytes hit.
#[derive(Default)]
struct VerifiedCache {
    entries: std::sync::Mutex<HashMap<String, (Consumer, i64)>>,
}

impl VerifiedCache {
    const MAX: usize = 10_000;
    /// platform's verifier accepts `exp` up to this many seconds late.
    const LEEWAY: i64 = 30;

    fn get(&self, token: &str) -> Option<Consumer> {
        let entries = self.entries.lock().expect("jwt cache");
        let (consumer, exp) = entries.get(token)?;
        (chrono::Utc::now().timestamp() < exp + Self::LEEWAY).then(|| consumer.clone())
    }

    fn put(&self, token: &str, consumer: &Consumer, exp: i64) {
        let mut entries = self.entries.lock().expect("jwt cache");
        if entries.len() >= Self::MAX {
            let now = chrono::Utc::now().timestamp();
            entries.retain(|_, (_, e)| now < *e + Self::LEEWAY);
            if entries.len() >= Self::MAX {
                entries.clear();
            }
        }
        entries.insert(token.to_owned(), (consumer.clone(), exp));
    }
}

impl JwtLayer {
    pub fn new(config: &Config) -> Result<Self, KeyLoadError> {
        let mut credentials = HashMap::new();
        for issuer in &config.jwt.issuers {
            credentials.insert(issuer.iss.clone(), credential(config, issuer)?);
        }
        Ok(Self {
            credentials: Arc::new(credentials),
            verified: Arc::default(),
        })
    }

    fn authenticate(&self, req: &Request<Body>) -> Result<Consumer, String> {
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = bearer(header).ok_or("Unauthorized")?;
        if let Some(consumer) = self.verified.get(token) {
            return Ok(consumer);
        }
        let (jwt_header, claims) = decode_unverified(token).map_err(|e| format!("Bad token; {e}"))?;
        let iss = claims
            .get("iss")
            .and_then(|v| v.as_str())
            .or_else(|| jwt_header.get("iss").and_then(|v| v.as_str()))
            .ok_or("No mandatory 'iss' in claims")?;
        let cred = self
            .credentials
            .get(iss)
            .ok_or("No credentials found for given 'iss'")?;
        if jwt_header.get("alg").and_then(|v| v.as_str()) != Some("RS256") {
            return Err("Invalid algorithm".into());
        }
        match cred.verifier.verify(token) {
            Ok(caller) => {
                self.verified.put(token, &cred.consumer, caller.claims.exp);
                Ok(cred.consumer.clone())
            }
            Err(JwtError::Signature) => Err("Invalid signature".into()),
            Err(JwtError::Expired) => Err("token expired".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn credential(config: &Config, issuer: &Issuer) -> Result<Credential, KeyLoadError> {
    let read = |p: &std::path::Path| {
        let path = config.resolve(p);
        std::fs::read_to_string(&path).map_err(|source| KeyLoadError::Read {
            iss: issuer.iss.clone(),
            path,
            source,
        })
    };
    let key_err = |source| KeyLoadError::Key {
        iss: issuer.iss.clone(),
        source,
    };
    let mut verifier = JwtVerifier::new(&issuer.iss, &issuer.audience);
    if let Some(p) = &issuer.public_key_file {
        let pem = read(p)?;
        let kid = issuer.kid.as_deref().unwrap_or_default();
        verifier = verifier.with_pem(kid, pem.as_bytes()).map_err(key_err)?;
    }
    if let Some(p) = &issuer.jwks_file {
        verifier = verifier.with_jwks(&read(p)?).map_err(key_err)?;
    }
    Ok(Credential {
        verifier,
        consumer: Consumer {
            id: issuer.consumer_id().to_string(),
            username: issuer.consumer_username(),
            iss: issuer.iss.clone(),
        },
    })
}

/// Kong's `\s*[Bb]earer\s+(.+)`.
fn bearer(header: &str) -> Option<&str> {
    let h = header.trim_start();
    let rest = h.strip_prefix("Bearer").or_else(|| h.strip_prefix("bearer"))?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Header and claims, unverified (Kong reads `iss` before it knows which key to use).
fn decode_unverified(token: &str) -> Result<(JsonObject, JsonObject), &'static str> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("invalid JWT");
    };
    let part = |s: &str| -> Result<JsonObject, &'static str> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| "invalid base64")?;
        serde_json::from_slice(&bytes).map_err(|_| "invalid JSON")
    };
    let header = part(h)?;
    let alg = header.get("alg").and_then(|v| v.as_str()).unwrap_or_default();
    // Kong's jwt_parser knows these; anything else (`none` included) is a bad token.
    const KNOWN: [&str; 13] = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384",
        "PS512", "EdDSA",
    ];
    if !KNOWN.contains(&alg) {
        return Err("invalid alg");
    }
    Ok((header, part(c)?))
}

middleware_layer!(JwtLayer);

impl Middleware for JwtLayer {
    fn handle(&self, mut req: Request<Body>, next: Next) -> BoxFuture<Response<Body>> {
        for h in CONSUMER_HEADERS {
            req.headers_mut().remove(h);
        }
        let public = req
            .extensions()
            .get::<Matched>()
            .is_none_or(|m| m.route.rpc.public);
        // run_on_preflight: false.
        if public || req.method() == Method::OPTIONS {
            return Box::pin(next.run(req));
        }
        match self.authenticate(&req) {
            Ok(consumer) => {
                let headers = req.headers_mut();
                for (name, value) in [
                    ("x-consumer-id", &consumer.id),
                    ("x-consumer-username", &consumer.username),
                    ("x-credential-identifier", &consumer.iss),
                ] {
                    if let Ok(v) = HeaderValue::from_str(value) {
                        headers.insert(name, v);
                    }
                }
                req.extensions_mut().insert(consumer);
                Box::pin(next.run(req))
            }
            Err(message) => {
                tracing::debug!(reason = %message, "unauthenticated");
                Box::pin(async move { EdgeError::unauthenticated(message).into_response() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_follows_kongs_pattern() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("  bearer   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn alg_none_is_a_bad_token() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"iss":"x"}"#));
        assert_eq!(decode_unverified(&token).unwrap_err(), "invalid alg");
    }
}
