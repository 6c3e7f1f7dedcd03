//! The gateway's HTTP API: every part's routes in one poem-openapi service,
//! so the served spec always matches the handlers (typed bodies and
//! responses per route, security schemes as types, problems as one typed
//! error). The routes themselves live with their parts.

pub use crate::admin::page::AdminPageApi;
pub use crate::admin::routes::{AdminApi, AdminOperationsApi};
pub use crate::auth::schemes::{LifecycleAuth, UserToken, WebhookSignature};
pub use crate::bootstrap::routes::BootstrapApi;
pub use crate::explorer::routes::ExplorerApi;
pub use crate::flows::routes::FlowsApi;
pub use crate::inbox::routes::WebhookApi;
pub use crate::installations::routes::LifecycleApi;
pub use crate::ops::health::{HealthApi, HealthResponse, HealthStatus};
pub use crate::ops::manifest::{ManifestApi, served_manifest};

use poem_openapi::OpenApiService;

/// Title of the generated OpenAPI document.
pub const TITLE: &str = "Clockify add-on gateway";

pub type Api = (HealthApi, ManifestApi, LifecycleApi, WebhookApi, AdminApi, AdminOperationsApi, AdminPageApi, BootstrapApi, ExplorerApi, FlowsApi);

/// The OpenAPI service that both routes requests and renders the spec.
pub fn service<R: poem_openapi::OpenApi>(api: Api, addon_routes: R) -> OpenApiService<(Api, R), ()> {
    OpenApiService::new((api, addon_routes), TITLE, env!("CARGO_PKG_VERSION"))
}
