//! The gateway's one error type and its single mapping to RFC 7807 problem
//! JSON. Handlers return `GatewayError`; the edge turns it into [`ApiError`]
//! (typed, so the OpenAPI document lists every problem a route can answer).
//! A 500 says nothing internal; the cause goes to the log with the request id.

use poem_openapi::{ApiResponse, Object, payload::Json};

use crate::auth::token::TokenRejection;

/// An RFC 7807 problem document.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A URI naming the problem type.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
}

impl Problem {
    pub fn new(status: u16, slug: &str, title: &str, detail: Option<String>) -> Self {
        Self { kind: format!("https://clockify-gateway.dev/problems/{slug}"), title: title.to_owned(), status, detail }
    }
}

/// One input problem, at a JSON pointer into the request (e.g. `/body/name`).
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
}

/// A problem document listing every input problem (422).
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct ValidationProblem {
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub violations: Vec<Violation>,
}

/// Every problem answer of the gateway, as poem-openapi responses.
#[derive(ApiResponse, Debug)]
pub enum ApiError {
    /// The request is malformed.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No valid Clockify token.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The token is valid but not for this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such resource or installation.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The body is over the route's cap.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request is well-formed but does not fit the contract: every violation, with its pointer.
    #[oai(status = 422, content_type = "application/problem+json")]
    UnprocessableEntity(Json<ValidationProblem>),
    /// Too many requests; see Retry-After.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// Something failed inside the gateway.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// An upstream (Clockify) could not be reached.
    #[oai(status = 502, content_type = "application/problem+json")]
    BadGateway(Json<Problem>),
    /// The database is unavailable; retry later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("no token: send {0}")]
    MissingToken(&'static str),
    #[error("token rejected: {0}")]
    Token(#[from] TokenRejection),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request does not fit the contract ({} problem(s))", .0.len())]
    Invalid(Vec<Violation>),
    #[error("{0}")]
    BadGateway(String),
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("database unavailable")]
    Unavailable,
    /// Logged with its cause; the client sees only "internal error".
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for GatewayError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() { GatewayError::Unavailable } else { GatewayError::Internal(e.to_string()) }
    }
}

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        use GatewayError as G;
        match e {
            G::MissingToken(_) | G::Token(_) => {
                ApiError::Unauthorized(Json(Problem::new(401, "unauthorized", "Unauthorized", Some(e.to_string()))))
            }
            G::BadRequest(d) => ApiError::BadRequest(Json(Problem::new(400, "bad-request", "Bad request", Some(d)))),
            G::Forbidden(d) => ApiError::Forbidden(Json(Problem::new(403, "forbidden", "Forbidden", Some(d)))),
            G::NotFound(d) => ApiError::NotFound(Json(Problem::new(404, "not-found", "Not found", Some(d)))),
            G::PayloadTooLarge { .. } => {
                ApiError::PayloadTooLarge(Json(Problem::new(413, "payload-too-large", "Payload too large", Some(e.to_string()))))
            }
            G::Invalid(violations) => ApiError::UnprocessableEntity(Json(ValidationProblem {
                kind: "https://clockify-gateway.dev/problems/invalid-request".into(),
                title: "Unprocessable request".into(),
                status: 422,
                detail: e_detail(&violations),
                violations,
            })),
            G::BadGateway(d) => ApiError::BadGateway(Json(Problem::new(502, "bad-gateway", "Bad gateway", Some(d)))),
            G::RateLimited { retry_after } => {
                ApiError::TooManyRequests(Json(Problem::new(429, "rate-limited", "Too many requests", Some(e.to_string()))), retry_after)
            }
            G::Unavailable => ApiError::Unavailable(Json(Problem::new(
                503,
                "unavailable",
                "Service unavailable",
                Some("the database is unavailable; retry later".into()),
            ))),
            G::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ApiError::Internal(Json(Problem::new(500, "internal", "Internal error", None)))
            }
        }
    }
}

/// An add-on route's failure: the hook context's errors map to their
/// problem answers (no installation 404, database 503, Clockify 502), and
/// a route can refuse with its own reason.
impl From<crate::context::ContextError> for ApiError {
    fn from(e: crate::context::ContextError) -> Self {
        use crate::context::ContextError as C;
        ApiError::from(match e {
            C::NotInstalled(_) => GatewayError::NotFound(e.to_string()),
            C::Store(_) => GatewayError::Unavailable,
            C::Client(_) => GatewayError::BadGateway(e.to_string()),
            C::Settings { .. } | C::Entity { .. } => GatewayError::Internal(e.to_string()),
        })
    }
}

impl ApiError {
    /// 400 with `detail`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        GatewayError::BadRequest(detail.into()).into()
    }

    /// 403 with `detail`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        GatewayError::Forbidden(detail.into()).into()
    }

    /// 404 with `detail`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        GatewayError::NotFound(detail.into()).into()
    }

    /// 502: Clockify failed or refused; `detail` says which call.
    pub fn bad_gateway(detail: impl Into<String>) -> Self {
        GatewayError::BadGateway(detail.into()).into()
    }
}

fn e_detail(violations: &[Violation]) -> String {
    let list: Vec<String> = violations.iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect();
    list.join("; ")
}

/// Problem JSON for errors raised outside typed handlers (unknown route,
/// wrong method, unparsable body, missing security header, ...).
pub fn problem_response(status: poem::http::StatusCode, detail: Option<String>) -> poem::Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let slug = title.to_ascii_lowercase().replace(' ', "-");
    let detail = if status.is_server_error() { None } else { detail };
    let body = poem_openapi::types::ToJSON::to_json_string(&Problem::new(status.as_u16(), &slug, title, detail));
    poem::Response::builder().status(status).content_type("application/problem+json").body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_500_says_nothing_internal() {
        let e = ApiError::from(GatewayError::Internal("connection to db-7.internal refused".into()));
        let body = poem::IntoResponse::into_response(e).into_body().into_string().await.unwrap();
        assert!(body.contains("\"status\":500") && !body.contains("db-7"), "{body}");
        let raw = problem_response(poem::http::StatusCode::INTERNAL_SERVER_ERROR, Some("panic at store.rs:12".into()));
        assert!(!raw.into_body().into_string().await.unwrap().contains("store.rs"));
    }
}
