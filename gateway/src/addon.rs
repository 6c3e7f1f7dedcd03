//! What an add-on is, as its `addon.toml` and `manifest.json` declare it.
//!
//! `cargo xtask regen` writes one [`AddonManifest`] per add-on (the stock
//! gateway's in `generated/addon.rs`, an add-on crate's in its own
//! `src/generated/addon.rs`); the gateway takes it at startup and reads the
//! key, the subscriptions, the scopes and the pages from it, never from
//! constants of its own.

use clockify_client::{Scope, WebhookEvent};

/// One add-on's manifest facts, generated; never written by hand.
#[derive(Debug)]
pub struct AddonManifest {
    /// The manifest's `key`; tokens carry it as `sub`.
    pub key: &'static str,
    /// `manifest.json` as committed; its `baseUrl` is a placeholder that
    /// `ADDON_BASE_URL` replaces when the gateway serves it.
    pub manifest_json: &'static str,
    /// Subscribed events declared in the manifest: Clockify creates these
    /// webhooks and sends their tokens in the INSTALLED body.
    pub manifest_webhooks: &'static [WebhookEvent],
    /// Subscribed events the manifest cannot declare: the gateway registers
    /// them through the REST API at install.
    pub rest_webhooks: &'static [WebhookEvent],
    /// The scopes the manifest declares; the installation's client refuses
    /// any other.
    pub declared_scopes: &'static [Scope],
    /// The paths of the add-on's pages (components, custom settings page):
    /// each must be served by one of the add-on's routes.
    pub pages: &'static [&'static str],
}

/// The stock gateway: stores, mirrors and acknowledges (`addon.toml` at the
/// workspace root).
pub static STOCK: &AddonManifest = &crate::generated::addon::ADDON;
