//! Bad input at the edge: arbitrary bodies, JSON, queries and path variables into the
//! transcoder for every route, arbitrary upstream answers into the response encoder
//! (property tests), then hostile HTTP: deeply nested JSON, invalid UTF-8, wrong content
//! types.

use std::time::{Duration, Instant};

use edge::{
    api::{self, BodyRule, Route},
    transcode::{request, response, TranscodeError},
};
use proptest::prelude::*;
use prost::Message;
use prost_reflect::{DynamicMessage, ReflectMessage};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{json, spawn_app, spawn_app_with};

/// Every HTTP route of the contracts, as the edge serves them.
fn routes() -> Vec<Route> {
    let pool = api::decode_pool(contracts::FILE_DESCRIPTOR_SET).unwrap();
    let routes = api::routes(&pool, |_, _| false).unwrap();
    assert!(routes.len() >= 18, "{} routes", routes.len());
    routes
}

/// Field names of every message of the contracts, so generated objects hit real fields.
fn field_names() -> Vec<String> {
    let pool = api::decode_pool(contracts::FILE_DESCRIPTOR_SET).unwrap();
    let mut names: Vec<String> = pool
        .all_messages()
        .flat_map(|m| m.fields().map(|f| f.name().to_owned()).collect::<Vec<_>>())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "",
            "12.50",
            "USD",
            "FOOD_AND_DRINK",
            "CATEGORY",
            "2024-05-01",
            "2024-05-01T10:00:00Z",
            "true",
            "0",
            "-1",
            "1e400",
            "9223372036854775808",
            "\u{0}",
            "\u{fffd}",
        ])
        .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ]
}

/// JSON of any shape, up to 4 levels deep, keyed mostly by `names`.
fn json_keyed_by(names: Vec<String>) -> impl Strategy<Value = Value> {
    let keys = prop_oneof![3 => prop::sample::select(names), 1 => ".{0,8}"];
    scalar().prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_json() -> impl Strategy<Value = Value> {
    json_keyed_by(field_names())
}

/// The field names of a route's input message (a made-up one when it has none).
fn input_fields(route: &Route) -> Vec<String> {
    let names: Vec<String> = route
        .rpc
        .method
        .input()
        .fields()
        .map(|f| f.name().to_owned())
        .collect();
    if names.is_empty() {
        vec!["unknown".into()]
    } else {
        names
    }
}

/// A route and JSON for it: mostly objects keyed by its own input's field names.
fn route_and_json(with_body: bool) -> impl Strategy<Value = (Route, Value)> {
    let routes: Vec<Route> = routes()
        .into_iter()
        .filter(|r| matches!(r.body, BodyRule::None) != with_body)
        .collect();
    prop::sample::select(routes).prop_flat_map(|route| {
        let names = input_fields(&route);
        let object = prop::collection::btree_map(
            prop::sample::select(names.clone()),
            prop_oneof![2 => scalar(), 1 => json_keyed_by(field_names())],
            0..6,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()));
        (Just(route), prop_oneof![3 => object, 1 => json_keyed_by(names)])
    })
}

