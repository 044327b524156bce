//! ExportExpenses on the real database: the CSV parsed back equals the ledger.

use std::collections::HashSet;

use contracts::expense::{
    CreateExpenseRequest, Expense, ExportExpensesRequest, ExportExpensesResponse, ListExpensesRequest,
};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{create_req, days_ago, row, spawn_app, TestApp};

const HEADER: [&str; 14] = [
    "id",
    "user_id",
    "amount",
    "currency",
    "merchant",
    "category",
    "occurred_on",
    "note",
    "raw_text",
    "source",
    "confidence",
    "version",
    "created_at",
    "updated_at",
];

async fn export(
    app: &TestApp,
    user: Uuid,
    req: ExportExpensesRequest,
) -> Result<ExportExpensesResponse, tonic::Status> {
    app.client
        .clone()
        .export_expenses(app.request(user, req))
        .await
        .map(|r| r.into_inner())
}

/// The records of a CSV file, header included.
fn records(content: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(content.as_bytes())
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_owned).collect())
        .collect()
}

fn timestamp(t: &Option<prost_types::Timestamp>) -> String {
    let t = t.as_ref().unwrap();
    chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An expense as the API answers it, as a CSV record.
fn as_record(e: &Expense) -> Vec<String> {
    let category = contracts::expense::Category::try_from(e.category).unwrap();
    let source = contracts::expense::Source::try_from(e.source).unwrap();
    vec![
        e.id.clone(),
        e.user_id.clone(),
        e.amount.clone(),
        e.currency.clone(),
        e.merchant.clone(),
        category.as_str_name().to_owned(),
        e.occurred_on.clone(),
        e.note.clone(),
        e.raw_text.clone(),
        source.as_str_name().to_owned(),
        e.confidence.to_string(),
        e.version.to_string(),
        timestamp(&e.created_at),
        timestamp(&e.updated_at),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_export_parsed_back_equals_the_ledger_and_holds_only_the_callers_expenses() {
    let app = spawn_app().await;
    let (asha, ben) = (Uuid::now_v7(), Uuid::now_v7());
    let awkward = [
        ("12.50", "USD", "Joe's \"Diner\", Main St", "lunch,\nsplit"),
        ("1200", "JPY", "ラーメン屋", ""),
        ("1.250", "BHD", "=HYPERLINK(\"x\")", "a \"quoted\" note"),
        ("0.01", "EUR", "", "\u{a0}trailing comma,"),
    ];
    for (i, (amount, currency, merchant, note)) in awkward.into_iter().enumerate() {
        app.create(
            asha,
            CreateExpenseRequest {
                note: note.into(),
                ..create_req(
                    amount,
                    currency,
                    merchant,
                    1 + i as i32,
                    &days_ago(i as i64).to_string(),
                )
            },
        )
        .await
        .unwrap();
    }
    // Extracted ones, with raw text and another source.
    let mut seeded = row(asha, 34000, "INR", "Kumaran Stores", "GROCERIES", days_ago(40));
    seeded.raw_text = "Rs.340.00 debited at KUMARAN STORES, \"UPI\"".into();
    seeded.source = "TEXT_RULES".into();
    seeded.confidence = 0.83;
    app.seed(vec![
        seeded,
        row(ben, 999, "USD", "Netflix", "ENTERTAINMENT", days_ago(3)),
    ])
    .await;

    let ledger = app.list_all(asha, ListExpensesRequest::default()).await;
    assert_eq!(ledger.len(), 5);
    let file = export(&app, asha, ExportExpensesRequest::default())
        .await
        .unwrap();
    assert_eq!(file.content_type, "text/csv; charset=utf-8");
    assert!(file.filename.starts_with("expenses-start-") && file.filename.ends_with(".csv"));
    assert_eq!((file.row_count, file.next_page_token.as_str()), (5, ""));
    assert!(file.content.ends_with("\r\n"), "RFC 4180 line ends");
    let recs = records(&file.content);
    assert_eq!(recs[0], HEADER);
    let expected: Vec<Vec<String>> = ledger.iter().map(as_record).collect();
    assert_eq!(
        recs[1..],
        expected[..],
        "newest first, every field as the API shows it"
    );

    // A range.
    let from = days_ago(2).to_string();
    let part = export(
        &app,
        asha,
        ExportExpensesRequest {
            from: from.clone(),
            to: days_ago(1).to_string(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(part.row_count, 2);
    assert_eq!(part.filename, format!("expenses-{from}-{}.csv", days_ago(1)));
    assert_eq!(records(&part.content)[1..], expected[1..3]);

    // Ben's file has his one expense.
    let his = export(&app, ben, ExportExpensesRequest::default()).await.unwrap();
    let recs = records(&his.content);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1][1], ben.to_string());
    assert_eq!(recs[1][2], "9.99");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_ledger_is_exported_in_parts_that_together_hold_every_expense_once() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let rows: Vec<_> = (0..10_050)
        .map(|i| {
            row(
                user,
                100 + i,
                "USD",
                "Subway",
                "FOOD_AND_DRINK",
                days_ago(i % 700),
            )
        })
        .collect();
    let all: HashSet<String> = rows.iter().map(|r| r.id.to_string()).collect();
    app.seed(rows).await;

    let mut seen = HashSet::new();
    let mut req = ExportExpensesRequest::default();
    let mut parts = vec![];
    loop {
        let part = export(&app, user, req.clone()).await.unwrap();
        let recs = records(&part.content);
        assert_eq!(recs[0], HEADER, "every part is a complete file");
        assert_eq!(recs.len() - 1, part.row_count as usize);
        for r in &recs[1..] {
            assert!(seen.insert(r[0].clone()), "{} twice", r[0]);
        }
        parts.push(part.row_count);
        if part.next_page_token.is_empty() {
            break;
        }
        req.page_token = part.next_page_token;
    }
    assert_eq!(parts, [10_000, 50]);
    assert_eq!(seen, all);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_name_their_field() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    for (req, field) in [
        (
            ExportExpensesRequest {
                format: 9,
                ..Default::default()
            },
            "format",
        ),
        (
            ExportExpensesRequest {
                from: "2025-02-30".into(),
                ..Default::default()
            },
            "from",
        ),
        (
            ExportExpensesRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let s = export(&app, user, req).await.unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument, "{s:?}");
        assert!(s.message().starts_with(field), "{}", s.message());
    }
}
