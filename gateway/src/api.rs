//! The gateway's HTTP API: every part's routes in one poem-openapi service,
//! so the served spec always matches the handlers (typed bodies and
//! responses per route, security schemes as types, problems as one typed
//! error). The routes themselves live with their parts.

pub use crate::admin::page::AdminPageApi;
pub use crate::admin::routes::{AdminApi, AdminOperationsApi};
pub use crate::auth::schemes::{LifecycleAuth, UserToken, WebhookSignature};
pub use crate::bootstrap::routes::BootstrapApi;
pub use crate::explorer::routes::ExplorerApi;
pub use crate::inbox::routes::WebhookApi;
pub use crate::installations::routes::LifecycleApi;
pub use crate::ops::health::{HealthApi, HealthResponse, HealthStatus};
pub use crate::ops::manifest::{ManifestApi, served_manifest};

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
