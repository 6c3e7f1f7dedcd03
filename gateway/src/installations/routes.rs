//! Lifecycle hooks: INSTALLED, DELETED, SETTINGS_UPDATED, STATUS_CHANGED.
//!
//! Every call is verified as a lifecycle token (token.rs) and bound to the
//! body: the token's `workspaceId` and `addonId` must be the body's. A call
//! then changes something only for the workspace's live installation (or,
//! for INSTALLED, a new one): one naming a deleted or another installation
//! is acknowledged as `ignored`, audited, and nothing reaches Clockify. Calls
//! are idempotent; the store's upserts make concurrent duplicates leave one row.

use std::ops::ControlFlow;
use std::sync::Arc;

use clockify_client::WebhookEvent;
use poem::Request;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};
use serde_json::Value;

use super::registration::WebhookRegistrar;
use crate::auth::schemes::LifecycleAuth;
use crate::auth::token::{Claims, Expectation, TokenKind, TokenVerifier};
use crate::auth::verified::VerifiedTokens;
use crate::background::WakeSignal;
use crate::config::HostPort;
use crate::error::{ApiError, GatewayError};
use crate::hooks::LifecycleEvent;
use crate::http::rate_limit::FailedChecks;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::store::{InstallationStatus, InstallationStore, LifecycleEvents, NewInstallation, Standing};

