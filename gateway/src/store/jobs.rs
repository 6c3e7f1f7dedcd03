//! `JobQueue`: durable background work (bootstrap, clean-up), queued in the
//! same transaction as the change that calls for it, so a crash never leaves
//! an installation without its job. The consumers live with their features.

use sqlx::{Any, Transaction};

use super::{Database, StoreError, now_ms};

/// Queues `kind` for `workspace_id` unless one is already pending.
pub(super) async fn enqueue_in(tx: &mut Transaction<'_, Any>, kind: &str, workspace_id: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, workspace_id, state, attempts, run_after, locked_until, last_error, created_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, NULL, NULL, $4) \
         ON CONFLICT (kind, workspace_id) WHERE state = 'pending' DO NOTHING",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(kind)
    .bind(workspace_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct JobQueue {
    db: Database,
}

impl JobQueue {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Pending jobs of `kind` for a workspace (0 or 1).
    pub async fn pending(&self, kind: &str, workspace_id: &str) -> Result<i64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = $1 AND workspace_id = $2 AND state = 'pending'")
            .bind(kind)
            .bind(workspace_id)
            .fetch_one(self.db.pool())
            .await?;
        Ok(n)
    }
}
