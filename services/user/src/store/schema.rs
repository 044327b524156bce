// As `diesel print-schema` writes it for migrations/2026-11-25-000001_profiles.

diesel::table! {
    profiles (user_id) {
        user_id -> Uuid,
        email -> Text,
        display_name -> Text,
        default_currency -> Text,
        timezone -> Text,
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
