//! Operator views, for a workspace's admins: a verified user token of that
//! workspace (`X-Addon-Token`, as add-on pages receive it) whose
//! `workspaceRole` is OWNER or WORKSPACE_ADMIN.

use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use serde_json::Value;

use std::sync::Arc;

use crate::auth::gate::AdminGate;
use crate::auth::schemes::UserToken;
use crate::error::{ApiError, GatewayError};
use crate::installations::registration::WebhookRegistrar;
use crate::metrics::Metrics;
use crate::redact::redact_secrets;
use crate::store::{DeliveryLog, DeliveryStore, InstallationStore, LifecycleEvents, LogFilter, handler_state};

/// One subscribed event and where its webhook stands.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct WebhookRegistration {
    pub event: String,
    /// `manifest` (created by Clockify from the manifest) or `rest` (registered by the gateway).
    pub source: String,
    /// `active`, `pending`, `failed` or `deleted`.
    pub state: String,
    pub webhook_id: Option<String>,
    /// Why registration failed, e.g. the platform's webhook limit.
    pub failure: Option<String>,
}

/// One run of the add-on's `on_lifecycle` hook for a lifecycle call.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct LifecycleHookView {
    pub id: String,
    /// `INSTALLED`, `DELETED`, `SETTINGS_UPDATED` or `STATUS_CHANGED`.
    pub kind: String,
    /// `pending` (also while retrying), `running`, `done` or `dead`.
    pub state: String,
    pub attempts: i64,
    /// The hook's last error.
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub received_at: i64,
    pub finished_at: Option<i64>,
}

/// Lifecycle hook runs the installation view lists, newest first.
const LIFECYCLE_HOOKS_SHOWN: i64 = 20;

#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Received or being retried.
    pub pending: i64,
    pub done: i64,
    pub dead: i64,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct InstallationView {
    pub workspace_id: String,
    pub addon_id: String,
    /// `active`, `inactive` or `deleted`.
    pub status: String,
    pub backend_url: Option<String>,
    pub reports_url: Option<String>,
    pub pto_url: Option<String>,
    pub api_url: Option<String>,
    /// Unix milliseconds.
    pub installed_at: i64,
    pub updated_at: i64,
    pub settings: Option<Value>,
    pub webhooks: Vec<WebhookRegistration>,
    pub deliveries: DeliveryCounts,
    /// The add-on's `on_lifecycle` runs, newest first (at most 20).
    pub lifecycle_hooks: Vec<LifecycleHookView>,
}

#[derive(ApiResponse, Debug)]
pub enum InstallationResponse {
    #[oai(status = 200)]
    Ok(Json<InstallationView>),
}

pub struct AdminApi {
    pub gate: AdminGate,
    pub installations: InstallationStore,
    pub deliveries: DeliveryStore,
    pub lifecycle_events: LifecycleEvents,
}

#[OpenApi(tag = "crate::tags::Tag::Admin")]
impl AdminApi {
    /// An installation: status, hosts, times, settings, each subscribed
    /// event's webhook (with the reason when registration failed) and the
    /// delivery counts.
    #[oai(path = "/admin/installations/:workspace_id", method = "get")]
    async fn installation(&self, auth: UserToken, workspace_id: Path<String>) -> Result<InstallationResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "admin").await?;
        let i = self
            .installations
            .get(&ws)
            .await
            .map_err(GatewayError::from)?
            .ok_or_else(|| GatewayError::NotFound(format!("no installation for workspace {ws}")))?;
        let webhooks = self
            .installations
            .webhook_tokens(&ws)
            .await
            .map_err(GatewayError::from)?
            .into_iter()
            .map(|w| WebhookRegistration { event: w.event, source: w.source, state: w.state, webhook_id: w.webhook_id, failure: w.failure })
            .collect();
        let c = self.deliveries.state_counts(&ws).await.map_err(GatewayError::from)?;
        let lifecycle_hooks = self
            .lifecycle_events
            .list(&ws, LIFECYCLE_HOOKS_SHOWN)
            .await
            .map_err(GatewayError::from)?
            .into_iter()
            .map(|e| LifecycleHookView {
                id: e.id,
                kind: e.kind,
                state: e.state,
                attempts: e.attempts,
                last_error: e.last_error,
                received_at: e.created_at,
                finished_at: e.finished_at,
            })
            .collect();
        Ok(InstallationResponse::Ok(Json(InstallationView {
            workspace_id: i.workspace_id,
            addon_id: i.addon_id,
            status: i.status.as_str().to_owned(),
            backend_url: i.backend_url,
            reports_url: i.reports_url,
            pto_url: i.pto_url,
            api_url: i.api_url,
            installed_at: i.installed_at,
            updated_at: i.updated_at,
            settings: i.settings,
            webhooks,
            deliveries: DeliveryCounts { pending: c.pending, done: c.done, dead: c.dead },
            lifecycle_hooks,
        })))
    }
}

