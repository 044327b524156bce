//! The two costs that bound auth throughput:
//! - access-token verification (`platform::jwt::JwtVerifier`, RS256/2048): the hot path at
//!   Kong and in every service, once per request;
//! - argon2id password verification with OWASP parameters: what each login (and each
//!   signup's hash) costs, and so the ceiling of logins per second per core.
//!
//! `cargo bench -p auth-service --bench tokens`; throughput is printed as elements/s.

use std::{hint::black_box, time::Duration};

use auth_service::domain::{AccessTokenIssuer, Password, PasswordHasher, SigningKey, SigningKeys};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use platform::jwt::JwtVerifier;
use uuid::Uuid;

const SIGNING_KEY: &str = include_str!("../tests/fixtures/signing.key.pem");
const ISSUER: &str = "expense-tracker";
const AUDIENCE: &str = "expense-tracker-api";

fn access_tokens(c: &mut Criterion) {
    let keys = SigningKeys::new(SigningKey::from_pem("bench-1", SIGNING_KEY).unwrap(), vec![]).unwrap();
    let verifier = JwtVerifier::new(ISSUER, AUDIENCE)
        .with_jwks(&keys.jwks_json())
        .unwrap();
    let issuer = AccessTokenIssuer::new(keys, ISSUER, AUDIENCE, Duration::from_secs(900));
    let user = Uuid::now_v7();
    let token = issuer.issue(user).unwrap().token;
    let header = format!("Bearer {token}");

    let mut g = c.benchmark_group("access_token");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_header (JwtVerifier, RS256 2048)", |b| {
        b.iter(|| verifier.verify_header(Some(black_box(header.as_str()))).unwrap())
    });
    g.bench_function("issue (RS256 2048 signature)", |b| {
        b.iter(|| issuer.issue(black_box(user)).unwrap())
    });
    g.finish();
}

fn passwords(c: &mut Criterion) {
    let hasher = PasswordHasher::owasp();
    let password = Password::parse("correct horse battery staple").unwrap();
    let stored = hasher.hash(&password).unwrap();

    let mut g = c.benchmark_group("argon2id_m19456_t2_p1");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("verify (login)", |b| {
        b.iter(|| assert!(hasher.verify(black_box(password.expose()), Some(black_box(stored.as_str())))))
    });
    g.bench_function("verify dummy (unknown email)", |b| {
        b.iter(|| assert!(!hasher.verify(black_box(password.expose()), None)))
    });
    g.finish();
}

criterion_group!(benches, access_tokens, passwords);
criterion_main!(benches);
