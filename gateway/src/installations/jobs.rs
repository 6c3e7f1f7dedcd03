//! The installations' background jobs: REST webhook registration after
//! INSTALLED, and the clean-up after DELETED.

use std::sync::Arc;

use super::registration::WebhookRegistrar;
use crate::background::{HANDLER_TIMEOUT, IDLE_POLL, LEASE_MS, WakeSignal, backoff_ms};
use crate::metrics::Metrics;
use crate::store::{JobQueue, WorkspaceCleanup, now_ms};

/// What the registration job reads.
pub struct RegistrationJobs {
    pub jobs: JobQueue,
    pub registrar: WebhookRegistrar,
    pub metrics: Arc<Metrics>,
    /// Woken when a registration is queued.
    pub wake: Arc<WakeSignal>,
}

/// Runs queued REST webhook registrations until the task is dropped.
pub async fn run_registrations(registrations: RegistrationJobs) {
    const KIND: &str = "register_webhooks";
    loop {
        let notified = registrations.wake.notified();
        match registrations.jobs.claim(KIND, LEASE_MS).await {
            Ok(Some(job)) => {
                let result = registrations.registrar.register_pending(&job.workspace_id).await;
                let stored = match result {
                    Ok(report) => {
                        tracing::info!(workspace_id = %job.workspace_id, registered = report.registered.len(),
                            adopted = report.adopted.len(), failed = report.failed.len(), "webhook registration done");
                        registrations.jobs.complete(&job.id).await
                    }
                    Err(e) => {
                        tracing::warn!(workspace_id = %job.workspace_id, attempt = job.attempts, error = %e, "webhook registration will be retried");
                        registrations.metrics.registration("retry");
                        registrations.jobs.retry(&job, &e.0, backoff_ms(job.attempts)).await
                    }
                };
                if let Err(e) = stored {
                    tracing::error!(error = %e, "cannot record a registration job's outcome");
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "job queue unavailable; retrying"),
        }
        let _ = tokio::time::timeout(IDLE_POLL, notified).await;
    }
}

/// What the clean-up job reads.
pub struct CleanupJobs {
    pub jobs: JobQueue,
    pub cleanup: WorkspaceCleanup,
    /// Woken when a clean-up is queued.
    pub wake: Arc<WakeSignal>,
}

/// How long after a DELETED work of the installation may still finish: a
/// delivery leased before it, handled within its lease, writes its mirror
/// change with its completion.
const IN_FLIGHT_MS: i64 = LEASE_MS + HANDLER_TIMEOUT.as_millis() as i64;

/// Runs queued clean-ups of uninstalled workspaces until the task is
/// dropped: batch after batch until nothing of the workspace is left; the
/// job then runs once more after the work in flight at DELETED has ended
/// (so a late mirror write is deleted too) and is done; a failure leaves
/// the job to be retried with backoff.
pub async fn run_cleanups(cleanups: CleanupJobs) {
    const KIND: &str = "cleanup";
    const BATCH: i64 = 1000;
    loop {
        let notified = cleanups.wake.notified();
        match cleanups.jobs.claim(KIND, LEASE_MS).await {
            Ok(Some(job)) => {
                let mut removed = 0u64;
                let result = loop {
                    match cleanups.cleanup.forget_batch(&job.workspace_id, BATCH).await {
                        Ok(0) => break Ok(()),
                        Ok(n) => removed += n,
                        Err(e) => break Err(e),
                    }
                };
                let settled_at = match result {
                    Ok(()) => cleanups.cleanup.deleted_at(&job.workspace_id).await.map(|at| at.map(|at| at + IN_FLIGHT_MS)),
                    Err(e) => Err(e),
                };
                let stored = match settled_at {
                    Ok(Some(at)) if at > now_ms() => {
                        tracing::info!(workspace_id = %job.workspace_id, rows = removed, "workspace data deleted; once more after the work in flight");
                        cleanups.jobs.defer(&job, at).await
                    }
                    Ok(_) => {
                        tracing::info!(target: "audit", event = "uninstall_cleanup", workspace_id = %job.workspace_id, rows = removed, "workspace data deleted");
                        cleanups.jobs.complete(&job.id).await
                    }
                    Err(e) => {
                        tracing::warn!(workspace_id = %job.workspace_id, attempt = job.attempts, rows = removed, error = %e, "clean-up will be retried");
                        cleanups.jobs.retry(&job, &e.to_string(), backoff_ms(job.attempts)).await
                    }
                };
                if let Err(e) = stored {
                    tracing::error!(error = %e, "cannot record a clean-up job's outcome");
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "job queue unavailable; retrying"),
        }
        let _ = tokio::time::timeout(IDLE_POLL, notified).await;
    }
}
