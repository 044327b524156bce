-- Safe retries (AIP-155 `request_id`, `platform::requests`): the answer a creating RPC gave
-- to one caller's request_id, so a retry (the first answer lost, a timeout, a 503 after
-- the effect had in fact happened) gets the same answer and creates nothing new. Every
-- service with a database has the table; each uses it for its own RPCs.
CREATE TABLE request_records (
    -- The caller (from the verified token): request ids are scoped per user, so another
    -- user's identical request_id is an unrelated request.
    user_id UUID NOT NULL,
    request_id UUID NOT NULL,
    -- SHA-256 of the RPC's name and its request without request_id: a different request
    -- under a used request_id is refused.
    request_hash BYTEA NOT NULL,
    -- The protobuf-encoded response the first request answered (or will answer, once its
    -- effect is acknowledged: see completed_at).
    response BYTEA NOT NULL,
    -- When the request's effect was durable (committed, or acknowledged by the broker);
    -- NULL while it may not be, so a retry completes it with the same response.
    completed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- After this the request_id may be reused, and the row is swept.
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, request_id)
);

CREATE INDEX request_records_expiry ON request_records (expires_at);
