//! One log line per request, inside a span that carries the request id, so
//! every line logged while handling it carries the id too. The query string
//! is never logged as is: `auth_token` (a user token in iframe loads) and any
//! other secret-looking parameter are redacted.

use std::sync::Arc;
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::http::RequestId;
use crate::http::route_template::{RouteTemplates, UNMATCHED};
use crate::metrics::Metrics;
use crate::redact::redact_query;

pub async fn middleware<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let id = req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(redact_query);
    let metrics = req.data::<Arc<Metrics>>().cloned();
    let route = req.data::<RouteTemplates>().and_then(|t| t.template(req.method(), req.uri().path()));
    // The span holds only the id (each line logged inside carries it); the
    // request's own line says the rest once.
    let span = tracing::info_span!("request", request_id = %id);
    async move {
        let started = Instant::now();
        let resp = next.call(req).await.map(IntoResponse::into_response).unwrap_or_else(|e| e.into_response());
        let status = resp.status().as_u16();
        let elapsed = started.elapsed();
        if let Some(metrics) = metrics {
            metrics.http_request(method.as_str(), route.as_deref().unwrap_or(UNMATCHED), status, elapsed);
        }
        tracing::info!(
            method = method.as_str(),
            path,
            status,
            query = query.as_deref().unwrap_or(""),
            elapsed_ms = elapsed.as_millis() as u64,
            "request"
        );
        Ok(resp)
    }
    .instrument(span)
    .await
}
