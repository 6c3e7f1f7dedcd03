//! The claims of Clockify's tokens.

use serde::{Deserialize, Serialize};

/// The `iss` claim of every Clockify token.
pub const CLOCKIFY_ISSUER: &str = "clockify";

/// The `type` claim of add-on tokens.
pub const ADDON_TOKEN_TYPE: &str = "addon";

/// The claims of a verified Clockify token.
///
/// Optional claims stay `Option`: webhook tokens carry only a subset and
/// REST-API webhook tokens (`type: "access"`) carry other claims, kept in
/// [`extra`](Claims::extra). After [`TokenVerifier::verify`](crate::TokenVerifier::verify) succeeds, `iss`
/// is `clockify`, the claims fit the expected [`TokenKind`](crate::TokenKind) (for every kind
/// but [`TokenKind::RestWebhook`](crate::TokenKind::RestWebhook) `type` is `addon` and `sub` is the add-on
/// key), and a bound workspace/add-on id is present and equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub iss: Option<String>,
    /// The `type` claim.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub sub: Option<String>,
    pub workspace_id: Option<String>,
    /// Installation id on the workspace (not the marketplace id).
    pub addon_id: Option<String>,
    pub user: Option<String>,
    pub backend_url: Option<String>,
    pub reports_url: Option<String>,
    pub locations_url: Option<String>,
    pub screenshots_url: Option<String>,
    pub pto_url: Option<String>,
    pub language: Option<String>,
    pub theme: Option<String>,
    /// `OWNER`, `WORKSPACE_ADMIN`, `TEAM_MANAGER`, `PROJECT_MANAGER`, …;
    /// a string so a new role never makes a valid token unreadable.
    pub workspace_role: Option<String>,
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<u64>,
    /// Any other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}
