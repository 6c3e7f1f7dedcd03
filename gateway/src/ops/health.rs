//! Operations endpoints: liveness, readiness, metrics.

use poem_openapi::{
    ApiResponse, Object, OpenApi,
    payload::{Json, PlainText},
};

use std::sync::Arc;

use crate::error::{ApiError, GatewayError};
use crate::metrics::Metrics;
use crate::store::{Database, DeliveryLog};

pub struct HealthApi {
    /// Pinged by the readiness probe.
    pub db: Database,
    /// Where the dead letters a scrape reports are counted.
    pub delivery_log: DeliveryLog,
    pub metrics: Arc<Metrics>,
}

/// Body of a health or readiness answer.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct HealthStatus {
    /// `ok` when serving (health) or when the database answered (ready).
    pub status: String,
}

/// What answers: the process is alive, its version and its contract.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct Liveness {
    /// `ok`.
    pub status: String,
    /// The gateway crate's version.
    pub version: String,
    /// `sha256:` and the hex SHA-256 of the `openapi.json` the build used.
    pub contract: String,
}

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The contract the build used, as `/health` reports it.
pub const CONTRACT: &str = concat!("sha256:", env!("CONTRACT_SHA256"));

#[derive(ApiResponse, Debug)]
pub enum HealthResponse {
    /// The process is alive.
    #[oai(status = 200)]
    Ok(Json<Liveness>),
}

#[derive(ApiResponse, Debug)]
pub enum ReadyResponse {
    /// The database answered a round trip.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
}

#[derive(ApiResponse, Debug)]
pub enum MetricsResponse {
    /// Prometheus text exposition format.
    #[oai(status = 200, content_type = "text/plain; version=0.0.4")]
    Ok(PlainText<String>),
}

#[OpenApi(tag = "crate::tags::Tag::Operations")]
impl HealthApi {
    /// Liveness probe. Does no I/O: it says whether the process serves
    /// requests, not whether its dependencies are up.
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> HealthResponse {
        HealthResponse::Ok(Json(Liveness { status: "ok".to_owned(), version: VERSION.to_owned(), contract: CONTRACT.to_owned() }))
    }

    /// Readiness probe: one database round trip; 503 while the database is down.
    #[oai(path = "/ready", method = "get")]
    async fn ready(&self) -> Result<ReadyResponse, ApiError> {
        let ping = tokio::time::timeout(std::time::Duration::from_secs(2), self.db.ping()).await;
        match ping {
            Ok(Ok(())) => Ok(ReadyResponse::Ready(Json(HealthStatus { status: "ok".to_owned() }))),
            _ => Err(GatewayError::Unavailable.into()),
        }
    }

    /// Prometheus metrics.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self) -> MetricsResponse {
        // Dead letters are shared by every instance, so they are counted in
        // the database; a scrape during an outage keeps the last figures.
        if let Ok(count) = self.delivery_log.dead_count().await {
            self.metrics.set_dead_letters(count);
        }
        MetricsResponse::Ok(PlainText(self.metrics.render()))
    }
}
