use std::collections::{BTreeSet, HashMap};

use contracts::expense::{ListExpensesRequest, SummarizeExpensesRequest, SummaryGroup};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{create_req, days_ago, minor_units, spawn_app, sums_by_currency, TestApp};

const CATEGORY: i32 = 1;
const MONTH: i32 = 2;
const MERCHANT: i32 = 3;

async fn summarize(
    app: &TestApp,
    user: Uuid,
    req: SummarizeExpensesRequest,
) -> Result<Vec<SummaryGroup>, tonic::Status> {
    app.client
        .clone()
        .summarize_expenses(app.request(user, req))
        .await
        .map(|r| r.into_inner().groups)
}

fn group_by(g: i32) -> SummarizeExpensesRequest {
    SummarizeExpensesRequest {
        group_by: g,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn summary_totals_equal_the_listed_amounts_per_currency_for_every_grouping() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let merchants = [
        "Subway",
        "SUBWAY",
        "Subway",
        "subway",
        "Café Nero",
        "",
        "Whole Foods",
        "Subway",
    ];
    // 0, 2 and 3 decimals; amounts with every decimal place used; dates over ~4 months.
    let specs: Vec<(String, &str, &str, i32, String)> = (0..90)
        .map(|i: i64| {
            let (amount, currency) = match i % 3 {
                0 => (format!("{}.{:02}", 1 + i * 7, (i * 13) % 100), "USD"),
                1 => (format!("{}", 100 + i * 37), "JPY"),
                _ => (format!("{}.{:03}", i % 9, 1 + (i * 97) % 999), "BHD"),
            };
            let merchant = merchants[i as usize % merchants.len()];
            (
                amount,
                currency,
                merchant,
                1 + (i % 15) as i32,
                days_ago(i * 4 / 3).to_string(),
            )
        })
        .collect();
    let creates = specs.iter().map(|(amount, currency, merchant, category, date)| {
        app.create(user, create_req(amount, currency, merchant, *category, date))
    });
    for r in futures::future::join_all(creates).await {
        r.unwrap();
    }

    let filters = [
        (String::new(), String::new(), ""),
        (days_ago(60).to_string(), days_ago(10).to_string(), ""),
        (String::new(), String::new(), "BHD"),
        (days_ago(100).to_string(), days_ago(30).to_string(), "jpy"),
    ];
    for (from, to, currency) in filters {
        let listed = app
            .list_all(
                user,
                ListExpensesRequest {
                    from: from.clone(),
                    to: to.clone(),
                    currency: currency.into(),
                    page_size: 500,
                    ..Default::default()
                },
            )
            .await;
        assert!(!listed.is_empty());
        let want = sums_by_currency(listed.iter().map(|e| (e.amount.as_str(), e.currency.as_str())));
        let mut want_counts: HashMap<String, i64> = HashMap::new();
        for e in &listed {
            *want_counts.entry(e.currency.clone()).or_default() += 1;
        }
        for g in [CATEGORY, MONTH, MERCHANT] {
            let groups = summarize(
                &app,
                user,
                SummarizeExpensesRequest {
                    group_by: g,
                    from: from.clone(),
                    to: to.clone(),
                    currency: currency.into(),
                },
            )
            .await
            .unwrap();
            let what = format!("group_by {g}, from {from:?}, to {to:?}, currency {currency:?}");
            // minor_units also checks each total has exactly the currency's decimals.
            let got = sums_by_currency(groups.iter().map(|x| (x.total.as_str(), x.currency.as_str())));
            assert_eq!(got, want, "{what}");
            let mut counts: HashMap<String, i64> = HashMap::new();
            for x in &groups {
                *counts.entry(x.currency.clone()).or_default() += i64::from(x.count);
            }
            assert_eq!(counts, want_counts, "{what}");
            let keys: Vec<(&str, &str)> = groups
                .iter()
                .map(|x| (x.key.as_str(), x.currency.as_str()))
                .collect();
            let mut sorted = keys.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(
                keys, sorted,
                "{what}: ordered by key then currency, each pair once"
            );

            let key_set: BTreeSet<String> = groups.iter().map(|x| x.key.clone()).collect();
            let expected_keys: BTreeSet<String> = match g {
                CATEGORY => listed
                    .iter()
                    .map(|e| {
                        domain::Category::from_proto_number(e.category)
                            .unwrap()
                            .as_str()
                            .to_owned()
                    })
                    .collect(),
                MONTH => listed.iter().map(|e| e.occurred_on[..7].to_owned()).collect(),
                _ => listed
                    .iter()
                    .map(|e| {
                        if e.merchant.eq_ignore_ascii_case("subway") {
                            "Subway".into()
                        } else {
                            e.merchant.clone()
                        }
                    })
                    .collect(),
            };
            assert_eq!(key_set, expected_keys, "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn totals_are_exact_decimals_in_each_currencys_minor_unit() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let day = days_ago(1).to_string();
    for (amount, currency, merchant) in [
        ("0.10", "USD", "Deli"),
        ("0.20", "USD", "deli"),
        ("1000000000000", "USD", "DELI"),
        ("1000000000000", "USD", "Yacht Club"),
        ("1.250", "BHD", "Deli"),
        ("0.005", "BHD", "Deli"),
        ("1200", "JPY", "Deli"),
        ("34", "JPY", "Deli"),
    ] {
        app.create(user, create_req(amount, currency, merchant, 1, &day))
            .await
            .unwrap();
    }
    let groups = summarize(&app, user, group_by(CATEGORY)).await.unwrap();
    let lines: Vec<(&str, &str, &str, i32)> = groups
        .iter()
        .map(|g| (g.key.as_str(), g.currency.as_str(), g.total.as_str(), g.count))
        .collect();
    assert_eq!(
        lines,
        [
            ("FOOD_AND_DRINK", "BHD", "1.255", 2),
            ("FOOD_AND_DRINK", "JPY", "1234", 2),
            // Above what one expense may hold, and 0.10 + 0.20 is exactly 0.30.
            ("FOOD_AND_DRINK", "USD", "2000000000000.30", 4),
        ]
    );
    let by_merchant = summarize(&app, user, group_by(MERCHANT)).await.unwrap();
    let lines: Vec<(&str, &str, &str)> = by_merchant
        .iter()
        .map(|g| (g.key.as_str(), g.currency.as_str(), g.total.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            // "Deli" is the most used spelling; the key is the same in every currency.
            ("Deli", "BHD", "1.255"),
            ("Deli", "JPY", "1234"),
            ("Deli", "USD", "1000000000000.30"),
            ("Yacht Club", "USD", "1000000000000.00"),
        ]
    );
    let by_month = summarize(&app, user, group_by(MONTH)).await.unwrap();
    assert!(by_month.iter().all(|g| g.key == day[..7]));
    assert_eq!(minor_units(&by_month[0].total, "BHD"), 1255);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_summary_requests_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let cases = [
        ("no group_by", group_by(0), "group_by"),
        ("unknown group_by", group_by(7), "group_by"),
        (
            "bad from",
            SummarizeExpensesRequest {
                from: "2025-02-29".into(),
                ..group_by(1)
            },
            "from",
        ),
        (
            "bad to",
            SummarizeExpensesRequest {
                to: "2025/01/01".into(),
                ..group_by(1)
            },
            "to",
        ),
        (
            "from after to",
            SummarizeExpensesRequest {
                from: "2025-02-01".into(),
                to: "2025-01-01".into(),
                ..group_by(2)
            },
            "from",
        ),
        (
            "bad currency",
            SummarizeExpensesRequest {
                currency: "DOLLAR".into(),
                ..group_by(3)
            },
            "currency",
        ),
    ];
    for (what, req, mentions) in cases {
        let err = summarize(&app, user, req).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}");
        assert!(
            err.message().contains(mentions),
            "{what}: {:?} should name {mentions}",
            err.message()
        );
    }
    assert!(summarize(&app, user, group_by(MONTH)).await.unwrap().is_empty());
}
