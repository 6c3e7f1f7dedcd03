-- Flows: per-workspace automations from webhook events to Clockify calls.
-- `definition` is the flow's trigger and steps as JSON; `version` grows
-- with every update and is recorded with each execution.
CREATE TABLE flows (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    enabled      BIGINT NOT NULL,
    definition   TEXT NOT NULL,
    version      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE INDEX flows_by_workspace ON flows (workspace_id, enabled);

-- One row per run of a flow on a delivery. `run_key` is `auto` for the
-- inbox's run (so a delivery handled again does not run the flow again) or
-- `forced:<uuid>` for an operator's forced run. `steps` is JSON: each
-- step's resolved request (secrets redacted), answer status, outcome.
CREATE TABLE flow_executions (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    flow_id      TEXT NOT NULL,
    flow_version BIGINT NOT NULL,
    flow_name    TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    event        TEXT NOT NULL,
    run_key      TEXT NOT NULL,
    outcome      TEXT NOT NULL,     -- running | completed | failed | filtered
    steps        TEXT NOT NULL,
    error        TEXT,
    started_at   BIGINT NOT NULL,
    duration_us  BIGINT NOT NULL,
    UNIQUE (flow_id, delivery_id, run_key)
);

CREATE INDEX flow_executions_by_workspace ON flow_executions (workspace_id, started_at);
CREATE INDEX flow_executions_age ON flow_executions (started_at);
