-- budget-service's tables. Money is integer minor units with the currency's own exponent,
-- never a float. Platform's outbox and processed_events come from platform's migrations.

-- A budget: an amount in one currency per calendar month or ISO week, for one category
-- or (category NULL) every category.
CREATE TABLE budgets (
    -- UUIDv7, or UUIDv5 of (user, request_id) when the client sent one: a retry lands
    -- on the same row.
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    name TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    category TEXT,
    period TEXT NOT NULL CHECK (period IN ('MONTHLY', 'WEEKLY')),
    -- Ascending, unique, 1..1000, at most 10 (checked by the service).
    alert_percents INTEGER[] NOT NULL,
    request_id UUID,
    -- What the creating request asked for: a retry with another body is refused, even
    -- after the budget was edited.
    request_fingerprint TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, request_id)
);

-- The list, oldest first, and the consumer's "budgets of this user".
CREATE INDEX budgets_user ON budgets (user_id, created_at, id);

-- The projection of each user's expenses, as ExpenseChanged describes them. A deleted
-- expense keeps a tombstone (deleted, with the version of the deletion) so that an older
-- RECORDED or UPDATED arriving later cannot bring it back.
CREATE TABLE expenses (
    user_id UUID NOT NULL,
    expense_id UUID NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    category TEXT NOT NULL,
    occurred_on DATE NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, expense_id)
);

-- A period's spending is one index-only range scan of the user's live expenses in the
-- period: (user, date) is the range, the included columns answer the filter and the sum.
CREATE INDEX expenses_spending ON expenses (user_id, occurred_on)
    INCLUDE (amount_minor, currency, category) WHERE NOT deleted;

-- Alerts: one per (budget, period, threshold), ever. The unique key is what makes "once"
-- survive redelivery, replays, and spending that drops and crosses again: the insert
-- that conflicts publishes nothing. No foreign key: a deleted budget's alerts stay.
CREATE TABLE alerts (
    -- UUIDv5 of (budget, period_start, threshold): a replay into an empty database
    -- rebuilds the same ids (and the BudgetAlert's ce_id is the same id).
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    budget_id UUID NOT NULL,
    budget_name TEXT NOT NULL,
    period_start DATE NOT NULL,
    percent_threshold INTEGER NOT NULL,
    spent_minor BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (budget_id, period_start, percent_threshold)
);

-- ListAlerts, newest first, keyset on (created_at, id).
CREATE INDEX alerts_user_newest ON alerts (user_id, created_at DESC, id DESC);

-- Deleted accounts: a late ExpenseChanged of a purged user must not rebuild their
-- projection.
CREATE TABLE deleted_users (
    user_id UUID PRIMARY KEY,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
