//! gateway/kong/kong.yml and the proto bundle are generated, checked in, and complete.

use std::{collections::BTreeSet, path::PathBuf};

use edge::{api, kong, Config};
use prost_reflect::{DescriptorPool, Value};

use crate::helpers::manifest_dir;

fn kong_dir() -> PathBuf {
    manifest_dir().join("../kong")
}

fn edge_config() -> Config {
    Config::load(&manifest_dir().join("edge.yaml")).expect("gateway/edge/edge.yaml loads")
}

#[test]
fn the_checked_in_kong_yml_is_up_to_date() {
    let config = edge_config();
    let pool = api::load_pool(&config).unwrap();
    let fresh = kong::kong_yaml(&config, &pool).unwrap();
    let checked_in = std::fs::read_to_string(kong_dir().join("kong.yml")).unwrap_or_default();
    assert!(
        fresh == checked_in,
        "gateway/kong/kong.yml is stale: run `make kong-config` \
         (cargo run -p edge -- kong-config --out gateway/kong/kong.yml)"
    );
}

#[test]
fn the_checked_in_proto_bundle_is_up_to_date() {
    let config = edge_config();
    let pool = api::load_pool(&config).unwrap();
    let root = config.resolve(config.proto_root.as_deref().unwrap());
    let files = kong::bundle::bundle(&root, &kong::services(&config, &pool).unwrap()).unwrap();
    let dir = kong_dir().join("protos");
    let on_disk = kong::bundle::list(&dir).unwrap();
    let stale = on_disk != files.keys().cloned().collect::<Vec<_>>()
        || files
            .iter()
            .any(|(p, bytes)| std::fs::read(dir.join(p)).ok().as_deref() != Some(bytes.as_slice()));
    assert!(
        !stale,
        "gateway/kong/protos is stale: run `make kong-config` \
         (cargo run -p edge -- proto-bundle --out gateway/kong/protos)"
    );
}

/// (METHOD, Kong path) of every `google.api.http` rule, read straight from the
/// descriptor set (not through the edge's own code).
fn annotated_routes(pool: &DescriptorPool) -> BTreeSet<(String, String, String)> {
    let ext = pool.get_extension_by_name("google.api.http").unwrap();
    let mut out = BTreeSet::new();
    for service in pool.services() {
        for method in service.methods() {
            let opts = method.options();
            if !opts.has_extension(&ext) {
                continue;
            }
            let rule = opts.get_extension(&ext).as_message().unwrap().clone();
            let mut rules = vec![rule.clone()];
            if let Some(Value::List(extra)) = rule
                .get_field_by_name("additional_bindings")
                .map(|v| v.into_owned())
            {
                rules.extend(extra.into_iter().map(|b| b.as_message().unwrap().clone()));
            }
            for r in rules {
                for verb in ["get", "post", "put", "patch", "delete"] {
                    if let Some(Value::String(path)) = r.get_field_by_name(verb).map(|v| v.into_owned()) {
                        if r.has_field_by_name(verb) {
                            let re = regex_of(&path);
                            out.insert((service.full_name().to_owned(), verb.to_uppercase(), re));
                        }
                    }
                }
            }
        }
    }
    out
}

fn regex_of(template: &str) -> String {
    let mut out = String::from("~");
    let mut in_var = false;
    for c in template.chars() {
        match c {
            '{' => in_var = true,
            '}' => {
                in_var = false;
                out.push_str("[^/]+");
            }
            _ if in_var => {}
            '.' => out.push_str("\\."),
            c => out.push(c),
        }
    }
    out.push('$');
    out
}

