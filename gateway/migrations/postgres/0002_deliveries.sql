-- The webhook inbox. A delivery is written here before Clockify gets its
-- 200, then handled from here by the worker: at least once, retried with
-- backoff, dead after the last attempt. Times are Unix milliseconds.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    event           TEXT NOT NULL,
    body_sha256     TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,      -- received | running | retrying | done | dead
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT,
    last_error      TEXT,
    received_at     BIGINT NOT NULL,
    handled_at      BIGINT
);

CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_by_workspace ON deliveries (workspace_id, received_at);

-- Duplicate detection: Clockify redelivers the same body for the same event.
-- Kept for WEBHOOK_DEDUP_DAYS, independently of the delivery log's retention.
CREATE TABLE delivery_keys (
    workspace_id TEXT NOT NULL,
    event        TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, event, body_sha256)
);

CREATE INDEX delivery_keys_age ON delivery_keys (received_at);

-- The entity mirror: the latest JSON of each entity of a workspace, from
-- bootstrap and kept current by webhooks.
CREATE TABLE entities (
    workspace_id TEXT NOT NULL,
    entity_type  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    body         TEXT NOT NULL,
    fetched_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, entity_type, entity_id)
);
