//! Webhooks the manifest cannot declare are registered through the REST API
//! (`createWebhook`), acting for the installation with its token and hosts,
//! through the client's budget and retry rules.
//!
//! Platform limits (10 per admin, 100 per workspace, 3 on Free) are expected:
//! such an event is recorded as failed with Clockify's reason and the install
//! goes on. Transient failures (429, 5xx, network) leave the job to be retried
//! later; nothing is dropped. Registration is idempotent: a webhook Clockify
//! already has for our URL and event is adopted rather than created twice.

use std::sync::Arc;

use clockify_client::{ClockifyError, WebhookEvent, types};

use crate::auth::verified::VerifiedTokens;
use crate::background::WakeSignal;
use crate::error::GatewayError;
use crate::installations::client::InstallationClients;
use crate::metrics::Metrics;
use crate::store::InstallationStore;

/// What registering, re-registering and deleting REST webhooks reads: the
/// lifecycle routes, the admins' re-registration and the registration job
/// each hold one.
#[derive(Clone, Debug)]
pub struct WebhookRegistrar {
    pub installations: InstallationStore,
    /// Calls Clockify for the installation.
    pub clients: InstallationClients,
    pub metrics: Arc<Metrics>,
    /// ADDON_BASE_URL, which the webhooks' URLs start with.
    pub base_url: String,
    /// Wakes the registration job for what is left to it.
    pub jobs_signal: Arc<WakeSignal>,
    /// Forgets a workspace's verified signatures when its tokens change.
    pub verified_tokens: Arc<VerifiedTokens>,
}

/// Why a registration run stopped early; the job is retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transient(pub String);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RegistrationReport {
    pub registered: Vec<String>,
    pub adopted: Vec<String>,
    /// `(event, reason)`.
    pub failed: Vec<(String, String)>,
}

/// What an operator's re-registration did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReregistrationReport {
    /// Events that were missing or failed and were tried again.
    pub retried: Vec<String>,
    /// Events whose webhook Clockify has: left alone.
    pub unchanged: Vec<String>,
    pub outcome: RegistrationReport,
    /// Set when Clockify could not be reached; the background job goes on.
    pub deferred: Option<String>,
}

/// The URL Clockify calls for `event` of a gateway at `base_url`.
pub fn webhook_url(base_url: &str, event: &str) -> String {
    format!("{base_url}/webhooks/{event}")
}

fn is_transient(e: &ClockifyError) -> bool {
    match e {
        ClockifyError::Transport(_) => true,
        other => other.status().is_some_and(|s| s == 429 || s >= 500),
    }
}

fn reason(e: &ClockifyError) -> String {
    match e {
        ClockifyError::Api(f) => format!("Clockify answered {}: {}", f.status, f.message.as_deref().unwrap_or("no message")),
        other => other.to_string(),
    }
}

fn request_for(workspace_id: &str, event: &str, url: &str) -> Result<types::CreateWebhookRequestV1, String> {
    let webhook_event: types::CreateWebhookRequestV1WebhookEvent =
        event.parse().map_err(|_| format!("`{event}` is not a webhook event of the contract"))?;
    // Names are 2 to 30 characters.
    let name: String = format!("gw {event}").chars().take(30).collect();
    Ok(types::CreateWebhookRequestV1 {
        name: Some(name.parse().map_err(|e| format!("name: {e}"))?),
        trigger_source: vec![workspace_id.to_owned()],
        trigger_source_type: types::CreateWebhookRequestV1TriggerSourceType::WorkspaceId,
        url: url.to_owned(),
        webhook_event,
    })
}

impl WebhookRegistrar {
    /// Registers every pending REST webhook of `workspace_id`.
    pub async fn register_pending(&self, workspace_id: &str) -> Result<RegistrationReport, Transient> {
        let mut report = RegistrationReport::default();
        let pending = self.installations.pending_registrations(workspace_id).await.map_err(|e| Transient(e.to_string()))?;
        if pending.is_empty() {
            return Ok(report);
        }
        let client = match self.clients.for_workspace(workspace_id).await {
            Ok(c) => c,
            // Uninstalled meanwhile: nothing left to register.
            Err(GatewayError::NotFound(_)) => return Ok(report),
            Err(e) => return Err(Transient(e.to_string())),
        };
        let existing =
            client.get_webhooks().workspace_id(workspace_id).send().await.map(|r| r.into_inner().webhooks).map_err(ClockifyError::from);
        let existing = match existing {
            Ok(list) => list,
            Err(e) if is_transient(&e) => return Err(Transient(reason(&e))),
            // Listing is an optimisation for idempotency; go on without it.
            Err(_) => Vec::new(),
        };
        for event in pending {
            let url = webhook_url(&self.base_url, &event);
            let adopted = existing.iter().find(|w| {
                w.url.as_deref() == Some(url.as_str())
                    && w.webhook_event.as_ref().is_some_and(|e| e.to_string() == event)
                    && w.id.is_some()
                    && w.auth_token.is_some()
            });
            if let Some(w) = adopted {
                let (id, token) = (w.id.clone().unwrap_or_default(), w.auth_token.clone().unwrap_or_default());
                self.installations
                    .store_registered_webhook(workspace_id, &event, &id, &token)
                    .await
                    .map_err(|e| Transient(e.to_string()))?;
                report.adopted.push(event);
                continue;
            }
            let body = request_for(workspace_id, &event, &url).map_err(|e| Transient(format!("{event}: {e}")))?;
            match client.create_webhook().workspace_id(workspace_id).body(body).send().await.map_err(ClockifyError::from) {
                Ok(created) => {
                    let w = created.into_inner();
                    let (Some(id), Some(token)) = (w.id, w.auth_token) else {
                        let why = "Clockify created the webhook but returned no id or token".to_owned();
                        self.installations.registration_failed(workspace_id, &event, &why).await.map_err(|e| Transient(e.to_string()))?;
                        report.failed.push((event, why));
                        continue;
                    };
                    self.installations
                        .store_registered_webhook(workspace_id, &event, &id, &token)
                        .await
                        .map_err(|e| Transient(e.to_string()))?;
                    self.metrics.registration("registered");
                    report.registered.push(event);
                }
                Err(e) if is_transient(&e) => return Err(Transient(reason(&e))),
                Err(e) => {
                    let why = reason(&e);
                    tracing::warn!(target: "audit", event = "webhook_registration_failed", workspace_id, webhook_event = %event, reason = %why, "webhook not registered");
                    self.installations.registration_failed(workspace_id, &event, &why).await.map_err(|e| Transient(e.to_string()))?;
                    self.metrics.registration("failed");
                    report.failed.push((event, why));
                }
            }
        }
        Ok(report)
    }

