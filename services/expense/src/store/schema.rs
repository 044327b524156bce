// As `diesel print-schema` writes it after migrations/2026-12-01-000001_expense_version.

diesel::table! {
    expenses (id) {
        id -> Uuid,
        user_id -> Uuid,
        amount_minor -> Int8,
        currency -> Text,
        merchant -> Text,
        category -> Text,
        occurred_on -> Date,
        note -> Text,
        raw_text -> Text,
        source -> Text,
        confidence -> Float4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    deleted_users (user_id) {
        user_id -> Uuid,
        deleted_at -> Timestamptz,
    }
}
