//! Operator views, for a workspace's admins: a verified user token of that
//! workspace (`X-Addon-Token`, as add-on pages receive it) whose
//! `workspaceRole` is OWNER or WORKSPACE_ADMIN.

use poem_openapi::auth::ApiKey;
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme, payload::Json};
use serde_json::Value;

use crate::error::{ApiError, GatewayError};
use crate::state::AppState;
use crate::token::{Expect, Expectation};

/// A Clockify user token (the iframe's `auth_token`).
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Addon-Token", key_in = "header")]
pub struct AddonUserToken(pub ApiKey);

const ADMIN_ROLES: [&str; 2] = ["OWNER", "WORKSPACE_ADMIN"];

/// One subscribed event and where its webhook stands.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(rename_all = "camelCase")]
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

#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Received or being retried.
    pub pending: i64,
    pub done: i64,
    pub dead: i64,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
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
}

#[derive(ApiResponse, Debug)]
pub enum InstallationResponse {
    #[oai(status = 200)]
    Ok(Json<InstallationView>),
}

pub struct AdminApi {
    pub state: AppState,
}

impl AdminApi {
    /// The caller must be an admin of `workspace_id`.
    fn authorize(&self, token: &AddonUserToken, workspace_id: &str) -> Result<(), GatewayError> {
        let expect = Expectation { kind: Expect::AddonToken, workspace_id: Some(workspace_id), addon_id: None };
        let claims = self.state.verifier.verify(&token.0.key, &expect).map_err(|r| {
            self.state.metrics.auth_failure(r.reason());
            tracing::warn!(target: "audit", event = "auth_failure", route = "admin", reason = r.reason(), "admin token rejected");
            GatewayError::Token(r)
        })?;
        self.state.limiter.enforce_workspace(&self.state, workspace_id)?;
        if !claims.workspace_role.as_deref().is_some_and(|r| ADMIN_ROLES.contains(&r)) {
            return Err(GatewayError::Forbidden("only the workspace's owner or admins may see this".into()));
        }
        Ok(())
    }
}

#[OpenApi(tag = "super::Tag::Admin")]
impl AdminApi {
    /// An installation: status, hosts, times, settings, each subscribed
    /// event's webhook (with the reason when registration failed) and the
    /// delivery counts.
    #[oai(path = "/admin/installations/:workspace_id", method = "get")]
    async fn installation(&self, auth: AddonUserToken, workspace_id: Path<String>) -> Result<InstallationResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws)?;
        let i = self
            .state
            .installations
            .get(&ws)
            .await
            .map_err(GatewayError::from)?
            .ok_or_else(|| GatewayError::NotFound(format!("no installation for workspace {ws}")))?;
        let webhooks = self
            .state
            .installations
            .webhook_tokens(&ws)
            .await
            .map_err(GatewayError::from)?
            .into_iter()
            .map(|w| WebhookRegistration { event: w.event, source: w.source, state: w.state, webhook_id: w.webhook_id, failure: w.failure })
            .collect();
        let c = self.state.deliveries.state_counts(&ws).await.map_err(GatewayError::from)?;
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
        })))
    }
}
