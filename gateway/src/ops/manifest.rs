//! `GET /manifest`: the committed manifest with this deployment's base URL
//! and add-on key.

use poem_openapi::{ApiResponse, OpenApi, payload::Json};
use serde_json::Value;

use crate::error::{ApiError, GatewayError};

pub struct ManifestApi {
    /// The add-on's committed `manifest.json`.
    pub manifest_json: &'static str,
    /// ADDON_BASE_URL.
    pub base_url: String,
    /// The add-on key this deployment serves (ADDON_KEY or the manifest's).
    pub addon_key: String,
}

#[derive(ApiResponse, Debug)]
pub enum ManifestResponse {
    /// The add-on manifest (schema 1.4).
    #[oai(status = 200)]
    Ok(Json<Value>),
}

/// The manifest as served: `baseUrl` and `key` from the configuration.
pub fn served_manifest(manifest_json: &str, base_url: &str, addon_key: &str) -> Result<Value, GatewayError> {
    let mut m: Value = serde_json::from_str(manifest_json).map_err(|e| GatewayError::Internal(format!("manifest.json: {e}")))?;
    m["baseUrl"] = Value::String(base_url.to_owned());
    m["key"] = Value::String(addon_key.to_owned());
    Ok(m)
}

#[OpenApi(tag = "crate::tags::Tag::Addon")]
impl ManifestApi {
    /// The add-on manifest Clockify installs from.
    #[oai(path = "/manifest", method = "get")]
    async fn manifest(&self) -> Result<ManifestResponse, ApiError> {
        Ok(ManifestResponse::Ok(Json(served_manifest(self.manifest_json, &self.base_url, &self.addon_key)?)))
    }
}