#[derive(poem_openapi::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Received, not handled yet.
    Pending,
    /// The handler failed; another attempt is due.
    Retrying,
    Done,
    /// The handler failed `WEBHOOK_MAX_ATTEMPTS` times.
    Dead,
}

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrying => "retrying",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct DeliveryView {
    pub id: String,
    pub event: String,
    /// `pending`, `retrying`, `done` or `dead`.
    pub status: String,
    pub attempts: i64,
    /// Unix milliseconds.
    pub received_at: i64,
    pub handled_at: Option<i64>,
    pub last_error: Option<String>,
    /// The body as received, with secret-looking fields shown as `***`.
    pub body: Value,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

#[derive(ApiResponse, Debug)]
pub enum DeliveriesResponse {
    #[oai(status = 200)]
    Ok(Json<DeliveryPage>),
}

/// Which deliveries to replay: `ids`, or everything the filter matches (at
/// most 1,000). Handled deliveries are skipped unless `force`.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ReplayRequest {
    /// At most 1,000 (declared, so a longer list is a 400 before any work).
    #[oai(validator(max_items = 1000))]
    pub ids: Option<Vec<String>>,
    pub event: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// Received at or after, Unix milliseconds.
    pub from: Option<i64>,
    /// Received before, Unix milliseconds.
    pub to: Option<i64>,
    #[oai(default)]
    pub force: bool,
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct ReplayResult {
    pub replayed: usize,
    pub skipped: usize,
    pub failed: usize,
    /// The ids in each group.
    pub details: ReplayDetails,
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct ReplayDetails {
    pub replayed: Vec<String>,
    pub skipped: Vec<String>,
    /// Ids that are not deliveries of this workspace.
    pub failed: Vec<String>,
}

#[derive(ApiResponse, Debug)]
pub enum ReplayResponse {
    #[oai(status = 200)]
    Ok(Json<ReplayResult>),
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(skip_serializing_if_is_none)]
pub struct ReregistrationResult {
    /// Events that were missing on Clockify or had failed, tried again.
    pub retried: Vec<String>,
    /// Events whose webhook Clockify has, left alone.
    pub unchanged: Vec<String>,
    pub registered: Vec<String>,
    /// Found on Clockify for our URL and adopted instead of created again.
    pub adopted: Vec<String>,
    pub failed: Vec<WebhookFailure>,
    /// Why some are left to the background job (Clockify unreachable, 429).
    pub deferred: Option<String>,
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct WebhookFailure {
    pub event: String,
    pub reason: String,
}

#[derive(ApiResponse, Debug)]
pub enum ReregistrationResponse {
    #[oai(status = 200)]
    Ok(Json<ReregistrationResult>),
}

fn parse_cursor(cursor: &str) -> Result<(i64, &str), GatewayError> {
    cursor
        .split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id)))
        .ok_or_else(|| GatewayError::BadRequest(format!("before: `{cursor}` is not a cursor this endpoint returned")))
}

