//! The admission of a workspace member's token to the gateway's own routes:
//! the admins' check, and whether the workspace's installation is live.

use std::sync::Arc;

use super::schemes::UserToken;
use super::token::TokenVerifier;
use crate::error::GatewayError;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::store::InstallationStore;

const ADMIN_ROLES: [&str; 2] = ["OWNER", "WORKSPACE_ADMIN"];

/// The check in front of every workspace admin's route (admin, bootstrap,
/// flows): what it reads, and nothing else. Here rather than in `admin` so
/// that the parts with admin routes need not import the operators' part.
#[derive(Clone, Debug)]
pub struct AdminGate {
    pub verifier: Arc<TokenVerifier>,
    /// The members' per-workspace limit.
    pub limiter: Arc<RateLimiter>,
    pub metrics: Arc<Metrics>,
    /// Whose installation is live.
    pub installations: InstallationStore,
}

impl AdminGate {
    /// The caller must be an admin of `workspace_id`: a verified user token of
    /// that workspace whose `workspaceRole` is OWNER or WORKSPACE_ADMIN. A
    /// workspace without a live installation is not found, whoever asks.
    pub(crate) async fn authorize(&self, token: &UserToken, workspace_id: &str, route: &'static str) -> Result<(), GatewayError> {
        let claims = token.verify(&self.verifier, Some(workspace_id)).map_err(|r| {
            self.metrics.auth_failure(r.reason());
            tracing::warn!(target: "audit", event = "auth_failure", route, reason = r.reason(), "admin token rejected");
            GatewayError::Token(r)
        })?;
        self.limiter.enforce_workspace(&self.metrics, workspace_id)?;
        require_live(&self.installations, workspace_id).await?;
        if !claims.workspace_role.as_deref().is_some_and(|r| ADMIN_ROLES.contains(&r)) {
            return Err(GatewayError::Forbidden("only the workspace's owner or admins may see this".into()));
        }
        Ok(())
    }
}

/// 404 unless the workspace has a live (active or inactive) installation:
/// from DELETED on, nothing of the workspace is served, even to a user
/// token that has not expired.
pub(crate) async fn require_live(installations: &InstallationStore, workspace_id: &str) -> Result<(), GatewayError> {
    if installations.is_live(workspace_id).await? {
        Ok(())
    } else {
        Err(GatewayError::NotFound(format!("no installation for workspace {workspace_id}")))
    }
}
