-- The ledger. Money is integer minor units with the currency's own exponent (JPY 0, USD 2,
-- BHD 3), never a float.
CREATE TABLE expenses (
    -- UUIDv7: generated here for manual entries, by ds-service for extracted ones (the
    -- consumer upserts by it). Time-ordered, so it doubles as the list's tie-break.
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    -- Empty when unknown.
    merchant TEXT NOT NULL DEFAULT '',
    category TEXT NOT NULL CHECK (category IN (
        'FOOD_AND_DRINK', 'GROCERIES', 'TRANSPORT', 'SHOPPING', 'HOUSING', 'UTILITIES', 'HEALTH',
        'ENTERTAINMENT', 'TRAVEL', 'EDUCATION', 'PERSONAL_CARE', 'GIFTS_AND_DONATIONS',
        'FEES_AND_CHARGES', 'INSURANCE', 'OTHER')),
    -- The calendar date in the user's own time zone (ds-service resolves "yesterday" with
    -- the user's zone), so month grouping needs no conversion.
    occurred_on DATE NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    -- The text it was extracted from; empty for manual entries.
    raw_text TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL CHECK (source IN ('MANUAL', 'TEXT_RULES', 'TEXT_LLM')),
    confidence REAL NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One index serves both reads of one user's expenses:
-- - the list, newest first: `WHERE user_id = $1 AND (occurred_on, id) < ($2, $3) ORDER BY
--   occurred_on DESC, id DESC LIMIT n` is one index range scan (the row comparison is an index
--   condition) that stops after n entries, however deep the page (keyset pagination);
-- - summaries, which read every expense of a user in a date range but only the included
--   columns: an index-only scan that never touches the table (once vacuum has marked the
--   pages all-visible). One index instead of two also keeps the consumer's inserts cheap.
CREATE INDEX expenses_user_list ON expenses (user_id, occurred_on DESC, id DESC)
    INCLUDE (amount_minor, currency, category, merchant);

-- Deleted accounts: a late or replayed ExpenseExtracted must not bring an expense back.
CREATE TABLE deleted_users (
    user_id UUID PRIMARY KEY,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
