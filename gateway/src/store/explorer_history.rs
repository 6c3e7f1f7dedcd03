//! `ExplorerHistory`: each user's recent explorer calls, for the history
//! view and its replays. Parameters are stored as given after secret-looking
//! members were redacted, so a replay sends what was kept.

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

/// An `explorer_calls` row as read: `dry_run` is stored as 0 or 1.
#[derive(sqlx::FromRow)]
struct HistoryRow {
    id: String,
    operation: String,
    path_params: String,
    query: String,
    body: Option<String>,
    dry_run: i64,
    status: Option<i64>,
    outcome: String,
    duration_us: i64,
    called_at: i64,
}

impl From<HistoryRow> for HistoryEntry {
    fn from(r: HistoryRow) -> Self {
        HistoryEntry {
            id: r.id,
            operation: r.operation,
            path_params: r.path_params,
            query: r.query,
            body: r.body,
            dry_run: r.dry_run != 0,
            status: r.status,
            outcome: r.outcome,
            duration_us: r.duration_us,
            called_at: r.called_at,
        }
    }
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
        let rows = sqlx::query_as::<_, HistoryRow>(
            "SELECT id, operation, path_params, query, body, dry_run, status, outcome, duration_us, called_at FROM explorer_calls \
             WHERE workspace_id = $1 AND user_id = $2 ORDER BY called_at DESC, id DESC LIMIT $3",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows.into_iter().map(HistoryEntry::from).collect())
    }

    /// One of the user's calls; another user's or workspace's is not found.
    pub async fn get(&self, workspace_id: &str, user_id: &str, id: &str) -> Result<Option<HistoryEntry>, StoreError> {
        let row = sqlx::query_as::<_, HistoryRow>(
            "SELECT id, operation, path_params, query, body, dry_run, status, outcome, duration_us, called_at FROM explorer_calls \
             WHERE workspace_id = $1 AND user_id = $2 AND id = $3",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(HistoryEntry::from))
    }

    pub fn new_id() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    pub fn now() -> i64 {
        now_ms()
    }
}
