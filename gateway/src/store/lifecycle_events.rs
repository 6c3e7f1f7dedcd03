//! `LifecycleEvents`: lifecycle calls waiting for, or done by, the add-on's
//! `on_lifecycle` hook. One runner claims the oldest due event of a
//! workspace whose earlier events are all settled, so a workspace's hooks
//! run in Clockify's order even across instances.

use super::{Database, StoreError, now_ms};

/// A lifecycle event claimed for running.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedLifecycle {
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub kind: String,
    /// The `LifecycleEvent` as JSON.
    pub body: String,
    pub attempts: i64,
}

/// A lifecycle event as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LifecycleRecord {
    pub id: String,
    pub kind: String,
    /// `pending`, `running`, `done` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct LifecycleEvents {
    db: Database,
}

impl LifecycleEvents {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records a call unless the workspace's latest recorded call is the
    /// same one (`fingerprint`): Clockify sending it again. An earlier equal
    /// call followed by others (a setting changed back) is a new event.
    /// True when recorded.
    pub async fn record(&self, workspace_id: &str, addon_id: &str, kind: &str, body: &str, fingerprint: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let n = sqlx::query(
            "INSERT INTO lifecycle_events (id, workspace_id, addon_id, kind, body, fingerprint, state, attempts, run_after, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7 \
             WHERE NOT EXISTS (SELECT 1 FROM lifecycle_events l WHERE l.workspace_id = $2 AND l.fingerprint = $6 \
               AND l.seq = (SELECT MAX(m.seq) FROM lifecycle_events m WHERE m.workspace_id = $2))",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(workspace_id)
        .bind(addon_id)
        .bind(kind)
        .bind(body)
        .bind(fingerprint)
        .bind(now)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Leases the oldest due event whose workspace has nothing earlier
    /// unsettled (a crashed runner's lease expires).
    pub async fn claim(&self, lease_ms: i64) -> Result<Option<ClaimedLifecycle>, StoreError> {
        let now = now_ms();
        Ok(sqlx::query_as(
            "UPDATE lifecycle_events SET state = 'running', attempts = attempts + 1, locked_until = $2 \
             WHERE seq = (SELECT e.seq FROM lifecycle_events e \
                          WHERE e.run_after <= $1 AND (e.state = 'pending' OR (e.state = 'running' AND e.locked_until < $1)) \
                            AND NOT EXISTS (SELECT 1 FROM lifecycle_events p WHERE p.workspace_id = e.workspace_id \
                                            AND p.seq < e.seq AND p.state IN ('pending', 'running')) \
                          ORDER BY e.seq LIMIT 1) \
               AND (state = 'pending' OR (state = 'running' AND locked_until < $1)) \
             RETURNING seq, id, workspace_id, kind, body, attempts",
        )
        .bind(now)
        .bind(now + lease_ms)
        .fetch_optional(self.db.pool())
        .await?)
    }

    pub async fn complete(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE lifecycle_events SET state = 'done', locked_until = NULL, finished_at = $2 WHERE seq = $1")
            .bind(seq)
            .bind(now_ms())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Runs it again at `run_after`, or gives up (`dead`) when `run_after`
    /// is `None`; the error is kept either way.
    pub async fn fail(&self, seq: i64, error: &str, run_after: Option<i64>) -> Result<(), StoreError> {
        let error: String = error.chars().take(1000).collect();
        let query = match run_after {
            Some(at) => sqlx::query(
                "UPDATE lifecycle_events SET state = 'pending', locked_until = NULL, last_error = $2, run_after = $3 WHERE seq = $1",
            )
            .bind(seq)
            .bind(error)
            .bind(at),
            None => sqlx::query(
                "UPDATE lifecycle_events SET state = 'dead', locked_until = NULL, last_error = $2, finished_at = $3 WHERE seq = $1",
            )
            .bind(seq)
            .bind(error)
            .bind(now_ms()),
        };
        query.execute(self.db.pool()).await?;
        Ok(())
    }

    /// A workspace's events, newest first.
    pub async fn list(&self, workspace_id: &str, limit: i64) -> Result<Vec<LifecycleRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, kind, state, attempts, last_error, created_at, finished_at FROM lifecycle_events \
             WHERE workspace_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(workspace_id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }
}
