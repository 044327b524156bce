//! RS256 access tokens: signing (auth-service's job) and verifying (every service's and
//! the edge's, on every request) with jsonwebtoken, through whichever crypto backend the
//! workspace enables (`jsonwebtoken` features in the root Cargo.toml). Keys: the 2048-bit
//! test pair of platform's fixtures; verification goes through platform's `JwtVerifier`,
//! as in the services.
//!
//! `cargo bench -p edge --bench jwt` (`JWT_BENCH_BACKEND` labels the run, default
//! `rust_crypto`, the workspace's backend); the label is part of each benchmark's id, so runs
//! with two backends sit side by side in target/criterion.

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform::{jwt::JwtVerifier, testing::tokens};
use std::hint::black_box;

const SIGNING_KEY: &[u8] = include_bytes!("../../../services/platform/tests/fixtures/signing.key.pem");
const SIGNING_PUB: &[u8] = include_bytes!("../../../services/platform/tests/fixtures/signing.pub.pem");

fn bench(c: &mut Criterion) {
    // The label of this run's backend (the workspace enables exactly one: rust_crypto today).
    let backend = std::env::var("JWT_BENCH_BACKEND").unwrap_or_else(|_| "rust_crypto".into());
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
    group.bench_function(format!("verify/{backend}"), |b| {
        b.iter(|| verifier.verify(black_box(&token)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
