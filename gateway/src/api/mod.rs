//! HTTP API, described with poem-openapi so the served spec always matches
//! the handlers.

mod health;

pub use health::{HealthApi, HealthResponse, HealthStatus};

use poem_openapi::OpenApiService;

/// Title of the generated OpenAPI document.
pub const TITLE: &str = "Clockify add-on gateway";

/// All API groups of the gateway. Adding a group means turning this into a
/// tuple, e.g. `(HealthApi, LifecycleApi)` (poem-openapi implements `OpenApi`
/// for tuples of two or more), here and in [`service`] only.
pub type Api = HealthApi;

/// Builds the OpenAPI service that both routes requests and renders the spec.
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(HealthApi, TITLE, env!("CARGO_PKG_VERSION"))
}