#[OpenApi(tag = "crate::tags::Tag::Admin")]
impl AdminOperationsApi {
    /// Re-runs REST webhook registration for the events whose webhook failed
    /// or that Clockify no longer has. Idempotent: what Clockify has is
    /// adopted, never created twice.
    #[oai(path = "/admin/installations/:workspace_id/webhooks/reregister", method = "post")]
    async fn reregister(&self, auth: UserToken, workspace_id: Path<String>) -> Result<ReregistrationResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "admin").await?;
        let report = self.registrar.reregister(&ws).await?;
        self.metrics.reregistration(if report.deferred.is_some() { "deferred" } else { "done" });
        tracing::info!(target: "audit", event = "webhooks_reregistered", workspace_id = %ws, retried = report.retried.len(), "re-registration requested");
        Ok(ReregistrationResponse::Ok(Json(ReregistrationResult {
            retried: report.retried,
            unchanged: report.unchanged,
            registered: report.outcome.registered,
            adopted: report.outcome.adopted,
            failed: report.outcome.failed.into_iter().map(|(event, reason)| WebhookFailure { event, reason }).collect(),
            deferred: report.deferred,
        })))
    }

    /// The delivery log, newest first, with each delivery's handler state
    /// and attempts; bodies with secret-looking fields redacted.
    #[oai(path = "/admin/deliveries/:workspace_id", method = "get")]
    #[allow(clippy::too_many_arguments)]
    async fn deliveries(
        &self,
        auth: UserToken,
        workspace_id: Path<String>,
        event: Query<Option<String>>,
        status: Query<Option<DeliveryStatus>>,
        /// Received at or after, Unix milliseconds.
        from: Query<Option<i64>>,
        /// Received before, Unix milliseconds.
        to: Query<Option<i64>>,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// Entries per page, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<DeliveriesResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "admin").await?;
        let filter = LogFilter { event: event.0, status: status.0.map(|s| s.as_str().to_owned()), from: from.0, to: to.0 };
        let cursor = before.0.as_deref().map(parse_cursor).transpose()?;
        let limit = i64::from(limit.0.unwrap_or(50));
        let mut rows = self.delivery_log.list(&ws, &filter, cursor, limit + 1).await.map_err(GatewayError::from)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(|r| format!("{}:{}", r.received_at, r.id)) } else { None };
        let items = rows
            .into_iter()
            .map(|r| DeliveryView {
                status: handler_state(&r.state).to_owned(),
                body: redact_secrets(serde_json::from_str(&r.body).unwrap_or(Value::Null)),
                id: r.id,
                event: r.event,
                attempts: r.attempts,
                received_at: r.received_at,
                handled_at: r.handled_at,
                last_error: r.last_error,
            })
            .collect();
        Ok(DeliveriesResponse::Ok(Json(DeliveryPage { items, next })))
    }

    /// Replays deliveries through the inbox: dead ones always, handled ones
    /// only with `force`; the answer says how many were replayed, skipped
    /// and failed.
    #[oai(path = "/admin/deliveries/:workspace_id/replay", method = "post")]
    async fn replay(&self, auth: UserToken, workspace_id: Path<String>, body: Json<ReplayRequest>) -> Result<ReplayResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "admin").await?;
        let req = body.0;
        if req.ids.is_none() && req.event.is_none() && req.status.is_none() && req.from.is_none() && req.to.is_none() {
            return Err(GatewayError::BadRequest("name `ids` or at least one filter (event, status, from, to)".into()).into());
        }
        let filter = LogFilter { event: req.event, status: req.status.map(|s| s.as_str().to_owned()), from: req.from, to: req.to };
        let r = self.delivery_log.replay(&ws, req.ids.as_deref(), &filter, req.force).await.map_err(GatewayError::from)?;
        self.metrics.replay("replayed", r.replayed.len());
        self.metrics.replay("skipped", r.skipped.len());
        self.metrics.replay("failed", r.failed.len());
        if !r.replayed.is_empty() {
            self.inbox.wake();
        }
        tracing::info!(target: "audit", event = "deliveries_replayed", workspace_id = %ws, replayed = r.replayed.len(), skipped = r.skipped.len(), force = req.force, "replay requested");
        Ok(ReplayResponse::Ok(Json(ReplayResult {
            replayed: r.replayed.len(),
            skipped: r.skipped.len(),
            failed: r.failed.len(),
            details: ReplayDetails { replayed: r.replayed, skipped: r.skipped, failed: r.failed },
        })))
    }
}

/// Operator actions on an installation's webhooks and deliveries.
pub struct AdminOperationsApi {
    pub gate: AdminGate,
    pub registrar: WebhookRegistrar,
    pub delivery_log: DeliveryLog,
    pub metrics: Arc<Metrics>,
    /// Woken when replayed deliveries wait for it.
    pub inbox: crate::inbox::Inbox,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_looking_members_are_redacted_at_any_depth() {
        let body = json!({
            "id": "p1",
            "authToken": "eyJ...",
            "settings": { "api_key": "k", "Client-Secret": "s", "name": "ok" },
            "list": [{ "password": "p", "tokens": null }],
        });
        assert_eq!(
            redact_secrets(body),
            json!({
                "id": "p1",
                "authToken": "***",
                "settings": { "api_key": "***", "Client-Secret": "***", "name": "ok" },
                "list": [{ "password": "***", "tokens": null }],
            })
        );
    }
}
