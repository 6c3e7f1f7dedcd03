//! `ExplorerHistory`: each user's recent explorer calls, for the history
//! view and its replays. Parameters are stored as given after secret-looking
//! members were redacted, so a replay sends what was kept.

use sqlx::Row;

use super::{Database, StoreError, now_ms};

/// Calls kept per user and workspace; older ones are dropped as new ones come.
pub const KEPT_PER_USER: i64 = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub id: String,
    pub operation: String,
    /// JSON objects.
    pub path_params: String,
    pub query: String,
    /// JSON, when the call had a body.
    pub body: Option<String>,
    pub dry_run: bool,
    /// Clockify's status, when a request was sent.
    pub status: Option<i64>,
    /// The status, `dry_run`, or why the explorer refused (`invalid`, ...).
    pub outcome: String,
    pub duration_us: i64,
    /// Unix milliseconds.
    pub called_at: i64,
}

#[derive(Debug, Clone)]
pub struct ExplorerHistory {
    db: Database,
}

fn entry(r: &sqlx::any::AnyRow) -> Result<HistoryEntry, StoreError> {
    Ok(HistoryEntry {
        id: r.try_get("id")?,
        operation: r.try_get("operation")?,
        path_params: r.try_get("path_params")?,
        query: r.try_get("query")?,
        body: r.try_get("body")?,
        dry_run: r.try_get::<i64, _>("dry_run")? != 0,
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        duration_us: r.try_get("duration_us")?,
        called_at: r.try_get("called_at")?,
    })
}

impl ExplorerHistory {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records a call and drops the user's calls beyond [`KEPT_PER_USER`].
    pub async fn record(&self, workspace_id: &str, user_id: &str, e: &HistoryEntry) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO explorer_calls (id, workspace_id, user_id, operation, path_params, query, body, dry_run, status, outcome, duration_us, called_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&e.id)
        .bind(workspace_id)
        .bind(user_id)
        .bind(&e.operation)
        .bind(&e.path_params)
        .bind(&e.query)
        .bind(&e.body)
        .bind(i64::from(e.dry_run))
        .bind(e.status)
        .bind(&e.outcome)
        .bind(e.duration_us)
        .bind(e.called_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM explorer_calls WHERE workspace_id = $1 AND user_id = $2 AND id NOT IN \
             (SELECT id FROM explorer_calls WHERE workspace_id = $1 AND user_id = $2 ORDER BY called_at DESC, id DESC LIMIT $3)",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(KEPT_PER_USER)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's calls, newest first.
    pub async fn list(&self, workspace_id: &str, user_id: &str, limit: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, operation, path_params, query, body, dry_run, status, outcome, duration_us, called_at FROM explorer_calls \
             WHERE workspace_id = $1 AND user_id = $2 ORDER BY called_at DESC, id DESC LIMIT $3",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(entry).collect()
    }

    /// One of the user's calls; another user's or workspace's is not found.
    pub async fn get(&self, workspace_id: &str, user_id: &str, id: &str) -> Result<Option<HistoryEntry>, StoreError> {
        let row = sqlx::query(
            "SELECT id, operation, path_params, query, body, dry_run, status, outcome, duration_us, called_at FROM explorer_calls \
             WHERE workspace_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(entry).transpose()
    }

    pub fn new_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    pub fn now() -> i64 {
        now_ms()
    }
}
