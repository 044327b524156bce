//! The RSA keys of access tokens: one private key that signs, and the public keys that
//! verify (the signing key's own plus those of recently retired keys, so tokens signed
//! before a rotation stay valid until they expire). Published as a JWKS (RFC 7517).

use aws_lc_rs::{
    rsa::{KeyPair, PublicKey as RsaPublicKey, PublicKeyComponents},
    signature::KeyPair as _,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use jsonwebtoken::EncodingKey;

/// Smaller RSA keys are refused (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "not an RSA private key in PEM (PKCS#8 'BEGIN PRIVATE KEY' or PKCS#1 'BEGIN RSA PRIVATE KEY'): {0}"
    )]
    PrivatePem(String),
    #[error(
        "public key {index} is not an RSA public key in PEM (SPKI 'BEGIN PUBLIC KEY' or PKCS#1): {reason}"
    )]
    PublicPem { index: usize, reason: String },
    #[error("the RSA key has fewer than {MIN_RSA_BITS} bits; at least {MIN_RSA_BITS} are required")]
    TooSmall,
    #[error("key id {0:?} is used by more than one key")]
    DuplicateKid(String),
    #[error("key id must be 1 to 128 printable ASCII characters without spaces, got {0:?}")]
    BadKid(String),
}

/// One RSA public key, as served in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// Modulus, base64url without padding.
    pub n: String,
    /// Public exponent, base64url without padding.
    pub e: String,
}

impl PublicKey {
    fn from_rsa(kid: &str, key: &RsaPublicKey) -> Self {
        // Big-endian, without leading zeros (RFC 7518 §6.3.1).
        let parts = PublicKeyComponents::<Vec<u8>>::from(key);
        Self {
            kid: kid.to_owned(),
            n: URL_SAFE_NO_PAD.encode(parts.n),
            e: URL_SAFE_NO_PAD.encode(parts.e),
        }
    }

    /// Parses one SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM block.
    pub fn from_pem(kid: &str, pem: &str) -> Result<Self, String> {
        let block = pem::parse(pem.trim()).map_err(|e| e.to_string())?;
        if !matches!(block.tag(), "PUBLIC KEY" | "RSA PUBLIC KEY") {
            return Err(format!("a '{}' PEM block is not a public key", block.tag()));
        }
        // aws-lc reads either encoding and checks the key (RSA_check_key).
        let key = RsaPublicKey::from_der(block.contents())
            .map_err(|e| format!("not a valid RSA public key ({e})"))?;
        let bits = key.modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(format!(
                "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
            ));
        }
        Ok(Self::from_rsa(kid, &key))
    }
}

/// The private key that signs access tokens.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub(crate) encoding: EncodingKey,
    pub public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a PKCS#8 (or PKCS#1) RSA private key PEM.
    pub fn from_pem(kid: &str, pem: &str) -> Result<Self, KeyError> {
        check_kid(kid)?;
        let pem = pem.trim();
        let block = pem::parse(pem).map_err(|e| KeyError::PrivatePem(e.to_string()))?;
        // aws-lc checks the key, and refuses RSA keys under 2048 (or over 8192) bits.
        let private = match block.tag() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(block.contents()),
            "RSA PRIVATE KEY" => KeyPair::from_der(block.contents()),
            other => return Err(KeyError::PrivatePem(format!("a '{other}' PEM block"))),
        }
        .map_err(|e| match e.description_() {
            "TooSmall" => KeyError::TooSmall,
            reason => KeyError::PrivatePem(format!("not a valid RSA private key ({reason})")),
        })?;
        if private.public_modulus_len() * 8 < MIN_RSA_BITS {
            return Err(KeyError::TooSmall);
        }
        let encoding =
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| KeyError::PrivatePem(e.to_string()))?;
        let public = PublicKey::from_rsa(kid, private.public_key());
        Ok(Self {
            kid: kid.to_owned(),
            encoding,
            public,
        })
    }
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = (1..=128).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadKid(kid.chars().take(130).collect()))
    }
}

/// The signing key and every public key that still verifies tokens.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    pub signing: SigningKey,
    pub previous: Vec<PublicKey>,
}

impl SigningKeys {
    pub fn new(signing: SigningKey, previous: Vec<PublicKey>) -> Result<Self, KeyError> {
        let mut seen = std::collections::HashSet::new();
        seen.insert(signing.kid.clone());
        for k in &previous {
            check_kid(&k.kid)?;
            if !seen.insert(k.kid.clone()) {
                return Err(KeyError::DuplicateKid(k.kid.clone()));
            }
        }
        Ok(Self { signing, previous })
    }

    /// Every valid public key, the signing key's first.
    pub fn public_keys(&self) -> impl Iterator<Item = &PublicKey> {
        std::iter::once(&self.signing.public).chain(self.previous.iter())
    }

    /// The JWKS document (RFC 7517) of [`SigningKeys::public_keys`].
    pub fn jwks_json(&self) -> String {
        let keys: Vec<serde_json::Value> = self
            .public_keys()
            .map(|k| serde_json::json!({"kty": "RSA", "kid": k.kid, "alg": "RS256", "use": "sig", "n": k.n, "e": k.e}))
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }
}

