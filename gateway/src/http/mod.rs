//! Middleware every request passes, outermost first: request id, access log,
//! security headers, HTTPS enforcement, per-address rate limit, body cap,
//! and the catch-all that turns any error into problem JSON.

pub mod access_log;
pub mod body_limit;
pub mod client_addr;
pub mod https;
pub mod rate_limit;
pub mod request_id;
pub mod route_template;
pub mod security_headers;
pub mod slow_clients;

pub use client_addr::ClientAddr;

use std::net::IpAddr;
use std::sync::Arc;

use crate::limiter::RateLimiter;

/// What the HTTPS check and the per-address limit read, as request data
/// (the metrics they count in are request data of their own, an
/// `Arc<Metrics>`).
#[derive(Clone, Debug)]
pub struct HttpPolicy {
    /// REQUIRE_HTTPS.
    pub require_https: bool,
    /// TRUSTED_PROXIES: whose forwarding headers count.
    pub trusted_proxies: Arc<[IpAddr]>,
    /// The per-address (and the members' per-workspace) limit.
    pub limiter: Arc<RateLimiter>,
}

/// Probe routes: orchestrators and scrapers reach them over plain HTTP and
/// without a rate limit.
pub const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];
pub use request_id::RequestId;
