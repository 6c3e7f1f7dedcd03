//! The bootstrap runner of one instance: claims queued bootstraps (and
//! those whose instance died) and runs up to `BOOTSTRAP_WORKERS` at once.

use std::sync::Arc;

use super::run;
use crate::background::IDLE_POLL;
use crate::state::AppState;

/// Claims queued bootstraps (and those whose instance died) and runs up to
/// `BOOTSTRAP_WORKERS` workspaces at once in this instance.
pub async fn run_bootstraps(state: AppState) {
    let slots = Arc::new(tokio::sync::Semaphore::new(state.config.bootstrap_workers));
    let lease_ms = (state.config.bootstrap_lease_seconds * 1000) as i64;
    // Owned here so that stopping this task stops the runs too.
    let mut runs = tokio::task::JoinSet::new();
    loop {
        while runs.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let notified = state.jobs_signal.notified();
        match state.bootstrap.claim(lease_ms).await {
            Ok(Some(lease)) => {
                tracing::info!(workspace_id = %lease.workspace_id, "bootstrap claimed");
                let state = state.clone();
                runs.spawn(async move {
                    run::run_leased(state, lease).await;
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
