-- The API explorer's call history, per workspace and user: what was called
-- with which parameters (secret-looking members already redacted), and how
-- it went. Only each user's latest calls are kept.
CREATE TABLE explorer_calls (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    operation    TEXT NOT NULL,
    path_params  TEXT NOT NULL,
    query        TEXT NOT NULL,
    body         TEXT,
    dry_run      BIGINT NOT NULL,
    status       BIGINT,
    outcome      TEXT NOT NULL,
    duration_us  BIGINT NOT NULL,
    called_at    BIGINT NOT NULL
);

CREATE INDEX explorer_calls_by_user ON explorer_calls (workspace_id, user_id, called_at);
