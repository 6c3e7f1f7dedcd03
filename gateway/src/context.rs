//! What an add-on's code gets for one workspace: [`AddonContext`].
//!
//! Every hook (webhook and lifecycle) and every add-on route that verified a
//! user gets one. It is cheap to make: nothing is read until asked for, and
//! what was read is kept for the context's life (one delivery, one request),
//! so the settings a handler sees are the ones stored when it started.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::installations::client::InstallationClients;
use crate::store::{BootstrapStore, DeliveryStore, InstallationStatus, InstallationStore, StoreError};

/// Why a context could not give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The workspace has no installation of this add-on (never, or deleted).
    #[error("no installation of this add-on on workspace {0}")]
    NotInstalled(String),
    /// The installation cannot act: deleted, or stored without a signed host.
    #[error("{0}")]
    Client(String),
    /// The stored settings do not fit the settings type.
    #[error("settings of workspace {workspace_id} do not fit {type_name}: {reason}")]
    Settings { workspace_id: String, type_name: &'static str, reason: String },
    /// A mirrored entity does not fit the type asked for.
    #[error("mirrored {entity_type} {entity_id} does not fit {type_name}: {reason}")]
    Entity { entity_type: String, entity_id: String, type_name: &'static str, reason: String },
    /// The database is unavailable or failed; retrying later may work.
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for ContextError {
    fn from(e: StoreError) -> Self {
        ContextError::Store(e.to_string())
    }
}

/// An installation of the add-on, as stored (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub workspace_id: String,
    /// The installation's id (`addonId` in Clockify's tokens).
    pub addon_id: String,
    /// False while the workspace has the add-on disabled (STATUS_CHANGED)
    /// and after it was deleted.
    pub active: bool,
    /// True once Clockify sent DELETED.
    pub deleted: bool,
    /// The API base the installation token's `backendUrl` claim names.
    pub backend_url: Option<String>,
    /// Unix milliseconds.
    pub installed_at: i64,
}

/// The handles a context reads through; one per application, shared.
#[derive(Clone, Debug)]
pub(crate) struct ContextSource {
    pub installations: InstallationStore,
    pub clients: InstallationClients,
    pub snapshots: BootstrapStore,
    pub deliveries: DeliveryStore,
}

impl ContextSource {
    pub fn context(&self, workspace_id: &str) -> AddonContext {
        AddonContext { workspace_id: workspace_id.to_owned(), source: self.clone(), record: OnceCell::new() }
    }
}

/// Makes contexts for an add-on's routes: for the workspace of a verified
/// user, or any workspace by id.
#[derive(Clone, Debug)]
pub struct Contexts(ContextSource);

impl Contexts {
    pub(crate) fn new(source: ContextSource) -> Self {
        Self(source)
    }

    /// The context of the workspace a verified user belongs to.
    pub fn for_user(&self, user: &crate::auth::user::User) -> AddonContext {
        self.0.context(&user.workspace_id)
    }

    /// The context of `workspace_id` (whether it has an installation shows
    /// when the context is used).
    pub fn for_workspace(&self, workspace_id: &str) -> AddonContext {
        self.0.context(workspace_id)
    }
}

/// One workspace's installation, its client, settings and mirror.
#[derive(Debug)]
pub struct AddonContext {
    workspace_id: String,
    source: ContextSource,
    record: OnceCell<crate::store::Installation>,
}

impl AddonContext {
    pub fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    async fn record(&self) -> Result<&crate::store::Installation, ContextError> {
        self.record
            .get_or_try_init(|| async {
                self.source
                    .installations
                    .get(&self.workspace_id)
                    .await?
                    .ok_or_else(|| ContextError::NotInstalled(self.workspace_id.clone()))
            })
            .await
    }

    /// The installation record (read once per context).
    pub async fn installation(&self) -> Result<Installation, ContextError> {
        let r = self.record().await?;
        Ok(Installation {
            workspace_id: r.workspace_id.clone(),
            addon_id: r.addon_id.clone(),
            active: r.status == InstallationStatus::Active,
            deleted: r.status == InstallationStatus::Deleted,
            backend_url: r.backend_url.clone(),
            installed_at: r.installed_at,
        })
    }

    /// A typed client acting for the installation: its token (decrypted now,
    /// never kept in the context), the hosts its claims name, the
    /// workspace's shared rate budget, and only the scopes the manifest
    /// declares (a call needing another fails before it is sent).
    pub async fn client(&self) -> Result<clockify_client::Client, ContextError> {
        self.source.clients.for_workspace(&self.workspace_id).await.map_err(|e| ContextError::Client(e.to_string()))
    }

    /// The add-on's settings as `T` (the `Settings` struct `cargo xtask
    /// regen` generates from `addon.toml`): the values of the last
    /// SETTINGS_UPDATED, each missing one at its default.
    pub async fn settings<T: DeserializeOwned + Default>(&self) -> Result<T, ContextError> {
        let record = self.record().await?;
        let Some(stored) = &record.settings else { return Ok(T::default()) };
        serde_json::from_value(Value::Object(settings_values(stored))).map_err(|e| ContextError::Settings {
            workspace_id: self.workspace_id.clone(),
            type_name: std::any::type_name::<T>(),
            reason: e.to_string(),
        })
    }

    /// Read access to the workspace's entity mirror (bootstrap snapshot and
    /// webhook changes).
    pub fn mirror(&self) -> Mirror<'_> {
        Mirror { ctx: self }
    }
}

