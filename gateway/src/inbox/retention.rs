//! The retention sweep: old delivery-log rows, duplicate keys and flow
//! executions go, in bounded batches.

use std::time::Duration;

use crate::store::{DeliveryStore, FlowStore, now_ms};

/// What the sweep reads: the stores it deletes from and how long each
/// keeps its rows.
pub struct Retention {
    pub deliveries: DeliveryStore,
    pub flows: FlowStore,
    /// WEBHOOK_RETENTION_DAYS (0: kept forever).
    pub log_days: u32,
    /// WEBHOOK_DEDUP_DAYS.
    pub dedup_days: u32,
    /// FLOW_EXECUTION_RETENTION_DAYS (0: kept forever).
    pub flow_execution_days: u32,
}

const BATCH: i64 = 1000;
const DAY_MS: i64 = 86_400_000;

/// Rows older than `days` before `now`; `None` (kept forever) for 0.
fn cutoff(now: i64, days: u32) -> Option<i64> {
    (days > 0).then(|| now - i64::from(days) * DAY_MS)
}

impl Retention {
    /// One batch from each table whose rows are due at `now`: the most
    /// rows deleted from one of them (a full batch means more may wait).
    pub async fn sweep_once(&self, now: i64) -> Result<u64, crate::store::StoreError> {
        let keys_cutoff = now - i64::from(self.dedup_days) * DAY_MS;
        let mut n = self.deliveries.purge(cutoff(now, self.log_days), keys_cutoff, BATCH).await?;
        if let Some(c) = cutoff(now, self.flow_execution_days) {
            n = n.max(self.flows.purge_executions(c, BATCH).await?);
        }
        Ok(n)
    }
}

/// Deletes old delivery-log rows, duplicate keys and flow executions, in
/// bounded batches.
pub async fn run_retention(retention: Retention) {
    loop {
        match retention.sweep_once(now_ms()).await {
            // A full batch: more may be waiting; go on without sleeping long.
            Ok(n) if n as i64 >= BATCH => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(_) => tokio::time::sleep(Duration::from_secs(600)).await,
            Err(e) => {
                tracing::warn!(error = %e, "retention sweep failed");
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        }
    }
}
