//! The add-on's `on_lifecycle` hook, run from the recorded lifecycle events
//! rather than inside Clockify's call: a failure is retried with backoff
//! (like a webhook handler), and after `WEBHOOK_MAX_ATTEMPTS` the event is
//! dead and shown in the operator console.

use std::sync::Arc;

use crate::background::{HANDLER_TIMEOUT, IDLE_POLL, LEASE_MS, WakeSignal, backoff_ms};
use crate::context::ContextSource;
use crate::hooks::{AddonHooks, LifecycleDelivery, LifecycleEvent};
use crate::metrics::Metrics;
use crate::store::{LifecycleEvents, StoreError, now_ms};

/// Records `event` of installation `addon_id` for the hook (once, when
/// Clockify sends the same call again) and wakes the runner.
pub async fn record(events: &LifecycleEvents, wake: &WakeSignal, addon_id: &str, event: &LifecycleEvent) -> Result<(), StoreError> {
    let body = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(format!("lifecycle event: {e}")))?;
    let fingerprint = crate::store::sha256_hex(&format!("{addon_id}\n{body}"));
    if events.record(event.workspace_id(), addon_id, event.kind(), &body, &fingerprint).await? {
        wake.wake();
    }
    Ok(())
}

/// What the runner needs.
pub struct LifecycleRunner {
    pub events: LifecycleEvents,
    pub hooks: Arc<dyn AddonHooks>,
    pub contexts: ContextSource,
    pub metrics: Arc<Metrics>,
    pub wake: Arc<WakeSignal>,
    pub max_attempts: u32,
}

impl LifecycleRunner {
    /// Runs recorded events until the task is dropped.
    pub async fn run(self) {
        loop {
            let notified = self.wake.notified();
            match self.events.claim(LEASE_MS).await {
                Ok(Some(claimed)) => {
                    let outcome = match serde_json::from_str::<LifecycleEvent>(&claimed.body) {
                        Ok(event) => {
                            let delivery = LifecycleDelivery { id: claimed.id.clone(), event, attempt: claimed.attempts };
                            let ctx = self.contexts.context(&claimed.workspace_id);
                            match tokio::time::timeout(HANDLER_TIMEOUT, self.hooks.on_lifecycle(&ctx, &delivery)).await {
                                Ok(Ok(())) => Ok(()),
                                Ok(Err(e)) => Err(e.0),
                                Err(_) => Err(format!("hook timed out after {} s", HANDLER_TIMEOUT.as_secs())),
                            }
                        }
                        // Written by this code; unreadable only if corrupted.
                        Err(e) => Err(format!("stored lifecycle event unreadable: {e}")),
                    };
                    let stored = match outcome {
                        Ok(()) => {
                            self.metrics.lifecycle_hook("done");
                            self.events.complete(claimed.seq).await
                        }
                        Err(error) => {
                            let dead = claimed.attempts >= i64::from(self.max_attempts);
                            self.metrics.lifecycle_hook(if dead { "dead" } else { "retry" });
                            tracing::warn!(workspace_id = %claimed.workspace_id, kind = %claimed.kind, attempt = claimed.attempts, dead,
                                error = %error, "on_lifecycle failed");
                            let retry_at = (!dead).then(|| now_ms() + backoff_ms(claimed.attempts));
                            self.events.fail(claimed.seq, &error, retry_at).await
                        }
                    };
                    if let Err(e) = stored {
                        tracing::error!(error = %e, "cannot record a lifecycle hook's outcome; it runs again after its lease");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "lifecycle events unavailable; retrying"),
            }
            let _ = tokio::time::timeout(IDLE_POLL, notified).await;
        }
    }
}