/// `{ id: value }` of stored settings: SETTINGS_UPDATED's array of
/// `{id, name, value}`, or the `{tabs: [...]}` tree the settings API answers.
pub(crate) fn settings_values(stored: &Value) -> Map<String, Value> {
    fn collect(v: &Value, out: &mut Map<String, Value>) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            Value::Object(o) => {
                if let (Some(Value::String(id)), Some(value)) = (o.get("id"), o.get("value")) {
                    out.insert(id.clone(), value.clone());
                }
                for key in ["tabs", "groups", "settings"] {
                    if let Some(children) = o.get(key) {
                        collect(children, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Map::new();
    collect(stored, &mut out);
    out
}

/// The workspace's mirrored entities, by entity type: `project`, `task`,
/// `client`, `tag`, `time_entry`, `user`, `user_group`, `invoice`,
/// `expense`, ... (the bootstrap status lists the types a workspace has).
#[derive(Debug, Clone, Copy)]
pub struct Mirror<'a> {
    ctx: &'a AddonContext,
}

/// Rows read per query when listing.
const MIRROR_PAGE: i64 = 1000;

impl Mirror<'_> {
    /// One entity, decoded as `T` (for example `clockify_client::types::ProjectDtoV1`, or `serde_json::Value`).
    pub async fn get<T: DeserializeOwned>(&self, entity_type: &str, id: &str) -> Result<Option<T>, ContextError> {
        let Some(body) = self.ctx.source.deliveries.entity(&self.ctx.workspace_id, entity_type, id).await? else { return Ok(None) };
        decode_entity(entity_type, id, &body).map(Some)
    }

    /// Every entity of a type, by id, decoded as `T`.
    pub async fn list<T: DeserializeOwned>(&self, entity_type: &str) -> Result<Vec<T>, ContextError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.ctx.source.snapshots.entities(&self.ctx.workspace_id, entity_type, after.as_deref(), MIRROR_PAGE).await?;
            let full = page.len() as i64 == MIRROR_PAGE;
            for e in &page {
                out.push(decode_entity(entity_type, &e.id, &e.body)?);
            }
            match page.last() {
                Some(last) if full => after = Some(last.id.clone()),
                _ => return Ok(out),
            }
        }
    }
}

fn decode_entity<T: DeserializeOwned>(entity_type: &str, id: &str, body: &str) -> Result<T, ContextError> {
    serde_json::from_str(body).map_err(|e| ContextError::Entity {
        entity_type: entity_type.to_owned(),
        entity_id: id.to_owned(),
        type_name: std::any::type_name::<T>(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_values_read_the_lifecycle_array_and_the_settings_tree() {
        let updated = json!([{ "id": "tag", "name": "Tag", "value": "needs-project" }, { "id": "on", "name": "On", "value": true }]);
        let v = settings_values(&updated);
        assert_eq!(v.get("tag"), Some(&json!("needs-project")));
        assert_eq!(v.get("on"), Some(&json!(true)));

        let tree = json!({ "tabs": [{ "id": "t", "name": "T",
            "settings": [{ "id": "a", "name": "A", "type": "TXT", "value": "x", "accessLevel": "ADMINS" }],
            "groups": [{ "id": "g", "title": "G", "settings": [{ "id": "b", "name": "B", "type": "NUMBER", "value": 3, "accessLevel": "ADMINS" }] }] }] });
        let v = settings_values(&tree);
        assert_eq!(v.get("a"), Some(&json!("x")));
        assert_eq!(v.get("b"), Some(&json!(3)));
        assert_eq!(v.len(), 2, "tabs and groups are not settings: {v:?}");
    }
}
