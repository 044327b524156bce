//! HTTP request → protobuf message, following `deco.lua`'s `deco:upstream`:
//!
//! 1. path variables go in first, as strings;
//! 2. with a `body` rule and a non-empty body: `body: "*"` merges the JSON object over
//!    them (the body wins), `body: "field"` puts the JSON value into that field; query
//!    parameters are ignored;
//! 3. without a `body` rule: each query parameter `a.b.c=v` walks nested message fields;
//!    names that are not fields are dropped; a bool is false only for `0` and `false`.
//!
//! Field names are proto (snake_case) names, as lua-protobuf knows no others; unknown JSON
//! keys are dropped. A string or bytes field takes only a JSON string, as lua-protobuf's
//! `lpb_toslice` (pb.c) takes only a Lua string: a number there is Kong's 400 `failed to
//! encode payload`, and the edge's 400 too. Where lua-protobuf would silently coerce
//! nonsense (`"dry_run": "false"` is truthy in Lua, `1.5` truncates to 1, `"0x10"` is 16),
//! the edge refuses with 400 instead; well-formed requests transcode identically.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage, Value,
};
use serde_json::Value as Json;

use super::{TranscodeError, TIMESTAMP};
use crate::api::{BodyRule, Route};

/// Builds the request message of `route`.
pub fn build(
    route: &Route,
    vars: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, TranscodeError> {
    let desc = route.rpc.method.input();
    let mut msg = DynamicMessage::new(desc.clone());
    for (name, value) in vars {
        // A dotted variable is the literal key "a.b" in Kong's table: no such field.
        if let Some(field) = desc.get_field_by_name(name) {
            let v = from_text(&field, Some(value))?;
            msg.set_field(&field, v);
        }
    }
    match &route.body {
        BodyRule::None => {
            if let Some(q) = query {
                apply_query(&mut msg, q)?;
            }
        }
        _ if body.is_empty() => {}
        BodyRule::Whole => {
            let json: Json = parse_json(body)?;
            let Json::Object(obj) = json else {
                return Err(TranscodeError::NotAnObject);
            };
            for (k, v) in obj {
                if let Some(field) = desc.get_field_by_name(&k) {
                    let value = from_json_field(&field, &v)?;
                    msg.set_field(&field, value);
                }
            }
        }
        BodyRule::Field(name) => {
            let json: Json = parse_json(body)?;
            if let Some(field) = desc.get_field_by_name(name) {
                let value = from_json_field(&field, &json)?;
                msg.set_field(&field, value);
            }
        }
    }
    Ok(msg)
}

fn parse_json(body: &[u8]) -> Result<Json, TranscodeError> {
    serde_json::from_slice(body).map_err(|e| TranscodeError::Json(e.to_string()))
}

fn encode_err(msg: impl Into<String>) -> TranscodeError {
    TranscodeError::Encode(msg.into())
}

// === query parameters ===

fn apply_query(msg: &mut DynamicMessage, query: &str) -> Result<(), TranscodeError> {
    let mut seen = std::collections::HashSet::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        // `?flag` (no `=`) is Lua's `true`, distinct from `?flag=`.
        let (key, value) = match pair.split_once('=') {
            Some((k, v)) => (decode_component(k), Some(decode_component(v))),
            None => (decode_component(pair), None),
        };
        if !seen.insert(key.clone()) {
            // ngx.req.get_uri_args() turns a repeated name into a table, which pb.encode
            // refuses for every field kind we could map it to.
            if resolve_path(msg.descriptor(), &key).is_some() {
                return Err(encode_err(format!(
                    "query parameter {key:?} given more than once"
                )));
            }
            continue;
        }
        set_path(msg, &key, value.as_deref())?;
    }
    Ok(())
}

