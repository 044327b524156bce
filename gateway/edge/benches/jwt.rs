//! RS256 access tokens: signing (auth-service's job) and verifying (every service's and
//! the edge's, on every request) with jsonwebtoken, through the crypto backend the
//! workspace enables (`jsonwebtoken` features in the root Cargo.toml: `aws_lc_rs`). Keys:
//! the 2048-bit test pair of platform's fixtures.
//!
//! - `sign`: `jsonwebtoken::encode`, the whole token;
//! - `decode`: `jsonwebtoken::decode` with the services' validation, the RS256 check a token
//!   costs the first time it is seen;
//! - `verify_cached`: platform's `JwtVerifier::verify` on a token it has verified before,
//!   what every later request with that token costs.
//!
//! `cargo bench -p edge --bench jwt` (`JWT_BENCH_BACKEND` labels the run, default
//! `aws_lc_rs`). The old backend against the new in one run is
//! `benches/jwt_backends` (its own workspace, since enabling `rust_crypto` brings `rsa` back).

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use platform::{jwt::JwtVerifier, testing::tokens};
use std::hint::black_box;

const SIGNING_KEY: &[u8] = include_bytes!("../../../services/platform/tests/fixtures/signing.key.pem");
const SIGNING_PUB: &[u8] = include_bytes!("../../../services/platform/tests/fixtures/signing.pub.pem");

fn bench(c: &mut Criterion) {
    // The label of this run's backend (the workspace enables exactly one).
    let backend = std::env::var("JWT_BENCH_BACKEND").unwrap_or_else(|_| "aws_lc_rs".into());
    let key = EncodingKey::from_rsa_pem(SIGNING_KEY).expect("fixture key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(tokens::KID.into());
    let claims = serde_json::json!({
        "iss": tokens::ISSUER, "sub": uuid::Uuid::nil().to_string(), "aud": tokens::AUDIENCE,
        "exp": chrono::Utc::now().timestamp() + 3600, "iat": chrono::Utc::now().timestamp(),
        "nbf": chrono::Utc::now().timestamp(), "jti": "bench",
    });
    let verifier = JwtVerifier::new(tokens::ISSUER, tokens::AUDIENCE)
        .with_pem(tokens::KID, SIGNING_PUB)
        .expect("fixture public key");
    let token = jsonwebtoken::encode(&header, &claims, &key).expect("signs");
    verifier.verify(&token).expect("the bench token verifies");

    let mut group = c.benchmark_group("jwt_rs256");
    group.bench_function(format!("sign/{backend}"), |b| {
        b.iter(|| jsonwebtoken::encode(black_box(&header), black_box(&claims), &key).unwrap())
    });
    let decoding = DecodingKey::from_rsa_pem(SIGNING_PUB).expect("fixture public key");
    let validation = verifier.validation();
    group.bench_function(format!("decode/{backend}"), |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &decoding, validation).unwrap()
        })
    });
    group.bench_function(format!("verify_cached/{backend}"), |b| {
        b.iter(|| verifier.verify(black_box(&token)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
