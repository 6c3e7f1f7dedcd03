-- Lifecycle calls recorded for the add-on's on_lifecycle hook, run from
-- here like webhook deliveries: in order per workspace (by seq), retried
-- with backoff, dead after WEBHOOK_MAX_ATTEMPTS and kept for the console.
-- `fingerprint` is a hash of the call: the same call sent again right
-- after (Clockify retrying) is recorded once.
CREATE TABLE lifecycle_events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    addon_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL,
    run_after    BIGINT NOT NULL,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX lifecycle_events_due ON lifecycle_events (state, run_after);
CREATE INDEX lifecycle_events_workspace ON lifecycle_events (workspace_id, seq);
