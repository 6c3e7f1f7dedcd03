//! Streams over paginated list operations. The generated `stream()` methods
//! fetch pages through the typed builders; this module decides when to stop:
//! an empty or short page, the envelope's total reached, or `Last-Page: true`
//! when Clockify sends it (the contract documents no headers, so it is optional).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures::Stream;
use progenitor_client::ResponseValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::catalog::Pagination;
use crate::error::ClockifyError;

/// Page size used by `stream()` when the contract gives no maximum.
pub const DEFAULT_PAGE_SIZE: u32 = 200;

pub type ItemStream<'a, T> = Pin<Box<dyn Stream<Item = Result<T, ClockifyError>> + Send + 'a>>;

/// Converts a page number or size into the integer type a body field has.
pub fn int<T: TryFrom<u32>>(v: u32) -> Result<T, ClockifyError> {
    T::try_from(v).map_err(|_| ClockifyError::InvalidRequest(format!("page value {v} does not fit the field's type")))
}

/// One fetched page.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Total item count, from an envelope.
    pub total: Option<u64>,
    /// The `Last-Page` header, when present.
    pub last_page: Option<bool>,
}

/// The page size to request: the wish, capped by the contract's maximum.
pub fn effective_page_size(paging: &Pagination, wanted: Option<u32>) -> u32 {
    let wanted = wanted.unwrap_or(paging.max_size.unwrap_or(DEFAULT_PAGE_SIZE));
    wanted.clamp(1, paging.max_size.unwrap_or(u32::MAX))
}

fn last_page_header(headers: &reqwest::header::HeaderMap) -> Option<bool> {
    let v = headers.get("last-page")?.to_str().ok()?;
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A page of an operation that answers with a bare array.
pub fn array_page<T>(resp: ResponseValue<Vec<T>>) -> Page<T> {
    let last_page = last_page_header(resp.headers());
    Page { items: resp.into_inner(), total: None, last_page }
}

/// A page of an operation that answers with an envelope: the items are taken
/// at the JSON pointer `list`, the total at `total`.
pub fn envelope_page<E: Serialize, T: DeserializeOwned>(
    resp: ResponseValue<E>,
    list: &str,
    total: Option<&str>,
) -> Result<Page<T>, ClockifyError> {
    let last_page = last_page_header(resp.headers());
    let value =
        serde_json::to_value(resp.into_inner()).map_err(|e| ClockifyError::Other(format!("re-encoding an envelope failed: {e}")))?;
    let total = total.and_then(|p| value.pointer(p)).and_then(serde_json::Value::as_u64);
    let items = match value.pointer(list) {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| ClockifyError::Decode {
            error: format!("items at `{list}`: {e}"),
            snippet: v.to_string().chars().take(200).collect(),
        })?,
    };
    Ok(Page { items, total, last_page })
}

struct State<F, T> {
    fetch: F,
    next_page: u32,
    size: u32,
    seen: u64,
    done: bool,
    buffer: VecDeque<T>,
}

/// Streams every item, fetching page after page with `fetch(page, size)`.
pub fn stream_pages<'a, T, F, Fut>(paging: &Pagination, page_size: Option<u32>, fetch: F) -> ItemStream<'a, T>
where
    T: Send + 'a,
    F: FnMut(u32, u32) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>, ClockifyError>> + Send + 'a,
{
    let state = State {
        fetch,
        next_page: paging.first_page,
        size: effective_page_size(paging, page_size),
        seen: 0,
        done: false,
        buffer: VecDeque::new(),
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.buffer.pop_front() {
                return Some((Ok(item), st));
            }
            if st.done {
                return None;
            }
            match (st.fetch)(st.next_page, st.size).await {
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                Ok(page) => {
                    let n = page.items.len() as u64;
                    st.seen += n;
                    st.next_page += 1;
                    st.done = n == 0 || n < u64::from(st.size) || page.last_page == Some(true) || page.total.is_some_and(|t| st.seen >= t);
                    st.buffer.extend(page.items);
                }
            }
        }
    }))
}
