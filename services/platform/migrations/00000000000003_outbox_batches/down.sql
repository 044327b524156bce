DROP TABLE outbox_batches;
