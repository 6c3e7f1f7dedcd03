//! The per-address limit every request of a member's route passes, and the
//! per-address budget of failed checks of Clockify's calls; both draw on
//! `crate::limiter`.

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

use crate::error::{ApiError, GatewayError};
use crate::http::{ClientAddr, HttpPolicy, PROBES};
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;

/// Clockify's own calls (webhook deliveries, lifecycle calls) come from its
/// few addresses on behalf of every workspace at once; an address limit there
/// would refuse (and maybe lose) real events. They are limited per workspace
/// once their token is verified, and per address only by their failed
/// checks ([`FailedChecks`]).
const CLOCKIFY_CALLS: [&str; 2] = ["/webhooks/", "/lifecycle/"];

/// The limiter key of a client address (both address budgets use it).
fn address_key(ip: Option<std::net::IpAddr>) -> String {
    ip.map(|ip| format!("addr:{ip}")).unwrap_or_else(|| "addr:unknown".into())
}

/// One call's address and its budget of failed checks: a token that does
/// not verify, or an event header that does not fit, are never Clockify's;
/// past the budget the address's calls are answered 429 before anything is
/// verified or read.
pub struct FailedChecks<'a> {
    /// Failed checks per client address.
    budget: &'a RateLimiter,
    metrics: &'a Metrics,
    key: String,
}

impl<'a> FailedChecks<'a> {
    pub fn of(budget: &'a RateLimiter, metrics: &'a Metrics, req: &Request) -> Self {
        Self { budget, metrics, key: address_key(req.extensions().get::<ClientAddr>().and_then(|c| c.ip)) }
    }

    pub fn enforce(&self) -> Result<(), GatewayError> {
        self.budget.peek(&self.key).map_err(|retry_after| {
            self.metrics.rate_limited.get_or_create(&vec![("key", "failed_checks".to_owned())]).inc();
            tracing::warn!(target: "audit", event = "rate_limited", key_kind = "failed_checks", retry_after, "too many failed checks from one address");
            GatewayError::RateLimited { retry_after }
        })
    }

    pub fn charge(&self) {
        self.budget.charge(&self.key);
    }
}

/// Per client address, before anything else is done for the request.
pub async fn middleware<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    // Limiting probes would turn a busy client into a restart.
    let path = req.uri().path();
    if PROBES.contains(&path) || CLOCKIFY_CALLS.iter().any(|p| path.starts_with(p)) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    let limits = (req.data::<HttpPolicy>(), req.data::<Arc<Metrics>>(), req.extensions().get::<ClientAddr>());
    if let (Some(policy), Some(metrics), Some(client)) = limits {
        let key = address_key(client.ip);
        if let Err(e) = policy.limiter.enforce(metrics, "address", &key) {
            return Ok(ApiError::from(e).into_response());
        }
    }
    next.call(req).await.map(IntoResponse::into_response)
}
