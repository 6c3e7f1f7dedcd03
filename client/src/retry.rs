//! Sending a request: the per-workspace budget, then retries that are safe.
//!
//! - 429: retried for every method (the request was refused, not processed),
//!   after `Retry-After` or backoff; the whole workspace pauses meanwhile.
//! - 5xx and transport errors: retried only for idempotent methods. A POST or
//!   PATCH is never replayed, since it may already have created something.

use std::time::Duration;

use reqwest::{Method, Request, Response, StatusCode};
use tokio::time::Instant;

use crate::error::ApiFailure;
use crate::rate_limit::{RateBudget, workspace_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for; the 429 is returned.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    pub fn never() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// Capped exponential backoff with "equal jitter": between half and all of the step.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let step = self.base_delay.saturating_mul(1u32 << attempt.min(16)).min(self.max_delay);
        step / 2 + step.mul_f64(fastrand::f64() / 2.0)
    }
}

pub fn is_idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Clockify).
fn retry_after(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

pub(crate) async fn execute(
    http: &reqwest::Client,
    budget: &RateBudget,
    policy: &RetryPolicy,
    operation: &'static str,
    request: Request,
) -> reqwest::Result<Response> {
    let limiter = budget.for_workspace(workspace_of(request.url().path()));
    let idempotent = is_idempotent(request.method());
    let mut pending = request;
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        // A streaming body (multipart upload) cannot be cloned, so cannot be retried.
        let spare = if attempt < policy.max_attempts { pending.try_clone() } else { None };
        limiter.acquire().await;
        let result = http.execute(pending).await;
        match &result {
            Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {}
            Ok(_) => limiter.succeeded(),
            Err(_) => {}
        }
        let Some(next) = spare else {
            if result.as_ref().is_ok_and(|r| r.status() == StatusCode::TOO_MANY_REQUESTS) {
                limiter.throttled();
            }
            return finish(operation, result).await;
        };
        match &result {
            Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                limiter.throttled();
                let wait = retry_after(resp).unwrap_or_else(|| policy.backoff(attempt));
                if wait > policy.max_retry_after {
                    return finish(operation, result).await;
                }
                tracing::debug!(operation, attempt, wait_ms = wait.as_millis() as u64, "429 from Clockify; pausing the workspace");
                limiter.pause_until(Instant::now() + wait);
            }
            Ok(resp) if resp.status().is_server_error() && idempotent => {
                let wait = policy.backoff(attempt);
                tracing::debug!(operation, attempt, status = resp.status().as_u16(), "server error; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) if idempotent && (e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()) => {
                tracing::debug!(operation, attempt, error = %e, "transport error; retrying");
                tokio::time::sleep(policy.backoff(attempt)).await;
            }
            _ => return finish(operation, result).await,
        }
        pending = next;
    }
}

/// Reads the body of a failed answer once, so the error can carry Clockify's
/// message, code and raw body along with the operation's name.
async fn finish(operation: &'static str, result: reqwest::Result<Response>) -> reqwest::Result<Response> {
    let resp = result?;
    if resp.status().is_success() || resp.status().is_informational() {
        return Ok(resp);
    }
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?;
    let failure = ApiFailure::parse(operation, status.as_u16(), &body);
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.headers_mut() = headers;
    let mut rebuilt = Response::from(rebuilt);
    rebuilt.extensions_mut().insert(failure);
    Ok(rebuilt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for attempt in 0..40 {
            let d = p.backoff(attempt);
            assert!(d <= p.max_delay, "{attempt}: {d:?}");
            assert!(d >= p.base_delay.saturating_mul(1 << attempt.min(16)).min(p.max_delay) / 2);
        }
    }

    #[test]
    fn only_safe_methods_are_idempotent() {
        assert!(is_idempotent(&Method::GET) && is_idempotent(&Method::PUT) && is_idempotent(&Method::DELETE));
        assert!(!is_idempotent(&Method::POST) && !is_idempotent(&Method::PATCH));
    }
}
