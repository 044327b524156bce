use std::collections::HashSet;

use contracts::expense::{Expense, ListExpensesRequest};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{create_req, days_ago, row, spawn_app, today, TestApp};

async fn page(
    app: &TestApp,
    user: Uuid,
    req: ListExpensesRequest,
) -> Result<(Vec<Expense>, String), tonic::Status> {
    app.client
        .clone()
        .list_expenses(app.request(user, req))
        .await
        .map(|r| {
            let r = r.into_inner();
            (r.expenses, r.next_page_token)
        })
}

/// (occurred_on, id) descending: the list's order.
fn is_newest_first(items: &[Expense]) -> bool {
    items.windows(2).all(|w| {
        let key = |e: &Expense| (e.occurred_on.clone(), Uuid::parse_str(&e.id).unwrap());
        key(&w[0]) > key(&w[1])
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_walks_1000_expenses_without_gap_or_duplicate_while_new_ones_arrive() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    // 1,000 expenses over 40 days (25 a day: the id tie-break matters), 10+ days old.
    let rows: Vec<_> = (0..1000)
        .map(|i| row(user, 100 + i, "USD", "Shop", "SHOPPING", days_ago(10 + i % 40)))
        .collect();
    let mut expected: Vec<_> = rows.iter().map(|r| (r.occurred_on, r.id)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    app.seed(rows).await;
    // Someone else's expenses never leak in.
    app.seed(
        (0..50)
            .map(|i| row(Uuid::now_v7(), 1 + i, "USD", "", "OTHER", days_ago(20)))
            .collect(),
    )
    .await;

    let mut seen: Vec<(String, String)> = vec![];
    let mut req = ListExpensesRequest {
        page_size: 37,
        ..Default::default()
    };
    let mut pages = 0;
    loop {
        let (items, token) = page(&app, user, req.clone()).await.unwrap();
        assert!(items.len() <= 37);
        seen.extend(items.iter().map(|e| (e.occurred_on.clone(), e.id.clone())));
        pages += 1;
        if pages == 3 {
            // Mid-walk: newer expenses by hand (today), and some on the cursor's own date
            // with larger (newer) ids, which sort before the cursor: none may appear on later
            // pages or shift them.
            let cursor_date = items.last().unwrap().occurred_on.parse().unwrap();
            let creates = (0..20).map(|i| {
                let app = &app;
                async move {
                    app.create(
                        user,
                        create_req(&format!("{}.00", i + 1), "EUR", "New", 1, &today().to_string()),
                    )
                    .await
                    .unwrap()
                }
            });
            futures::future::join_all(creates).await;
            app.seed(
                (0..10)
                    .map(|i| row(user, 1 + i, "USD", "Late", "OTHER", cursor_date))
                    .collect(),
            )
            .await;
        }
        if token.is_empty() {
            break;
        }
        req.page_token = token;
    }
    assert_eq!(pages, 28, "ceil(1000 / 37) pages");
    let walked: Vec<(String, String)> = expected
        .iter()
        .map(|(d, id)| (d.to_string(), id.to_string()))
        .collect();
    assert_eq!(seen.len(), 1000, "no extra rows");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1000, "no duplicates");
    assert_eq!(seen, walked, "every original expense, in order, none skipped");

    // A fresh walk sees everything, newest first.
    let all = app
        .list_all(
            user,
            ListExpensesRequest {
                page_size: 500,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(all.len(), 1030);
    assert!(is_newest_first(&all));
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_select_by_date_category_merchant_and_amount() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let specs = [
        ("12.00", "USD", "Subway", 1, 1),
        ("8.50", "USD", "SUBWAY Downtown", 1, 5),
        ("30.00", "USD", "Whole Foods", 2, 5),
        ("1200", "JPY", "subway tokyo", 1, 10),
        ("2.500", "BHD", "50% Off_Store", 4, 20),
        ("99.99", "USD", "5000 Off Store", 4, 40),
    ];
    for (amount, currency, merchant, category, ago) in specs {
        app.create(
            user,
            create_req(amount, currency, merchant, category, &days_ago(ago).to_string()),
        )
        .await
        .unwrap();
    }
    let merchants = |items: Vec<Expense>| items.into_iter().map(|e| e.merchant).collect::<Vec<_>>();
    let list = |req: ListExpensesRequest| async { merchants(app.list_all(user, req).await) };

    assert_eq!(
        list(ListExpensesRequest {
            merchant: "subWAY".into(),
            ..Default::default()
        })
        .await,
        ["Subway", "SUBWAY Downtown", "subway tokyo"],
        "case-insensitive substring, newest first"
    );
    assert_eq!(
        list(ListExpensesRequest {
            merchant: "50%".into(),
            ..Default::default()
        })
        .await,
        ["50% Off_Store"],
        "% is a character, not a wildcard"
    );
    assert_eq!(
        list(ListExpensesRequest {
            merchant: "f_s".into(),
            ..Default::default()
        })
        .await,
        ["50% Off_Store"],
        "_ is a character, not a wildcard"
    );
    assert_eq!(
        list(ListExpensesRequest {
            from: days_ago(10).to_string(),
            to: days_ago(5).to_string(),
            ..Default::default()
        })
        .await,
        ["Whole Foods", "SUBWAY Downtown", "subway tokyo"],
        "inclusive bounds; on one date, the later entry first"
    );
    assert_eq!(
        list(ListExpensesRequest {
            category: 4,
            ..Default::default()
        })
        .await,
        ["50% Off_Store", "5000 Off Store"]
    );
    assert_eq!(
        list(ListExpensesRequest {
            currency: "usd".into(),
            min_amount: "8.50".into(),
            max_amount: "30".into(),
            ..Default::default()
        })
        .await,
        ["Subway", "Whole Foods", "SUBWAY Downtown"],
        "inclusive amount bounds, in minor units of the currency"
    );
    assert_eq!(
        list(ListExpensesRequest {
            currency: "JPY".into(),
            ..Default::default()
        })
        .await,
        ["subway tokyo"]
    );
    assert_eq!(
        list(ListExpensesRequest {
            currency: "BHD".into(),
            min_amount: "2.5".into(),
            ..Default::default()
        })
        .await,
        ["50% Off_Store"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_list_requests_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    app.seed(
        (0..5)
            .map(|i| row(user, 100 + i, "USD", "Shop", "SHOPPING", days_ago(i)))
            .collect(),
    )
    .await;
    let (_, token) = page(
        &app,
        user,
        ListExpensesRequest {
            page_size: 2,
            merchant: "shop".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!token.is_empty());
    // The same token with the same filters (merchant case aside) and another page size: fine.
    let (next, _) = page(
        &app,
        user,
        ListExpensesRequest {
            page_size: 3,
            merchant: "SHOP".into(),
            page_token: token.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(next.len(), 3);

    let r = ListExpensesRequest::default;
    let cases: Vec<(&str, ListExpensesRequest, &str)> = vec![
        (
            "garbage token",
            ListExpensesRequest {
                page_token: "garbage!".into(),
                ..r()
            },
            "page_token is invalid",
        ),
        (
            "base64 of junk",
            ListExpensesRequest {
                page_token: "bm90IGpzb24".into(),
                ..r()
            },
            "page_token is invalid",
        ),
        (
            "token of other filters",
            ListExpensesRequest {
                page_token: token.clone(),
                ..r()
            },
            "page_token",
        ),
        (
            "token with more filters",
            ListExpensesRequest {
                page_token: token.clone(),
                merchant: "shop".into(),
                category: 4,
                ..r()
            },
            "page_token",
        ),
        (
            "negative page size",
            ListExpensesRequest { page_size: -1, ..r() },
            "page_size",
        ),
        (
            "page size above 500",
            ListExpensesRequest {
                page_size: 501,
                ..r()
            },
            "page_size",
        ),
        (
            "bad from",
            ListExpensesRequest {
                from: "2025-13-01".into(),
                ..r()
            },
            "from",
        ),
        (
            "bad to",
            ListExpensesRequest {
                to: "last week".into(),
                ..r()
            },
            "to",
        ),
        (
            "from after to",
            ListExpensesRequest {
                from: "2025-03-02".into(),
                to: "2025-03-01".into(),
                ..r()
            },
            "from",
        ),
        (
            "unknown category",
            ListExpensesRequest { category: 99, ..r() },
            "category",
        ),
        (
            "bad currency",
            ListExpensesRequest {
                currency: "EURO".into(),
                ..r()
            },
            "currency",
        ),
        (
            "amount without currency",
            ListExpensesRequest {
                min_amount: "5".into(),
                ..r()
            },
            "min_amount",
        ),
        (
            "max without currency",
            ListExpensesRequest {
                max_amount: "5".into(),
                ..r()
            },
            "max_amount",
        ),
        (
            "bad min",
            ListExpensesRequest {
                min_amount: "five".into(),
                currency: "USD".into(),
                ..r()
            },
            "min_amount",
        ),
        (
            "max with too many decimals",
            ListExpensesRequest {
                max_amount: "5.5".into(),
                currency: "JPY".into(),
                ..r()
            },
            "max_amount",
        ),
        (
            "min above max",
            ListExpensesRequest {
                min_amount: "9".into(),
                max_amount: "5".into(),
                currency: "USD".into(),
                ..r()
            },
            "min_amount",
        ),
    ];
    for (what, req, mentions) in cases {
        let err = page(&app, user, req).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {}", err.message());
        assert!(
            err.message().contains(mentions),
            "{what}: {:?} should name {mentions}",
            err.message()
        );
    }
    // Another user's token is only a position: it never reveals the first user's rows.
    let (items, _) = page(
        &app,
        Uuid::now_v7(),
        ListExpensesRequest {
            page_size: 2,
            merchant: "shop".into(),
            page_token: token,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(items.is_empty());
}
