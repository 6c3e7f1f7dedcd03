//! The add-on's own settings: the one hand-written input of `manifest.json`
//! besides the contract. They live in `addon.toml` at the workspace root,
//! read into [`AddonDefinition`]; every field has a default, so a missing
//! file or an empty one gives the stock gateway add-on.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{CodegenError, Result};

pub const ADDON_FILE: &str = "addon.toml";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AddonDefinition {
    /// Marketplace-wide unique key (2–50 characters); tokens carry it as `sub`.
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// `FREE`, `BASIC`, `STANDARD`, `PRO` or `ENTERPRISE`.
    pub minimal_subscription_plan: String,
    /// Path of the icon, relative to the base URL.
    pub icon_path: Option<String>,
    /// Manifest scopes (`PROJECT_READ`, ...). WRITE does not imply READ.
    pub scopes: Vec<String>,
    /// Webhook events the add-on wants (wire names). Codegen declares in the
    /// manifest those its schema allows and registers the rest through the
    /// REST API at install.
    pub subscribe: Vec<String>,
    pub components: Vec<Component>,
    pub settings: Option<Settings>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// `sidebar`, `widget`, `timeoff.tab`, ... (see the manifest schema).
    #[serde(rename = "type")]
    pub kind: String,
    pub label: String,
    /// `ADMINS` or `EVERYONE`.
    pub access_level: String,
    pub path: String,
    pub icon_path: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub options: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Settings {
    /// A custom settings page served by the add-on at this path.
    Custom(String),
    /// Settings managed by Clockify: `tabs` as the manifest schema shapes them.
    Structured { tabs: Vec<Value> },
}

/// The read scopes of everything the gateway's bootstrap can sync. No write
/// scope: the stock gateway only reads and listens.
pub const DEFAULT_SCOPES: &[&str] = &[
    "APPROVAL_READ",
    "CLIENT_READ",
    "CUSTOM_FIELDS_READ",
    "EXPENSE_READ",
    "GROUP_READ",
    "INVOICE_READ",
    "PROJECT_READ",
    "SCHEDULING_READ",
    "TAG_READ",
    "TASK_READ",
    "TIME_ENTRY_READ",
    "TIME_OFF_READ",
    "USER_READ",
    "WORKSPACE_READ",
];

/// Ten events the manifest can declare (its limit) plus three registered
/// through REST, which fit even a Free workspace's limit of 3 REST webhooks.
pub const DEFAULT_SUBSCRIBE: &[&str] = &[
    "NEW_PROJECT",
    "NEW_CLIENT",
    "NEW_TAG",
    "NEW_TASK",
    "NEW_TIME_ENTRY",
    "TIMER_STOPPED",
    "TIME_ENTRY_UPDATED",
    "TIME_ENTRY_DELETED",
    "USER_JOINED_WORKSPACE",
    "USER_DELETED_FROM_WORKSPACE",
    "PROJECT_UPDATED",
    "PROJECT_DELETED",
    "TASK_UPDATED",
];

impl Default for AddonDefinition {
    fn default() -> Self {
        Self {
            key: "clockify-rust-gateway".into(),
            name: "Clockify Rust Gateway".into(),
            description: Some("Keeps a verified, durable copy of your workspace and its events for your own services.".into()),
            minimal_subscription_plan: "FREE".into(),
            icon_path: None,
            scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            subscribe: DEFAULT_SUBSCRIBE.iter().map(|s| s.to_string()).collect(),
            components: Vec::new(),
            settings: None,
        }
    }
}

impl AddonDefinition {
    /// Reads `path`; a missing file means the defaults.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| CodegenError::Other(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(CodegenError::Io { path: path.to_owned(), source }),
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}
