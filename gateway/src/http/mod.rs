//! Middleware every request passes, outermost first: request id, access log,
//! security headers, HTTPS enforcement, per-address rate limit, body cap,
//! and the catch-all that turns any error into problem JSON.

pub mod access_log;
pub mod body_limit;
pub mod client_addr;
pub mod https;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;

pub use client_addr::ClientAddr;
pub use rate_limit::RateLimiter;
pub use request_id::RequestId;