fn decode_component(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The field chain a dotted query name addresses, if every step exists.
fn resolve_path(desc: MessageDescriptor, key: &str) -> Option<Vec<FieldDescriptor>> {
    let mut chain = vec![];
    let mut current = Some(desc);
    for part in key.split('.') {
        let d = current.take()?;
        let field = d.get_field_by_name(part)?;
        current = match field.kind() {
            Kind::Message(m) if !field.is_list() && !field.is_map() => Some(m),
            _ => None,
        };
        chain.push(field);
    }
    Some(chain)
}

fn set_path(msg: &mut DynamicMessage, key: &str, value: Option<&str>) -> Result<(), TranscodeError> {
    let Some(chain) = resolve_path(msg.descriptor(), key) else {
        return Ok(()); // not a field: Kong drops it
    };
    let (last, parents) = chain.split_last().expect("non-empty chain");
    let mut target = msg;
    for f in parents {
        let v = target.get_field_mut(f);
        target = match v {
            Value::Message(m) => m,
            _ => return Ok(()),
        };
    }
    if last.is_list() || last.is_map() {
        return Err(encode_err(format!(
            "query parameter {key:?} maps to a repeated field, which Kong cannot fill from a query"
        )));
    }
    let v = from_text(last, value)?;
    target.set_field(last, v);
    Ok(())
}

/// A path variable or query value for `field`.
fn from_text(field: &FieldDescriptor, text: Option<&str>) -> Result<Value, TranscodeError> {
    let name = field.name();
    let kind = field.kind();
    if let Kind::Bool = kind {
        // deco.lua's encode_fix: `v and v ~= "0" and v ~= "false"`.
        return Ok(Value::Bool(!matches!(text, Some("0") | Some("false"))));
    }
    let Some(text) = text else {
        return Err(encode_err(format!("field {name:?} needs a value")));
    };
    scalar_from_str(&kind, name, text)
}

fn scalar_from_str(kind: &Kind, name: &str, text: &str) -> Result<Value, TranscodeError> {
    let bad = |what: &str| encode_err(format!("field {name:?} expects {what}, got {text:?}"));
    Ok(match kind {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bytes => Value::Bytes(text.as_bytes().to_vec().into()),
        Kind::Bool => Value::Bool(!matches!(text, "0" | "false")),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(parse_int(text).ok_or_else(|| bad("an int32"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(parse_int(text).ok_or_else(|| bad("an int64"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(parse_int(text).ok_or_else(|| bad("a uint32"))?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(parse_int(text).ok_or_else(|| bad("a uint64"))?),
        Kind::Float => Value::F32(text.trim().parse::<f32>().map_err(|_| bad("a number"))?),
        Kind::Double => Value::F64(text.trim().parse::<f64>().map_err(|_| bad("a number"))?),
        Kind::Enum(e) => match e.get_value_by_name(text) {
            Some(v) => Value::EnumNumber(v.number()),
            None => Value::EnumNumber(text.trim().parse::<i32>().map_err(|_| {
                encode_err(format!(
                    "field {name:?}: {text:?} is not a value of enum {}",
                    e.full_name()
                ))
            })?),
        },
        Kind::Message(m) if m.full_name() == TIMESTAMP => timestamp(m, name, text)?,
        Kind::Message(m) => {
            return Err(encode_err(format!(
                "field {name:?} is a message ({}) and cannot take a plain value",
                m.full_name()
            )))
        }
    })
}

/// Integers as Lua converts strings: decimal, optionally with an integral fraction (`"5.0"`).
fn parse_int<T: TryFrom<i128>>(text: &str) -> Option<T> {
    let t = text.trim();
    if let Ok(i) = t.parse::<i128>() {
        return T::try_from(i).ok();
    }
    let f = t.parse::<f64>().ok()?;
    (f.fract() == 0.0 && f.abs() < 1.8e19).then(|| T::try_from(f as i128).ok())?
}

/// `google.protobuf.Timestamp` from a string: Kong's encode hook parses it with lua-date,
/// which takes RFC 3339, a naive date-time (read as UTC) or a plain date.
fn timestamp(desc: &MessageDescriptor, name: &str, text: &str) -> Result<Value, TranscodeError> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    let parsed = DateTime::parse_from_rfc3339(text)
        .map(|d| d.to_utc())
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|d| d.and_utc()))
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|d| d.and_utc()))
        .or_else(|_| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        })
        .map_err(|_| encode_err(format!("field {name:?} expects a time string, got {text:?}")))?;
    let mut ts = DynamicMessage::new(desc.clone());
    ts.set_field_by_name("seconds", Value::I64(parsed.timestamp()));
    ts.set_field_by_name("nanos", Value::I32(parsed.timestamp_subsec_nanos() as i32));
    Ok(Value::Message(ts))
}

// === JSON bodies ===

/// A JSON value for `field`, repeated and map fields included.
pub fn from_json_field(field: &FieldDescriptor, v: &Json) -> Result<Value, TranscodeError> {
    let name = field.name();
    if v.is_null() {
        // cjson.null is a userdata; pb.encode refuses it (Kong's "null in json" → 400).
        return Err(encode_err(format!("field {name:?} is null")));
    }
    if field.is_map() {
        let Json::Object(obj) = v else {
            return Err(encode_err(format!("field {name:?} expects an object")));
        };
        let Kind::Message(entry) = field.kind() else {
            unreachable!("map fields are messages")
        };
        let key_field = entry.map_entry_key_field();
        let value_field = entry.map_entry_value_field();
        let mut map = std::collections::HashMap::new();
        for (k, val) in obj {
            let key = match scalar_from_str(&key_field.kind(), name, k)? {
                Value::String(s) => MapKey::String(s),
                Value::Bool(b) => MapKey::Bool(b),
                Value::I32(i) => MapKey::I32(i),
                Value::I64(i) => MapKey::I64(i),
                Value::U32(i) => MapKey::U32(i),
                Value::U64(i) => MapKey::U64(i),
                _ => return Err(encode_err(format!("field {name:?}: unsupported map key"))),
            };
            map.insert(key, from_json_kind(&value_field.kind(), name, val)?);
        }
        return Ok(Value::Map(map));
    }
    if field.is_list() {
        let items = match v {
            Json::Array(items) => items.as_slice(),
            // cjson decodes `{}` to an empty table, which is also an empty list.
            Json::Object(o) if o.is_empty() => &[],
            _ => return Err(encode_err(format!("field {name:?} expects an array"))),
        };
        return items
            .iter()
            .map(|item| {
                if item.is_null() {
                    Err(encode_err(format!("field {name:?} contains null")))
                } else {
                    from_json_kind(&field.kind(), name, item)
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    from_json_kind(&field.kind(), name, v)
}

fn from_json_kind(kind: &Kind, name: &str, v: &Json) -> Result<Value, TranscodeError> {
    let bad = |what: &str| encode_err(format!("field {name:?} expects {what}, got {v}"));
    match (kind, v) {
        (Kind::Message(m), Json::String(s)) if m.full_name() == TIMESTAMP => timestamp(m, name, s),
        (Kind::Message(m), Json::Object(obj)) if m.full_name() != TIMESTAMP => {
            let mut msg = DynamicMessage::new(m.clone());
            for (k, val) in obj {
                if let Some(f) = m.get_field_by_name(k) {
                    let value = from_json_field(&f, val)?;
                    msg.set_field(&f, value);
                }
            }
            Ok(Value::Message(msg))
        }
        (Kind::Message(m), _) if m.full_name() == TIMESTAMP => Err(bad("a time string")),
        (Kind::Message(_), _) => Err(bad("an object")),
        (Kind::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
        (Kind::Bool, _) => Err(bad("true or false")),
        // lua-protobuf takes only a Lua string for a string/bytes field (Kong: 400).
        (Kind::String | Kind::Bytes, _) if !v.is_string() => Err(bad("a JSON string")),
        (_, Json::String(s)) => scalar_from_str(kind, name, s),
        (Kind::Enum(_), Json::Number(n)) => n
            .as_i64()
            .and_then(|i| i32::try_from(i).ok())
            .map(Value::EnumNumber)
            .ok_or_else(|| bad("an enum name or number")),
        (Kind::Float, Json::Number(n)) => n
            .as_f64()
            .map(|f| Value::F32(f as f32))
            .ok_or_else(|| bad("a number")),
        (Kind::Double, Json::Number(n)) => n.as_f64().map(Value::F64).ok_or_else(|| bad("a number")),
        (_, Json::Number(n)) => {
            let text = n.to_string();
            match scalar_from_str(kind, name, &text) {
                Ok(v) => Ok(v),
                Err(_) => Err(bad("an integer in range")),
            }
        }
        _ => Err(bad(kind_name(kind))),
    }
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::String => "a string",
        Kind::Bytes => "a string",
        _ => "a number",
    }
}