/// One webhook Clockify created from the manifest.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct InstalledWebhook {
    /// The manifest path, or the full URL (the docs show both).
    pub path: String,
    pub webhook_type: Option<String>,
    /// That webhook's signature token.
    pub auth_token: String,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct InstalledBody {
    pub addon_id: String,
    /// The installation token.
    pub auth_token: String,
    pub workspace_id: String,
    pub as_user: Option<String>,
    pub api_url: Option<String>,
    pub addon_user_id: Option<String>,
    #[oai(default)]
    pub webhooks: Vec<InstalledWebhook>,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct DeletedBody {
    pub addon_id: String,
    pub workspace_id: String,
    pub as_user: Option<String>,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AddonStatus {
    Active,
    Inactive,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct StatusChangedBody {
    pub addon_id: String,
    pub workspace_id: String,
    pub status: AddonStatus,
}

/// One structured setting; `value` is a string, number, boolean or list of strings.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct SettingValue {
    pub id: String,
    pub name: Option<String>,
    pub value: Value,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct SettingsUpdatedBody {
    pub addon_id: String,
    pub workspace_id: String,
    pub settings: Vec<SettingValue>,
}

/// What the gateway did with a lifecycle call.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct LifecycleAck {
    /// `installed`, `deleted`, `settings_updated`, `active`, `inactive`, or
    /// `ignored` when the call names an installation that is not the live one
    /// (deleted, replaced or never installed): nothing was changed.
    pub status: String,
}

#[derive(ApiResponse, Debug)]
pub enum LifecycleResponse {
    /// Recorded.
    #[oai(status = 200)]
    Ok(Json<LifecycleAck>),
}

fn ack(status: &str) -> LifecycleResponse {
    LifecycleResponse::Ok(Json(LifecycleAck { status: status.to_owned() }))
}

pub struct LifecycleApi {
    pub verifier: Arc<TokenVerifier>,
    pub installations: InstallationStore,
    /// Where the calls wait for the add-on's `on_lifecycle`.
    pub lifecycle_events: LifecycleEvents,
    /// Deletes the REST webhooks at DELETED.
    pub registrar: WebhookRegistrar,
    pub metrics: Arc<Metrics>,
    /// Failed checks per client address.
    pub failed_checks: Arc<RateLimiter>,
    /// Clockify's calls per workspace.
    pub webhook_limiter: Arc<RateLimiter>,
    /// Wakes the jobs an install or uninstall queues, and the hooks' runner.
    pub jobs_signal: Arc<WakeSignal>,
    /// Forgets a workspace's verified signatures when its tokens change.
    pub verified_tokens: Arc<VerifiedTokens>,
    /// ALLOWED_API_HOSTS: where an installation's URLs may point.
    pub allowed_api_hosts: Arc<[HostPort]>,
    /// The webhooks the add-on registers through the REST API.
    pub rest_webhooks: &'static [WebhookEvent],
}

impl LifecycleApi {
    /// Records the call for the add-on's `on_lifecycle` (run from the
    /// queue, not here); failing to record fails the call, so Clockify
    /// sends it again.
    async fn hook(&self, addon_id: &str, event: LifecycleEvent) -> Result<(), GatewayError> {
        super::lifecycle_hooks::record(&self.lifecycle_events, &self.jobs_signal, addon_id, &event).await?;
        Ok(())
    }

    fn refused(&self, route: &'static str, failures: &FailedChecks<'_>, rejection: crate::auth::token::TokenRejection) -> GatewayError {
        failures.charge();
        self.metrics.auth_failure(rejection.reason());
        self.metrics.lifecycle(route, "unauthorized");
        tracing::warn!(target: "audit", event = "auth_failure", route, reason = rejection.reason(), "lifecycle token rejected");
        GatewayError::Token(rejection)
    }

    /// The lifecycle token of the call, bound to the body's workspace and
    /// installation; refusals are charged to the caller's address.
    fn verify<'s>(
        &'s self,
        route: &'static str,
        req: &Request,
        auth: &LifecycleAuth,
        workspace_id: &str,
        addon_id: &str,
    ) -> Result<FailedChecks<'s>, GatewayError> {
        let failures = FailedChecks::of(&self.failed_checks, &self.metrics, req);
        failures.enforce()?;
        auth.verify(&self.verifier, workspace_id, addon_id).map_err(|r| self.refused(route, &failures, r))?;
        Ok(failures)
    }

    /// A token the INSTALLED body carries, as the kind it must be.
    fn verify_carried(
        &self,
        failures: &FailedChecks<'_>,
        kind: TokenKind,
        token: &str,
        workspace_id: &str,
        addon_id: &str,
    ) -> Result<Claims, GatewayError> {
        let expect = Expectation::of(kind).for_workspace(workspace_id).for_addon(addon_id);
        self.verifier.verify(token, &expect).map_err(|r| self.refused("installed", failures, r))
    }

    /// Where the call's installation stands; `Some(ack)` when the call must
    /// change nothing (said in the audit log).
    async fn unless_live(
        &self,
        route: &'static str,
        workspace_id: &str,
        addon_id: &str,
        install: bool,
    ) -> Result<Option<LifecycleResponse>, GatewayError> {
        let standing = self.installations.standing(workspace_id, addon_id).await?;
        let changes = match standing {
            Standing::Live => true,
            // INSTALLED brings a new installation; only a deleted one stays deleted.
            Standing::Unknown => install,
            Standing::Deleted => false,
        };
        if changes {
            return Ok(None);
        }
        self.metrics.lifecycle(route, "ignored");
        tracing::warn!(target: "audit", event = "lifecycle_ignored", route, workspace_id, addon_id, standing = standing.as_str(),
            "lifecycle call names an installation that is not the live one; nothing changed");
        Ok(Some(ack("ignored")))
    }

    /// Everything a lifecycle call passes before it changes anything: its
    /// token (failures charged to the caller's address), the workspace's
    /// bucket, and the installation's standing. `Break` carries the answer
    /// of a call that must change nothing.
    async fn admit<'s>(
        &'s self,
        route: &'static str,
        req: &Request,
        auth: &LifecycleAuth,
        workspace_id: &str,
        addon_id: &str,
    ) -> Result<ControlFlow<LifecycleResponse, FailedChecks<'s>>, GatewayError> {
        let failures = self.verify(route, req, auth, workspace_id, addon_id)?;
        self.rate_limit(workspace_id)?;
        // Only INSTALLED may bring an installation not seen before.
        Ok(match self.unless_live(route, workspace_id, addon_id, route == "installed").await? {
            Some(ignored) => ControlFlow::Break(ignored),
            None => ControlFlow::Continue(failures),
        })
    }

    /// URLs the gateway will call later must be on an allowed host.
    fn check_host(&self, claim: &str, url: Option<&str>) -> Result<Option<String>, GatewayError> {
        let Some(raw) = url else { return Ok(None) };
        let parsed = url::Url::parse(raw).map_err(|_| GatewayError::BadRequest(format!("{claim} is not a URL")))?;
        // Scheme, host and exact port: a bare entry allows https only.
        if !self.allowed_api_hosts.iter().any(|h| h.matches(&parsed)) {
            let origin = crate::config::origin_of(&parsed);
            tracing::warn!(target: "audit", event = "host_refused", claim, origin = %origin, "API host outside ALLOWED_API_HOSTS");
            return Err(GatewayError::Forbidden(format!("{claim} `{origin}` is not in ALLOWED_API_HOSTS{}", crate::config::HTTP_HINT)));
        }
        Ok(Some(raw.trim_end_matches('/').to_owned()))
    }

    /// Clockify's own calls share the workspace's webhook bucket, not the
    /// one its members' requests draw on.
    fn rate_limit(&self, workspace_id: &str) -> Result<(), GatewayError> {
        self.webhook_limiter.enforce_workspace(&self.metrics, workspace_id)
    }
}

