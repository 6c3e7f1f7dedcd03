//! REQUIRE_HTTPS: plain HTTP is served only to loopback peers (local runs,
//! a sidecar proxy) unless it is switched off; behind a TLS-terminating proxy,
//! list the proxy in TRUSTED_PROXIES so its `X-Forwarded-Proto` counts.
//! Probes (`/health`, `/ready`, `/metrics`) stay reachable for orchestrators.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use crate::error::problem_response;
use crate::http::{ClientAddr, HttpPolicy, PROBES};

pub async fn middleware<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let Some(policy) = req.data::<HttpPolicy>().cloned() else {
        return Ok(problem_response(poem::http::StatusCode::INTERNAL_SERVER_ERROR, None));
    };
    let client = ClientAddr::of(&req, &policy.trusted_proxies);
    req.extensions_mut().insert(client);
    let allowed = client.https
        || client.peer_is_loopback && !policy.trusted_proxies.iter().any(|p| p.is_loopback())
        || !policy.require_https
        || PROBES.contains(&req.uri().path());
    if !allowed {
        tracing::warn!(target: "audit", event = "https_required", "plain HTTP refused");
        return Ok(problem_response(poem::http::StatusCode::FORBIDDEN, Some("HTTPS is required (REQUIRE_HTTPS)".into())));
    }
    let https = client.https;
    let mut resp = next.call(req).await.map(IntoResponse::into_response).unwrap_or_else(|e| e.into_response());
    if https {
        resp.headers_mut().insert("strict-transport-security", poem::http::HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    Ok(resp)
}
