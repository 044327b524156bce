//! RS256 access-token verification, shared by every service (defence in depth: internal
//! calls bypass Kong) and by the edge.
//!
//! Keys come from PEM public keys or a JWKS document; several may be valid at once while
//! signing keys rotate, selected by the token's `kid`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Claims of an access token as issued by auth-service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
}

/// The verified caller, handed to RPC handlers through request extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub user_id: Uuid,
    /// The raw bearer token, for propagating the caller's identity to other services.
    pub token: String,
    pub claims: Claims,
}

/// Why a token was refused. Every variant answers UNAUTHENTICATED.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JwtError {
    #[error("missing bearer token: send 'authorization: Bearer <access_token>'")]
    Missing,
    #[error("malformed authorization header: expected 'Bearer <access_token>'")]
    MalformedHeader,
    #[error("token is not a valid JWT")]
    Malformed,
    #[error("token algorithm {0} is not accepted; tokens must be RS256")]
    Algorithm(String),
    #[error("token was signed with an unknown key")]
    UnknownKey,
    #[error("token has expired; refresh it")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token is for another audience")]
    Audience,
    #[error("token has the wrong issuer")]
    Issuer,
    #[error("token signature is invalid")]
    Signature,
    #[error("token subject is not a user id")]
    Subject,
    #[error("token is invalid: {0}")]
    Invalid(String),
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid RSA public key PEM: {0}")]
    Pem(String),
    #[error("invalid JWKS document: {0}")]
    Jwks(String),
    #[error("no public keys configured")]
    Empty,
}

/// Verifies RS256 access tokens against a set of public keys.
#[derive(Clone)]
pub struct JwtVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
    verified: Arc<VerifiedCache>,
}

/// Tokens already verified, by their exact bytes (signature included, so only an identical
/// token hits), until `exp` + leeway. A client sends the same access token for its whole
/// life, and the RS256 check is a large share of an RPC's CPU (see docs/PERFORMANCE.md).
#[derive(Default)]
struct VerifiedCache {
    entries: Mutex<HashMap<String, Caller>>,
}

impl VerifiedCache {
    const MAX: usize = 10_000;

    fn get(&self, token: &str, leeway: i64) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let caller = entries.get(token)?;
        let now = chrono::Utc::now().timestamp();
        (now < caller.claims.exp + leeway && now + leeway >= caller.claims.nbf).then(|| caller.clone())
    }

    fn put(&self, caller: &Caller, leeway: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX {
            let now = chrono::Utc::now().timestamp();
            entries.retain(|_, c| now < c.claims.exp + leeway);
            if entries.len() >= Self::MAX {
                entries.clear();
            }
        }
        entries.insert(caller.token.clone(), caller.clone());
    }
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One RFC 7517 key, as served by auth-service's JWKS endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(rename = "use", default)]
    pub use_: Option<String>,
    pub n: String,
    pub e: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwtVerifier {
    /// A verifier for tokens with this issuer and audience; add keys next.
    pub fn new(issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Self {
            keys: HashMap::new(),
            validation,
            verified: Arc::default(),
        }
    }

    /// The checks every token passes (RS256, issuer, audience, required claims, leeway).
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Adds an RSA public key (PEM, PKCS#1 or SPKI) under `kid`.
    pub fn with_pem(mut self, kid: &str, pem: &[u8]) -> Result<Self, KeyError> {
        let key = DecodingKey::from_rsa_pem(pem).map_err(|e| KeyError::Pem(e.to_string()))?;
        self.keys.insert(kid.to_owned(), key);
        Ok(self)
    }

    /// Adds every RSA key of a JWKS document.
    pub fn with_jwks(mut self, jwks_json: &str) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_str(jwks_json).map_err(|e| KeyError::Jwks(e.to_string()))?;
        for k in set.keys.iter().filter(|k| k.kty == "RSA") {
            let key =
                DecodingKey::from_rsa_components(&k.n, &k.e).map_err(|e| KeyError::Jwks(e.to_string()))?;
            self.keys.insert(k.kid.clone(), key);
        }
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies `token` and returns the caller. A token verified before is not checked
    /// again until it expires (only the time claims are).
    pub fn verify(&self, token: &str) -> Result<Caller, JwtError> {
        let leeway = self.validation.leeway as i64;
        if let Some(caller) = self.verified.get(token, leeway) {
            return Ok(caller);
        }
        let caller = self.verify_uncached(token)?;
        self.verified.put(&caller, leeway);
        Ok(caller)
    }

    fn verify_uncached(&self, token: &str) -> Result<Caller, JwtError> {
        // jsonwebtoken refuses `alg: none` and unknown algorithms while parsing the header;
        // look at the raw header first so the error says what was wrong.
        let header = decode_header(token).map_err(|e| match raw_alg(token) {
            Some(alg) if alg != "RS256" => JwtError::Algorithm(alg),
            _ => JwtError::Invalid(e.to_string()),
        })?;
        if header.alg != Algorithm::RS256 {
            return Err(JwtError::Algorithm(format!("{:?}", header.alg)));
        }
        let key = match &header.kid {
            Some(kid) => self.keys.get(kid).ok_or(JwtError::UnknownKey)?,
            None if self.keys.len() == 1 => self.keys.values().next().expect("one key"),
            None => return Err(JwtError::UnknownKey),
        };
        let data = decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => JwtError::Expired,
                K::ImmatureSignature => JwtError::NotYetValid,
                K::InvalidAudience => JwtError::Audience,
                K::InvalidIssuer => JwtError::Issuer,
                K::InvalidSignature => JwtError::Signature,
                K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => JwtError::Malformed,
                K::MissingRequiredClaim(c) => JwtError::Invalid(format!("missing claim {c}")),
                _ => JwtError::Invalid(e.to_string()),
            }
        })?;
        let user_id = Uuid::parse_str(&data.claims.sub).map_err(|_| JwtError::Subject)?;
        Ok(Caller {
            user_id,
            token: token.to_owned(),
            claims: data.claims,
        })
    }

    /// Verifies the value of an `authorization` header (`Bearer <token>`).
    pub fn verify_header(&self, value: Option<&str>) -> Result<Caller, JwtError> {
        let value = value.ok_or(JwtError::Missing)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(JwtError::MalformedHeader)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(JwtError::MalformedHeader);
        }
        self.verify(token.trim())
    }
}

