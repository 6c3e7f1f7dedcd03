-- The inbox claims only what is still to be handled. An index over every
-- state kept an entry for each state a delivery passed through (until a
-- vacuum), and the claim read past all of them: 11 ms a claim after 25,000
-- deliveries. This one holds the pending deliveries only, and is read in
-- order, so a claim stops after the rows it takes.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at) WHERE state IN ('received', 'retrying', 'running');

-- Every delivery is inserted and updated twice; vacuum after 2% of the
-- table has changed (not PostgreSQL's default of 20%), so a large log does
-- not carry millions of dead rows.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
