-- Installations, their secrets (encrypted by the gateway before they get
-- here) and queued background work. Times are Unix milliseconds.
CREATE TABLE installations (
    workspace_id       TEXT PRIMARY KEY,
    addon_id           TEXT NOT NULL,
    status             TEXT NOT NULL,   -- active | inactive | deleted
    installation_token BYTEA,           -- encrypted; NULL once deleted
    backend_url        TEXT,
    reports_url        TEXT,
    pto_url            TEXT,
    api_url            TEXT,
    as_user            TEXT,
    addon_user_id      TEXT,
    settings           TEXT,            -- JSON array of {id, name, value}
    installed_at       BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE webhook_tokens (
    workspace_id TEXT NOT NULL,
    event        TEXT NOT NULL,
    source       TEXT NOT NULL,         -- manifest | rest
    webhook_id   TEXT,
    token        BYTEA,                 -- encrypted
    token_sha256 TEXT,
    state        TEXT NOT NULL,         -- active | pending | failed
    failure      TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, event)
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,         -- bootstrap | cleanup | ...
    workspace_id TEXT NOT NULL,
    state        TEXT NOT NULL,         -- pending | running | done | failed
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_after    BIGINT NOT NULL,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL
);

-- At most one pending job of a kind per workspace: a repeated INSTALLED
-- does not queue a second bootstrap.
CREATE UNIQUE INDEX jobs_one_pending ON jobs (kind, workspace_id) WHERE state = 'pending';