/// The event a manifest webhook path (or full URL) points at.
fn event_of_webhook_path(path: &str) -> Option<WebhookEvent> {
    let name = path.trim_end_matches('/').rsplit_once("/webhooks/")?.1;
    let event: WebhookEvent = name.parse().ok()?;
    event.is_known().then_some(event)
}

#[OpenApi(tag = "crate::tags::Tag::Lifecycle")]
impl LifecycleApi {
    /// INSTALLED: stores the installation, its tokens (encrypted) and hosts,
    /// and queues the workspace bootstrap. A repeat is an update.
    #[oai(path = "/lifecycle/installed", method = "post")]
    async fn installed(&self, req: &Request, auth: LifecycleAuth, body: Json<InstalledBody>) -> Result<LifecycleResponse, ApiError> {
        let b = body.0;
        let failures = match self.admit("installed", req, &auth, &b.workspace_id, &b.addon_id).await? {
            ControlFlow::Continue(failures) => failures,
            ControlFlow::Break(ignored) => return Ok(ignored),
        };
        // The installation token is itself a Clockify token of the same installation.
        let claims = self.verify_carried(&failures, TokenKind::Installation, &b.auth_token, &b.workspace_id, &b.addon_id)?;
        let backend_url = self.check_host("backendUrl", claims.backend_url.as_deref())?;
        let reports_url = self.check_host("reportsUrl", claims.reports_url.as_deref())?;
        let pto_url = self.check_host("ptoUrl", claims.pto_url.as_deref())?;
        let api_url = self.check_host("apiUrl", b.api_url.as_deref())?;
        let mut webhook_tokens = Vec::with_capacity(b.webhooks.len());
        for w in &b.webhooks {
            // The only copy of the other tokens arrives here: never refuse the
            // install over one webhook this build cannot route.
            let Some(event) = event_of_webhook_path(&w.path) else {
                tracing::warn!(target: "audit", event = "webhook_skipped", workspace_id = %b.workspace_id, path = %w.path, "INSTALLED names a webhook path with no known event; skipped");
                continue;
            };
            self.verify_carried(&failures, TokenKind::Webhook, &w.auth_token, &b.workspace_id, &b.addon_id)?;
            webhook_tokens.push((event.as_str().to_owned(), w.auth_token.clone()));
        }
        let install = NewInstallation {
            workspace_id: b.workspace_id.clone(),
            addon_id: b.addon_id.clone(),
            installation_token: b.auth_token,
            backend_url,
            reports_url,
            pto_url,
            api_url,
            as_user: b.as_user,
            addon_user_id: b.addon_user_id,
            webhook_tokens,
            rest_events: self.rest_webhooks.iter().map(|e| e.as_str().to_owned()).collect(),
        };
        self.installations.upsert_installed(&install).await.map_err(GatewayError::from)?;
        self.jobs_signal.wake();
        self.verified_tokens.forget_workspace(&b.workspace_id);
        self.metrics.lifecycle("installed", "ok");
        tracing::info!(target: "audit", event = "install", workspace_id = %b.workspace_id, addon_id = %b.addon_id, webhooks = install.webhook_tokens.len(), "installed");
        self.hook(&b.addon_id, LifecycleEvent::Installed { workspace_id: b.workspace_id.clone() }).await?;
        Ok(ack("installed"))
    }

