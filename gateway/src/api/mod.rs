//! HTTP API, described with poem-openapi so the served spec always matches
//! the handlers: typed bodies and responses per route, security schemes as
//! types, problems as one typed error.

mod admin;
mod admin_page;
mod auth;
mod bootstrap;
mod explorer;
mod health;
mod lifecycle;
mod manifest;
mod webhooks;

pub use admin::{AdminApi, AdminOperationsApi};
pub use admin_page::AdminPageApi;
pub use bootstrap::BootstrapApi;
pub use explorer::ExplorerApi;
pub use health::{HealthApi, HealthResponse, HealthStatus};
pub use auth::{LifecycleAuth, UserToken, WebhookSignature};
pub use lifecycle::LifecycleApi;
pub use manifest::{ManifestApi, served_manifest};
pub use webhooks::WebhookApi;

use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;

/// Title of the generated OpenAPI document.
pub const TITLE: &str = "Clockify add-on gateway";

#[derive(Tags)]
pub enum Tag {
    /// Probes and metrics.
    Operations,
    /// What Clockify reads to install the add-on.
    Addon,
    /// Calls Clockify makes when the add-on is installed, changed or removed.
    Lifecycle,
    /// Event deliveries from Clockify.
    Webhooks,
    /// For a workspace's owner and admins.
    Admin,
    /// Reading a workspace's lists into the entity snapshot, for its admins.
    Bootstrap,
    /// Any operation of Clockify's API, validated against the contract, with the caller's token.
    Explorer,
}

pub type Api = (HealthApi, ManifestApi, LifecycleApi, WebhookApi, AdminApi, AdminOperationsApi, AdminPageApi, BootstrapApi, ExplorerApi);

/// The OpenAPI service that both routes requests and renders the spec.
pub fn service(state: &AppState) -> OpenApiService<Api, ()> {
    let api = (
        HealthApi { state: state.clone() },
        ManifestApi { state: state.clone() },
        LifecycleApi { state: state.clone() },
        WebhookApi { state: state.clone() },
        AdminApi { state: state.clone() },
        AdminOperationsApi { state: state.clone() },
        AdminPageApi,
        BootstrapApi { state: state.clone() },
        ExplorerApi::new(state.clone()),
    );
    OpenApiService::new(api, TITLE, env!("CARGO_PKG_VERSION"))
}
