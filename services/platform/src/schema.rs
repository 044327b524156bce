// The platform's tables (migrations/00000000000001_platform), as `diesel print-schema` would write them.

diesel::table! {
    outbox (id) {
        id -> Uuid,
        topic -> Text,
        key -> Text,
        ce_type -> Text,
        payload -> Bytea,
        traceparent -> Nullable<Text>,
        tracestate -> Nullable<Text>,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    processed_events (consumer, event_id) {
        event_id -> Uuid,
        consumer -> Text,
        topic -> Text,
        processed_at -> Timestamptz,
    }
}
