// As `diesel print-schema` writes it after migrations/2026-12-02-000002_expense_totals.

diesel::table! {
    budgets (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        amount_minor -> Int8,
        currency -> Text,
        category -> Nullable<Text>,
        period -> Text,
        alert_percents -> Array<Int4>,
        request_id -> Nullable<Uuid>,
        request_fingerprint -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    expenses (user_id, expense_id) {
        user_id -> Uuid,
        expense_id -> Uuid,
        version -> Int4,
        amount_minor -> Int8,
        currency -> Text,
        category -> Text,
        occurred_on -> Date,
        deleted -> Bool,
    }
}

diesel::table! {
    expense_totals (user_id, occurred_on, currency, category) {
        user_id -> Uuid,
        occurred_on -> Date,
        currency -> Text,
        category -> Text,
        total -> Int8,
        count -> Int8,
    }
}

diesel::table! {
    alerts (id) {
        id -> Uuid,
        user_id -> Uuid,
        budget_id -> Uuid,
        budget_name -> Text,
        period_start -> Date,
        percent_threshold -> Int4,
        spent_minor -> Int8,
        amount_minor -> Int8,
        currency -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    deleted_users (user_id) {
        user_id -> Uuid,
        deleted_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(budgets, expenses, expense_totals, alerts, deleted_users);
