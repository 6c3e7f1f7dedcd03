-- The inbox claims only what is still to be handled. An index over every
-- state kept an entry for each state a delivery passed through, and the
-- claim read past all of them; this one holds the pending deliveries only.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE state IN ('received', 'retrying', 'running');
