//! RS256 sign and verify through each of jsonwebtoken 10's crypto providers, in the same
//! process and run, with the 2048-bit fixture pair the services' tests use.
//!
//! jsonwebtoken's `encode`/`decode` call the process's provider through exactly these
//! factories (`crypto::sign`/`crypto::verify`): a fresh signer/verifier per call, built from
//! the key, then one `try_sign`/`verify`. The JSON and base64 work around them is the same
//! code for both backends, so it is left out here; `benches/jwt.rs` in the edge measures
//! the whole path with the workspace's backend.
//!
//! `JWT_BACKENDS_ITERS=N` skips criterion and runs N signatures or verifications with one backend, for
//! `valgrind --tool=callgrind` instruction counts (load-independent); see docs/PERFORMANCE.md.

use std::hint::black_box;

use criterion::{criterion_group, Criterion};
use jsonwebtoken::{
    crypto::{aws_lc, rust_crypto, CryptoProvider},
    Algorithm, DecodingKey, EncodingKey,
};

const SIGNING_KEY: &[u8] = include_bytes!("../../../../services/platform/tests/fixtures/signing.key.pem");
const SIGNING_PUB: &[u8] = include_bytes!("../../../../services/platform/tests/fixtures/signing.pub.pem");

struct Fixture {
    encoding: EncodingKey,
    decoding: DecodingKey,
    message: Vec<u8>,
}

fn fixture() -> Fixture {
    // A real token's signing input: base64url(header) "." base64url(claims).
    let message = b"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImRldi0xIn0.eyJpc3MiOiJleHBlbnNlLXRyYWNrZXIiLCJzdWIiOiIwMTkzZjJmYy0wMDAwLTcwMDAtODAwMC0wMDAwMDAwMDAwMDAiLCJhdWQiOiJleHBlbnNlLXRyYWNrZXItYXBpIiwiZXhwIjoxNzk2MDAwOTAwLCJpYXQiOjE3OTYwMDAwMDAsIm5iZiI6MTc5NjAwMDAwMCwianRpIjoiYmVuY2gifQ".to_vec();
    Fixture {
        encoding: EncodingKey::from_rsa_pem(SIGNING_KEY).expect("fixture key"),
        decoding: DecodingKey::from_rsa_pem(SIGNING_PUB).expect("fixture public key"),
        message,
    }
}

fn sign(p: &CryptoProvider, f: &Fixture) -> Vec<u8> {
    let signer = (p.signer_factory)(&Algorithm::RS256, &f.encoding).expect("an RS256 signer");
    signer.try_sign(black_box(&f.message)).expect("signs")
}

// `Verifier<Vec<u8>>`: the signature type is the Vec itself.
#[allow(clippy::ptr_arg)]
fn verify(p: &CryptoProvider, f: &Fixture, signature: &Vec<u8>) {
    let verifier = (p.verifier_factory)(&Algorithm::RS256, &f.decoding).expect("an RS256 verifier");
    verifier
        .verify(black_box(&f.message), black_box(signature))
        .expect("verifies");
}

const BACKENDS: [(&str, &CryptoProvider); 2] = [
    ("rust_crypto", &rust_crypto::DEFAULT_PROVIDER),
    ("aws_lc_rs", &aws_lc::DEFAULT_PROVIDER),
];

fn bench(c: &mut Criterion) {
    let f = fixture();
    // Each backend verifies the other's signature (PKCS#1 v1.5 is deterministic: the same bytes).
    let signatures: Vec<Vec<u8>> = BACKENDS.iter().map(|(_, p)| sign(p, &f)).collect();
    assert_eq!(signatures[0], signatures[1], "both backends sign the same bytes");
    for (_, p) in BACKENDS {
        verify(p, &f, &signatures[0]);
    }
    let mut g = c.benchmark_group("jwt_rs256_2048");
    for (name, p) in BACKENDS {
        g.bench_function(format!("sign/{name}"), |b| b.iter(|| sign(p, &f)));
        g.bench_function(format!("verify/{name}"), |b| {
            b.iter(|| verify(p, &f, &signatures[0]))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Some(n) = std::env::var("JWT_BACKENDS_ITERS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        // For callgrind: N signatures or N verifications (JWT_BACKENDS_OP=sign|verify) with
        // the backend JWT_BACKENDS_ONLY names; the same run with N=0 is the fixed cost.
        let only = std::env::var("JWT_BACKENDS_ONLY").unwrap_or_default();
        let op = std::env::var("JWT_BACKENDS_OP").unwrap_or_default();
        let (_, p) = BACKENDS
            .into_iter()
            .find(|(name, _)| *name == only)
            .expect("JWT_BACKENDS_ONLY");
        let f = fixture();
        let signature = sign(p, &f);
        for _ in 0..n {
            match op.as_str() {
                "sign" => drop(sign(p, &f)),
                "verify" => verify(p, &f, &signature),
                _ => panic!("JWT_BACKENDS_OP must be sign or verify"),
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
