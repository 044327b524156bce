//! JWT attacks against the running service, on every RPC: each forged, stale or foreign
//! token is UNAUTHENTICATED, and none of them reads or changes anybody's data.

use base64::Engine as _;
use contracts::expense::{
    CreateExpenseRequest, DeleteExpenseRequest, ExportExpensesRequest, GetExpenseRequest,
    ListExpensesRequest, ListRecurringExpensesRequest, SummarizeExpensesRequest, UpdateExpenseRequest,
};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use platform::{jwt::Claims, testing::tokens};
use tonic::{Code, Request};
use uuid::Uuid;

use crate::helpers::{create_req, days_ago, spawn_app, TestApp};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn signed(claims: &Claims) -> String {
    tokens::sign(claims, tokens::SIGNING_KEY_PEM, tokens::KID)
}

/// Every token an attacker who knows `victim`'s id (but not the signing key) could send,
/// with what it tries.
fn attacks(victim: Uuid, attacker: Uuid) -> Vec<(&'static str, String)> {
    let now = chrono::Utc::now().timestamp();
    let claims = tokens::claims(victim);
    let with = |f: &dyn Fn(&mut Claims)| {
        let mut c = claims.clone();
        f(&mut c);
        c
    };
    let json = |c: &Claims| serde_json::to_vec(c).unwrap();
    let header = |alg: Algorithm| {
        let mut h = Header::new(alg);
        h.kid = Some(tokens::KID.into());
        h
    };
    // The attacker's own valid token, its payload swapped for the victim's claims.
    let own = tokens::access_token(attacker);
    let parts: Vec<&str> = own.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(&json(&claims)), parts[2]);

    vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT","kid":"dev-1"}"#),
                b64(&json(&claims))
            ),
        ),
        (
            "alg None, signature kept",
            format!(
                "{}.{}.{}",
                b64(br#"{"alg":"None","typ":"JWT"}"#),
                b64(&json(&claims)),
                parts[2]
            ),
        ),
        (
            "HS256 keyed with the public key",
            encode(
                &header(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(tokens::PUBLIC_KEY_PEM.as_bytes()),
            )
            .unwrap(),
        ),
        (
            "RS512 with the real key",
            encode(
                &header(Algorithm::RS512),
                &claims,
                &EncodingKey::from_rsa_pem(tokens::SIGNING_KEY_PEM.as_bytes()).unwrap(),
            )
            .unwrap(),
        ),
        ("tampered payload", tampered),
        ("no signature", format!("{}.{}.", parts[0], parts[1])),
        (
            "expired",
            signed(&with(&|c| {
                c.exp = now - 3600;
                c.iat = now - 7200;
                c.nbf = now - 7200;
            })),
        ),
        ("not yet valid", signed(&with(&|c| c.nbf = now + 3600))),
        ("wrong issuer", signed(&with(&|c| c.iss = "evil-issuer".into()))),
        ("wrong audience", signed(&with(&|c| c.aud = "another-api".into()))),
        (
            "another key under the real kid",
            tokens::sign(&claims, tokens::OTHER_KEY_PEM, tokens::KID),
        ),
        (
            "another key under its own kid",
            tokens::sign(&claims, tokens::OTHER_KEY_PEM, "attacker-1"),
        ),
        (
            "subject not a user id",
            signed(&with(&|c| c.sub = "admin".into())),
        ),
        ("garbage", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA".into()),
    ]
}

fn with_token<T>(msg: T, token: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

/// Calls every RPC of the service with `token`, aiming at `target`.
async fn every_rpc(
    app: &TestApp,
    token: &str,
    target: &str,
) -> Vec<(&'static str, Result<(), tonic::Status>)> {
    let mut c = app.client.clone();
    let id = || target.to_owned();
    vec![
        (
            "CreateExpense",
            c.create_expense(with_token(create_req("9.99", "USD", "Evil", 1, ""), token))
                .await
                .map(drop),
        ),
        (
            "GetExpense",
            c.get_expense(with_token(GetExpenseRequest { id: id() }, token))
                .await
                .map(drop),
        ),
        (
            "ListExpenses",
            c.list_expenses(with_token(ListExpensesRequest::default(), token))
                .await
                .map(drop),
        ),
        (
            "UpdateExpense",
            c.update_expense(with_token(
                UpdateExpenseRequest {
                    id: id(),
                    note: "owned".into(),
                    update_mask: vec!["note".into()],
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        ),
        (
            "DeleteExpense",
            c.delete_expense(with_token(DeleteExpenseRequest { id: id() }, token))
                .await
                .map(drop),
        ),
        (
            "SummarizeExpenses",
            c.summarize_expenses(with_token(
                SummarizeExpensesRequest {
                    group_by: 1,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        ),
        (
            "ExportExpenses",
            c.export_expenses(with_token(ExportExpensesRequest::default(), token))
                .await
                .map(drop),
        ),
        (
            "ListRecurringExpenses",
            c.list_recurring_expenses(with_token(ListRecurringExpensesRequest {}, token))
                .await
                .map(drop),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_stale_and_foreign_tokens_are_refused_on_every_rpc_and_change_nothing() {
    let app = spawn_app().await;
    let (victim, attacker) = (Uuid::now_v7(), Uuid::now_v7());
    let e = app
        .create(
            victim,
            CreateExpenseRequest {
                note: "private".into(),
                ..create_req("42", "EUR", "Pharmacy", 7, &days_ago(2).to_string())
            },
        )
        .await
        .unwrap();

    // The harness itself works: a real token passes on every RPC.
    let real = tokens::access_token(Uuid::now_v7());
    let mut checked = 0;
    for (rpc, res) in every_rpc(&app, &real, &Uuid::now_v7().to_string()).await {
        if let Err(s) = res {
            assert_ne!(s.code(), Code::Unauthenticated, "{rpc}: {s:?}");
        }
    }

    for (attack, token) in attacks(victim, attacker) {
        for (rpc, res) in every_rpc(&app, &token, &e.id).await {
            let status = res.expect_err(&format!("{attack} must not pass {rpc}"));
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{attack} on {rpc}: {status:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 14 * 6);

    // Nothing happened: the victim's only expense is exactly as it was, and nothing was
    // created under either id.
    assert_eq!(app.get(victim, &e.id).await.unwrap(), e);
    assert_eq!(app.count_rows(victim).await, 1);
    assert_eq!(app.count_rows(attacker).await, 0);
}
