//! Security headers on every response. Add-on pages load inside Clockify's
//! iframe, so framing is allowed for Clockify's origins only; API answers
//! are not meant to be framed or to run anything.

use std::sync::Arc;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};

/// Origins that embed add-on pages (PLATFORM.md §7).
pub const FRAME_ANCESTORS: &str = "https://app.clockify.me https://*.clockify.me";

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Pages: our own assets only. Swagger UI (`/docs`) inlines its script and
/// styles, so that page alone allows inline code.
fn page_csp(path: &str) -> String {
    let inline = if path.starts_with("/docs") { " 'unsafe-inline'" } else { "" };
    format!(
        "default-src 'self'; script-src 'self'{inline}; style-src 'self'{inline}; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {FRAME_ANCESTORS}"
    )
}

pub async fn middleware<E: Endpoint>(next: Arc<E>, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let mut resp = next.call(req).await.map(IntoResponse::into_response).unwrap_or_else(|e| e.into_response());
    let is_html = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    let h = resp.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    let csp = if is_html { page_csp(&path) } else { API_CSP.to_owned() };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert("content-security-policy", v);
    }
    Ok(resp)
}
