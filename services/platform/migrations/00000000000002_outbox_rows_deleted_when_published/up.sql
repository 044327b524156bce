-- The relay deletes each row in the transaction that publishes it, so the table holds only
-- unpublished rows and the primary key serves the relay's scan in id order: the partial
-- index would be a second index entry written with every event for nothing. Rows the
-- previous relay marked published are of no use to anyone (and would sit in that scan).
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_unpublished;
