-- Bootstrap progress: one run per workspace and one row per work item (an
-- operation, or an operation for one parent row), written after every page
-- in the same transaction as the page's entities, so a killed process
-- resumes at the next page with nothing fetched twice into the snapshot.
-- The run row is also the work queue and the lease: one row per workspace,
-- so one runner per workspace across instances, and a dead instance's lease
-- (locked_until) expires and is taken over.
CREATE TABLE bootstrap_runs (
    workspace_id TEXT PRIMARY KEY,
    state        TEXT NOT NULL,          -- queued | running | done | failed | cancelled
    owner        TEXT,                   -- the runner holding the lease
    locked_until BIGINT,
    started_at   BIGINT,
    finished_at  BIGINT,
    updated_at   BIGINT NOT NULL,
    requests     BIGINT NOT NULL DEFAULT 0,
    throttled    BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT
);

CREATE TABLE bootstrap_items (
    workspace_id TEXT NOT NULL,
    item         TEXT NOT NULL,          -- operationId, or operationId/parentId
    operation    TEXT NOT NULL,
    parent_id    TEXT,
    entity_type  TEXT NOT NULL,
    state        TEXT NOT NULL,          -- pending | done | truncated | failed
    next_page    BIGINT NOT NULL,
    pages        BIGINT NOT NULL DEFAULT 0,
    row_count    BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, item)
);

CREATE INDEX bootstrap_runs_due ON bootstrap_runs (state, updated_at);