    /// DELETED: marks the installation deleted, drops its secrets, queues clean-up.
    #[oai(path = "/lifecycle/deleted", method = "post")]
    async fn deleted(&self, req: &Request, auth: LifecycleAuth, body: Json<DeletedBody>) -> Result<LifecycleResponse, ApiError> {
        let b = body.0;
        if let ControlFlow::Break(ignored) = self.admit("deleted", req, &auth, &b.workspace_id, &b.addon_id).await? {
            return Ok(ignored);
        }
        // While the installation token may still work: remove what we registered.
        let unregistered = self.registrar.unregister_all(&b.workspace_id).await;
        self.verified_tokens.forget_workspace(&b.workspace_id);
        let existed = self.installations.mark_deleted(&b.workspace_id, &b.addon_id).await.map_err(GatewayError::from)?;
        self.jobs_signal.wake();
        self.metrics.lifecycle("deleted", "ok");
        tracing::info!(target: "audit", event = "uninstall", workspace_id = %b.workspace_id, addon_id = %b.addon_id, existed, unregistered, "deleted");
        if existed {
            self.hook(&b.addon_id, LifecycleEvent::Deleted { workspace_id: b.workspace_id.clone() }).await?;
        }
        Ok(ack("deleted"))
    }

    /// SETTINGS_UPDATED: stores the flat list of settings.
    #[oai(path = "/lifecycle/settings-updated", method = "post")]
    async fn settings_updated(
        &self,
        req: &Request,
        auth: LifecycleAuth,
        body: Json<SettingsUpdatedBody>,
    ) -> Result<LifecycleResponse, ApiError> {
        let b = body.0;
        if let ControlFlow::Break(ignored) = self.admit("settings_updated", req, &auth, &b.workspace_id, &b.addon_id).await? {
            return Ok(ignored);
        }
        let settings: Vec<Value> = b.settings.iter().map(|s| serde_json::json!({ "id": s.id, "name": s.name, "value": s.value })).collect();
        let settings = Value::Array(settings);
        if !self.installations.set_settings(&b.workspace_id, &b.addon_id, &settings).await.map_err(GatewayError::from)? {
            // Deleted between the check and the write.
            return Ok(ack("ignored"));
        }
        self.metrics.lifecycle("settings_updated", "ok");
        self.hook(&b.addon_id, LifecycleEvent::SettingsUpdated { workspace_id: b.workspace_id.clone(), settings }).await?;
        Ok(ack("settings_updated"))
    }

    /// STATUS_CHANGED: records ACTIVE or INACTIVE. An inactive installation's
    /// webhooks are acknowledged but not processed.
    #[oai(path = "/lifecycle/status-changed", method = "post")]
    async fn status_changed(
        &self,
        req: &Request,
        auth: LifecycleAuth,
        body: Json<StatusChangedBody>,
    ) -> Result<LifecycleResponse, ApiError> {
        let b = body.0;
        if let ControlFlow::Break(ignored) = self.admit("status_changed", req, &auth, &b.workspace_id, &b.addon_id).await? {
            return Ok(ignored);
        }
        let status = match b.status {
            AddonStatus::Active => InstallationStatus::Active,
            AddonStatus::Inactive => InstallationStatus::Inactive,
        };
        if !self.installations.set_status(&b.workspace_id, &b.addon_id, status).await.map_err(GatewayError::from)? {
            return Ok(ack("ignored"));
        }
        self.metrics.lifecycle("status_changed", "ok");
        tracing::info!(target: "audit", event = "status_changed", workspace_id = %b.workspace_id, status = status.as_str(), "status changed");
        self.hook(&b.addon_id, LifecycleEvent::StatusChanged { workspace_id: b.workspace_id.clone(), active: status == InstallationStatus::Active })
            .await?;
        Ok(ack(status.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_paths_and_urls_name_their_event() {
        use clockify_client::WebhookEvent;
        assert_eq!(event_of_webhook_path("/webhooks/NEW_PROJECT"), Some(WebhookEvent::NewProject));
        assert_eq!(event_of_webhook_path("https://x.example/base//webhooks/NEW_TAG/"), Some(WebhookEvent::NewTag));
        assert_eq!(event_of_webhook_path("/webhooks/NOT_AN_EVENT"), None);
        assert_eq!(event_of_webhook_path("/elsewhere"), None);
    }
}