#[test]
fn every_annotated_route_appears_in_kong_yml_and_nothing_else_does() {
    let config = edge_config();
    let pool = api::load_pool(&config).unwrap();
    let expected = annotated_routes(&pool);
    assert_eq!(
        expected.len(),
        26,
        "the API table of ARCHITECTURE.md (POST /v1/imports not yet built)"
    );

    let text = std::fs::read_to_string(kong_dir().join("kong.yml")).unwrap();
    let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(doc["_format_version"], "3.0");
    let mut found = BTreeSet::new();
    for service in doc["services"].as_array().unwrap() {
        assert_eq!(service["protocol"], "grpc");
        let name = service["name"].as_str().unwrap();
        let gateway = &service["plugins"][0];
        assert_eq!(gateway["name"], "grpc-gateway");
        let proto = gateway["config"]["proto"].as_str().unwrap();
        let rel = proto.strip_prefix("/usr/local/kong/protos/").unwrap();
        assert!(
            kong_dir().join("protos").join(rel).exists(),
            "{proto} is in the bundle"
        );
        for route in service["routes"].as_array().unwrap() {
            assert_eq!(route["protocols"], serde_json::json!(["http", "https"]));
            assert_eq!(route["strip_path"], false);
            let methods: Vec<&str> = route["methods"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect();
            let paths = route["paths"].as_array().unwrap();
            assert_eq!(paths.len(), 1);
            for m in methods.iter().filter(|m| **m != "OPTIONS") {
                let added = found.insert((
                    name.to_owned(),
                    m.to_string(),
                    paths[0].as_str().unwrap().to_owned(),
                ));
                assert!(added, "duplicate route {m} {}", paths[0]);
            }
            let public = config.is_public(name, route["name"].as_str().unwrap().rsplit('.').next().unwrap());
            let jwt = route["plugins"]
                .as_array()
                .is_some_and(|p| p.iter().any(|p| p["name"] == "jwt"));
            assert_eq!(jwt, !public, "jwt on {} exactly when not public", route["name"]);
        }
    }
    assert_eq!(found, expected);

    let consumer = &doc["consumers"][0]["jwt_secrets"][0];
    assert_eq!(consumer["algorithm"], "RS256");
    assert_eq!(consumer["key"], "expense-tracker");
    assert!(consumer["rsa_public_key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    let plugins: BTreeSet<&str> = doc["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["correlation-id", "cors", "post-function", "rate-limiting"] {
        assert!(plugins.contains(p), "global plugin {p}");
    }
    // One request-size-limiting per route instead (kong_buffers_and_limits_every_body...).
    assert!(!plugins.contains("request-size-limiting"));
}

/// `64k`, `1m` or plain bytes, as nginx reads a size.
fn nginx_size(text: &str) -> usize {
    let t = text.trim().to_ascii_lowercase();
    let (digits, unit) = match t.strip_suffix('k') {
        Some(d) => (d, 1024),
        None => match t.strip_suffix('m') {
            Some(d) => (d, 1024 * 1024),
            None => (t.as_str(), 1),
        },
    };
    digits.parse::<usize>().expect("an nginx size") * unit
}

#[test]
fn kong_buffers_and_limits_every_body_the_edge_accepts() {
    let config = edge_config();
    let text = std::fs::read_to_string(kong_dir().join("kong.yml")).unwrap();
    let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
    // Each route's request-size-limiting is the edge's limit for that method.
    for service in doc["services"].as_array().unwrap() {
        for route in service["routes"].as_array().unwrap() {
            let name = route["name"].as_str().unwrap();
            let method = name.split("-binding-").next().unwrap();
            let (svc, m) = method.rsplit_once('.').unwrap();
            let limits: Vec<_> = route["plugins"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["name"] == "request-size-limiting")
                .collect();
            assert_eq!(limits.len(), 1, "{name}: one request-size-limiting");
            assert_eq!(limits[0]["config"]["size_unit"], "bytes", "{name}");
            assert_eq!(
                limits[0]["config"]["allowed_payload_size"].as_u64(),
                Some(config.body_limit(svc, m) as u64),
                "{name}: kong.yml's limit differs from the edge's (make kong-config)"
            );
        }
    }
    // nginx's body buffer (and its hard maximum) in the Kong Helm values match the largest
    // limit: a smaller buffer loses bodies (grpc-gateway sends an empty message).
    let values = std::fs::read_to_string(manifest_dir().join("../../k8s/kong/values.yaml")).unwrap();
    let values: serde_json::Value = serde_norway::from_str(&values).unwrap();
    for (key, bytes) in kong::nginx_body_settings(&config) {
        let set = values["env"][key]
            .as_str()
            .unwrap_or_else(|| panic!("k8s/kong/values.yaml: env.{key} is missing (a string)"));
        assert_eq!(
            nginx_size(set),
            bytes,
            "k8s/kong/values.yaml: env.{key} = {set:?}, the edge's largest body limit is {bytes} bytes"
        );
    }
}

#[test]
fn kong_yml_passes_deck_validate_when_deck_is_installed() {
    let path = kong_dir().join("kong.yml");
    match std::process::Command::new("deck")
        .arg("validate")
        .arg("-s")
        .arg(&path)
        .output()
    {
        Err(_) => eprintln!("deck is not installed; gateway/kong/validate.sh installs it"),
        Ok(out) => assert!(
            out.status.success(),
            "deck validate failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn the_edge_config_reads_the_same_from_toml() {
    let toml = r#"
listen = "127.0.0.1:9090"
public = ["a.B"]
[upstreams."a.B"]
address = "127.0.0.1:1"
[rate_limit]
minute = 5
"#;
    let c = Config::from_toml_str(toml, &manifest_dir()).unwrap();
    assert_eq!(c.listen.port(), 9090);
    assert!(c.is_public("a.B", "M"));
    assert_eq!(c.upstreams["a.B"].uri(), "http://127.0.0.1:1");
    assert_eq!(c.rate_limit.minute, Some(5));
}

#[test]
fn the_post_function_writes_the_edges_error_bodies_when_luajit_is_installed() {
    let text = std::fs::read_to_string(kong_dir().join("kong.yml")).unwrap();
    let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
    let post = doc["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "post-function")
        .unwrap();
    let dir = std::env::temp_dir().join(format!("edge-post-function-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let header = dir.join("header_filter.lua");
    let body = dir.join("body_filter.lua");
    std::fs::write(&header, post["config"]["header_filter"][0].as_str().unwrap()).unwrap();
    std::fs::write(&body, post["config"]["body_filter"][0].as_str().unwrap()).unwrap();
    let harness = manifest_dir().join("tests/api/post_function_harness.lua");
    let run = std::process::Command::new("luajit")
        .arg(&harness)
        .arg(&header)
        .arg(&body)
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match run {
        Err(_) => eprintln!("luajit is not installed; the post-function Lua was not run"),
        Ok(out) => assert!(
            out.status.success(),
            "post-function Lua failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn the_checked_in_openapi_document_is_up_to_date() {
    let config = edge_config();
    let pool = api::load_pool(&config).unwrap();
    let fresh = edge::openapi::yaml(&config, &pool).unwrap();
    let path = manifest_dir().join("../openapi/openapi.yaml");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        fresh == checked_in,
        "gateway/openapi/openapi.yaml is stale: run `make openapi` \
         (cargo run -p edge -- openapi --out gateway/openapi/openapi.yaml)"
    );
}

#[test]
fn the_openapi_document_follows_kongs_json_rules() {
    let config = edge_config();
    let pool = api::load_pool(&config).unwrap();
    let doc = edge::openapi::document(&config, &pool).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every route is an operation, with bearer auth unless public.
    for r in kong::routes(&config, &pool).unwrap() {
        let op = &doc["paths"][r.template.openapi_path()][r.verb.method().as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} has no operation", r.name());
        let security = op["security"].as_array().unwrap();
        assert_eq!(security.is_empty(), r.rpc.public, "{}", r.name());
        assert_eq!(
            op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        assert!(
            op["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{}: no description",
            r.name()
        );
    }
    let schemas = &doc["components"]["schemas"];
    let expense = &schemas["expense_tracker.expense.v1.Expense"];
    // Amounts and ids are strings, enums by name, Timestamps Kong's way, zero values present.
    assert_eq!(expense["properties"]["amount"]["type"], "string");
    assert_eq!(expense["properties"]["id"]["type"], "string");
    assert!(expense["properties"]["category"]["enum"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("FOOD_AND_DRINK")));
    assert_eq!(
        expense["properties"]["created_at"]["pattern"],
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"
    );
    let required = expense["required"].as_array().unwrap();
    assert!(required.contains(&serde_json::json!("note")));
    assert!(
        !required.contains(&serde_json::json!("created_at")),
        "unset messages are absent"
    );
    // Request bodies leave out what the path gives, and require nothing.
    let patch =
        &doc["paths"]["/v1/expenses/{id}"]["patch"]["requestBody"]["content"]["application/json"]["schema"];
    assert!(patch["properties"]["id"].is_null());
    assert!(patch["required"].is_null());
    assert_eq!(patch["properties"]["amount"]["type"], "string");
}
