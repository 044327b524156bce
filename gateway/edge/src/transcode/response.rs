//! Protobuf message → JSON text as Kong writes it: `cjson.encode(pb.decode(type, bytes))`
//! with lua-protobuf's proto3 defaults and Kong's Timestamp hook.
//!
//! - proto (snake_case) field names, in declaration order here (Lua tables have none);
//! - scalars always present, zero values included; unset message fields absent;
//! - repeated fields as arrays, `[]` when empty; maps as objects;
//! - enums by name (a number unknown to the enum stays a number);
//! - every number as Lua prints a double (`%.14g`), so int64 loses precision past 2^53;
//! - `google.protobuf.Timestamp` as `YYYY-MM-DDTHH:MM:SS` in UTC: lua-date's `${iso}`,
//!   without offset or fraction (Kong's own spec asserts `os.date("!%FT%T")`).

use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage, Value};

use super::{lua::fmt_g14, TIMESTAMP};

/// The JSON text of `msg`.
pub fn to_json(msg: &DynamicMessage) -> String {
    let mut out = String::with_capacity(256);
    write_message(&mut out, msg);
    out
}

fn write_message(out: &mut String, msg: &DynamicMessage) {
    out.push('{');
    let mut first = true;
    for field in msg.descriptor().fields() {
        // Messages, oneof members and `optional` scalars have presence: absent when unset,
        // like the nil lua-protobuf leaves for them.
        if field.supports_presence() && !msg.has_field(&field) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_str(out, field.name());
        out.push(':');
        let value = msg.get_field(&field);
        let kind = field.kind();
        match value.as_ref() {
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_value(out, &kind, item);
                }
                out.push(']');
            }
            Value::Map(map) => {
                let Kind::Message(entry) = &kind else {
                    unreachable!("map fields are messages")
                };
                let value_kind = entry.map_entry_value_field().kind();
                let mut entries: Vec<_> = map.iter().map(|(k, v)| (map_key(k), v)).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, &k);
                    out.push(':');
                    write_value(out, &value_kind, v);
                }
                out.push('}');
            }
            v => write_value(out, &kind, v),
        }
    }
    out.push('}');
}

fn map_key(k: &MapKey) -> String {
    match k {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(i) => i.to_string(),
        MapKey::I64(i) => i.to_string(),
        MapKey::U32(i) => i.to_string(),
        MapKey::U64(i) => i.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn write_value(out: &mut String, kind: &Kind, value: &Value) {
    match value {
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I32(i) => write_number(out, *i as f64),
        Value::I64(i) => write_number(out, *i as f64),
        Value::U32(i) => write_number(out, *i as f64),
        Value::U64(i) => write_number(out, *i as f64),
        Value::F32(f) => write_number(out, *f as f64),
        Value::F64(f) => write_number(out, *f),
        Value::String(s) => write_str(out, s),
        // Lua strings are bytes; cjson writes them as they are.
        Value::Bytes(b) => write_str(out, &String::from_utf8_lossy(b)),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => match e.get_value(*n) {
                Some(v) => write_str(out, v.name()),
                None => write_number(out, *n as f64),
            },
            _ => write_number(out, *n as f64),
        },
        Value::Message(m) if m.descriptor().full_name() == TIMESTAMP => write_timestamp(out, m),
        Value::Message(m) => write_message(out, m),
        Value::List(_) | Value::Map(_) => out.push_str("null"),
    }
}

fn write_number(out: &mut String, x: f64) {
    if x.is_finite() {
        out.push_str(&fmt_g14(x));
    } else {
        // cjson refuses NaN and infinities by default; null keeps the document valid.
        out.push_str("null");
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("strings serialize"));
}

fn write_timestamp(out: &mut String, ts: &DynamicMessage) {
    let seconds = ts
        .get_field_by_name("seconds")
        .and_then(|v| v.as_i64())
        .unwrap_or_default();
    match chrono::DateTime::from_timestamp(seconds, 0) {
        Some(t) => write_str(out, &t.format("%Y-%m-%dT%H:%M:%S").to_string()),
        None => write_number(out, seconds as f64),
    }
}