/// Well-formed protobuf wire data with random field numbers, wire types and contents: an
/// upstream answering garbage that still parses.
fn wire_bytes() -> impl Strategy<Value = Vec<u8>> {
    let field = (
        1u32..16,
        0u8..4,
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(number, kind, n, bytes)| {
            let mut out = vec![];
            let wire = [0u32, 2, 5, 1][kind as usize];
            prost::encoding::encode_varint(u64::from(number << 3 | wire), &mut out);
            match wire {
                0 => prost::encoding::encode_varint(n, &mut out),
                2 => {
                    prost::encoding::encode_varint(bytes.len() as u64, &mut out);
                    out.extend(bytes);
                }
                5 => out.extend((n as u32).to_le_bytes()),
                _ => out.extend(n.to_le_bytes()),
            }
            out
        });
    prop_oneof![
        3 => prop::collection::vec(field, 0..12).prop_map(|f| f.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn assert_kong_error(e: &TranscodeError) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(
        m.starts_with("decode json err: ")
            || m == "body must be a table"
            || m.starts_with("failed to encode payload"),
        "{}",
        m
    );
    Ok(())
}

/// A built request must be a message the upstream can decode.
fn assert_encodable(route: &Route, msg: &DynamicMessage) -> Result<(), TestCaseError> {
    let (built, input) = (msg.descriptor(), route.rpc.method.input());
    prop_assert_eq!(built.full_name(), input.full_name());
    let bytes = msg.encode_to_vec();
    prop_assert!(DynamicMessage::decode(route.rpc.method.input(), bytes.as_slice()).is_ok());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_body_bytes_are_transcoded_or_refused_as_kong_would(
        route in prop::sample::select(routes()),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            any_json().prop_map(|v| v.to_string().into_bytes()),
        ],
    ) {
        match request::build(&route, &[], None, &body) {
            Ok(msg) => assert_encodable(&route, &msg)?,
            Err(e) => assert_kong_error(&e)?,
        }
    }

    #[test]
    fn any_json_value_is_transcoded_or_refused_as_kong_would(
        (route, value) in route_and_json(true),
        var in ".{0,20}",
    ) {
        let vars: Vec<(String, String)> =
            route.template.variables().iter().map(|v| (v.to_string(), var.clone())).collect();
        let body = value.to_string();
        let started = Instant::now();
        let res = request::build(&route, &vars, None, body.as_bytes());
        prop_assert!(started.elapsed() < Duration::from_secs(1));
        match res {
            Ok(msg) => assert_encodable(&route, &msg)?,
            Err(e) => {
                assert_kong_error(&e)?;
                // A body rule refuses non-objects; anything else is about a value.
                if matches!(route.body, BodyRule::Whole) && !body.is_empty() && !value.is_object() {
                    prop_assert_eq!(e, TranscodeError::NotAnObject);
                }
            }
        }
    }

    #[test]
    fn any_query_string_is_transcoded_or_refused_as_kong_would(
        (route, pairs) in route_and_json(false).prop_flat_map(|(route, _)| {
            let names = input_fields(&route);
            let value = prop_oneof![
                prop::sample::select(vec!["", "0", "false", "true", "12.50", "USD", "MERCHANT", "GROCERIES", "2024-05-01", "-1", "99999999999"]).prop_map(String::from),
                "[ -~]{0,12}",
            ];
            let key = prop_oneof![4 => prop::sample::select(names), 1 => "[a-z._%]{0,10}"];
            (Just(route), prop::collection::vec((key, value), 0..8))
        }),
        bare in prop::option::of("[a-z_]{1,10}"),
    ) {
        let mut query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
            .collect();
        query.extend(bare);
        let query = query.join("&");
        match request::build(&route, &[], Some(&query), b"") {
            Ok(msg) => assert_encodable(&route, &msg)?,
            Err(e) => assert_kong_error(&e)?,
        }
    }

    /// Whatever an upstream answers that parses as the method's output, the edge writes
    /// JSON a client can read (Kong's cjson refuses NaN and infinities outright; the edge
    /// prints them as %.14g does, which no upstream of ours sends).
    #[test]
    fn any_upstream_answer_becomes_json(route in prop::sample::select(routes()), bytes in wire_bytes()) {
        if let Ok(msg) = DynamicMessage::decode(route.rpc.method.output(), bytes.as_slice()) {
            let text = response::to_json(&msg);
            if !(text.contains("nan") || text.contains("inf")) {
                let parsed: Result<Value, _> = serde_json::from_str(&text);
                prop_assert!(parsed.is_ok(), "{}", text);
                prop_assert!(parsed.unwrap().is_object());
            }
        }
    }
}

// === over HTTP ===

#[tokio::test]
async fn deeply_nested_json_is_a_quick_400_and_the_edge_keeps_serving() {
    let app = spawn_app_with("", |c| c.body_limit_bytes = 1 << 20).await;
    for body in [
        "[".repeat(100_000),
        format!("{}1{}", "[".repeat(500_000), "]".repeat(500_000)),
        r#"{"note":"#.repeat(50_000),
        format!(r#"{{"note": {}"x"{}}}"#, r#"{"a":"#.repeat(200), "}".repeat(200)),
    ] {
        let started = Instant::now();
        let res = app
            .authed(Method::POST, "/v1/expenses")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{} bytes", body.len());
        let answer = json(res).await;
        assert_eq!(answer["code"], "INVALID_ARGUMENT", "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    assert!(app.seen.create.lock().unwrap().is_none(), "nothing went upstream");
    let res = app.authed(Method::GET, "/v1/users/me").send().await.unwrap();
    assert_eq!(res.status(), 200, "still serving");
}

#[tokio::test]
async fn invalid_utf8_is_a_400_in_a_body_and_harmless_in_a_path_or_query() {
    let app = spawn_app().await;
    for body in [
        b"{\"note\": \"\xff\xfe\"}".to_vec(),
        b"{\"note\": \"caf\xc3\"}".to_vec(),
        b"\xef\xbb\xbf{\"note\": \"bom\"}".to_vec(),
        vec![0xc0, 0x80],
    ] {
        let res = app
            .authed(Method::POST, "/v1/expenses")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body:?}");
        let answer = json(res).await;
        assert_eq!(answer["code"], "INVALID_ARGUMENT");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .starts_with("decode json err: "),
            "{answer}"
        );
    }
    assert!(app.seen.create.lock().unwrap().is_none(), "nothing went upstream");

    // Percent-encoded invalid UTF-8 in a path variable or a query value reaches the
    // upstream as valid UTF-8 (replacement characters), never as a broken string.
    let res = app
        .authed(Method::GET, "/v1/expenses/%FF%FEabc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.seen.get.lock().unwrap().as_ref().unwrap().id,
        "\u{fffd}\u{fffd}abc"
    );
    let res = app
        .authed(Method::GET, "/v1/expenses?merchant=%C3%28%FF")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let merchant = app.seen.list.lock().unwrap().as_ref().unwrap().merchant.clone();
    assert!(merchant.contains('\u{fffd}'), "{merchant:?}");
}

#[tokio::test]
async fn the_content_type_does_not_change_how_a_body_is_read() {
    // Kong's grpc-gateway reads every body as JSON, whatever its Content-Type: the same
    // body answers the same, and a body that is no JSON is a 400 that reaches nobody.
    let app = spawn_app().await;
    let body = json!({"amount": "12.50", "currency": "USD", "merchant": "Cafe"}).to_string();
    for content_type in [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/xml"),
        Some("multipart/form-data; boundary=x"),
        Some("application/grpc"),
        None,
    ] {
        let mut req = app.authed(Method::POST, "/v1/expenses").body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{content_type:?}");
        assert_eq!(res.headers()["content-type"], "application/json");
        let seen = app.seen.create.lock().unwrap().take().unwrap();
        assert_eq!((seen.amount.as_str(), seen.merchant.as_str()), ("12.50", "Cafe"));
    }
    for (content_type, body) in [
        ("application/x-www-form-urlencoded", "amount=12.50&currency=USD"),
        ("application/xml", "<expense><amount>12.50</amount></expense>"),
        (
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n12.50\r\n--x--\r\n",
        ),
        ("application/grpc", "\0\0\0\0\x05\n\x0312"),
    ] {
        let res = app
            .authed(Method::POST, "/v1/expenses")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{content_type}");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(json(res).await["code"], "INVALID_ARGUMENT", "{content_type}");
    }
    assert!(app.seen.create.lock().unwrap().is_none(), "nothing went upstream");
}
