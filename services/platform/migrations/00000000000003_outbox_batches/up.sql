-- A batch consumer's change events, one row per batch transaction rather than one per
-- event (`platform::outbox::enqueue_batch`): one heap tuple and one index entry for a
-- thousand events instead of a thousand of each, and one row for the relay to lock and
-- delete. The events of a row share topic, type and trace context; each keeps its own
-- ce_id, key, time and payload, at the same position of the arrays. A table of its own, so
-- a relay of the previous release (which knows only `outbox`) never publishes a batch row
-- as one event while a rollout replaces it.
CREATE TABLE outbox_batches (
    -- UUIDv7 taken when the batch was written: the relay merges these rows with `outbox`'s
    -- in id order, so events of one key still go out in the order they were written.
    id UUID PRIMARY KEY,
    topic TEXT NOT NULL,
    ce_type TEXT NOT NULL,
    traceparent TEXT,
    tracestate TEXT,
    -- How many events the row holds (the relay sizes its Kafka transactions by it without
    -- reading the arrays).
    events INTEGER NOT NULL CHECK (events > 0),
    event_ids UUID[] NOT NULL,
    keys TEXT[] NOT NULL,
    times TIMESTAMPTZ[] NOT NULL,
    payloads BYTEA[] NOT NULL,
    CHECK (cardinality(event_ids) = events AND cardinality(keys) = events
           AND cardinality(times) = events AND cardinality(payloads) = events)
);

-- The arrays of a batch (~300 kB of payloads for 1,000 ExpenseChanged) are stored out of
-- line (TOAST), compressed: lz4 compresses several times faster than the default pglz, for
-- a few per cent more bytes. A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE outbox_batches
        ALTER COLUMN payloads SET COMPRESSION lz4,
        ALTER COLUMN keys SET COMPRESSION lz4,
        ALTER COLUMN event_ids SET COMPRESSION lz4,
        ALTER COLUMN times SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 unavailable: outbox_batches keeps the default compression';
END
$$;
