//! Rate limits on the gateway's own routes: a token bucket (GCRA) per key,
//! where the key is the workspace of a verified token or the client address.
//! The state is per instance on purpose: it protects this process, and
//! nothing correct depends on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::error::{ApiError, GatewayError};
use crate::http::{ClientAddr, PROBES};
use crate::state::AppState;

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: Duration,
    buckets: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let interval = Duration::from_secs(1) / per_second.max(1);
        Self { interval, burst: interval * burst.max(1), buckets: Mutex::new(HashMap::new()) }
    }

    /// `Ok` if `key` may proceed now, else the seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() > 100_000 {
            // Forget keys whose bucket has drained; bounded memory under a flood of addresses.
            buckets.retain(|_, tat| *tat > now);
        }
        let tat = buckets.get(key).copied().unwrap_or(now).max(now);
        let next = tat + self.interval;
        if next > now + self.burst {
            let wait = next - (now + self.burst);
            return Err(wait.as_secs().max(1));
        }
        buckets.insert(key.to_owned(), next);
        Ok(())
    }

    /// The budget of one workspace, for callers with verified claims.
    pub fn enforce_workspace(&self, state: &AppState, workspace_id: &str) -> Result<(), GatewayError> {
        self.enforce(state, "workspace", &format!("ws:{workspace_id}"))
    }

    /// The 429 for `key`, counted and audited.
    pub fn enforce(&self, state: &AppState, key_kind: &'static str, key: &str) -> Result<(), GatewayError> {
        self.check(key).map_err(|retry_after| {
            state.metrics.rate_limited.get_or_create(&vec![("key", key_kind.to_owned())]).inc();
            tracing::warn!(target: "audit", event = "rate_limited", key_kind, retry_after, "rate limit hit");
            GatewayError::RateLimited { retry_after }
        })
    }
}

/// Webhook deliveries come from Clockify's few addresses on behalf of every
/// workspace at once; an address limit there would refuse (and maybe lose)
/// real events. They are limited per workspace once their signature is verified.
const EXEMPT_PREFIX: &str = "/webhooks/";

/// Per client address, before anything else is done for the request.
pub async fn middleware<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    // Limiting probes would turn a busy client into a restart.
    if PROBES.contains(&req.uri().path()) || req.uri().path().starts_with(EXEMPT_PREFIX) {
        return next.call(req).await.map(IntoResponse::into_response);
    }
    if let (Some(state), Some(client)) = (req.data::<AppState>(), req.extensions().get::<ClientAddr>()) {
        let key = client.ip.map(|ip| format!("addr:{ip}")).unwrap_or_else(|| "addr:unknown".into());
        if let Err(e) = state.limiter.enforce(state, "address", &key) {
            return Ok(ApiError::from(e).into_response());
        }
    }
    next.call(req).await.map(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let l = RateLimiter::new(10, 5);
        for _ in 0..5 {
            l.check("a").unwrap();
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait >= 1);
        l.check("b").expect("keys are independent");
    }
}
