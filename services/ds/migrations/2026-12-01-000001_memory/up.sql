-- Each user's memory: rules learned from their corrections and entries (consumed
-- ExpenseChanged) and rules they wrote themselves. Rebuildable by replaying
-- expense.expense-changed.v1 (explicit rules excepted: they come from the API only).
CREATE TABLE rules (
    -- Learned rules: a UUIDv5 of (user, origin, pattern), so a replay rebuilds the same ids.
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    -- Lower-case words separated by single spaces ("kumaran stores").
    pattern TEXT NOT NULL CHECK (pattern <> ''),
    -- Empty: the extractor's merchant stays.
    merchant TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL CHECK (category IN (
        'FOOD_AND_DRINK', 'GROCERIES', 'TRANSPORT', 'SHOPPING', 'HOUSING', 'UTILITIES', 'HEALTH',
        'ENTERTAINMENT', 'TRAVEL', 'EDUCATION', 'PERSONAL_CARE', 'GIFTS_AND_DONATIONS',
        'FEES_AND_CHARGES', 'INSURANCE', 'OTHER')),
    origin TEXT NOT NULL CHECK (origin IN ('LEARNED', 'EXPLICIT')),
    -- Learned: 1 from an entry, 2 from a correction (a weaker lesson never overwrites a
    -- stronger one of the same pattern); explicit: 3.
    strength SMALLINT NOT NULL CHECK (strength BETWEEN 1 AND 3),
    -- The change a learned rule came from.
    expense_id UUID,
    expense_version INTEGER,
    hits INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Learned: the time of the change (so a replay rebuilds it exactly).
    updated_at TIMESTAMPTZ NOT NULL
);

-- One pattern per user and origin; its leading column also serves the one query an
-- extraction makes (every rule of the caller, at most 500).
CREATE UNIQUE INDEX rules_user_origin_pattern ON rules (user_id, origin, pattern);

-- The newest version of each expense seen, so an older change delivered late (relay
-- replicas, replays) changes nothing.
CREATE TABLE expense_versions (
    expense_id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX expense_versions_user ON expense_versions (user_id);

-- Deleted accounts: a late ExpenseChanged must not teach a deleted user's memory again.
CREATE TABLE deleted_users (
    user_id UUID PRIMARY KEY,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