/// Parses a bundle of concatenated public-key PEM blocks (the retired keys).
///
/// Each block's key id comes from a `kid: <id>` line placed before its `-----BEGIN` line
/// (PEM allows text outside the armour); a block without one gets `<default_prefix>-prev-<n>`
/// (n = 1, 2, … in file order).
pub fn parse_public_bundle(text: &str, default_prefix: &str) -> Result<Vec<PublicKey>, KeyError> {
    let mut keys = vec![];
    for (i, block) in platform::jwt::split_pem(text).into_iter().enumerate() {
        let index = i + 1;
        let mut kid = None;
        let mut armour = String::new();
        let mut inside = false;
        for line in block.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("-----BEGIN") {
                inside = true;
            }
            if inside {
                armour.push_str(trimmed);
                armour.push('\n');
            } else if let Some(id) = trimmed.strip_prefix("kid:") {
                kid = Some(id.trim().to_owned());
            }
        }
        let kid = kid.unwrap_or_else(|| format!("{default_prefix}-prev-{index}"));
        check_kid(&kid)?;
        let key =
            PublicKey::from_pem(&kid, &armour).map_err(|reason| KeyError::PublicPem { index, reason })?;
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNING: &str = include_str!("../../tests/fixtures/signing.key.pem");
    const SIGNING_PUB: &str = include_str!("../../tests/fixtures/signing.pub.pem");
    const OTHER_PUB: &str = include_str!("../../tests/fixtures/other.pub.pem");

    #[test]
    fn the_signing_keys_public_half_matches_its_published_pem() {
        let k = SigningKey::from_pem("k1", SIGNING).unwrap();
        assert_eq!(k.public, PublicKey::from_pem("k1", SIGNING_PUB).unwrap());
        assert_eq!(k.public.e, "AQAB");
        assert!(!format!("{k:?}").contains("BEGIN"));
    }

    #[test]
    fn pkcs1_keys_read_as_their_pkcs8_and_spki_forms() {
        let pkcs8 = SigningKey::from_pem("k1", SIGNING).unwrap();
        let pkcs1 =
            SigningKey::from_pem("k1", include_str!("../../tests/fixtures/signing.pkcs1.key.pem")).unwrap();
        assert_eq!(pkcs1.public, pkcs8.public);
        let spki =
            PublicKey::from_pem("k1", include_str!("../../tests/fixtures/signing.pkcs1.pub.pem")).unwrap();
        assert_eq!(spki, pkcs8.public);
        // The modulus of a 2048-bit key is 256 bytes, no leading zero byte.
        assert_eq!(URL_SAFE_NO_PAD.decode(&spki.n).unwrap().len(), 256);
    }

    #[test]
    fn keys_under_2048_bits_are_refused() {
        let small_key = include_str!("../../tests/fixtures/small.key.pem");
        let small_pub = include_str!("../../tests/fixtures/small.pub.pem");
        assert_eq!(
            SigningKey::from_pem("k1", small_key).unwrap_err(),
            KeyError::TooSmall
        );
        let reason = PublicKey::from_pem("k1", small_pub).unwrap_err();
        assert!(reason.contains("1024 bits"), "{reason}");
        // A private key where a public one belongs (and the reverse) says what it got.
        assert!(PublicKey::from_pem("k1", SIGNING)
            .unwrap_err()
            .contains("PRIVATE KEY"));
        assert!(matches!(
            SigningKey::from_pem("k1", SIGNING_PUB),
            Err(KeyError::PrivatePem(m)) if m.contains("PUBLIC KEY")
        ));
    }

    #[test]
    fn retired_keys_take_their_kid_from_a_kid_line_or_get_a_numbered_one() {
        let bundle = format!("kid: 2026-10\n{OTHER_PUB}\n{SIGNING_PUB}");
        let keys = parse_public_bundle(&bundle, "dev-1").unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids, ["2026-10", "dev-1-prev-2"]);
    }

    #[test]
    fn garbage_and_duplicate_kids_are_refused_with_a_reason() {
        assert!(matches!(
            SigningKey::from_pem("k1", "nope"),
            Err(KeyError::PrivatePem(_))
        ));
        assert!(matches!(
            SigningKey::from_pem("bad kid", SIGNING),
            Err(KeyError::BadKid(_))
        ));
        let broken = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            parse_public_bundle(broken, "x"),
            Err(KeyError::PublicPem { index: 1, .. })
        ));
        let signing = SigningKey::from_pem("k1", SIGNING).unwrap();
        let dup = PublicKey::from_pem("k1", OTHER_PUB).unwrap();
        assert_eq!(
            SigningKeys::new(signing, vec![dup]).unwrap_err(),
            KeyError::DuplicateKid("k1".into())
        );
    }

    #[test]
    fn the_jwks_document_lists_every_key_for_rs256_signatures() {
        let keys = SigningKeys::new(
            SigningKey::from_pem("k1", SIGNING).unwrap(),
            vec![PublicKey::from_pem("k0", OTHER_PUB).unwrap()],
        )
        .unwrap();
        let doc: serde_json::Value = serde_json::from_str(&keys.jwks_json()).unwrap();
        let keys = doc["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], "k1");
        assert_eq!(keys[1]["kid"], "k0");
        for k in keys {
            assert_eq!(
                (k["kty"].as_str(), k["alg"].as_str(), k["use"].as_str()),
                (Some("RSA"), Some("RS256"), Some("sig"))
            );
        }
    }
}