fn raw_alg(token: &str) -> Option<String> {
    use base64::Engine;
    let head = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head.trim_end_matches('='))
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("alg")?.as_str().map(str::to_owned)
}

/// Loads a verifier from the environment:
/// - `JWT_ISSUER` (default `expense-tracker`), `JWT_AUDIENCE` (default `expense-tracker-api`);
/// - keys from `JWT_JWKS_FILE` (a JWKS JSON file), `JWT_PUBLIC_KEY_FILE` or `JWT_PUBLIC_KEY_PEM`
///   (one or more concatenated PEM public keys; kid from `JWT_KEY_ID`, default `dev-1`, with
///   `-2`, `-3` … appended to the following keys).
pub fn verifier_from_env(env: &crate::config::Env) -> Result<JwtVerifier, crate::BoxError> {
    let issuer: String = env.or("JWT_ISSUER", "expense-tracker".to_owned(), "the token issuer")?;
    let audience: String = env.or(
        "JWT_AUDIENCE",
        "expense-tracker-api".to_owned(),
        "the token audience",
    )?;
    let mut v = JwtVerifier::new(&issuer, &audience);
    if let Some(path) = env.raw("JWT_JWKS_FILE") {
        let doc = std::fs::read_to_string(&path).map_err(|e| format!("JWT_JWKS_FILE={path}: {e}"))?;
        v = v.with_jwks(&doc)?;
    }
    let pem = match (env.raw("JWT_PUBLIC_KEY_PEM"), env.raw("JWT_PUBLIC_KEY_FILE")) {
        (Some(pem), _) => Some(pem),
        (None, Some(path)) => {
            Some(std::fs::read_to_string(&path).map_err(|e| format!("JWT_PUBLIC_KEY_FILE={path}: {e}"))?)
        }
        _ => None,
    };
    if let Some(pem) = pem {
        let kid: String = env.or("JWT_KEY_ID", "dev-1".to_owned(), "a key id")?;
        for (i, block) in split_pem(&pem).into_iter().enumerate() {
            let id = if i == 0 {
                kid.clone()
            } else {
                format!("{kid}-{}", i + 1)
            };
            v = v.with_pem(&id, block.as_bytes())?;
        }
    }
    if v.is_empty() {
        return Err(
            "no JWT public key configured: set JWT_PUBLIC_KEY_FILE, JWT_PUBLIC_KEY_PEM or JWT_JWKS_FILE"
                .into(),
        );
    }
    Ok(v)
}

/// Splits concatenated PEM blocks.
pub fn split_pem(pem: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    for line in pem.lines() {
        cur.push_str(line);
        cur.push('\n');
        if line.starts_with("-----END") {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{encode, EncodingKey, Header};

    use super::*;

    const KEY: &[u8] = include_bytes!("../tests/fixtures/signing.key.pem");
    const PUB: &[u8] = include_bytes!("../tests/fixtures/signing.pub.pem");

    fn verifier() -> JwtVerifier {
        JwtVerifier::new("expense-tracker", "expense-tracker-api")
            .with_pem("dev-1", PUB)
            .unwrap()
    }

    fn token(exp_in: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: "expense-tracker".into(),
            sub: Uuid::now_v7().to_string(),
            aud: "expense-tracker-api".into(),
            exp: now + exp_in,
            iat: now,
            nbf: now,
            jti: Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("dev-1".into());
        encode(&header, &claims, &EncodingKey::from_rsa_pem(KEY).unwrap()).unwrap()
    }

    #[test]
    fn a_verified_token_is_served_from_the_cache_and_only_its_exact_bytes_hit() {
        let v = verifier();
        let t = token(900);
        let first = v.verify(&t).unwrap();
        assert_eq!(v.verified.entries.lock().unwrap().len(), 1);
        assert_eq!(v.verify(&t).unwrap(), first);
        // A copy with one signature character changed is checked, and refused.
        let mut tampered = t.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(v.verify(&tampered).is_err());
        // Clones share the cache (the gRPC layer clones the verifier per connection).
        assert_eq!(v.clone().verify(&t).unwrap(), first);
    }

    #[test]
    fn a_cached_token_past_its_expiry_is_checked_again_and_refused() {
        let v = verifier();
        let t = token(900);
        let mut caller = v.verify(&t).unwrap();
        // As if it had been cached long ago: expired beyond the leeway.
        caller.claims.exp = chrono::Utc::now().timestamp() - 31;
        v.verified.entries.lock().unwrap().insert(t.clone(), caller);
        assert!(v.verified.get(&t, 30).is_none());
        // The real token still verifies (its own exp is in 15 minutes).
        assert!(v.verify(&t).is_ok());
        let expired = token(-120);
        assert_eq!(v.verify(&expired), Err(JwtError::Expired));
    }
}
