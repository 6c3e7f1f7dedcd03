//! Installations: the lifecycle `routes` Clockify calls, the typed `client`
//! acting for an installation, REST webhook `registration`, and the `jobs`
//! that run after INSTALLED (registration) and DELETED (clean-up), and the
//! add-on's `lifecycle_hooks` run from recorded lifecycle calls.

pub mod client;
pub(crate) mod jobs;
pub(crate) mod lifecycle_hooks;
pub(crate) mod rekey;
pub mod registration;
pub(crate) mod routes;

use crate::error::GatewayError;
use crate::state::AppState;

/// 404 unless the workspace has a live (active or inactive) installation:
/// from DELETED on, nothing of the workspace is served, even to a user
/// token that has not expired.
pub(crate) async fn require_live(state: &AppState, workspace_id: &str) -> Result<(), GatewayError> {
    if state.installations.is_live(workspace_id).await? {
        Ok(())
    } else {
        Err(GatewayError::NotFound(format!("no installation for workspace {workspace_id}")))
    }
}
