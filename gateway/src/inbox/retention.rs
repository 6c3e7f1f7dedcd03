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

/// Deletes old delivery-log rows and duplicate keys, in bounded batches.
pub async fn run_retention(retention: Retention) {
    const BATCH: i64 = 1000;
    loop {
        let day_ms = 86_400_000i64;
        let now = now_ms();
        let log_cutoff = match retention.log_days {
            0 => None,
            d => Some(now - i64::from(d) * day_ms),
        };
        let keys_cutoff = now - i64::from(retention.dedup_days) * day_ms;
        let flows_cutoff = match retention.flow_execution_days {
            0 => None,
            d => Some(now - i64::from(d) * day_ms),
        };
        let purged = async {
            let mut n = retention.deliveries.purge(log_cutoff, keys_cutoff, BATCH).await?;
            if let Some(cutoff) = flows_cutoff {
                n = n.max(retention.flows.purge_executions(cutoff, BATCH).await?);
            }
            Ok::<u64, crate::store::StoreError>(n)
        };
        match purged.await {
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
