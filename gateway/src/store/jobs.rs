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

/// A job claimed for running.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub workspace_id: String,
    pub attempts: i64,
}

#[derive(Debug, Clone)]
pub struct JobQueue {
    db: Database,
}

impl JobQueue {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Leases the oldest due job of `kind` (a crashed runner's lease expires).
    pub async fn claim(&self, kind: &str, lease_ms: i64) -> Result<Option<Job>, StoreError> {
        let now = now_ms();
        Ok(sqlx::query_as(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $2 \
             WHERE id = (SELECT id FROM jobs WHERE kind = $3 AND run_after <= $1 \
                           AND (state = 'pending' OR (state = 'running' AND locked_until < $1)) \
                         ORDER BY run_after LIMIT 1) \
               AND (state = 'pending' OR (state = 'running' AND locked_until < $1)) \
             RETURNING id, kind, workspace_id, attempts",
        )
        .bind(now)
        .bind(now + lease_ms)
        .bind(kind)
        .fetch_optional(self.db.pool())
        .await?)
    }

    pub async fn complete(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET state = 'done', locked_until = NULL WHERE id = $1").bind(id).execute(self.db.pool()).await?;
        Ok(())
    }

    /// Runs the job again after `retry_in_ms`; when a newer pending job of
    /// the same kind and workspace exists, that one covers it.
    pub async fn retry(&self, job: &Job, error: &str, retry_in_ms: i64) -> Result<(), StoreError> {
        self.requeue(job, now_ms() + retry_in_ms, Some(error)).await
    }

    /// Runs the job again at `run_after` (Unix ms): not a failure, the job
    /// has more to do later, so its attempts start over. A newer pending job
    /// of the same kind and workspace covers it, as with [`retry`](Self::retry).
    pub async fn defer(&self, job: &Job, run_after: i64) -> Result<(), StoreError> {
        self.requeue(job, run_after, None).await
    }

    /// Back to pending at `run_after`, keeping `failure` as the last error
    /// (and the attempts) or starting the attempts over; done instead when a
    /// newer pending job covers it.
    async fn requeue(&self, job: &Job, run_after: i64, failure: Option<&str>) -> Result<(), StoreError> {
        let set = if failure.is_some() { "last_error = $5" } else { "attempts = 0" };
        let sql = format!(
            "UPDATE jobs SET state = 'pending', locked_until = NULL, run_after = $2, {set} \
             WHERE id = $1 AND NOT EXISTS \
               (SELECT 1 FROM jobs o WHERE o.kind = $3 AND o.workspace_id = $4 AND o.state = 'pending')"
        );
        let mut query = sqlx::query(&sql).bind(&job.id).bind(run_after).bind(&job.kind).bind(&job.workspace_id);
        if let Some(error) = failure {
            query = query.bind(error.chars().take(1000).collect::<String>());
        }
        if query.execute(self.db.pool()).await?.rows_affected() == 0 {
            self.complete(&job.id).await?;
        }
        Ok(())
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