    /// Re-runs registration for the REST events that failed, are still pending,
    /// or whose webhook Clockify no longer has; idempotent (what Clockify has
    /// is adopted, never created twice).
    pub async fn reregister(&self, workspace_id: &str) -> Result<ReregistrationReport, GatewayError> {
        let rows: Vec<_> = self.installations.webhook_tokens(workspace_id).await?.into_iter().filter(|r| r.source == "rest").collect();
        let client = self.clients.for_workspace(workspace_id).await?;
        let on_clockify: Option<Vec<String>> = match client.get_webhooks().workspace_id(workspace_id).send().await {
            Ok(r) => Some(r.into_inner().webhooks.into_iter().filter_map(|w| w.id).collect()),
            Err(e) => {
                tracing::warn!(workspace_id, reason = %reason(&ClockifyError::from(e)), "cannot list webhooks; re-registering failed ones only");
                None
            }
        };
        let mut report = ReregistrationReport::default();
        for r in rows {
            let lost =
                r.state == "active" && on_clockify.as_ref().is_some_and(|ids| r.webhook_id.as_ref().is_none_or(|id| !ids.contains(id)));
            if lost || r.state == "failed" || r.state == "pending" {
                report.retried.push(r.event);
            } else {
                report.unchanged.push(r.event);
            }
        }
        self.installations.requeue_registrations(workspace_id, &report.retried).await?;
        match self.register_pending(workspace_id).await {
            Ok(outcome) => report.outcome = outcome,
            Err(Transient(why)) => {
                self.installations.queue_registration_job(workspace_id).await?;
                self.jobs_signal.wake();
                report.deferred = Some(why);
            }
        }
        Ok(report)
    }

    /// Deletes what the gateway registered, best effort and bounded in time: at
    /// DELETED the installation's tokens may already be void, and an uninstall
    /// must not wait on Clockify.
    pub async fn unregister_all(&self, workspace_id: &str) -> usize {
        let Ok(registered) = self.installations.registered_webhooks(workspace_id).await else { return 0 };
        if registered.is_empty() {
            return 0;
        }
        let Ok(client) = self.clients.for_workspace(workspace_id).await else { return 0 };
        let mut deleted = 0;
        let all = async {
            for (event, id) in registered {
                match client.delete_webhook().workspace_id(workspace_id).webhook_id(&id).send().await {
                    Ok(_) => deleted += 1,
                    Err(e) => {
                        tracing::warn!(workspace_id, webhook_event = %event, reason = %reason(&ClockifyError::from(e)), "registered webhook not deleted")
                    }
                }
            }
        };
        // The whole uninstall answer waits on this; five seconds at most.
        if tokio::time::timeout(std::time::Duration::from_secs(5), all).await.is_err() {
            tracing::warn!(workspace_id, "deleting registered webhooks timed out");
        }
        deleted
    }

    /// Replaces a registered webhook's token (`generateNewToken`); the old one
    /// stops verifying at once.
    pub async fn rotate_token(&self, workspace_id: &str, event: &WebhookEvent) -> Result<(), GatewayError> {
        let registered = self.installations.registered_webhooks(workspace_id).await?;
        let Some((_, id)) = registered.into_iter().find(|(e, _)| e == event.as_str()) else {
            return Err(GatewayError::NotFound(format!("no registered webhook for {event} on {workspace_id}")));
        };
        let client = self.clients.for_workspace(workspace_id).await?;
        let w = client
            .generate_new_token()
            .workspace_id(workspace_id)
            .webhook_id(&id)
            .send()
            .await
            .map_err(|e| GatewayError::Internal(reason(&ClockifyError::from(e))))?
            .into_inner();
        let token = w.auth_token.ok_or_else(|| GatewayError::Internal("Clockify returned no new token".into()))?;
        self.installations.store_registered_webhook(workspace_id, event.as_str(), &id, &token).await?;
        self.verified_tokens.forget_workspace(workspace_id);
        Ok(())
    }
}
