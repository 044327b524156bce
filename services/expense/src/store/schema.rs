// As `diesel print-schema` writes it for migrations/2026-11-26-000001_expenses.

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
    }
}

diesel::table! {
    deleted_users (user_id) {
        user_id -> Uuid,
        deleted_at -> Timestamptz,
    }
}
