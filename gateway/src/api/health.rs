//! Liveness probe.

use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

/// Liveness endpoint.
///
/// Deliberately does no I/O: an orchestrator restarts the process when this
/// fails, so it must only reflect whether the process can serve requests, not
/// whether its dependencies are up.
pub struct HealthApi;

/// Body of a health response.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct HealthStatus {
    /// Always `ok` while the process is serving requests.
    pub status: String,
}

/// Responses of `GET /health`.
#[derive(ApiResponse, Debug)]
pub enum HealthResponse {
    /// The process is alive.
    #[oai(status = 200)]
    Ok(Json<HealthStatus>),
}

#[OpenApi]
impl HealthApi {
    /// Liveness probe.
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> HealthResponse {
        HealthResponse::Ok(Json(HealthStatus {
            status: "ok".to_owned(),
        }))
    }
}
