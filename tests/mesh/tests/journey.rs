//! A person's whole journey through the edge, like a JSON client: the real binaries on the
//! real PostgreSQL and Kafka, every hop (HTTP → gRPC → Kafka → consumer) crossed for real.

use std::time::Duration;

use chrono::{Datelike, Days, Months, Utc};
use mesh::Mesh;
use platform::testing::eventually;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_profile_extract_list_edit_summarise_and_delete() {
    let mesh = Mesh::start().await;
    let asha = mesh.signup("asha").await;
    // She signs in again (a second session with its own refresh token).
    let (status, session) = mesh
        .post(
            "/v1/auth/login",
            None,
            json!({"email": asha.email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["user_id"], json!(asha.user_id));
    assert_eq!(session["expires_in"], json!(900), "{session}");
    let token = session["access_token"].as_str().unwrap();

    // The profile appears once user-service has consumed UserRegistered.
    let (status, profile) = mesh.get_until("/v1/users/me", token, WAIT, |s, _| s == 200).await;
    assert_eq!(
        status,
        200,
        "no profile: {profile}; user-service log:\n{}",
        mesh.tail(mesh::Proc::User, 20)
    );
    assert_eq!(profile["email"], json!(asha.email));
    assert_eq!(profile["user_id"], json!(asha.user_id));
    assert_eq!(profile["default_currency"], "USD");

    // She lives in India.
    let (status, updated) = mesh
        .call(
            Method::PATCH,
            "/v1/users/me",
            Some(token),
            Some(json!({"default_currency": "INR", "timezone": "Asia/Kolkata",
                        "update_mask": ["default_currency", "timezone"]})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["default_currency"], "INR");
    assert_eq!(updated["timezone"], "Asia/Kolkata");

    // A sentence becomes an expense in her currency, dated in her time zone.
    let (status, extracted) = mesh
        .post(
            "/v1/extractions",
            Some(token),
            json!({"text": "spent 250 rupees on lunch at Subway yesterday"}),
        )
        .await;
    assert_eq!(status, 200, "{extracted}");
    let expense = &extracted["expense"];
    let yesterday = Utc::now()
        .with_timezone(&chrono_tz::Asia::Kolkata)
        .date_naive()
        .checked_sub_days(Days::new(1))
        .unwrap()
        .to_string();
    // Amounts carry the currency's minor digits.
    assert_eq!(expense["amount"], "250.00", "{extracted}");
    assert_eq!(expense["currency"], "INR");
    assert_eq!(expense["merchant"], "Subway");
    assert_eq!(expense["category"], "FOOD_AND_DRINK");
    assert_eq!(expense["occurred_on"], json!(yesterday));
    assert_eq!(expense["source"], "TEXT_RULES");
    assert_eq!(expense["user_id"], json!(asha.user_id));
    let extracted_id = expense["id"].as_str().expect("an expense id").to_owned();

    // Two more: a bank SMS and a ride.
    let mut more = Vec::new();
    for text in [
        "Rs.1,299.00 debited from a/c **1234 to VPA swiggy@ybl (UPI Ref No 412345678901)",
        "uber to the airport 640 today",
    ] {
        let (status, body) = mesh
            .post("/v1/extractions", Some(token), json!({"text": text}))
            .await;
        assert_eq!(status, 200, "{text}: {body}");
        more.push(body["expense"].clone());
    }
    assert_eq!(
        (&more[0]["merchant"], &more[0]["amount"], &more[0]["category"]),
        (&json!("Swiggy"), &json!("1299.00"), &json!("FOOD_AND_DRINK"))
    );
    assert_eq!(
        (&more[1]["merchant"], &more[1]["amount"], &more[1]["category"]),
        (&json!("Uber"), &json!("640.00"), &json!("TRANSPORT"))
    );

    // ... all listable once expense-service has consumed the ExpenseExtracted events.
    let (_, listed) = mesh
        .get_until("/v1/expenses", token, WAIT, |_, b| {
            b["expenses"].as_array().is_some_and(|e| e.len() == 3)
        })
        .await;
    assert_eq!(
        listed["expenses"].as_array().map(Vec::len),
        Some(3),
        "not listed: {listed}; expense-service log:\n{}",
        mesh.tail(mesh::Proc::Expense, 20)
    );
    let (_, subway) = mesh.get("/v1/expenses?merchant=subw", token).await;
    assert_eq!(subway["expenses"].as_array().unwrap().len(), 1, "{subway}");
    let stored = &subway["expenses"][0];
    assert_eq!(stored["id"], json!(extracted_id));
    assert_eq!(stored["amount"], "250.00");
    assert_eq!(
        stored["raw_text"],
        "spent 250 rupees on lunch at Subway yesterday"
    );

    // A manual entry, an edit, a read.
    let (status, manual) = mesh
        .post(
            "/v1/expenses",
            Some(token),
            json!({"amount": "1200.50", "currency": "INR", "merchant": "Landlord",
                   "category": "HOUSING", "occurred_on": yesterday, "note": "part of the rent"}),
        )
        .await;
    assert_eq!(status, 200, "{manual}");
    let manual_id = manual["id"].as_str().unwrap().to_owned();
    let (status, edited) = mesh
        .call(
            Method::PATCH,
            &format!("/v1/expenses/{manual_id}"),
            Some(token),
            Some(json!({"amount": "1300", "update_mask": ["amount"]})),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["amount"], "1300.00");
    assert_eq!(edited["merchant"], "Landlord", "fields outside the mask are kept");
    let (status, read) = mesh.get(&format!("/v1/expenses/{manual_id}"), token).await;
    assert_eq!((status, &read["amount"]), (200, &json!("1300.00")));

    // Filters and the summary agree with what is stored.
    let (_, food) = mesh.get("/v1/expenses?category=FOOD_AND_DRINK", token).await;
    assert_eq!(food["expenses"].as_array().unwrap().len(), 2, "{food}");
    let (status, summary) = mesh.get("/v1/expense-summary?group_by=CATEGORY", token).await;
    assert_eq!(status, 200, "{summary}");
    let groups = summary["groups"].as_array().unwrap();
    let total = |key: &str| {
        groups
            .iter()
            .find(|g| g["key"] == key)
            .map(|g| (g["total"].as_str().unwrap().to_owned(), g["count"].clone()))
    };
    assert_eq!(
        total("FOOD_AND_DRINK"),
        Some(("1549.00".into(), json!(2))),
        "{summary}"
    );
    assert_eq!(total("TRANSPORT"), Some(("640.00".into(), json!(1))), "{summary}");
    assert_eq!(total("HOUSING"), Some(("1300.00".into(), json!(1))), "{summary}");

    // Another person sees none of it, exactly as if it did not exist.
    let ravi = mesh.signup("ravi").await;
    let (status, body) = mesh
        .get(&format!("/v1/expenses/{manual_id}"), &ravi.access_token)
        .await;
    assert_eq!(status, 404, "{body}");
    let (_, theirs) = mesh.get("/v1/expenses", &ravi.access_token).await;
    assert_eq!(theirs["expenses"], json!([]), "{theirs}");

    // Delete one expense.
    let (status, _) = mesh
        .call(
            Method::DELETE,
            &format!("/v1/expenses/{manual_id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = mesh.get(&format!("/v1/expenses/{manual_id}"), token).await;
    assert_eq!(status, 404);

    // Tokens rotate; a reused refresh token is refused.
    let (status, rotated) = mesh
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": asha.refresh_token}),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let (status, reuse) = mesh
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": asha.refresh_token}),
        )
        .await;
    assert_eq!(status, 401, "{reuse}");

    // Logout revokes that session's refresh token.
    let rotated_refresh = rotated["refresh_token"].as_str().unwrap();
    let (status, _) = mesh
        .post("/v1/auth/logout", None, json!({"refresh_token": rotated_refresh}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = mesh
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": rotated_refresh}),
        )
        .await;
    assert_eq!(status, 401, "a logged-out refresh token is refused");

    // Deleting the account: the profile goes, the expenses are purged, login stops working.
    let (status, body) = mesh.call(Method::DELETE, "/v1/users/me", Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = mesh.get("/v1/users/me", token).await;
    assert_eq!(status, 404);
    assert!(
        eventually(WAIT, || async {
            let (_, list) = mesh.get("/v1/expenses", token).await;
            list["expenses"] == json!([])
        })
        .await,
        "expenses not purged after the account was deleted"
    );
    assert!(
        eventually(WAIT, || async {
            let (status, _) = mesh
                .post(
                    "/v1/auth/login",
                    None,
                    json!({"email": asha.email, "password": "correct horse battery"}),
                )
                .await;
            status == 401
        })
        .await,
        "a deleted account can still log in"
    );
    // Ravi is untouched.
    let (status, _) = mesh
        .post(
            "/v1/auth/login",
            None,
            json!({"email": ravi.email, "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_reach_the_client_as_kong_would_send_them() {
    let mesh = Mesh::start().await;
    let user = mesh.signup("errors").await;
    let token = user.access_token.as_str();

    // No token, a bad token.
    let (status, _) = mesh.call(Method::GET, "/v1/expenses", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = mesh.get("/v1/expenses", "not-a-jwt").await;
    assert_eq!(status, 401);

    // Validation: INVALID_ARGUMENT → 400 with the field named, grpc-status passed through.
    let resp = mesh
        .http
        .post(format!("{}/v1/expenses", mesh.edge))
        .bearer_auth(token)
        .json(&json!({"amount": "-5", "currency": "INR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["grpc-status"], "3");
    let body: Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("amount"), "{body}");

    // Malformed JSON → 400 with the parse error.
    let resp = mesh
        .http
        .post(format!("{}/v1/expenses", mesh.edge))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{\"amount\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Not an expense: a clear refusal, nothing published.
    let (status, body) = mesh
        .post(
            "/v1/extractions",
            Some(token),
            json!({"text": "Your OTP for login is 482913. Do not share it with anyone."}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("not an expense"),
        "{body}"
    );

    // Unknown route → 404; a missing expense → 404 with NOT_FOUND.
    let (status, _) = mesh.get("/v1/nowhere", token).await;
    assert_eq!(status, 404);
    let (status, body) = mesh
        .get("/v1/expenses/0190a4c4-0000-7000-8000-000000000000", token)
        .await;
    assert_eq!(status, 404, "{body}");
}

/// The rule that `rules` (a `GET /v1/extraction-rules` answer) holds with `id`.
fn rule<'a>(rules: &'a Value, id: &str) -> Option<&'a Value> {
    rules["rules"].as_array()?.iter().find(|r| r["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_teaches_the_extractor_only_that_user_until_the_account_is_deleted() {
    let mesh = Mesh::start().await;
    let asha = mesh.signup("asha").await;
    let ravi = mesh.signup("ravi").await;
    let token = asha.access_token.as_str();
    let extract = |token: &str, text: &str, dry_run: bool| {
        let token = token.to_owned();
        let body = json!({"text": text, "dry_run": dry_run, "default_currency": "INR",
                          "timezone": "Asia/Kolkata"});
        let mesh = &mesh;
        async move {
            let (status, body) = mesh.post("/v1/extractions", Some(&token), body).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };

    // The extractor's own answer, and what Asha says it should have been.
    let first = extract(token, "paid 340 to Kumaran Stores", false).await;
    let found = first["expense"]["merchant"].as_str().unwrap().to_owned();
    assert!(
        found.to_lowercase().contains("kumaran"),
        "the extractor finds the merchant: {first}"
    );
    assert_eq!(first["rule_id"], "", "no rule yet: {first}");
    let guessed = first["expense"]["category"].as_str().unwrap().to_owned();
    let corrected = if guessed == "GROCERIES" {
        "HEALTH"
    } else {
        "GROCERIES"
    };
    let id = first["expense"]["id"].as_str().unwrap().to_owned();
    let (status, _) = mesh
        .get_until(&format!("/v1/expenses/{id}"), token, WAIT, |s, _| s == 200)
        .await;
    assert_eq!(status, 200, "the extraction was never stored");
    let (status, patched) = mesh
        .call(
            Method::PATCH,
            &format!("/v1/expenses/{id}"),
            Some(token),
            Some(json!({"category": corrected, "update_mask": ["category"]})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["category"], corrected);

    // Once ds-service has consumed the ExpenseChanged, the next text of that merchant comes
    // back corrected, says which rule did it and why.
    let asked = std::time::Instant::now();
    let learned = loop {
        let answer = extract(token, "paid 125 to Kumaran Stores", true).await;
        if answer["rule_id"] != "" || asked.elapsed() > WAIT {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_ne!(
        learned["rule_id"],
        "",
        "the correction was not learned: {learned}; ds-service log:\n{}",
        mesh.tail(mesh::Proc::Ds, 20)
    );
    assert_eq!(learned["expense"]["category"], corrected, "{learned}");
    assert_eq!(learned["expense"]["amount"], "125.00", "{learned}");
    assert!(
        learned["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("correction")),
        "a warning a person can read says where the category came from: {learned}"
    );
    let rule_id = learned["rule_id"].as_str().unwrap().to_owned();
    // Stored as corrected too, not only in dry runs.
    let stored = extract(token, "paid 90 to Kumaran Stores", false).await;
    assert_eq!(
        (&stored["expense"]["category"], &stored["rule_id"]),
        (&json!(corrected), &json!(rule_id)),
        "{stored}"
    );

    // The rule is hers to see.
    let (status, rules) = mesh.get("/v1/extraction-rules", token).await;
    assert_eq!(status, 200, "{rules}");
    let learned_rule = rule(&rules, &rule_id).unwrap_or_else(|| panic!("{rule_id} not in {rules}"));
    assert_eq!(learned_rule["origin"], "LEARNED", "{rules}");
    assert_eq!(learned_rule["category"], corrected, "{rules}");
    assert!(
        learned_rule["merchant_pattern"]
            .as_str()
            .unwrap()
            .contains("kumaran"),
        "{rules}"
    );

    // Ravi is not taught by her corrections.
    let his = extract(&ravi.access_token, "paid 125 to Kumaran Stores", true).await;
    assert_eq!(
        (&his["expense"]["category"], &his["rule_id"]),
        (&json!(guessed), &json!("")),
        "{his}"
    );
    let (_, theirs) = mesh.get("/v1/extraction-rules", &ravi.access_token).await;
    assert_eq!(theirs["rules"], json!([]), "{theirs}");

    // An explicit rule beats the learned one; deleting it brings the learned one back.
    let (status, explicit) = mesh
        .post(
            "/v1/extraction-rules",
            Some(token),
            json!({"merchant_pattern": "Kumaran Stores", "merchant": "Kumaran Stores Ltd",
                   "category": "SHOPPING"}),
        )
        .await;
    assert_eq!(status, 200, "{explicit}");
    assert_eq!(explicit["origin"], "EXPLICIT", "{explicit}");
    let explicit_id = explicit["id"].as_str().unwrap().to_owned();
    let told = extract(token, "paid 60 to Kumaran Stores", true).await;
    assert_eq!(
        (
            &told["expense"]["category"],
            &told["expense"]["merchant"],
            &told["rule_id"]
        ),
        (
            &json!("SHOPPING"),
            &json!("Kumaran Stores Ltd"),
            &json!(explicit_id)
        ),
        "{told}"
    );
    let (status, body) = mesh
        .call(
            Method::DELETE,
            &format!("/v1/extraction-rules/{explicit_id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!((status, &body), (200, &json!({})));
    let back = extract(token, "paid 60 to Kumaran Stores", true).await;
    assert_eq!(back["rule_id"], json!(rule_id), "{back}");

    // Bad rules and unknown ids, as Kong would answer them.
    let (status, body) = mesh
        .post(
            "/v1/extraction-rules",
            Some(token),
            json!({"merchant_pattern": "  ", "category": "GROCERIES"}),
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("INVALID_ARGUMENT")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("merchant_pattern"),
        "{body}"
    );
    let (status, body) = mesh
        .post(
            "/v1/extraction-rules",
            Some(token),
            json!({"merchant_pattern": "blue tokai"}),
        )
        .await;
    assert_eq!(status, 400, "a rule needs a category: {body}");
    let (status, _) = mesh
        .call(Method::DELETE, "/v1/extraction-rules/nope", Some(token), None)
        .await;
    assert_eq!(status, 400);
    let (status, body) = mesh
        .call(
            Method::DELETE,
            &format!("/v1/extraction-rules/{explicit_id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!((status, &body["code"]), (404, &json!("NOT_FOUND")), "{body}");
    let (status, body) = mesh
        .call(
            Method::DELETE,
            &format!("/v1/extraction-rules/{rule_id}"),
            Some(&ravi.access_token),
            None,
        )
        .await;
    assert_eq!(status, 404, "someone else's rule is a missing one: {body}");
    let (status, _) = mesh.call(Method::GET, "/v1/extraction-rules", None, None).await;
    assert_eq!(status, 401);

    // Deleting the account forgets everything she taught (her token stays valid until it
    // expires, so it can still ask). The profile must exist first (user-service creates it
    // from UserRegistered).
    let (status, profile) = mesh.get_until("/v1/users/me", token, WAIT, |s, _| s == 200).await;
    assert_eq!(status, 200, "no profile: {profile}");
    let (status, body) = mesh.call(Method::DELETE, "/v1/users/me", Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(WAIT, || async {
            let (status, rules) = mesh.get("/v1/extraction-rules", token).await;
            status == 200 && rules["rules"] == json!([])
        })
        .await,
        "rules survive the account: {}",
        mesh.get("/v1/extraction-rules", token).await.1
    );
    let forgotten = extract(token, "paid 125 to Kumaran Stores", true).await;
    assert_eq!(forgotten["rule_id"], "", "{forgotten}");
    assert_eq!(forgotten["expense"]["category"], json!(guessed), "{forgotten}");
}

/// A Kafka payload as the event `T` (its `prost::Message` comes with `contracts::Event`).
fn decode<T: contracts::Event>(payload: &[u8]) -> T {
    T::decode(payload).expect("a protobuf event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_spending_past_80_percent_warns_once_edits_move_it_and_deleting_the_account_purges() {
    let mesh = Mesh::start().await;
    // Borrowed by the helpers below (async closures), owned until the end of the test.
    let mesh = &mesh;
    let asha = mesh.signup("asha").await;
    let ravi = mesh.signup("ravi").await;
    let token = asha.access_token.as_str();
    let (status, _) = mesh.get_until("/v1/users/me", token, WAIT, |s, _| s == 200).await;
    assert_eq!(status, 200, "no profile");
    let (status, body) = mesh
        .call(
            Method::PATCH,
            "/v1/users/me",
            Some(token),
            Some(json!({"default_currency": "INR", "timezone": "Asia/Kolkata",
                        "update_mask": ["default_currency", "timezone"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let today = Utc::now().with_timezone(&chrono_tz::Asia::Kolkata).date_naive();
    let month_start = today.with_day(1).unwrap();
    let last_month = month_start.checked_sub_months(Months::new(1)).unwrap();

    // A monthly food budget of 1000 rupees; a retry of the create is the same budget.
    let create = json!({"name": "Food", "amount": "1000", "currency": "INR",
        "category": "FOOD_AND_DRINK", "period": "MONTHLY",
        "request_id": uuid::Uuid::new_v4().to_string()});
    let (status, budget) = mesh.post("/v1/budgets", Some(token), create.clone()).await;
    assert_eq!(status, 200, "{budget}");
    let id = budget["id"].as_str().unwrap().to_owned();
    assert_eq!(budget["amount"], "1000.00", "{budget}");
    assert_eq!(
        budget["alert_percents"],
        json!([80, 100]),
        "the default: {budget}"
    );
    assert_eq!(
        (
            &budget["status"]["state"],
            &budget["status"]["spent"],
            &budget["status"]["percent"]
        ),
        (&json!("UNDER"), &json!("0.00"), &json!(0)),
        "{budget}"
    );
    assert_eq!(budget["status"]["period_start"], json!(month_start.to_string()));
    let (status, again) = mesh.post("/v1/budgets", Some(token), create).await;
    assert_eq!((status, &again["id"]), (200, &json!(id)), "{again}");
    let (_, all) = mesh.get("/v1/budgets", token).await;
    assert_eq!(all["budgets"].as_array().map(Vec::len), Some(1), "{all}");

    // Bad budgets are refused naming the field; Ravi cannot see hers.
    let (status, body) = mesh
        .post(
            "/v1/budgets",
            Some(token),
            json!({"name": "x", "amount": "-5", "currency": "INR", "period": "MONTHLY"}),
        )
        .await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("INVALID_ARGUMENT")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("amount"), "{body}");
    let (status, _) = mesh.get(&format!("/v1/budgets/{id}"), &ravi.access_token).await;
    assert_eq!(status, 404, "another user's budget is a missing one");

    let path = format!("/v1/budgets/{id}");
    // Waits until the budget's status satisfies `done`; the last Budget seen.
    let status_until = |done: fn(&Value) -> bool| {
        let path = path.clone();
        async move {
            let (_, b) = mesh
                .get_until(&path, token, WAIT, |s, b| s == 200 && done(&b["status"]))
                .await;
            b
        }
    };
    let extract = |text: &'static str| async move {
        let (status, body) = mesh
            .post("/v1/extractions", Some(token), json!({"text": text}))
            .await;
        assert_eq!(status, 200, "{text}: {body}");
        assert_eq!(body["expense"]["occurred_on"], json!(today.to_string()), "{body}");
        body["expense"]["id"].as_str().unwrap().to_owned()
    };

    // She types what she spends. 60%: still under.
    let toit = extract("dinner at Toit 600 rupees today").await;
    let b = status_until(|s| s["expense_count"] == 1).await;
    assert_eq!(
        (
            &b["status"]["spent"],
            &b["status"]["percent"],
            &b["status"]["state"]
        ),
        (&json!("600.00"), &json!(60), &json!("UNDER")),
        "{b}; budget-service log:\n{}",
        mesh.tail(mesh::Proc::Budget, 20)
    );
    // A ride is not food, and a coffee in dollars is left out but counted as such.
    extract("uber 320 today").await;
    extract("coffee 5 USD at Starbucks today").await;
    let b = status_until(|s| s["other_currency_count"] == 1).await;
    assert_eq!(
        (&b["status"]["spent"], &b["status"]["expense_count"]),
        (&json!("600.00"), &json!(1)),
        "{b}"
    );
    // 85%: WARNING, and one alert at 80%.
    let subway = extract("lunch at Subway 250 rupees today").await;
    let b = status_until(|s| s["expense_count"] == 2).await;
    assert_eq!(
        (
            &b["status"]["spent"],
            &b["status"]["remaining"],
            &b["status"]["percent"],
            &b["status"]["state"]
        ),
        (&json!("850.00"), &json!("150.00"), &json!(85), &json!("WARNING")),
        "{b}"
    );
    let (status, alerts) = mesh.get("/v1/alerts", token).await;
    assert_eq!(status, 200, "{alerts}");
    let list = alerts["alerts"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{alerts}");
    assert_eq!(
        (
            &list[0]["budget_id"],
            &list[0]["budget_name"],
            &list[0]["percent_threshold"],
            &list[0]["spent"],
            &list[0]["amount"],
            &list[0]["currency"],
            &list[0]["period_start"]
        ),
        (
            &json!(id),
            &json!("Food"),
            &json!(80),
            &json!("850.00"),
            &json!("1000.00"),
            &json!("INR"),
            &json!(month_start.to_string())
        ),
        "{alerts}"
    );

    // Edited below 80% and back above: the spending follows, the alert is not raised again.
    let patch = |expense: String, body: Value| async move {
        let (status, _) = mesh
            .get_until(&format!("/v1/expenses/{expense}"), token, WAIT, |s, _| s == 200)
            .await;
        assert_eq!(status, 200, "{expense} never stored");
        let (status, edited) = mesh
            .call(
                Method::PATCH,
                &format!("/v1/expenses/{expense}"),
                Some(token),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{edited}");
    };
    patch(toit.clone(), json!({"amount": "300", "update_mask": ["amount"]})).await;
    let b = status_until(|s| s["spent"] == "550.00").await;
    assert_eq!(b["status"]["state"], "UNDER", "{b}");
    patch(toit.clone(), json!({"amount": "700", "update_mask": ["amount"]})).await;
    let b = status_until(|s| s["spent"] == "950.00").await;
    assert_eq!(b["status"]["state"], "WARNING", "{b}");
    let (_, alerts) = mesh.get("/v1/alerts", token).await;
    assert_eq!(
        alerts["alerts"].as_array().map(Vec::len),
        Some(1),
        "still one: {alerts}"
    );

    // A category change moves money out of the budget; a date change into last month.
    patch(
        subway,
        json!({"category": "GROCERIES", "update_mask": ["category"]}),
    )
    .await;
    let b = status_until(|s| s["spent"] == "700.00").await;
    assert_eq!(b["status"]["expense_count"], 1, "{b}");
    patch(
        toit.clone(),
        json!({"occurred_on": last_month.to_string(), "update_mask": ["occurred_on"]}),
    )
    .await;
    let b = status_until(|s| s["spent"] == "0.00").await;
    assert_eq!(b["status"]["expense_count"], 0, "{b}");
    let (status, then) = mesh.get(&format!("{path}?on={last_month}"), token).await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(
        (
            &then["status"]["period_start"],
            &then["status"]["spent"],
            &then["status"]["state"]
        ),
        (&json!(last_month.to_string()), &json!("700.00"), &json!("UNDER")),
        "{then}"
    );
    // Last month is its own period: 700 crossed nothing there... until it is 1000, OVER,
    // which raises that period's 80% and 100% alerts (each once).
    patch(toit.clone(), json!({"amount": "1000", "update_mask": ["amount"]})).await;
    let (_, then) = mesh
        .get_until(&format!("{path}?on={last_month}"), token, WAIT, |_, b| {
            b["status"]["spent"] == "1000.00"
        })
        .await;
    assert_eq!(
        (&then["status"]["state"], &then["status"]["percent"]),
        (&json!("OVER"), &json!(100)),
        "{then}"
    );
    let (_, alerts) = mesh
        .get_until("/v1/alerts", token, WAIT, |_, b| {
            b["alerts"].as_array().is_some_and(|a| a.len() == 3)
        })
        .await;
    let seen: Vec<(String, i64)> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["period_start"].as_str().unwrap().to_owned(),
                a["percent_threshold"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            (last_month.to_string(), 80),
            (last_month.to_string(), 100),
            (month_start.to_string(), 80)
        ],
        "{alerts}"
    );
    // Newest first: this month's 80% came before last month's two.
    assert_eq!(seen[2], (month_start.to_string(), 80), "{alerts}");
    // A deletion removes the money.
    let (status, _) = mesh
        .call(Method::DELETE, &format!("/v1/expenses/{toit}"), Some(token), None)
        .await;
    assert_eq!(status, 200);
    let (_, then) = mesh
        .get_until(&format!("{path}?on={last_month}"), token, WAIT, |_, b| {
            b["status"]["spent"] == "0.00"
        })
        .await;
    assert_eq!(then["status"]["expense_count"], 0, "{then}");

    // Exactly one BudgetAlert event per alert on the topic (a redelivered copy would carry
    // the same ce_id, which consumers drop).
    let messages = platform::testing::read_topic(
        &mesh.infra.brokers,
        &mesh.topic(contracts::topics::BUDGET_ALERT),
        3,
        WAIT,
        Duration::from_secs(2),
    )
    .await;
    let mut events: Vec<(String, String, i32)> = messages
        .iter()
        .map(|m| {
            let e: contracts::events::BudgetAlert = decode(m.payload.as_deref().unwrap_or_default());
            assert_eq!(e.user_id, asha.user_id);
            let a = e.alert.expect("the alert");
            (m.headers["ce_id"].clone(), a.period_start, a.percent_threshold)
        })
        .collect();
    events.sort();
    events.dedup();
    assert_eq!(events.len(), 3, "one event per alert: {events:?}");

    // Ravi has none of it.
    let (_, his) = mesh.get("/v1/budgets", &ravi.access_token).await;
    assert_eq!(his["budgets"], json!([]), "{his}");
    let (_, his) = mesh.get("/v1/alerts", &ravi.access_token).await;
    assert_eq!(his["alerts"], json!([]), "{his}");

    // Deleting the account purges her budgets and alerts (her token still works until it
    // expires, so it can ask).
    let (status, body) = mesh.call(Method::DELETE, "/v1/users/me", Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(WAIT, || async {
            let (s1, budgets) = mesh.get("/v1/budgets", token).await;
            let (s2, alerts) = mesh.get("/v1/alerts", token).await;
            s1 == 200 && s2 == 200 && budgets["budgets"] == json!([]) && alerts["alerts"] == json!([])
        })
        .await,
        "budgets or alerts survive the account: {} {}",
        mesh.get("/v1/budgets", token).await.1,
        mesh.get("/v1/alerts", token).await.1
    );
    let (status, _) = mesh.get(&path, token).await;
    assert_eq!(status, 404);
}
