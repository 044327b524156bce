CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
