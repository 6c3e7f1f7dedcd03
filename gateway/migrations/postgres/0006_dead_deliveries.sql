-- `/metrics` counts dead deliveries per workspace on every scrape; without
-- an index that read the whole delivery log (90 days of it by default) each
-- time. Dead deliveries are few, so this index is small.
CREATE INDEX deliveries_dead ON deliveries (workspace_id) WHERE state = 'dead';
