//! Watching (or stopping) what a client sends: the explorer's dry run and its
//! raw view of Clockify's answer.
//!
//! A client built with [`ClientBuilder::exchange`](crate::ClientBuilder::exchange)
//! hands every finished request (host chosen, credential added) to the
//! exchange's guard before it leaves; in [`ExchangeMode::DryRun`] the request
//! is recorded (credentials redacted) and never sent, in [`ExchangeMode::Send`]
//! it goes out under the usual budget and retry rules and the final answer's
//! status, headers and raw body are recorded as well, while the generated
//! method still decodes its typed value. With
//! [`Exchange::with_response_limit`] a longer body is cut off: read chunk by
//! chunk, never more than the limit and one chunk, and recorded as cut off.

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
    /// Empty when `cut_off`.
    pub body: bytes::Bytes,
    /// The body went past the exchange's response limit: reading stopped
    /// there, nothing of it was kept, and the generated method got an error
    /// instead of the body.
    pub cut_off: bool,
}

/// One call's record. Use a fresh exchange (and client) per call.
pub struct Exchange {
    mode: ExchangeMode,
    guard: Option<Guard>,
    response_limit: Option<usize>,
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
        Self { mode, guard: None, response_limit: None, request: Slot::default(), response: Slot::default() }
    }

    pub fn with_guard(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Read at most `bytes` of an answer's body: a longer one is cut off
    /// ([`CapturedResponse::cut_off`]) after at most `bytes` and one chunk,
    /// so a huge answer cannot fill memory.
    pub fn with_response_limit(mut self, bytes: usize) -> Self {
        self.response_limit = Some(bytes);
        self
    }

    pub fn response_limit(&self) -> Option<usize> {
        self.response_limit
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

    /// Reads the answer's body once, records it and hands back an equal
    /// response; past the response limit, one whose body fails to read.
    pub(crate) async fn record_response(&self, mut response: reqwest::Response) -> reqwest::Result<reqwest::Response> {
        let status = response.status();
        let headers = response.headers().clone();
        let extensions = response.extensions().clone();
        // Chunk by chunk, so a body past the limit is never read whole.
        let mut chunks: Vec<bytes::Bytes> = Vec::new();
        let mut read = 0usize;
        let mut cut_off = false;
        while let Some(chunk) = response.chunk().await? {
            read += chunk.len();
            chunks.push(chunk);
            if self.response_limit.is_some_and(|limit| read > limit) {
                cut_off = true;
                break;
            }
        }
        // Dropping the response closes its connection instead of reading on.
        drop(response);
        let body = if cut_off {
            chunks.clear();
            bytes::Bytes::new()
        } else if chunks.len() == 1 {
            chunks.pop().unwrap_or_default()
        } else {
            bytes::Bytes::from(chunks.concat())
        };
        self.response.set(CapturedResponse {
            status: status.as_u16(),
            headers: headers.iter().map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect(),
            body: body.clone(),
            cut_off,
        });
        if cut_off {
            let limit = self.response_limit.unwrap_or_default();
            let failing = futures::stream::once(async move {
                Err::<bytes::Bytes, _>(std::io::Error::other(format!("the answer's body is over {limit} bytes; reading stopped there")))
            });
            let mut rebuilt = http::Response::new(reqwest::Body::wrap_stream(failing));
            *rebuilt.status_mut() = status;
            *rebuilt.headers_mut() = headers;
            *rebuilt.extensions_mut() = extensions;
            return Ok(reqwest::Response::from(rebuilt));
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A 200 whose body arrives in `chunks` chunks of 1,000 bytes, counting
    /// how many were pulled (no Content-Length: only reading tells the size).
    fn streamed(chunks: usize, pulled: Arc<AtomicUsize>) -> reqwest::Response {
        let stream = futures::stream::iter((0..chunks).map(move |_| {
            pulled.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 1000]))
        }));
        reqwest::Response::from(http::Response::new(reqwest::Body::wrap_stream(stream)))
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_cut_off_after_one_more_chunk_and_fails_to_read() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let exchange = Exchange::new(ExchangeMode::Send).with_response_limit(10_500);
        let handed = exchange.record_response(streamed(1000, pulled.clone())).await.expect("the status came");
        assert_eq!(pulled.load(Ordering::SeqCst), 11, "10 chunks fit, the 11th went past: no more is read");
        let recorded = exchange.response().expect("recorded");
        assert!(recorded.cut_off);
        assert!(recorded.body.is_empty());
        assert_eq!(recorded.status, 200);
        assert_eq!(handed.status(), 200);
        let e = handed.bytes().await.expect_err("the generated method cannot read a cut-off body");
        assert!(format!("{e:?}").contains("over 10500 bytes"), "{e:?}");
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_recorded_whole_and_handed_on() {
        let pulled = Arc::new(AtomicUsize::new(0));
        let exchange = Exchange::new(ExchangeMode::Send).with_response_limit(10_000);
        let handed = exchange.record_response(streamed(10, pulled.clone())).await.expect("answer");
        let recorded = exchange.response().expect("recorded");
        assert!(!recorded.cut_off);
        assert_eq!(recorded.body.len(), 10_000);
        assert_eq!(handed.bytes().await.expect("body").len(), 10_000);
        // Without a limit, anything is read.
        let exchange = Exchange::new(ExchangeMode::Send);
        exchange.record_response(streamed(50, Arc::new(AtomicUsize::new(0)))).await.expect("answer");
        assert_eq!(exchange.response().expect("recorded").body.len(), 50_000);
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
