-- Webhook deliveries, stored before they are acknowledged. Clockify retries
-- with the same body, so (workspace, event, body hash) identifies a delivery.
CREATE TABLE deliveries (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    event        TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL,         -- received | done | retrying | dead
    attempts     BIGINT NOT NULL DEFAULT 0,
    received_at  BIGINT NOT NULL,
    UNIQUE (workspace_id, event, body_sha256)
);

CREATE INDEX deliveries_by_state ON deliveries (state, received_at);
