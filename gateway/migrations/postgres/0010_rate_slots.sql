-- The budget of requests to Clockify that every instance on this database
-- shares (50 per second per workspace): one row per start allowed in a
-- window. A request claims a slot last used a window ago or earlier, so no
-- window holds more starts than there are slots. Times are the database's
-- clock, never an instance's. PostgreSQL only: one SQLite file has one
-- instance, whose in-process budget is enough.
CREATE TABLE rate_slots (
    workspace_id TEXT NOT NULL,
    slot         BIGINT NOT NULL,
    used_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, slot)
);
