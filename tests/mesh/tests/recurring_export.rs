//! Recurring expenses and the CSV export through the edge, like a JSON client: the real
//! binaries on the real PostgreSQL and Kafka.

use chrono::{Datelike, Months, NaiveDate, Utc};
use mesh::Mesh;
use serde_json::{json, Value};

/// The `day` of the month `back` months before this one (its last day when shorter).
fn months_ago(back: u32, day: u32) -> NaiveDate {
    let first = Utc::now().date_naive().with_day(1).unwrap() - Months::new(back);
    let last = (first + Months::new(1)).pred_opt().unwrap();
    first.with_day(day.min(last.day())).unwrap()
}

async fn create(
    mesh: &Mesh,
    token: &str,
    amount: &str,
    currency: &str,
    merchant: &str,
    on: NaiveDate,
) -> Value {
    let (status, e) = mesh
        .post(
            "/v1/expenses",
            Some(token),
            json!({"amount": amount, "currency": currency, "merchant": merchant,
                   "category": "ENTERTAINMENT", "occurred_on": on.to_string(),
                   "note": "family plan, \"shared\""}),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_listed_and_the_ledger_exports_as_csv_through_the_edge() {
    let mesh = Mesh::start().await;
    let asha = mesh.signup("asha").await;
    let ben = mesh.signup("ben").await;
    let token = asha.access_token.as_str();

    // Netflix on the 31st for four months (the last day of shorter ones), a price change
    // within 20%, and a one-off there.
    let mut ids = vec![];
    for (back, amount) in [(4, "649.00"), (3, "649.00"), (2, "649.00"), (1, "699.00")] {
        let e = create(&mesh, token, amount, "INR", "NETFLIX.COM", months_ago(back, 31)).await;
        ids.push(e["id"].clone());
    }
    create(&mesh, token, "199.00", "INR", "Netflix", months_ago(2, 12)).await;
    // Ben pays Netflix too; Asha never sees it.
    for back in [3, 2, 1] {
        create(
            &mesh,
            &ben.access_token,
            "9.99",
            "USD",
            "Netflix",
            months_ago(back, 5),
        )
        .await;
    }

    let (status, body) = mesh.get("/v1/recurring-expenses", token).await;
    assert_eq!(status, 200, "{body}");
    let series = body["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{body}");
    let s = &series[0];
    assert_eq!(s["merchant"], "NETFLIX.COM");
    assert_eq!(s["currency"], "INR");
    assert_eq!(s["typical_amount"], "649.00");
    assert_eq!(s["cadence"], "MONTHLY");
    assert_eq!(s["category"], "ENTERTAINMENT");
    assert_eq!(s["count"], 4);
    assert_eq!(s["first_on"], months_ago(4, 31).to_string());
    assert_eq!(s["last_on"], months_ago(1, 31).to_string());
    assert_eq!(s["next_expected_on"], months_ago(0, 31).to_string());
    assert_eq!(s["expense_ids"], Value::Array(ids));

    let (status, body) = mesh.get("/v1/recurring-expenses", &ben.access_token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["series"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["series"][0]["typical_amount"], "9.99");

    // The export: JSON {filename, content_type, content}, the CSV her listing.
    let from = months_ago(3, 1);
    let path = format!("/v1/expense-export?format=CSV&from={from}");
    let (status, file) = mesh.get(&path, token).await;
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["content_type"], "text/csv; charset=utf-8");
    let today = Utc::now().date_naive();
    assert_eq!(file["filename"], format!("expenses-{from}-{today}.csv"));
    assert_eq!(file["next_page_token"], "");
    let (status, listed) = mesh
        .get(&format!("/v1/expenses?from={from}&page_size=100"), token)
        .await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed["expenses"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(file["row_count"], 4);
    let mut reader = csv::Reader::from_reader(file["content"].as_str().unwrap().as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header.len(), 14);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), listed.len());
    for (row, e) in rows.iter().zip(listed) {
        for (name, value) in header.iter().zip(row.iter()) {
            match name.as_str() {
                // The edge writes Kong's `YYYY-MM-DDTHH:MM:SS`; the file keeps RFC 3339 with
                // microseconds.
                "created_at" | "updated_at" => {
                    let t = chrono::DateTime::parse_from_rfc3339(value).unwrap().to_utc();
                    assert_eq!(
                        t.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        e[name].as_str().unwrap()
                    );
                }
                "confidence" | "version" => {
                    assert_eq!(value.parse::<f64>().unwrap(), e[name].as_f64().unwrap())
                }
                _ => assert_eq!(value, e[name].as_str().unwrap(), "{name}"),
            }
        }
    }
    assert!(rows.iter().all(|r| r.get(1) == Some(asha.user_id.as_str())));

    // An unknown format is refused by the edge (not an enum name): 400 with the JSON error.
    let (status, body) = mesh.get("/v1/expense-export?format=PDF", token).await;
    assert_eq!(status, 400, "{body}");
    // No token, no file.
    let (status, _) = mesh
        .call(reqwest::Method::GET, "/v1/recurring-expenses", None, None)
        .await;
    assert_eq!(status, 401);
}
