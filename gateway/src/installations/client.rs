//! The typed client as the gateway uses it: acting for one installation,
//! with that installation's token and hosts, the workspace's shared budget,
//! and only the scopes the manifest declares, so a call the add-on is not
//! allowed to make fails here, naming the scope, instead of at Clockify.

use std::sync::Arc;

use clockify_client::{Auth, CallObserver, Client, ClientBuilder, Hosts, RateBudget, Scope};

use crate::error::GatewayError;
use crate::store::InstallationStore;

/// Makes clients acting for installations: the one handle the parts that
/// call Clockify (registration, bootstrap, add-on hooks) need.
#[derive(Clone, Debug)]
pub struct InstallationClients {
    installations: InstallationStore,
    declared_scopes: &'static [Scope],
    budget: RateBudget,
    observer: Arc<dyn CallObserver>,
}

impl InstallationClients {
    pub fn new(installations: InstallationStore, declared_scopes: &'static [Scope], budget: RateBudget, observer: Arc<dyn CallObserver>) -> Self {
        Self { installations, declared_scopes, budget, observer }
    }

    /// The same clients, drawing from `budget` instead (the bootstrap's
    /// share of the workspace's budget).
    pub fn with_budget(&self, budget: RateBudget) -> Self {
        Self { budget, ..self.clone() }
    }

    /// A client acting for the installation on `workspace_id`.
    pub async fn for_workspace(&self, workspace_id: &str) -> Result<Client, GatewayError> {
        self.builder(workspace_id).await?.build().map_err(|e| GatewayError::Internal(e.to_string()))
    }

    /// The builder of [`Self::for_workspace`]'s client, for a caller that
    /// adds to it (flows add an exchange recording each request).
    pub async fn builder(&self, workspace_id: &str) -> Result<ClientBuilder, GatewayError> {
        let installation = self
            .installations
            .get(workspace_id)
            .await?
            .ok_or_else(|| GatewayError::NotFound(format!("no installation for workspace {workspace_id}")))?;
        let token = self
            .installations
            .installation_token(workspace_id)
            .await?
            .ok_or_else(|| GatewayError::NotFound(format!("the installation on {workspace_id} has no token (deleted)")))?;
        // Only the signed backendUrl claim is a base: the INSTALLED body's apiUrl
        // is not signed, so whoever can alter the body could send the token anywhere.
        let backend = installation.backend_url.ok_or_else(|| {
            GatewayError::Internal(format!(
                "the installation on workspace {workspace_id} has no backendUrl (its installation token carried none); the unsigned apiUrl is never used"
            ))
        })?;
        let reports = installation.reports_url.unwrap_or_else(|| Hosts::global().reports.clone());
        let hosts = Hosts::from_claims(&backend, &reports, installation.pto_url.as_deref())
            .map_err(|e| GatewayError::Internal(format!("installation {workspace_id}: {e}")))?;
        Ok(ClientBuilder::new(Auth::AddonToken(token))
            .hosts(hosts)
            .budget(self.budget.clone())
            .declared_scopes(self.declared_scopes.iter().copied())
            .observer(self.observer.clone()))
    }
}
