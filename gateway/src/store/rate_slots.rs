//! `RateSlots`: the per-workspace budget of requests to Clockify that every
//! instance on one PostgreSQL database shares (migration 0010). A workspace
//! has `max_requests` slots; a request starts only after claiming, in one
//! statement, a slot last used a window ago or earlier, by the database's
//! clock. So no window holds more starts than slots, whichever instance
//! sends them, and instance clocks do not matter. The claim skips slots
//! another transaction holds: an instance that lost its connection holds
//! none (its transaction is gone), so it cannot stall the others.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use clockify_client::{RateLimit, SharedBudget};
use parking_lot::Mutex;

use super::{Database, StoreError};

/// The database's clock in Unix milliseconds.
const DB_NOW_MS: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
/// Added to the limit's window for a slot to be reused. A slot is claimed a
/// database round trip before its request leaves (the single-process
/// budget stamps the send itself), and on a busy host that gap varies: with
/// the client's 50 ms margin alone, requests claimed a window apart reached
/// the fake Clockify 51 - 55 in one second in about one run in five of
/// `instances_as_processes.rs` under load. Costs 9% of a multi-instance
/// deployment's throughput to Clockify (50 per 1.15 s).
const CLAIM_MARGIN_MS: i64 = 100;
/// How long to wait before trying again when the database failed.
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(200);

#[derive(Debug)]
pub struct RateSlots {
    db: Database,
    /// Workspaces whose slots this instance has created (or seen).
    ready: Mutex<HashSet<String>>,
}

impl RateSlots {
    pub fn new(db: Database) -> Self {
        Self { db, ready: Mutex::default() }
    }

    /// Claims a slot now, or answers how many milliseconds until one frees.
    async fn try_claim(&self, workspace: &str, limit: RateLimit) -> Result<Option<u64>, StoreError> {
        let slots = limit.max_requests as i64;
        let window = limit.window.as_millis() as i64 + CLAIM_MARGIN_MS;
        if !self.ready.lock().contains(workspace) {
            sqlx::query(
                "INSERT INTO rate_slots (workspace_id, slot, used_at) SELECT $1, g, 0 FROM generate_series(0, $2 - 1) AS g \
                 ON CONFLICT DO NOTHING",
            )
            .bind(workspace)
            .bind(slots)
            .execute(self.db.pool())
            .await?;
            self.ready.lock().insert(workspace.to_owned());
        }
        let claimed: Option<i64> = sqlx::query_scalar(&format!(
            "UPDATE rate_slots SET used_at = {DB_NOW_MS} \
             WHERE workspace_id = $1 AND slot = (SELECT slot FROM rate_slots WHERE workspace_id = $1 AND slot < $2 \
                 AND used_at <= {DB_NOW_MS} - $3 ORDER BY used_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING slot"
        ))
        .bind(workspace)
        .bind(slots)
        .bind(window)
        .fetch_optional(self.db.pool())
        .await?;
        if claimed.is_some() {
            return Ok(None);
        }
        let wait: Option<i64> =
            sqlx::query_scalar(&format!("SELECT MIN(used_at) + $3 - {DB_NOW_MS} FROM rate_slots WHERE workspace_id = $1 AND slot < $2"))
                .bind(workspace)
                .bind(slots)
                .bind(window)
                .fetch_one(self.db.pool())
                .await?;
        // At least 1 ms: a slot another claim holds right now frees soon.
        Ok(Some(wait.unwrap_or(1).clamp(1, window) as u64))
    }
}

impl SharedBudget for RateSlots {
    fn acquire<'a>(&'a self, workspace: &'a str, limit: RateLimit) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            loop {
                match self.try_claim(workspace, limit).await {
                    Ok(None) => return,
                    Ok(Some(wait_ms)) => tokio::time::sleep(Duration::from_millis(wait_ms)).await,
                    // Without the database this instance cannot know what
                    // the others sent: it waits (alone) rather than exceed
                    // the shared budget.
                    Err(e) => {
                        tracing::warn!(error = %e, "shared rate budget unavailable; waiting");
                        tokio::time::sleep(RETRY_AFTER_ERROR).await;
                    }
                }
            }
        })
    }
}
