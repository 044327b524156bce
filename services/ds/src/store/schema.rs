// As `diesel print-schema` writes it after migrations/2026-12-01-000001_memory.

diesel::table! {
    rules (id) {
        id -> Uuid,
        user_id -> Uuid,
        pattern -> Text,
        merchant -> Text,
        category -> Text,
        origin -> Text,
        strength -> Int2,
        expense_id -> Nullable<Uuid>,
        expense_version -> Nullable<Int4>,
        hits -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    expense_versions (expense_id) {
        expense_id -> Uuid,
        user_id -> Uuid,
        version -> Int4,
    }
}

diesel::table! {
    deleted_users (user_id) {
        user_id -> Uuid,
        deleted_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(rules, expense_versions, deleted_users);
