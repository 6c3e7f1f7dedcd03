//! Body caps, checked while the body is read (a missing or lying
//! `Content-Length` does not get past them): 1 MB by default, 5 MB on webhook
//! routes, whose payloads are whole entities. Webhook bodies are not read
//! here: the route reads one only after its signature and event header have
//! passed (api/webhooks.rs), under the same cap; a declared length over it
//! is refused here all the same.

use std::sync::Arc;

use poem::{Body, Endpoint, IntoResponse, Request, Response};

use crate::error::{ApiError, GatewayError};
use crate::metrics::Metrics;

pub const DEFAULT_LIMIT: usize = 1024 * 1024;
pub const WEBHOOK_LIMIT: usize = 5 * 1024 * 1024;

fn is_webhook(path: &str) -> bool {
    path.starts_with("/webhooks/")
}

pub fn limit_for(path: &str) -> usize {
    if is_webhook(path) { WEBHOOK_LIMIT } else { DEFAULT_LIMIT }
}

pub async fn middleware<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let limit = limit_for(req.uri().path());
    let declared = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let too_large = |req: &Request| {
        if let Some(metrics) = req.data::<Arc<Metrics>>() {
            metrics.payload_too_large.inc();
        }
        tracing::warn!(target: "audit", event = "payload_too_large", limit, "request body over the cap");
        Ok(ApiError::from(GatewayError::PayloadTooLarge { limit }).into_response())
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(&req);
    }
    if is_webhook(req.uri().path()) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let body = req.take_body();
    match body.into_bytes_limit(limit).await {
        Ok(bytes) => req.set_body(Body::from(bytes)),
        Err(poem::error::ReadBodyError::PayloadTooLarge) => return too_large(&req),
        Err(e) => {
            return Ok(ApiError::from(GatewayError::BadRequest(format!("cannot read the request body: {e}"))).into_response());
        }
    }
    next.call(req).await.map(IntoResponse::into_response)
}
