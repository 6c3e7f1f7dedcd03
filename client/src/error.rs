//! The client's error types: `ClockifyError` for calls, `ConfigError` for
//! building a client. Clockify's error body (`{message, code}`, PLATFORM.md §6)
//! is parsed leniently and the raw body is always kept.

use serde::Deserialize;

/// Why building a client failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{what} is not a usable base URL: {reason}")]
    BadUrl { what: &'static str, reason: String },
    #[error("credential is not a valid header value (it must be visible ASCII)")]
    BadCredential,
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Details of a non-2xx answer, attached to the response by the exec hook
/// (which knows the operation) so `ClockifyError` can report them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub operation: &'static str,
    pub status: u16,
    pub message: Option<String>,
    pub code: Option<i64>,
    pub body: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: Option<String>,
    code: Option<serde_json::Value>,
}

impl ApiFailure {
    pub(crate) fn parse(operation: &'static str, status: u16, body: &[u8]) -> Self {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let (message, code) = match parsed {
            Some(b) => (b.message, b.code.and_then(|c| c.as_i64().or_else(|| c.as_str()?.parse().ok()))),
            None => (None, None),
        };
        Self { operation, status, message, code, body: String::from_utf8_lossy(body).into_owned() }
    }
}

/// Everything a call through the client can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClockifyError {
    /// Clockify answered with a non-success status.
    #[error("{}: Clockify answered {}{}{}", .0.operation, .0.status,
        .0.code.map(|c| format!(" (code {c})")).unwrap_or_default(),
        .0.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Api(ApiFailure),
    /// A response whose status the contract does not list for the operation.
    #[error("unexpected response status {status}")]
    UnexpectedStatus { status: u16 },
    /// The request never got an answer (connect, timeout, reset).
    #[error("request failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// A parameter or body could not be encoded as the contract requires.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The answer did not match the contract's type for it.
    #[error("response body does not match the contract ({error}); body starts with {snippet:?}")]
    Decode { error: String, snippet: String },
    #[error("{0}")]
    Other(String),
}

impl ClockifyError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClockifyError::Api(f) => Some(f.status),
            ClockifyError::UnexpectedStatus { status } => Some(*status),
            _ => None,
        }
    }
}

fn snippet(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.chars().take(200).collect()
}

impl From<progenitor_client::Error<()>> for ClockifyError {
    fn from(e: progenitor_client::Error<()>) -> Self {
        use progenitor_client::Error as E;
        match e {
            E::UnexpectedResponse(resp) => match resp.extensions().get::<ApiFailure>() {
                Some(f) => ClockifyError::Api(f.clone()),
                None => ClockifyError::UnexpectedStatus { status: resp.status().as_u16() },
            },
            E::ErrorResponse(r) => ClockifyError::UnexpectedStatus { status: r.status().as_u16() },
            E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => ClockifyError::Transport(e),
            E::InvalidRequest(s) => ClockifyError::InvalidRequest(s),
            E::InvalidResponsePayload(bytes, err) => ClockifyError::Decode { error: err.to_string(), snippet: snippet(&bytes) },
            E::Custom(s) => ClockifyError::Other(s),
        }
    }
}
