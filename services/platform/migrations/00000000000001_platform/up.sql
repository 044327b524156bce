-- Tables every service with a database shares: the transactional outbox and the record
-- of processed events (idempotent consumers).

CREATE TABLE outbox (
    -- CloudEvents ce_id, UUIDv7: also orders rows by creation.
    id UUID PRIMARY KEY,
    topic TEXT NOT NULL,
    -- Kafka key (the user id).
    key TEXT NOT NULL,
    ce_type TEXT NOT NULL,
    payload BYTEA NOT NULL,
    -- W3C trace context of the transaction that wrote the event.
    traceparent TEXT,
    tracestate TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);

-- The relay only ever scans unpublished rows.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE processed_events (
    event_id UUID NOT NULL,
    -- The consumer (group) that processed it: one database may host several consumers.
    consumer TEXT NOT NULL,
    topic TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
