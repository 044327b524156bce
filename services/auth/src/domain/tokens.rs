//! Tokens: short-lived RS256 access tokens that any service verifies on its own, and
//! long-lived opaque refresh tokens that only this service can redeem.

use std::{fmt, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header};
use platform::jwt::Claims;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::keys::SigningKeys;

/// A signed access token.
#[derive(Clone)]
pub struct AccessToken {
    pub token: String,
    pub jti: Uuid,
    pub expires_in: Duration,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("jti", &self.jti)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Mints access tokens: claims `iss`, `sub` (user id), `aud`, `exp`, `iat`, `nbf`, `jti`
/// (UUIDv7) and header `kid`, exactly what `platform::jwt::JwtVerifier` and Kong's jwt
/// plugin (`key_claim_name: iss`) check.
#[derive(Debug, Clone)]
pub struct AccessTokenIssuer {
    keys: SigningKeys,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl AccessTokenIssuer {
    pub fn new(keys: SigningKeys, issuer: &str, audience: &str, ttl: Duration) -> Self {
        Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        }
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A token for `user_id`, valid from now for the configured lifetime.
    pub fn issue(&self, user_id: Uuid) -> Result<AccessToken, jsonwebtoken::errors::Error> {
        self.issue_at(user_id, Utc::now())
    }

    /// A token as if issued at `now` (tests use it to make expired tokens).
    pub fn issue_at(
        &self,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, jsonwebtoken::errors::Error> {
        let jti = Uuid::now_v7();
        let iat = now.timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user_id.to_string(),
            aud: self.audience.clone(),
            exp: iat + self.ttl.as_secs() as i64,
            iat,
            nbf: iat,
            jti: jti.to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.keys.signing.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.keys.signing.encoding)?;
        Ok(AccessToken {
            token,
            jti,
            expires_in: self.ttl,
        })
    }
}

/// Why a presented refresh token is refused before any lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshTokenError {
    #[error("refresh_token is required")]
    Missing,
    #[error(
        "refresh_token is malformed: expected the 43-character token returned by signup, login or refresh"
    )]
    Malformed,
}

/// An opaque refresh token: 256 random bits, base64url (43 characters). Only its SHA-256
/// is stored, so a database leak does not hand out sessions.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken([u8; 32]);

impl RefreshToken {
    /// A fresh token from the operating system's CSPRNG (through `rand`'s thread RNG,
    /// a reseeding ChaCha generator).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses a token presented by a client.
    pub fn parse(input: &str) -> Result<Self, RefreshTokenError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(RefreshTokenError::Missing);
        }
        if input.len() != 43 {
            return Err(RefreshTokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(input)
            .map_err(|_| RefreshTokenError::Malformed)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| RefreshTokenError::Malformed)?;
        Ok(Self(bytes))
    }

    /// The string handed to the client.
    pub fn expose(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// SHA-256 of the token bytes: what the database keys on. A plain (unsalted) hash is
    /// enough: the input has 256 bits of entropy, nothing to brute-force.
    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.0).to_vec()
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use platform::jwt::{JwtError, JwtVerifier};

    use super::*;
    use crate::domain::keys::{PublicKey, SigningKey};

    const SIGNING: &str = include_str!("../../tests/fixtures/signing.key.pem");
    const OTHER: &str = include_str!("../../tests/fixtures/other.key.pem");

    fn issuer(key: &str, kid: &str) -> AccessTokenIssuer {
        let keys = SigningKeys::new(SigningKey::from_pem(kid, key).unwrap(), vec![]).unwrap();
        AccessTokenIssuer::new(
            keys,
            "expense-tracker",
            "expense-tracker-api",
            Duration::from_secs(900),
        )
    }

    fn verifier(issuer: &AccessTokenIssuer) -> JwtVerifier {
        JwtVerifier::new("expense-tracker", "expense-tracker-api")
            .with_jwks(&issuer.keys().jwks_json())
            .unwrap()
    }

    #[test]
    fn an_access_token_carries_every_claim_and_verifies_with_the_published_key() {
        let iss = issuer(SIGNING, "k1");
        let user = Uuid::now_v7();
        let token = iss.issue(user).unwrap();
        assert_eq!(token.expires_in, Duration::from_secs(900));
        let header = jsonwebtoken::decode_header(&token.token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (Algorithm::RS256, Some("k1"))
        );
        let caller = verifier(&iss).verify(&token.token).unwrap();
        assert_eq!(caller.user_id, user);
        let c = caller.claims;
        assert_eq!(
            (c.iss.as_str(), c.aud.as_str()),
            ("expense-tracker", "expense-tracker-api")
        );
        assert_eq!(c.exp - c.iat, 900);
        assert_eq!(c.nbf, c.iat);
        assert_eq!(c.jti, token.jti.to_string());
        assert_eq!(token.jti.get_version_num(), 7);
    }

    #[test]
    fn expired_and_foreign_tokens_do_not_verify() {
        let iss = issuer(SIGNING, "k1");
        let old = iss
            .issue_at(Uuid::now_v7(), Utc::now() - chrono::Duration::hours(1))
            .unwrap();
        assert_eq!(verifier(&iss).verify(&old.token).unwrap_err(), JwtError::Expired);
        // Another key under the same kid: the signature does not match.
        let forged = issuer(OTHER, "k1").issue(Uuid::now_v7()).unwrap();
        assert_eq!(
            verifier(&iss).verify(&forged.token).unwrap_err(),
            JwtError::Signature
        );
    }

    #[test]
    fn tokens_signed_before_a_rotation_still_verify() {
        let old = issuer(OTHER, "k0");
        let keys = SigningKeys::new(
            SigningKey::from_pem("k1", SIGNING).unwrap(),
            vec![PublicKey {
                kid: "k0".into(),
                ..old.keys().signing.public.clone()
            }],
        )
        .unwrap();
        let new = AccessTokenIssuer::new(
            keys,
            "expense-tracker",
            "expense-tracker-api",
            Duration::from_secs(900),
        );
        let v = verifier(&new);
        assert!(v.verify(&old.issue(Uuid::now_v7()).unwrap().token).is_ok());
        assert!(v.verify(&new.issue(Uuid::now_v7()).unwrap().token).is_ok());
    }

    #[test]
    fn refresh_tokens_round_trip_and_are_unique() {
        let t = RefreshToken::generate();
        let s = t.expose();
        assert_eq!(s.len(), 43);
        assert_eq!(RefreshToken::parse(&s).unwrap(), t);
        assert_ne!(RefreshToken::generate(), t);
        assert_eq!(t.hash().len(), 32);
        assert_ne!(t.hash(), s.as_bytes());
        assert!(!format!("{t:?}").contains(&s));
    }

    #[test]
    fn malformed_refresh_tokens_are_refused_without_panicking() {
        assert_eq!(RefreshToken::parse("  ").unwrap_err(), RefreshTokenError::Missing);
        for bad in [
            "abc",
            "!".repeat(43).as_str(),
            &"a".repeat(44),
            "ééééééééééééééééééééé-",
        ] {
            assert_eq!(
                RefreshToken::parse(bad).unwrap_err(),
                RefreshTokenError::Malformed,
                "{bad}"
            );
        }
    }
}
