//! The bootstrap runner of one instance: claims queued bootstraps (and
//! those whose instance died) and runs up to `BOOTSTRAP_WORKERS` at once.

use std::sync::Arc;

use super::run::{self, BootstrapRunner};
use crate::background::{IDLE_POLL, WakeSignal};

/// Claims queued bootstraps (and those whose instance died) and runs up to
/// `BOOTSTRAP_WORKERS` workspaces at once in this instance; `wake` says
/// one was queued.
pub async fn run_bootstraps(runner: BootstrapRunner, wake: Arc<WakeSignal>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(runner.settings.workers));
    let lease_ms = runner.settings.lease_ms();
    // Owned here so that stopping this task stops the runs too.
    let mut runs = tokio::task::JoinSet::new();
    loop {
        while runs.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let notified = wake.notified();
        match runner.bootstrap.claim(lease_ms).await {
            Ok(Some(lease)) => {
                tracing::info!(workspace_id = %lease.workspace_id, "bootstrap claimed");
                let runner = runner.clone();
                runs.spawn(async move {
                    run::run_leased(runner, lease).await;
                    drop(slot);
                });
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "bootstrap queue unavailable; retrying"),
        }
        drop(slot);
        let _ = tokio::time::timeout(IDLE_POLL, notified).await;
    }
}
