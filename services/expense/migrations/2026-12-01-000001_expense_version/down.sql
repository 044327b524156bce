-- Fails while IMPORT expenses exist: reverting must not lose them silently.
ALTER TABLE expenses DROP CONSTRAINT expenses_source_check;
ALTER TABLE expenses ADD CONSTRAINT expenses_source_check
    CHECK (source IN ('MANUAL', 'TEXT_RULES', 'TEXT_LLM'));
ALTER TABLE expenses DROP COLUMN version;
