-- Issue 13: every change of an expense is published as `ExpenseChanged`, and consumers
-- order the changes of one expense by its version: 1 when recorded, +1 per change that
-- changed something. Rows stored before count as recorded once. A constant default is a
-- catalog-only change (no table rewrite).
ALTER TABLE expenses
    ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);

-- Expenses from an imported bank or app export (proto `Source::IMPORT`).
ALTER TABLE expenses DROP CONSTRAINT expenses_source_check;
ALTER TABLE expenses ADD CONSTRAINT expenses_source_check
    CHECK (source IN ('MANUAL', 'TEXT_RULES', 'TEXT_LLM', 'IMPORT'));
