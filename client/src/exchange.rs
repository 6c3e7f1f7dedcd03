//! Watching (or stopping) what a client sends: the explorer's dry run and its
//! raw view of Clockify's answer.
//!
//! A client built with [`ClientBuilder::exchange`](crate::ClientBuilder::exchange)
//! hands every finished request (host chosen, credential added) to the
//! exchange's guard before it leaves; in [`ExchangeMode::DryRun`] the request
//! is recorded (credentials redacted) and never sent, in [`ExchangeMode::Send`]
//! it goes out under the usual budget and retry rules and the final answer's
//! status, headers and raw body are recorded as well, while the generated
//! method still decodes its typed value.

use std::sync::Arc;

use slot::Slot;

/// Whether requests leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeMode {
    /// Record the request; send nothing (the typed call then sees a synthetic empty 200).
    DryRun,
    /// Send, and record the request and Clockify's answer.
    Send,
}

/// A check of the final request before anything leaves; an `Err` stops the
/// call with that message (`progenitor_client::Error::Custom`).
pub type Guard = Arc<dyn Fn(&reqwest::Request) -> Result<(), String> + Send + Sync>;

/// The request as it would be (or was) sent. Credential headers read `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// `None` without a body or for a streaming (multipart) body.
    pub body: Option<Vec<u8>>,
}

/// Clockify's final answer (after any retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

/// One call's record. Use a fresh exchange (and client) per call.
pub struct Exchange {
    mode: ExchangeMode,
    guard: Option<Guard>,
    request: Slot<CapturedRequest>,
    response: Slot<CapturedResponse>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange").field("mode", &self.mode).finish_non_exhaustive()
    }
}

const REDACTED_HEADERS: [&str; 4] = ["x-addon-token", "x-api-key", "authorization", "cookie"];

impl Exchange {
    pub fn new(mode: ExchangeMode) -> Self {
        Self { mode, guard: None, request: Slot::default(), response: Slot::default() }
    }

    pub fn with_guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    pub fn mode(&self) -> ExchangeMode {
        self.mode
    }

    /// The last request the client finished (in a dry run: the one not sent).
    pub fn request(&self) -> Option<CapturedRequest> {
        self.request.get()
    }

    /// Clockify's final answer, when one came.
    pub fn response(&self) -> Option<CapturedResponse> {
        self.response.get()
    }

    pub(crate) fn check(&self, request: &reqwest::Request) -> Result<(), String> {
        match &self.guard {
            Some(g) => g(request),
            None => Ok(()),
        }
    }

    pub(crate) fn record_request(&self, request: &reqwest::Request) {
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let shown = if value.is_sensitive() || REDACTED_HEADERS.contains(&name.as_str()) {
                    "<redacted>".to_owned()
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_owned(), shown)
            })
            .collect();
        let body = request.body().and_then(|b| b.as_bytes()).map(<[u8]>::to_vec);
        self.request.set(CapturedRequest {
            method: request.method().as_str().to_owned(),
            url: request.url().as_str().to_owned(),
            headers,
            body,
        });
    }

    /// Reads the answer's body once, records it and hands back an equal response.
    pub(crate) async fn record_response(&self, response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
        let status = response.status();
        let headers = response.headers().clone();
        let extensions = response.extensions().clone();
        let body = response.bytes().await?;
        self.response.set(CapturedResponse {
            status: status.as_u16(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: body.clone(),
        });
        let mut rebuilt = http::Response::new(body);
        *rebuilt.status_mut() = status;
        *rebuilt.headers_mut() = headers;
        *rebuilt.extensions_mut() = extensions;
        Ok(reqwest::Response::from(rebuilt))
    }

    /// What a dry run answers the generated method: an empty 200.
    pub(crate) fn synthetic_response() -> reqwest::Response {
        reqwest::Response::from(http::Response::new(bytes::Bytes::new()))
    }
}

/// A cell holding the latest value.
mod slot {
    use std::sync::Mutex;

    #[derive(Debug)]
    pub struct Slot<T>(Mutex<Option<T>>);

    impl<T> Default for Slot<T> {
        fn default() -> Self {
            Self(Mutex::new(None))
        }
    }

    impl<T: Clone> Slot<T> {
        pub fn set(&self, value: T) {
            // A poisoned lock only means another thread panicked mid-set; the value is still usable.
            *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
        }
        pub fn get(&self) -> Option<T> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }
    }
}
