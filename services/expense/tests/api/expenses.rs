use contracts::expense::{
    CreateExpenseRequest, DeleteExpenseRequest, GetExpenseRequest, ListExpensesRequest,
    SummarizeExpensesRequest, UpdateExpenseRequest,
};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{create_req, days_ago, spawn_app, today, TestApp};

fn update(id: &str, mask: &[&str]) -> UpdateExpenseRequest {
    UpdateExpenseRequest {
        id: id.into(),
        update_mask: mask.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn update_expense(
    app: &TestApp,
    user: Uuid,
    req: UpdateExpenseRequest,
) -> Result<contracts::expense::Expense, tonic::Status> {
    app.client
        .clone()
        .update_expense(app.request(user, req))
        .await
        .map(|r| r.into_inner())
}

async fn delete_expense(app: &TestApp, user: Uuid, id: &str) -> Result<(), tonic::Status> {
    app.client
        .clone()
        .delete_expense(app.request(user, DeleteExpenseRequest { id: id.into() }))
        .await
        .map(drop)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manual_expense_is_created_read_updated_and_deleted() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let created = app
        .create(
            user,
            CreateExpenseRequest {
                amount: "12.5".into(),
                currency: " usd ".into(),
                merchant: "  Subway ".into(),
                category: 0,
                occurred_on: String::new(),
                note: " lunch\r\nwith Asha ".into(),
                request_id: String::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(Uuid::parse_str(&created.id).unwrap().get_version_num(), 7);
    assert_eq!(created.user_id, user.to_string());
    assert_eq!(
        (created.amount.as_str(), created.currency.as_str()),
        ("12.50", "USD")
    );
    assert_eq!(created.merchant, "Subway");
    assert_eq!(created.category, 15, "unspecified means OTHER");
    assert_eq!(created.occurred_on, today().to_string(), "empty means today");
    assert_eq!(created.note, "lunch\nwith Asha");
    assert_eq!((created.source, created.confidence), (1, 1.0), "MANUAL, certain");
    assert_eq!(created.raw_text, "");
    assert_eq!(app.get(user, &created.id).await.unwrap(), created);

    // Only the masked fields change; the currency change re-validates the stored amount.
    let mut req = update(&created.id, &["amount", "category", "merchant"]);
    req.amount = "3400".into();
    req.category = 3;
    req.merchant = String::new();
    req.note = "ignored: not in the mask".into();
    let updated = update_expense(&app, user, req).await.unwrap();
    assert_eq!(updated.amount, "3400.00");
    assert_eq!((updated.category, updated.merchant.as_str()), (3, ""));
    assert_eq!(updated.note, "lunch\nwith Asha");
    let at = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(at(&updated.updated_at) > at(&created.updated_at));
    assert_eq!(updated.created_at, created.created_at);
    let mut req = update(&created.id, &["currency", "occurred_on"]);
    req.currency = "JPY".into();
    req.occurred_on = days_ago(3).to_string();
    let yen = update_expense(&app, user, req).await.unwrap();
    assert_eq!((yen.amount.as_str(), yen.currency.as_str()), ("3400", "JPY"));
    assert_eq!(yen.occurred_on, days_ago(3).to_string());
    assert_eq!(app.get(user, &created.id).await.unwrap(), yen, "persisted");

    delete_expense(&app, user, &created.id).await.unwrap();
    assert_eq!(
        app.get(user, &created.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(
        delete_expense(&app, user, &created.id).await.unwrap_err().code(),
        Code::NotFound,
        "deleting twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_invalid_field_of_a_new_expense_is_refused_and_named() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let ok = || create_req("12.50", "USD", "Subway", 1, &days_ago(1).to_string());
    let with = |f: &dyn Fn(&mut CreateExpenseRequest)| {
        let mut r = ok();
        f(&mut r);
        r
    };
    let cases: Vec<(&str, CreateExpenseRequest, &str)> = vec![
        ("no amount", with(&|r| r.amount = "".into()), "amount"),
        ("negative", with(&|r| r.amount = "-5".into()), "amount"),
        ("zero", with(&|r| r.amount = "0.00".into()), "amount"),
        ("not a number", with(&|r| r.amount = "twelve".into()), "amount"),
        ("exponent", with(&|r| r.amount = "1e3".into()), "amount"),
        (
            "grouping comma",
            with(&|r| r.amount = "1,200.00".into()),
            "amount",
        ),
        ("cents of a cent", with(&|r| r.amount = "12.345".into()), "amount"),
        (
            "yen decimals",
            with(&|r| {
                r.amount = "100.5".into();
                r.currency = "JPY".into();
            }),
            "amount",
        ),
        (
            "fils of a fil",
            with(&|r| {
                r.amount = "1.2345".into();
                r.currency = "BHD".into();
            }),
            "amount",
        ),
        (
            "above 1e12",
            with(&|r| r.amount = "1000000000000.01".into()),
            "amount",
        ),
        (
            "no currency",
            with(&|r| r.currency = "".into()),
            "currency is required",
        ),
        (
            "unknown currency",
            with(&|r| r.currency = "XYZ".into()),
            "currency",
        ),
        ("a symbol", with(&|r| r.currency = "$".into()), "currency"),
        ("gold", with(&|r| r.currency = "XAU".into()), "currency"),
        ("unknown category", with(&|r| r.category = 16), "category"),
        ("negative category", with(&|r| r.category = -1), "category"),
        (
            "not a real date",
            with(&|r| r.occurred_on = "2025-02-30".into()),
            "occurred_on",
        ),
        (
            "not a date",
            with(&|r| r.occurred_on = "yesterday".into()),
            "occurred_on",
        ),
        (
            "loose format",
            with(&|r| r.occurred_on = "2025-3-1".into()),
            "occurred_on",
        ),
        (
            "the day after tomorrow",
            with(&|r| r.occurred_on = (today() + chrono::Duration::days(2)).to_string()),
            "occurred_on",
        ),
        (
            "prehistoric",
            with(&|r| r.occurred_on = "0024-05-01".into()),
            "occurred_on",
        ),
        (
            "long merchant",
            with(&|r| r.merchant = "m".repeat(201)),
            "merchant",
        ),
        (
            "control in merchant",
            with(&|r| r.merchant = "Sub\u{0}way".into()),
            "merchant",
        ),
        ("long note", with(&|r| r.note = "n".repeat(1001)), "note"),
        ("control in note", with(&|r| r.note = "bell\u{7}".into()), "note"),
    ];
    let total = cases.len();
    for (what, req, mentions) in cases {
        let err = app.create(user, req).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {}", err.message());
        assert!(
            err.message().contains(mentions),
            "{what}: {:?} should name {mentions}",
            err.message()
        );
    }
    // Boundaries that are fine.
    for req in [
        with(&|r| r.amount = "1000000000000".into()),
        with(&|r| r.merchant = "é".repeat(200)),
        with(&|r| r.note = "n".repeat(1000)),
        with(&|r| r.occurred_on = today().to_string()),
        with(&|r| {
            r.amount = "1200.00".into();
            r.currency = "jpy".into();
        }),
    ] {
        app.create(user, req.clone())
            .await
            .unwrap_or_else(|e| panic!("{req:?}: {e}"));
    }
    // Several violations at once are all reported.
    let err = app
        .create(user, create_req("", "", &"m".repeat(300), 99, "tomorrow"))
        .await
        .unwrap_err();
    for field in ["amount", "currency", "merchant", "category", "occurred_on"] {
        assert!(
            err.message().contains(field),
            "{} should name {field}",
            err.message()
        );
    }
    assert!(total >= 25);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_invalid_update_is_refused_and_named() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let e = app
        .create(
            user,
            create_req("12.50", "USD", "Subway", 1, &days_ago(1).to_string()),
        )
        .await
        .unwrap();
    let with = |mask: &[&str], f: &dyn Fn(&mut UpdateExpenseRequest)| {
        let mut r = update(&e.id, mask);
        f(&mut r);
        r
    };
    let cases: Vec<(&str, UpdateExpenseRequest, Code, &str)> = vec![
        (
            "empty mask",
            with(&[], &|_| {}),
            Code::InvalidArgument,
            "update_mask",
        ),
        (
            "unknown paths",
            with(&["amount", "user_id", "source"], &|r| r.amount = "1".into()),
            Code::InvalidArgument,
            "user_id, source",
        ),
        (
            "bad id",
            with(&["note"], &|r| r.id = "42".into()),
            Code::InvalidArgument,
            "id",
        ),
        (
            "bad amount",
            with(&["amount"], &|r| r.amount = "1.001".into()),
            Code::InvalidArgument,
            "amount",
        ),
        (
            "empty amount",
            with(&["amount"], &|_| {}),
            Code::InvalidArgument,
            "amount",
        ),
        (
            "currency to JPY keeps cents",
            with(&["currency"], &|r| r.currency = "JPY".into()),
            Code::InvalidArgument,
            "currency",
        ),
        (
            "amount invalid in the new currency",
            with(&["currency", "amount"], &|r| {
                r.currency = "JPY".into();
                r.amount = "10.5".into();
            }),
            Code::InvalidArgument,
            "amount",
        ),
        (
            "unknown currency",
            with(&["currency"], &|r| r.currency = "ABC".into()),
            Code::InvalidArgument,
            "currency",
        ),
        (
            "empty currency",
            with(&["currency"], &|_| {}),
            Code::InvalidArgument,
            "currency is required",
        ),
        (
            "bad category",
            with(&["category"], &|r| r.category = 40),
            Code::InvalidArgument,
            "category",
        ),
        (
            "future date",
            with(&["occurred_on"], &|r| r.occurred_on = "2999-01-01".into()),
            Code::InvalidArgument,
            "occurred_on",
        ),
        (
            "empty date",
            with(&["occurred_on"], &|_| {}),
            Code::InvalidArgument,
            "occurred_on",
        ),
        (
            "long merchant",
            with(&["merchant"], &|r| r.merchant = "m".repeat(201)),
            Code::InvalidArgument,
            "merchant",
        ),
        (
            "long note",
            with(&["note"], &|r| r.note = "n".repeat(1001)),
            Code::InvalidArgument,
            "note",
        ),
        (
            "missing expense",
            with(&["note"], &|r| r.id = Uuid::now_v7().to_string()),
            Code::NotFound,
            "expense not found",
        ),
    ];
    for (what, req, code, mentions) in cases {
        let err = update_expense(&app, user, req).await.expect_err(what);
        assert_eq!(err.code(), code, "{what}: {}", err.message());
        assert!(
            err.message().contains(mentions),
            "{what}: {:?} should name {mentions}",
            err.message()
        );
    }
    assert_eq!(app.get(user, &e.id).await.unwrap(), e, "nothing changed");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_expense_is_not_found_exactly_like_a_missing_one() {
    let app = spawn_app().await;
    let (owner, other) = (Uuid::now_v7(), Uuid::now_v7());
    let e = app
        .create(
            owner,
            create_req("5", "EUR", "Bakery", 1, &days_ago(0).to_string()),
        )
        .await
        .unwrap();
    let missing = Uuid::now_v7().to_string();
    let mut c = app.client.clone();

    let pairs: Vec<(tonic::Status, tonic::Status)> = vec![
        (
            app.get(other, &e.id).await.unwrap_err(),
            app.get(other, &missing).await.unwrap_err(),
        ),
        (
            update_expense(&app, other, with_note(&e.id)).await.unwrap_err(),
            update_expense(&app, other, with_note(&missing))
                .await
                .unwrap_err(),
        ),
        (
            delete_expense(&app, other, &e.id).await.unwrap_err(),
            delete_expense(&app, other, &missing).await.unwrap_err(),
        ),
    ];
    for (theirs, absent) in pairs {
        assert_eq!(theirs.code(), Code::NotFound);
        assert_eq!(
            (theirs.code(), theirs.message()),
            (absent.code(), absent.message())
        );
    }
    // Nor does it show in the other user's list or summary.
    let list = c
        .list_expenses(app.request(other, ListExpensesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(list.expenses.is_empty());
    let summary = c
        .summarize_expenses(app.request(
            other,
            SummarizeExpensesRequest {
                group_by: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(summary.groups.is_empty());
    // The owner still has it, untouched.
    assert_eq!(app.get(owner, &e.id).await.unwrap(), e);
}

fn with_note(id: &str) -> UpdateExpenseRequest {
    let mut r = update(id, &["note"]);
    r.note = "mine now".into();
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn every_call_needs_a_valid_token() {
    let app = spawn_app().await;
    let mut c = app.client.clone();
    let no_token = c
        .get_expense(tonic::Request::new(GetExpenseRequest {
            id: Uuid::now_v7().to_string(),
        }))
        .await
        .unwrap_err();
    assert_eq!(no_token.code(), Code::Unauthenticated);
    let mut req = tonic::Request::new(ListExpensesRequest::default());
    req.metadata_mut()
        .insert("authorization", "Bearer not-a-jwt".parse().unwrap());
    assert_eq!(
        c.list_expenses(req).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let mut req = tonic::Request::new(create_req("1", "USD", "", 0, ""));
    let foreign = platform::testing::tokens::sign(
        &platform::testing::tokens::claims(Uuid::now_v7()),
        platform::testing::tokens::OTHER_KEY_PEM,
        platform::testing::tokens::KID,
    );
    req.metadata_mut()
        .insert("authorization", format!("Bearer {foreign}").parse().unwrap());
    assert_eq!(
        c.create_expense(req).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}
