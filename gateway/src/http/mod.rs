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

/// Probe routes: orchestrators and scrapers reach them over plain HTTP and
/// without a rate limit.
pub const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];
pub use request_id::RequestId;
