//! `X-Request-ID`: accepted when sane, generated otherwise, echoed on the
//! response and recorded on every log line of the request (see access_log).

use std::sync::Arc;

use poem::{Endpoint, IntoResponse, Request, Response};

pub const HEADER: &str = "x-request-id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// A caller's id is kept only if it is short, printable ASCII (it ends up in logs).
fn acceptable(v: &str) -> bool {
    !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

pub async fn middleware<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    if let Ok(v) = poem::http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    Ok(resp)
}
