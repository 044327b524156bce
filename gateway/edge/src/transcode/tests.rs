//! Transcoding of every field kind against a synthetic service, for what the contracts'
//! own messages do not exercise (GET bools, nested query names, int64, maps).

use std::sync::Arc;

use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage, Value};
use prost_types::{
    field_descriptor_proto::{Label, Type},
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FileDescriptorProto, MessageOptions, MethodDescriptorProto, ServiceDescriptorProto,
};

use super::{request, response, TranscodeError};
use crate::api::{BodyRule, PathTemplate, Route, Rpc, Verb};

fn field(name: &str, number: i32, ty: Type, type_name: Option<&str>, repeated: bool) -> FieldDescriptorProto {
    FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        r#type: Some(ty as i32),
        type_name: type_name.map(str::to_owned),
        label: Some(if repeated {
            Label::Repeated
        } else {
            Label::Optional
        } as i32),
        ..Default::default()
    }
}

fn pool() -> DescriptorPool {
    let mut pool = crate::api::decode_pool(contracts::FILE_DESCRIPTOR_SET).unwrap();
    let file = FileDescriptorProto {
        name: Some("t/t.proto".into()),
        package: Some("t".into()),
        dependency: vec!["google/protobuf/timestamp.proto".into()],
        syntax: Some("proto3".into()),
        enum_type: vec![EnumDescriptorProto {
            name: Some("Color".into()),
            value: ["COLOR_UNSPECIFIED", "RED"]
                .iter()
                .enumerate()
                .map(|(i, n)| EnumValueDescriptorProto {
                    name: Some((*n).into()),
                    number: Some(i as i32),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        message_type: vec![
            DescriptorProto {
                name: Some("Inner".into()),
                field: vec![
                    field("s", 1, Type::String, None, false),
                    field("n", 2, Type::Int32, None, false),
                ],
                ..Default::default()
            },
            DescriptorProto {
                name: Some("Req".into()),
                field: vec![
                    field("flag", 1, Type::Bool, None, false),
                    field("name", 2, Type::String, None, false),
                    field("inner", 3, Type::Message, Some(".t.Inner"), false),
                    field("tags", 4, Type::String, None, true),
                    field("big", 5, Type::Int64, None, false),
                    field("color", 6, Type::Enum, Some(".t.Color"), false),
                    field("at", 7, Type::Message, Some(".google.protobuf.Timestamp"), false),
                    field("counts", 8, Type::Message, Some(".t.Req.CountsEntry"), true),
                    field("ratio", 9, Type::Double, None, false),
                ],
                nested_type: vec![DescriptorProto {
                    name: Some("CountsEntry".into()),
                    field: vec![
                        field("key", 1, Type::String, None, false),
                        field("value", 2, Type::Int32, None, false),
                    ],
                    options: Some(MessageOptions {
                        map_entry: Some(true),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        service: vec![ServiceDescriptorProto {
            name: Some("S".into()),
            method: vec![MethodDescriptorProto {
                name: Some("M".into()),
                input_type: Some(".t.Req".into()),
                output_type: Some(".t.Req".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    pool.add_file_descriptor_proto(file).unwrap();
    pool
}

fn route(template: &str, body: BodyRule) -> Route {
    let pool = pool();
    let service = pool.get_service_by_name("t.S").unwrap();
    let method = service.methods().next().unwrap();
    Route {
        rpc: Arc::new(Rpc {
            grpc_path: "/t.S/M".into(),
            public: true,
            service,
            method,
        }),
        verb: Verb::Get,
        template: PathTemplate::parse(template).unwrap(),
        body,
        binding: 0,
    }
}

fn get(msg: &DynamicMessage, name: &str) -> Value {
    msg.get_field_by_name(name).unwrap().into_owned()
}

fn query(q: &str) -> Result<DynamicMessage, TranscodeError> {
    request::build(&route("/x", BodyRule::None), &[], Some(q), b"")
}

#[test]
fn query_bools_are_false_only_for_0_and_false() {
    for (q, want) in [
        ("flag=true", true),
        ("flag=1", true),
        ("flag=yes", true),
        ("flag", true),
        ("flag=0", false),
        ("flag=false", false),
    ] {
        assert_eq!(get(&query(q).unwrap(), "flag"), Value::Bool(want), "{q}");
    }
}

#[test]
fn dotted_query_names_fill_nested_messages_and_unknown_names_are_dropped() {
    let msg =
        query("inner.s=a%20b&inner.n=7&inner.zzz=1&nope=2&name=x+y&color=RED&big=12&at=2024-05-01T10:20:30Z")
            .unwrap();
    let Value::Message(inner) = get(&msg, "inner") else {
        panic!("inner")
    };
    assert_eq!(get(&inner, "s"), Value::String("a b".into()));
    assert_eq!(get(&inner, "n"), Value::I32(7));
    assert_eq!(get(&msg, "name"), Value::String("x y".into()));
    assert_eq!(get(&msg, "color"), Value::EnumNumber(1));
    assert_eq!(get(&msg, "big"), Value::I64(12));
    let Value::Message(at) = get(&msg, "at") else {
        panic!("at")
    };
    assert_eq!(get(&at, "seconds"), Value::I64(1714558830));
}

#[test]
fn query_values_kong_cannot_encode_are_400() {
    for q in ["tags=a", "name=a&name=b", "color=PURPLE", "big=abc", "inner=x"] {
        assert!(matches!(query(q), Err(TranscodeError::Encode(_))), "{q}");
    }
}

#[test]
fn path_variables_are_set_and_the_body_overrides_them() {
    let r = route("/x/{name}", BodyRule::Whole);
    let msg = request::build(
        &r,
        &[("name".into(), "path".into())],
        Some("flag=1"),
        br#"{"ratio": 1.5}"#,
    )
    .unwrap();
    assert_eq!(get(&msg, "name"), Value::String("path".into()));
    assert_eq!(get(&msg, "flag"), Value::Bool(false), "query ignored with a body");
    let msg = request::build(
        &r,
        &[("name".into(), "path".into())],
        None,
        br#"{"name": "body"}"#,
    )
    .unwrap();
    assert_eq!(get(&msg, "name"), Value::String("body".into()));
}

#[test]
fn body_field_puts_the_json_into_that_field() {
    let r = route("/x", BodyRule::Field("inner".into()));
    let msg = request::build(&r, &[], None, br#"{"s": "v", "n": "3"}"#).unwrap();
    let Value::Message(inner) = get(&msg, "inner") else {
        panic!("inner")
    };
    assert_eq!(get(&inner, "n"), Value::I32(3));
}

#[test]
fn json_bodies_follow_lua_protobuf() {
    let r = route("/x", BodyRule::Whole);
    let msg = request::build(
        &r,
        &[],
        None,
        br#"{"name": "12.50", "tags": ["a"], "counts": {"k": 2}, "color": 1, "big": "9007199254740993", "camelCase": 1}"#,
    )
    .unwrap();
    assert_eq!(get(&msg, "name"), Value::String("12.50".into()));
    assert_eq!(get(&msg, "big"), Value::I64(9007199254740993));
    assert_eq!(get(&msg, "color"), Value::EnumNumber(1));
    for bad in [
        &br#"{"name": null}"#[..],
        br#"{"flag": "false"}"#,
        br#"{"tags": "a"}"#,
        br#"{"inner": 3}"#,
        br#"{"big": 1.5}"#,
        // lua-protobuf: a string field takes a Lua string only (Kong: 400).
        br#"{"name": 12.50}"#,
        br#"{"name": true}"#,
        br#"{"tags": [1]}"#,
        br#"{"name": {}}"#,
    ] {
        assert!(
            matches!(request::build(&r, &[], None, bad), Err(TranscodeError::Encode(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(
        request::build(&r, &[], None, b"[1]"),
        Err(TranscodeError::NotAnObject)
    );
    assert!(matches!(
        request::build(&r, &[], None, b"{"),
        Err(TranscodeError::Json(_))
    ));
}

#[test]
fn responses_are_encoded_like_cjson_of_pb_decode() {
    let pool = pool();
    let desc = pool.get_message_by_name("t.Req").unwrap();
    let mut msg = DynamicMessage::new(desc.clone());
    assert_eq!(
        response::to_json(&msg),
        r#"{"flag":false,"name":"","tags":[],"big":0,"color":"COLOR_UNSPECIFIED","counts":{},"ratio":0}"#
    );
    msg.set_field_by_name("big", Value::I64(9007199254740993));
    msg.set_field_by_name("color", Value::EnumNumber(7));
    msg.set_field_by_name("ratio", Value::F64(0.1));
    let ts_desc = msg.descriptor().get_field_by_name("at").unwrap();
    let prost_reflect::Kind::Message(ts) = ts_desc.kind() else {
        panic!()
    };
    let mut at = DynamicMessage::new(ts);
    at.set_field_by_name("seconds", Value::I64(1714558830));
    at.set_field_by_name("nanos", Value::I32(5));
    msg.set_field_by_name("at", Value::Message(at));
    let json: serde_json::Value = serde_json::from_str(&response::to_json(&msg)).unwrap();
    assert_eq!(json["color"], 7, "unknown enum numbers stay numbers");
    assert_eq!(json["at"], "2024-05-01T10:20:30");
    assert!(response::to_json(&msg).contains(r#""big":9.007199254741e+15"#));
}
