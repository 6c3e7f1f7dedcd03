//! A fake Clockify HTTP server for integration tests (dev-only).
//!
//! [`FakeClockify::start`] binds `127.0.0.1:0` ([`FakeClockify::start_on`]
//! a given address) and serves every host group on
//! one port under distinct prefixes: the core API under `/api`, reports under
//! `/reports` and PTO under `/pto`, so tests can check that a client routes each
//! operation to the right base URL.
//!
//! Every request goes through the same pipeline, in this order:
//!
//! 1. **record** it ([`FakeClockify::requests`]),
//! 2. **auth** check ([`FakeClockify::require_addon_token`], [`FakeClockify::require_api_key`]),
//! 3. **fault injection** ([`FakeClockify::fail_next`]),
//! 4. **rate limit** ([`FakeClockify::enforce_rate_limit`]),
//! 5. **route** ([`FakeClockify::on`], [`FakeClockify::paginated`],
//!    [`FakeClockify::paginated_post_body`]), then path patterns
//!    ([`FakeClockify::on_pattern`], [`FakeClockify::echo`]); anything else
//!    is a 404.
//!
//! [`FakeClockify::subscribe`] streams each request once answered.
//!
//! ```no_run
//! # async fn demo() {
//! use clockify_testkit::{FakeClockify, PageStyle, Shape};
//! use serde_json::json;
//!
//! let fake = FakeClockify::start().await;
//! fake.on("api", "GET", "/v1/user", 200, json!({"id": "u1"}));
//! fake.paginated(
//!     "api",
//!     "/v1/workspaces/ws1/projects",
//!     PageStyle::PageSize,
//!     Shape::Array,
//!     (0..120).map(|i| json!({"id": format!("p{i}")})).collect(),
//!     true,
//! );
//! // point the client under test at fake.core_url() ...
//! assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/projects"), 0);
//! # }
//! ```

pub mod driver;
pub mod tokens;
pub mod tools;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower_service::Service;

pub use driver::{AddonDriver, Installed};

/// The host groups the fake serves, each under `/<group>`.
const GROUPS: [&str; 3] = ["api", "reports", "pto"];

/// Page size used when a paginated request does not name one.
const DEFAULT_PAGE_SIZE: usize = 50;

const WINDOW: Duration = Duration::from_secs(1);

/// How a paginated GET endpoint names its query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStyle {
    /// `?page=<1-based>&page-size=<n>`
    PageSize,
    /// `?page=<1-based>&pageSize=<n>`
    PageSizeCamel,
    /// `?page=<0-based>&limit=<n>`
    Limit,
    /// `?page=<0-based>&size=<n>`
    Size,
}

impl PageStyle {
    fn size_param(self) -> &'static str {
        match self {
            PageStyle::PageSize => "page-size",
            PageStyle::PageSizeCamel => "pageSize",
            PageStyle::Limit => "limit",
            PageStyle::Size => "size",
        }
    }

    fn one_based(self) -> bool {
        matches!(self, PageStyle::PageSize | PageStyle::PageSizeCamel)
    }
}

/// The JSON shape of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// The page is the bare JSON array of its items.
    Array,
    /// `{"<list_field>": [...], "<total_field>": <total item count>}`; the total
    /// is omitted when `total_field` is `None`. A field starting with `/` is
    /// a JSON pointer into nested objects (`/expenses/expenses`).
    Envelope { list_field: String, total_field: Option<String> },
}

impl Shape {
    /// Shorthand for [`Shape::Envelope`].
    pub fn envelope(list_field: &str, total_field: Option<&str>) -> Shape {
        Shape::Envelope { list_field: list_field.to_owned(), total_field: total_field.map(str::to_owned) }
    }

    fn render(&self, page: &[Value], total: usize) -> Value {
        match self {
            Shape::Array => Value::Array(page.to_vec()),
            Shape::Envelope { list_field, total_field } => {
                let mut doc = Value::Object(serde_json::Map::new());
                place(&mut doc, list_field, Value::Array(page.to_vec()));
                if let Some(total_field) = total_field {
                    place(&mut doc, total_field, json!(total));
                }
                doc
            }
        }
    }
}

/// Puts `value` at `field`: a member name, or a JSON pointer (`/a/b`) for
/// lists nested in the envelope, creating the objects on the way.
fn place(doc: &mut Value, field: &str, value: Value) {
    let path: Vec<&str> = match field.strip_prefix('/') {
        Some(p) => p.split('/').collect(),
        None => vec![field],
    };
    let mut at = doc;
    for (i, key) in path.iter().enumerate() {
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = at else { return };
        if i + 1 == path.len() {
            map.insert((*key).to_owned(), value);
            return;
        }
        at = map.entry((*key).to_owned()).or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
}

/// A fault injected by [`FakeClockify::fail_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Respond with this status and `{"message":"injected","code":<status>}`.
    Status(u16),
    /// 429 `{"message":"Too many requests","code":429}`, with a `Retry-After`
    /// header when `retry_after_secs` is set.
    TooManyRequests { retry_after_secs: Option<u64> },
    /// Sleep, then handle the request normally (rate limit and routing).
    Delay(Duration),
    /// Drop the TCP connection without writing any response. The client sees
    /// a connection reset / "connection closed before message completed"
    /// error. The request is recorded with `status == 0`.
    CloseConnection,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Full path including the group prefix, without the query.
    pub path: String,
    /// Raw query string (`""` if none).
    pub query: String,
    /// Header names are lower-cased; repeated headers appear repeatedly.
    pub headers: Vec<(String, String)>,
    /// The raw body (multipart bodies included verbatim).
    pub body: Bytes,
    /// When the complete request had been received.
    pub at: Instant,
    /// The status the fake answered; `0` while the request is still being
    /// handled (e.g. during a [`Fault::Delay`]) and for [`Fault::CloseConnection`].
    pub status: u16,
}

impl Recorded {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// First value of a query parameter, percent-decoded (`+` is a space).
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }

    /// All values of a query parameter, percent-decoded.
    pub fn query_params(&self, name: &str) -> Vec<String> {
        query_pairs(&self.query).filter(|(k, _)| k == name).map(|(_, v)| v).collect()
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as (lossy) UTF-8 text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The workspace key this request counts against for rate limiting.
    pub fn workspace(&self) -> &str {
        workspace_key(&self.path)
    }
}

/// The fake server. Serves in a background tokio task until dropped.
pub struct FakeClockify {
    inner: Arc<Inner>,
    addr: SocketAddr,
    accept_task: JoinHandle<()>,
    // Dropping the sender tells every connection task to stop.
    _shutdown: watch::Sender<()>,
}

impl std::fmt::Debug for FakeClockify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeClockify").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for FakeClockify {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl FakeClockify {
    /// Binds `127.0.0.1:0` and serves in a background tokio task. Stops when
    /// dropped. Must be called within a tokio runtime.
    pub async fn start() -> FakeClockify {
        FakeClockify::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("fake clockify: bind 127.0.0.1:0")
    }

    /// Like [`start`](Self::start) on a given address (e.g. `127.0.0.1:9400`
    /// for a fake a developer points an add-on at); port 0 picks a free one.
    /// Fails when the address cannot be bound (already in use).
    pub async fn start_on(addr: SocketAddr) -> std::io::Result<FakeClockify> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::default());
        let router = Router::new().fallback(handle).with_state(inner.clone());
        let (shutdown_tx, shutdown_rx) = watch::channel(());

        let accept_task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // e.g. EMFILE under heavy load: back off briefly.
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, router.clone(), shutdown_rx.clone()));
            }
        });

        Ok(FakeClockify { inner, addr, accept_task, _shutdown: shutdown_tx })
    }

    /// Base URL like `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url() + "/api"`: the core API group.
    pub fn core_url(&self) -> String {
        format!("{}/api", self.url())
    }

    /// `url() + "/reports"`: the reports group.
    pub fn reports_url(&self) -> String {
        format!("{}/reports", self.url())
    }

    /// `url() + "/pto"`: the PTO group.
    pub fn pto_url(&self) -> String {
        format!("{}/pto", self.url())
    }

    /// Accept only requests carrying `X-Addon-Token: <token>` (or, if
    /// [`require_api_key`](Self::require_api_key) is also set, a matching
    /// `X-Api-Key`). Others get 401.
    pub fn require_addon_token(&self, token: &str) {
        self.inner.lock().addon_token = Some(token.to_owned());
    }

    /// Accept only requests carrying `X-Api-Key: <key>` (or, if
    /// [`require_addon_token`](Self::require_addon_token) is also set, a
    /// matching `X-Addon-Token`). Others get 401.
    pub fn require_api_key(&self, key: &str) {
        self.inner.lock().api_key = Some(key.to_owned());
    }

    /// Drop both credential requirements: every request is accepted again.
    pub fn clear_auth(&self) {
        let mut st = self.inner.lock();
        st.addon_token = None;
        st.api_key = None;
    }

    /// Register a canned JSON response for `method` and the exact `path`
    /// (after the group prefix, e.g. `"/v1/workspaces/ws1/tags"` in `"api"`).
    /// The request body is ignored. A `Value::Null` body, or status 204/304,
    /// is sent as an empty body. Re-registering a route replaces it.
    pub fn on(&self, group: &str, method: &str, path: &str, status: u16, body: Value) {
        let key = route_key(group, method, path);
        self.inner.lock().routes.insert(key, Route::Canned { status, body });
    }

    /// Register a canned answer whose body is `body` as it is (not JSON
    /// encoded), sent with `Content-Type: <content_type>`, e.g. a bare token
    /// as `text/plain`. Re-registering a route replaces it.
    pub fn on_text(&self, group: &str, method: &str, path: &str, status: u16, content_type: &str, body: &str) {
        let key = route_key(group, method, path);
        self.inner.lock().routes.insert(key, Route::Text { status, content_type: content_type.to_owned(), body: body.to_owned() });
    }

    /// Register a canned JSON response for every path matching `pattern`,
    /// whose `{name}` segments match any one path segment, e.g.
    /// `"/v1/workspaces/ws1/projects/{id}"`. Exact routes ([`on`](Self::on),
    /// [`paginated`](Self::paginated), ...) take precedence; among patterns
    /// the first registered that matches answers. Re-registering a pattern
    /// replaces it.
    pub fn on_pattern(&self, group: &str, method: &str, pattern: &str, status: u16, body: Value) {
        self.add_pattern(group, method, pattern, PatternAnswer::Canned { status, body });
    }

    /// Answer `method` on paths matching `pattern` (as in
    /// [`on_pattern`](Self::on_pattern)) with the request echoed as a
    /// created or updated resource: `base`, overlaid with the members of the
    /// request's JSON object body, then with each `{name}` segment of the
    /// path as member `name`; an `id` still missing becomes a fresh 24-hex
    /// id. E.g. `echo("api", "PUT", "/v1/workspaces/{workspaceId}/time-entries/{id}", 200, json!({}))`.
    pub fn echo(&self, group: &str, method: &str, pattern: &str, status: u16, base: Value) {
        self.add_pattern(group, method, pattern, PatternAnswer::Echo { status, base });
    }

    fn add_pattern(&self, group: &str, method: &str, pattern: &str, answer: PatternAnswer) {
        let (group, method, pattern) = route_key(group, method, pattern);
        let mut st = self.inner.lock();
        match st.patterns.iter_mut().find(|p| p.group == group && p.method == method && p.pattern == pattern) {
            Some(existing) => existing.answer = answer,
            None => st.patterns.push(PatternRoute { group, method, pattern, answer }),
        }
    }

    /// Every request, once answered (with its final status), in the order
    /// answered, from now on; for a live log of what the fake receives.
    /// Requests whose connection was dropped ([`Fault::CloseConnection`])
    /// are not sent.
    pub fn subscribe(&self) -> tokio::sync::mpsc::UnboundedReceiver<Recorded> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.inner.lock().watchers.push(tx);
        rx
    }

    /// The `authToken` of webhooks created through
    /// [`serve_webhooks`](Self::serve_webhooks): `mint(workspace, id, event)`
    /// instead of the default `token-of-<id>`, e.g. a token signed like
    /// Clockify's.
    pub fn mint_webhook_tokens(&self, mint: impl Fn(&str, &str, &str) -> String + Send + Sync + 'static) {
        self.inner.lock().webhook_tokens = Some(Arc::new(mint));
    }

    /// Answer `method` `path` in `group` with a redirect: `status` (e.g. 302)
    /// and `Location: <location>`, no body. Re-registering a route replaces it.
    pub fn redirect(&self, group: &str, method: &str, path: &str, status: u16, location: &str) {
        let key = route_key(group, method, path);
        self.inner.lock().routes.insert(key, Route::Redirect { status, location: location.to_owned() });
    }

    /// Serve `items` as a paginated list for GET `path` in `group`, reading
    /// the page and size from the query as `style` names them. A missing page
    /// means the first page, a missing size means 50. With `last_page_header`,
    /// also sends `Last-Page: true|false`.
    pub fn paginated(&self, group: &str, path: &str, style: PageStyle, shape: Shape, items: Vec<Value>, last_page_header: bool) {
        self.paginated_with_method(group, "GET", path, style, shape, items, last_page_header);
    }

    /// Like [`paginated`](Self::paginated) for another method: some list
    /// operations are POSTs that still page through the query string
    /// (`getLogsForWebhook` takes `?page=&size=` on a POST).
    #[allow(clippy::too_many_arguments)]
    pub fn paginated_with_method(
        &self,
        group: &str,
        method: &str,
        path: &str,
        style: PageStyle,
        shape: Shape,
        items: Vec<Value>,
        last_page_header: bool,
    ) {
        let key = route_key(group, method, path);
        self.inner.lock().routes.insert(key, Route::Paginated { style, shape, items, last_page_header });
    }

    /// Serve `items` as a paginated list for POST `path` in `group`, reading
    /// `{"page": <1-based>, "pageSize": <n>}` from the JSON request body
    /// (numbers or numeric strings; defaults: first page, 50).
    pub fn paginated_post_body(&self, group: &str, path: &str, shape: Shape, items: Vec<Value>) {
        let key = route_key(group, "POST", path);
        self.inner.lock().routes.insert(key, Route::PaginatedPostBody { shape, items });
    }

    /// Inject `fault` into the next `times` requests matching `method`
    /// (`"*"` = any) and the exact `full_path` (group prefix included, query
    /// ignored). Faults are consumed in FIFO order of registration.
    pub fn fail_next(&self, method: &str, full_path: &str, fault: Fault, times: usize) {
        if times == 0 {
            return;
        }
        self.inner.lock().faults.push_back(FaultEntry {
            method: method.to_ascii_uppercase(),
            path: full_path.to_owned(),
            fault,
            remaining: times,
        });
    }

    /// Drop all pending injected faults.
    pub fn clear_faults(&self) {
        self.inner.lock().faults.clear();
    }

    /// Allow at most `per_second` requests per workspace in any sliding
    /// 1-second window; over the limit answer 429 with `Retry-After: 1`.
    /// Rejected requests do not count toward the window.
    pub fn enforce_rate_limit(&self, per_second: usize) {
        let mut st = self.inner.lock();
        st.rate_limit = Some(per_second);
        st.windows.clear();
    }

    /// Turn rate-limit enforcement off again.
    pub fn disable_rate_limit(&self) {
        let mut st = self.inner.lock();
        st.rate_limit = None;
        st.windows.clear();
    }

    /// Keep `workspace`'s webhooks as a resource: `createWebhook` adds one
    /// with a fresh id (`wh1`, `wh2`, ...) and token, `getWebhooks` lists
    /// them, `deleteWebhook` removes one. Takes precedence over routes
    /// registered with [`on`](Self::on) for those paths.
    pub fn serve_webhooks(&self, workspace: &str) {
        self.inner.lock().webhooks.entry(workspace.to_owned()).or_default();
    }

    /// The webhooks the fake holds for `workspace`.
    pub fn webhooks(&self, workspace: &str) -> Vec<Value> {
        self.inner.lock().webhooks.get(workspace).cloned().unwrap_or_default()
    }

    /// Forget a webhook, as if Clockify had lost or an admin had deleted it.
    pub fn lose_webhook(&self, workspace: &str, id: &str) {
        if let Some(list) = self.inner.lock().webhooks.get_mut(workspace) {
            list.retain(|w| w.get("id").and_then(Value::as_str) != Some(id));
        }
    }

    /// Keep `path` in `group` (e.g. `"/v1/workspaces/ws1/tags"` in `"api"`)
    /// as a collection of JSON objects with an `id`, the way Clockify keeps
    /// them, so what a client writes is what it reads next:
    ///
    /// - `GET path`: the items, filtered by `name` (case-insensitive, whole
    ///   name with `strict-name-search=true`, else a substring), paged by
    ///   `page` (from 1) and `page-size`;
    /// - `POST path`: adds the body with a fresh `id`, answers 201 and it;
    /// - `GET path/{id}`: the item, or 404;
    /// - `PUT path/{id}`: sets the body's members on the item (its `id`
    ///   stays), answers it;
    /// - `DELETE path/{id}`: removes it.
    ///
    /// Takes precedence over routes registered with [`on`](Self::on) for
    /// those paths. Calling it again replaces the items.
    pub fn serve_collection(&self, group: &str, path: &str, items: Vec<Value>) {
        let (group, _, path) = route_key(group, "GET", path);
        self.inner.lock().collections.insert((group, path.trim_end_matches('/').to_owned()), items);
    }

    /// The items of a collection served with [`serve_collection`](Self::serve_collection), as they are now.
    pub fn collection(&self, group: &str, path: &str) -> Vec<Value> {
        let (group, _, path) = route_key(group, "GET", path);
        self.inner.lock().collections.get(&(group, path.trim_end_matches('/').to_owned())).cloned().unwrap_or_default()
    }

    /// Everything received, in arrival order (rejected requests included).
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().requests.iter().map(|(_, r)| r.clone()).collect()
    }

    /// Forget all recorded requests.
    pub fn clear_requests(&self) {
        self.inner.lock().requests.clear();
    }

    /// Number of recorded requests with this method (`"*"` = any) and exact
    /// full path (e.g. `"/api/v1/workspaces/ws1/projects"`), query ignored.
    pub fn count(&self, method: &str, full_path: &str) -> usize {
        self.inner.lock().requests.iter().filter(|(_, r)| method_matches(method, &r.method) && r.path == full_path).count()
    }

    /// Max number of recorded requests for `workspace` (the path segment after
    /// `/workspaces/`; `""` for requests without one) that were not answered
    /// 429 and arrived within any sliding 1-second window.
    pub fn max_per_second(&self, workspace: &str) -> usize {
        let mut times: Vec<Instant> = self
            .inner
            .lock()
            .requests
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.status != 429 && workspace_key(&r.path) == workspace)
            .map(|r| r.at)
            .collect();
        times.sort();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end].duration_since(times[start]) >= WINDOW {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }
}

// ---------------------------------------------------------------------------
// state

#[derive(Default)]
struct Inner {
    state: Mutex<St>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, St> {
        // A panicking test thread must not take every other test down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
struct St {
    addon_token: Option<String>,
    api_key: Option<String>,
    routes: HashMap<(String, String, String), Route>,
    faults: VecDeque<FaultEntry>,
    rate_limit: Option<usize>,
    /// Accepted request times per workspace key, for rate limiting.
    windows: HashMap<String, VecDeque<Instant>>,
    next_id: u64,
    requests: Vec<(u64, Recorded)>,
    /// Workspaces whose webhooks the fake keeps as a resource (see
    /// [`FakeClockify::serve_webhooks`]), with the webhooks created.
    webhooks: HashMap<String, Vec<Value>>,
    next_webhook: u64,
    /// Collections the fake keeps as resources (see
    /// [`FakeClockify::serve_collection`]), by (group, path).
    collections: HashMap<(String, String), Vec<Value>>,
    next_item: u64,
    /// Routes by path pattern, tried in order after the exact routes.
    patterns: Vec<PatternRoute>,
    /// Counter of the ids [`PatternAnswer::Echo`] makes up.
    next_echo: u64,
    /// Receivers of every answered request ([`FakeClockify::subscribe`]).
    watchers: Vec<tokio::sync::mpsc::UnboundedSender<Recorded>>,
    /// Mints the `authToken` of created webhooks.
    webhook_tokens: Option<WebhookTokenMint>,
}

type WebhookTokenMint = Arc<dyn Fn(&str, &str, &str) -> String + Send + Sync>;

impl St {
    fn set_status(&mut self, id: u64, status: u16) {
        // Search from the back: the request is almost always among the latest.
        if let Some((_, r)) = self.requests.iter_mut().rev().find(|(i, _)| *i == id) {
            r.status = status;
            if !self.watchers.is_empty() {
                let r = r.clone();
                self.watchers.retain(|w| w.send(r.clone()).is_ok());
            }
        }
    }

    fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let idx = self.faults.iter().position(|f| method_matches(&f.method, method) && f.path == path)?;
        let entry = &mut self.faults[idx];
        let fault = entry.fault.clone();
        entry.remaining -= 1;
        if entry.remaining == 0 {
            self.faults.remove(idx);
        }
        Some(fault)
    }

    fn authorized(&self, headers: &[(String, String)]) -> bool {
        if self.addon_token.is_none() && self.api_key.is_none() {
            return true;
        }
        let has = |name: &str, want: &Option<String>| {
            want.as_deref().is_some_and(|want| headers.iter().any(|(n, v)| n.eq_ignore_ascii_case(name) && v.trim() == want))
        };
        has("x-addon-token", &self.addon_token) || has("x-api-key", &self.api_key)
    }

    /// Returns false (and does not count the request) when over the limit.
    fn admit(&mut self, path: &str, now: Instant) -> bool {
        let Some(limit) = self.rate_limit else {
            return true;
        };
        let window = self.windows.entry(workspace_key(path).to_owned()).or_default();
        window.retain(|t| now.saturating_duration_since(*t) < WINDOW);
        if window.len() >= limit {
            return false;
        }
        window.push_back(now);
        true
    }
}

enum Route {
    Canned { status: u16, body: Value },
    Text { status: u16, content_type: String, body: String },
    Redirect { status: u16, location: String },
    Paginated { style: PageStyle, shape: Shape, items: Vec<Value>, last_page_header: bool },
    PaginatedPostBody { shape: Shape, items: Vec<Value> },
}

struct PatternRoute {
    group: String,
    method: String,
    /// Starts with `/`; `{name}` segments match any one segment.
    pattern: String,
    answer: PatternAnswer,
}

enum PatternAnswer {
    Canned { status: u16, body: Value },
    Echo { status: u16, base: Value },
}

/// The `{name}` segments of `pattern` with their values in `path`, when
/// the path matches.
fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let (pat, segs): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    if pat.len() != segs.len() {
        return None;
    }
    let mut captured = Vec::new();
    for (p, s) in pat.iter().zip(&segs) {
        match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !s.is_empty() => captured.push((name.to_owned(), percent_decode(s))),
            Some(_) => return None,
            None if p == s => {}
            None => return None,
        }
    }
    Some(captured)
}

fn pattern_route(st: &mut St, group: &str, method: &str, rest: &str, body: &[u8]) -> Option<Reply> {
    let (answer, captured) = st
        .patterns
        .iter()
        .filter(|p| p.group == group && p.method == method)
        .find_map(|p| Some((&p.answer, match_pattern(&p.pattern, rest)?)))?;
    match answer {
        PatternAnswer::Canned { status, body } => Some(Reply::json(*status, body.clone())),
        PatternAnswer::Echo { status, base } => {
            let status = *status;
            let mut out = match base {
                Value::Object(m) => m.clone(),
                _ => serde_json::Map::new(),
            };
            if let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) {
                out.extend(req);
            }
            for (name, value) in captured {
                out.insert(name, Value::String(value));
            }
            if !out.contains_key("id") {
                st.next_echo += 1;
                out.insert("id".into(), Value::String(format!("{:024x}", 0xfa4e_0000_0000_u64 + st.next_echo)));
            }
            Some(Reply::json(status, Value::Object(out)))
        }
    }
}

struct FaultEntry {
    method: String,
    path: String,
    fault: Fault,
    remaining: usize,
}

fn method_matches(pattern: &str, method: &str) -> bool {
    pattern == "*" || pattern.eq_ignore_ascii_case(method)
}

fn normalize_group(group: &str) -> String {
    let g = group.trim_matches('/');
    assert!(GROUPS.contains(&g), "fake clockify: unknown group {group:?} (expected one of {GROUPS:?})");
    g.to_owned()
}

fn route_key(group: &str, method: &str, path: &str) -> (String, String, String) {
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    (normalize_group(group), method.to_ascii_uppercase(), path)
}

/// Splits "/api/v1/x" into ("api", "/v1/x").
fn split_group(full_path: &str) -> Option<(&'static str, &str)> {
    GROUPS.iter().find_map(|g| {
        let rest = full_path.strip_prefix('/')?.strip_prefix(g)?;
        if rest.is_empty() {
            Some((*g, "/"))
        } else if rest.starts_with('/') {
            Some((*g, rest))
        } else {
            None
        }
    })
}

/// The path segment after "/workspaces/", or "" if there is none.
fn workspace_key(path: &str) -> &str {
    let mut segs = path.split('/');
    while let Some(seg) = segs.next() {
        if seg == "workspaces" {
            return segs.next().unwrap_or("");
        }
    }
    ""
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query_pairs(query).find(|(k, _)| k == name).map(|(_, v)| v)
}

fn as_usize(v: &Value) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// responses

struct Reply {
    status: u16,
    body: Option<Value>,
    /// A body sent as it is, with its content type (instead of `body`).
    text: Option<(String, String)>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply { status, body: Some(body), text: None, headers: Vec::new() }
    }

    fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, json!({"message": message, "code": status}))
    }

    fn unauthorized() -> Reply {
        Reply::json(401, json!({"message": "Full authentication is required to access this resource", "code": 1000}))
    }

    fn too_many(retry_after_secs: Option<u64>) -> Reply {
        let mut reply = Reply::error(429, "Too many requests");
        if let Some(secs) = retry_after_secs {
            reply.headers.push(("retry-after", secs.to_string()));
        }
        reply
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = Response::builder().status(status);
        let no_body = matches!(self.status, 204 | 304) || matches!(self.body, None | Some(Value::Null));
        let body = if let Some((content_type, text)) = self.text {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            Body::from(text)
        } else if no_body {
            Body::empty()
        } else {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&self.body).expect("serialize JSON"))
        };
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                builder = builder.header(HeaderName::from_static(name), value);
            }
        }
        builder.body(body).expect("build response")
    }
}

fn page_slice(items: &[Value], page_index: usize, size: usize) -> (&[Value], bool) {
    let start = page_index.saturating_mul(size).min(items.len());
    let end = start.saturating_add(size).min(items.len());
    (&items[start..end], end >= items.len())
}

/// `GET|POST /v1/workspaces/{ws}/webhooks` and `DELETE .../webhooks/{id}`
/// for a workspace whose webhooks the fake keeps.
fn webhooks_route(st: &mut St, method: &str, rest: &str, body: &[u8]) -> Option<Reply> {
    let tail = rest.strip_prefix("/v1/workspaces/")?;
    let (ws, tail) = tail.split_once('/')?;
    if !st.webhooks.contains_key(ws) {
        return None;
    }
    let ws = ws.to_owned();
    match (method, tail.strip_prefix("webhooks")?) {
        ("GET", "") => {
            let list = st.webhooks.get(&ws).cloned().unwrap_or_default();
            Some(Reply::json(200, json!({ "webhooks": list, "workspaceWebhookCount": list.len() })))
        }
        ("POST", "") => {
            let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            st.next_webhook += 1;
            let id = format!("wh{}", st.next_webhook);
            let event = req.get("webhookEvent").and_then(Value::as_str).unwrap_or_default();
            let token = match &st.webhook_tokens {
                Some(mint) => mint(ws.as_str(), &id, event),
                None => format!("token-of-{id}"),
            };
            let created = json!({
                "id": id,
                "authToken": token,
                "name": req.get("name").cloned().unwrap_or(Value::Null),
                "url": req.get("url").cloned().unwrap_or(Value::Null),
                "webhookEvent": req.get("webhookEvent").cloned().unwrap_or(Value::Null),
                "triggerSource": req.get("triggerSource").cloned().unwrap_or(json!([])),
                "triggerSourceType": req.get("triggerSourceType").cloned().unwrap_or(Value::Null),
                "enabled": true,
                "workspaceId": ws,
            });
            st.webhooks.entry(ws).or_default().push(created.clone());
            Some(Reply::json(201, created))
        }
        ("DELETE", id) if id.starts_with('/') => {
            let id = &id[1..];
            let list = st.webhooks.entry(ws).or_default();
            let before = list.len();
            list.retain(|w| w.get("id").and_then(Value::as_str) != Some(id));
            Some(if list.len() < before { Reply::json(200, json!({ "id": id })) } else { Reply::error(404, "Webhook not found") })
        }
        _ => None,
    }
}

/// A request on a collection kept by [`FakeClockify::serve_collection`].
fn collection_route(st: &mut St, group: &str, method: &str, rest: &str, query: &str, body: &[u8]) -> Option<Reply> {
    let rest = rest.trim_end_matches('/');
    let (base, id) = match st.collections.contains_key(&(group.to_owned(), rest.to_owned())) {
        true => (rest, None),
        false => {
            let (base, id) = rest.rsplit_once('/')?;
            st.collections.contains_key(&(group.to_owned(), base.to_owned())).then_some((base, Some(id)))?
        }
    };
    let key = (group.to_owned(), base.to_owned());
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let position = |items: &[Value], id: &str| items.iter().position(|i| i.get("id").and_then(Value::as_str) == Some(id));
    if method == "POST" && id.is_none() {
        st.next_item += 1;
        let prefix = base.rsplit('/').next().unwrap_or("item");
        let mut item = match request {
            Value::Object(o) => o,
            _ => return Some(Reply::error(400, "a JSON object is needed")),
        };
        item.insert("id".into(), json!(format!("{prefix}-{}", st.next_item)));
        let item = Value::Object(item);
        st.collections.entry(key).or_default().push(item.clone());
        return Some(Reply::json(201, item));
    }
    let items = st.collections.get_mut(&key)?;
    Some(match (method, id) {
        ("GET", None) => {
            let name = query_param(query, "name").map(|n| n.to_lowercase());
            let strict = query_param(query, "strict-name-search").as_deref() == Some("true");
            let matching: Vec<Value> = items
                .iter()
                .filter(|i| {
                    let Some(want) = &name else { return true };
                    let have = i.get("name").and_then(Value::as_str).unwrap_or_default().to_lowercase();
                    if strict { &have == want } else { have.contains(want.as_str()) }
                })
                .cloned()
                .collect();
            let page = query_param(query, "page").and_then(|p| p.trim().parse::<usize>().ok()).unwrap_or(1);
            let size = query_param(query, "page-size").and_then(|s| s.trim().parse::<usize>().ok()).unwrap_or(DEFAULT_PAGE_SIZE);
            let (slice, _) = page_slice(&matching, page.saturating_sub(1), size);
            Reply::json(200, Value::Array(slice.to_vec()))
        }
        ("GET", Some(id)) => match position(items, id) {
            Some(at) => Reply::json(200, items[at].clone()),
            None => Reply::error(404, "Not found"),
        },
        ("PUT", Some(id)) => match (position(items, id), request) {
            (Some(at), Value::Object(members)) => {
                if let Value::Object(item) = &mut items[at] {
                    for (k, v) in members {
                        if k != "id" {
                            item.insert(k, v);
                        }
                    }
                }
                Reply::json(200, items[at].clone())
            }
            (Some(_), _) => Reply::error(400, "a JSON object is needed"),
            (None, _) => Reply::error(404, "Not found"),
        },
        ("DELETE", Some(id)) => match position(items, id) {
            Some(at) => Reply::json(200, items.remove(at)),
            None => Reply::error(404, "Not found"),
        },
        _ => Reply::error(405, "Method not allowed"),
    })
}

fn route(st: &mut St, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    let Some((group, rest)) = split_group(path) else {
        return Reply::error(404, "No static resource");
    };
    if group == "api"
        && let Some(reply) = webhooks_route(st, method, rest, body)
    {
        return reply;
    }
    if let Some(reply) = collection_route(st, group, method, rest, query, body) {
        return reply;
    }
    let key = (group.to_owned(), method.to_owned(), rest.to_owned());
    if !st.routes.contains_key(&key) {
        return pattern_route(st, group, method, rest, body).unwrap_or_else(|| Reply::error(404, "No static resource"));
    }
    match st.routes.get(&key) {
        None => Reply::error(404, "No static resource"),
        Some(Route::Canned { status, body }) => Reply::json(*status, body.clone()),
        Some(Route::Text { status, content_type, body }) => {
            Reply { status: *status, body: None, text: Some((content_type.clone(), body.clone())), headers: Vec::new() }
        }
        Some(Route::Redirect { status, location }) => {
            Reply { status: *status, body: None, text: None, headers: vec![("location", location.clone())] }
        }
        Some(Route::Paginated { style, shape, items, last_page_header }) => {
            let page = query_param(query, "page").and_then(|p| p.trim().parse::<usize>().ok());
            let size = query_param(query, style.size_param()).and_then(|s| s.trim().parse::<usize>().ok()).unwrap_or(DEFAULT_PAGE_SIZE);
            let index = match page {
                None => 0,
                Some(p) if style.one_based() => p.saturating_sub(1),
                Some(p) => p,
            };
            let (slice, last) = page_slice(items, index, size);
            let mut reply = Reply::json(200, shape.render(slice, items.len()));
            if *last_page_header {
                reply.headers.push(("last-page", last.to_string()));
            }
            reply
        }
        Some(Route::PaginatedPostBody { shape, items }) => {
            let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let page = req.get("page").and_then(as_usize).unwrap_or(1);
            let size = req.get("pageSize").and_then(as_usize).unwrap_or(DEFAULT_PAGE_SIZE);
            let (slice, _) = page_slice(items, page.saturating_sub(1), size);
            Reply::json(200, shape.render(slice, items.len()))
        }
    }
}

// ---------------------------------------------------------------------------
// serving

/// Per-connection handle that lets the handler drop its own connection.
#[derive(Clone)]
struct ConnKill(Arc<Notify>);

async fn serve_connection(stream: tokio::net::TcpStream, router: Router, mut shutdown: watch::Receiver<()>) {
    let kill = Arc::new(Notify::new());
    let conn_kill = ConnKill(kill.clone());
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(conn_kill.clone());
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    // Dropping `conn` closes the socket without writing anything further.
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
        _ = shutdown.changed() => {}
    }
}

async fn handle(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> =
        parts.headers.iter().map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();

    let (id, fault) = {
        let mut st = inner.lock();
        let now = Instant::now();
        let id = st.next_id;
        st.next_id += 1;
        let authorized = st.authorized(&headers);
        st.requests.push((
            id,
            Recorded { method: method.clone(), path: path.clone(), query: query.clone(), headers, body: body.clone(), at: now, status: 0 },
        ));

        if !authorized {
            st.set_status(id, 401);
            return Reply::unauthorized().into_response();
        }

        match st.take_fault(&method, &path) {
            Some(Fault::Status(status)) => {
                st.set_status(id, status);
                return Reply::error(status, "injected").into_response();
            }
            Some(Fault::TooManyRequests { retry_after_secs }) => {
                st.set_status(id, 429);
                return Reply::too_many(retry_after_secs).into_response();
            }
            Some(Fault::CloseConnection) => (id, Some(Fault::CloseConnection)),
            Some(Fault::Delay(d)) => (id, Some(Fault::Delay(d))),
            None => {
                // Common path: rate limit and route under the same lock and
                // with the same instant as recorded, so `max_per_second`
                // agrees exactly with enforcement.
                let reply = finish(&mut st, id, now, &method, &path, &query, &body);
                return reply.into_response();
            }
        }
    };

    match fault {
        Some(Fault::CloseConnection) => {
            if let Some(kill) = parts.extensions.get::<ConnKill>() {
                kill.0.notify_one();
                // The connection task drops this future (and the socket) as
                // soon as it sees the notification. The timeout is only a
                // backstop for HTTP/2, where streams run in their own tasks.
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            inner.lock().set_status(id, 502);
            Reply::error(502, "injected").into_response()
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            let mut st = inner.lock();
            let now = Instant::now();
            finish(&mut st, id, now, &method, &path, &query, &body).into_response()
        }
        _ => unreachable!(),
    }
}

/// Rate limit then route; records the final status.
fn finish(st: &mut St, id: u64, now: Instant, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    let reply = if st.admit(path, now) { route(st, method, path, query, body) } else { Reply::too_many(Some(1)) };
    st.set_status(id, reply.status);
    reply
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder().no_proxy().build().expect("reqwest client")
    }

    fn items(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"id": format!("i{i}")})).collect()
    }

    fn ids(v: &Value) -> Vec<String> {
        v.as_array().expect("array").iter().map(|x| x["id"].as_str().unwrap().to_owned()).collect()
    }

    #[tokio::test]
    async fn array_pagination_page_size_style() {
        let fake = FakeClockify::start().await;
        let path = "/v1/workspaces/ws1/projects";
        fake.paginated("api", path, PageStyle::PageSize, Shape::Array, items(7), true);
        let http = client();
        let url = format!("{}{path}", fake.core_url());

        let mut seen = Vec::new();
        for (page, want_len, last) in [(1, 3, "false"), (2, 3, "false"), (3, 1, "true")] {
            let resp = http.get(&url).query(&[("page", page), ("page-size", 3)]).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["last-page"], last);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body.as_array().unwrap().len(), want_len);
            seen.extend(ids(&body));
        }
        assert_eq!(seen, (0..7).map(|i| format!("i{i}")).collect::<Vec<_>>());

        // Past the end: empty page. Missing page/size: first page of 50.
        let body: Value = http.get(format!("{url}?page=4&page-size=3")).send().await.unwrap().json().await.unwrap();
        assert_eq!(body, json!([]));
        let body: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(body.as_array().unwrap().len(), 7);

        assert_eq!(fake.count("GET", &format!("/api{path}")), 5);
        let first = &fake.requests()[0];
        assert_eq!(first.query_param("page-size").as_deref(), Some("3"));
        assert_eq!(first.status, 200);

        // Routing is per group: the same path under /reports is a 404.
        let resp = http.get(format!("{}{path}", fake.reports_url())).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"message": "No static resource", "code": 404}));
        assert_eq!(fake.requests().last().unwrap().status, 404);
    }

    #[tokio::test]
    async fn zero_based_styles_and_envelope_total() {
        let fake = FakeClockify::start().await;
        fake.paginated("pto", "/v1/workspaces/ws1/balance", PageStyle::Limit, Shape::envelope("balances", Some("count")), items(5), false);
        let http = client();
        let resp = http.get(format!("{}/v1/workspaces/ws1/balance?page=1&limit=2", fake.pto_url())).send().await.unwrap();
        assert!(resp.headers().get("last-page").is_none());
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["count"], 5);
        assert_eq!(ids(&body["balances"]), ["i2", "i3"]);

        fake.paginated_post_body(
            "reports",
            "/v1/workspaces/ws1/reports/detailed",
            Shape::envelope("timeentries", Some("totals")),
            items(5),
        );
        let body: Value = http
            .post(format!("{}/v1/workspaces/ws1/reports/detailed", fake.reports_url()))
            .json(&json!({"page": 2, "pageSize": 4, "exportType": "JSON"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["totals"], 5);
        assert_eq!(ids(&body["timeentries"]), ["i4"]);

        // Envelope without total field.
        fake.paginated("api", "/v1/workspaces/ws1/users", PageStyle::Size, Shape::envelope("users", None), items(3), false);
        let body: Value =
            http.get(format!("{}/v1/workspaces/ws1/users?page=0&size=2", fake.core_url())).send().await.unwrap().json().await.unwrap();
        assert_eq!(body.as_object().unwrap().len(), 1);
        assert_eq!(ids(&body["users"]), ["i0", "i1"]);
    }

    #[tokio::test]
    async fn rate_limit_rejects_over_limit() {
        let fake = FakeClockify::start().await;
        fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
        fake.on("api", "GET", "/v1/workspaces/ws2/tags", 200, json!([]));
        fake.enforce_rate_limit(5);
        let http = client();
        let url = format!("{}/v1/workspaces/ws1/tags", fake.core_url());
        let mut statuses = Vec::new();
        for _ in 0..7 {
            let resp = http.get(&url).send().await.unwrap();
            statuses.push(resp.status().as_u16());
            assert_eq!(fake.requests().last().unwrap().status, resp.status().as_u16());
            if resp.status() == 429 {
                assert_eq!(resp.headers()["retry-after"], "1");
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body, json!({"message": "Too many requests", "code": 429}));
            }
        }
        assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
        // Other workspaces have their own window.
        let resp = http.get(format!("{}/v1/workspaces/ws2/tags", fake.core_url())).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(fake.max_per_second("ws1"), 5);
        assert_eq!(fake.max_per_second("ws2"), 1);
        assert_eq!(fake.max_per_second(""), 0);
        assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 7);
    }

    #[tokio::test]
    async fn faults_consumed_exactly_times() {
        let fake = FakeClockify::start().await;
        fake.on("api", "POST", "/v1/workspaces/ws1/tags", 201, json!({"id": "t1"}));
        let full = "/api/v1/workspaces/ws1/tags";
        fake.fail_next("POST", full, Fault::Status(503), 2);
        fake.fail_next("*", full, Fault::TooManyRequests { retry_after_secs: Some(3) }, 1);
        fake.fail_next("POST", full, Fault::CloseConnection, 1);
        fake.fail_next("POST", full, Fault::Delay(Duration::from_millis(50)), 1);
        let http = client();
        let url = format!("{}{full}", fake.url());
        let post = || http.post(&url).json(&json!({"name": "x"})).send();

        for _ in 0..2 {
            let resp = post().await.unwrap();
            assert_eq!(resp.status(), 503);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body, json!({"message": "injected", "code": 503}));
        }
        let resp = post().await.unwrap();
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "3");

        let err = post().await.expect_err("connection should be dropped");
        assert!(!err.is_status(), "{err:?}");

        let started = Instant::now();
        let resp = post().await.unwrap();
        assert_eq!(resp.status(), 201);
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(resp.json::<Value>().await.unwrap(), json!({"id": "t1"}));

        // All faults consumed.
        assert_eq!(post().await.unwrap().status(), 201);
        let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [503, 503, 429, 0, 201, 201]);
        assert_eq!(fake.count("POST", full), 6);
        assert_eq!(fake.count("GET", full), 0);
        assert_eq!(fake.requests()[0].json().unwrap(), json!({"name": "x"}));
    }

    #[tokio::test]
    async fn auth_required() {
        let fake = FakeClockify::start().await;
        fake.on("api", "GET", "/v1/user", 200, json!({"id": "u1"}));
        fake.require_addon_token("tok");
        let http = client();
        let url = format!("{}/v1/user", fake.core_url());

        let resp = http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"message": "Full authentication is required to access this resource", "code": 1000}));
        let resp = http.get(&url).header("X-Addon-Token", "wrong").send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let resp = http.get(&url).header("x-addon-token", "tok").send().await.unwrap();
        assert_eq!(resp.status(), 200);

        fake.require_api_key("key");
        let resp = http.get(&url).header("X-Api-Key", "key").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(fake.requests().last().unwrap().header("X-API-KEY"), Some("key"));
        assert_eq!(fake.count("GET", "/api/v1/user"), 4);
    }

    #[tokio::test]
    async fn text_routes_send_their_body_as_it_is() {
        let fake = FakeClockify::start().await;
        fake.on_text("api", "POST", "/addon/user/u1/token", 200, "text/plain", "eyJ.token");
        let resp = client().post(format!("{}/addon/user/u1/token", fake.core_url())).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/plain");
        assert_eq!(resp.text().await.unwrap(), "eyJ.token");
    }

    #[tokio::test]
    async fn multipart_recorded_raw() {
        let fake = FakeClockify::start().await;
        fake.on("api", "POST", "/v1/workspaces/ws1/files/image", 200, json!({"url": "u"}));
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"PNGDATA".to_vec()).file_name("a.png"));
        let resp = client().post(format!("{}/v1/workspaces/ws1/files/image", fake.core_url())).multipart(form).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let rec = &fake.requests()[0];
        assert!(rec.header("content-type").unwrap().starts_with("multipart/form-data"));
        let text = rec.body_text();
        assert!(text.contains("name=\"file\""), "{text}");
        assert!(text.contains("PNGDATA"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_requests() {
        let fake = FakeClockify::start().await;
        fake.on("api", "GET", "/v1/user", 200, json!({"id": "u1"}));
        let http = client();
        let url = format!("{}/v1/user", fake.core_url());
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (http, url) = (http.clone(), url.clone());
                tokio::spawn(async move { http.get(url).send().await.unwrap().status().as_u16() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
        assert_eq!(fake.count("*", "/api/v1/user"), 200);
        assert_eq!(fake.max_per_second(""), 200);
    }

    #[tokio::test]
    async fn start_on_binds_the_given_port_and_refuses_a_taken_one() {
        let first = FakeClockify::start_on("127.0.0.1:0".parse().unwrap()).await.expect("port 0 binds");
        let port = first.addr().port();
        assert_ne!(port, 0);
        let err = FakeClockify::start_on(first.addr()).await.expect_err("the port is taken");
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        drop(first);
        // Freed once dropped: a fake can come back on the same port.
        let mut again = None;
        for _ in 0..50 {
            match FakeClockify::start_on(SocketAddr::from(([127, 0, 0, 1], port))).await {
                Ok(f) => {
                    again = Some(f);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let again = again.expect("the port is free again");
        assert_eq!(again.url(), format!("http://127.0.0.1:{port}"));
        again.on("api", "GET", "/v1/user", 200, json!({"id": "u1"}));
        let resp = client().get(format!("{}/v1/user", again.core_url())).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }

    #[tokio::test]
    async fn patterns_match_one_segment_per_placeholder_and_echo_the_request() {
        let fake = FakeClockify::start().await;
        fake.on_pattern("api", "GET", "/v1/workspaces/{ws}/projects/{id}", 200, json!({"name": "any"}));
        fake.on("api", "GET", "/v1/workspaces/ws1/projects/p9", 200, json!({"name": "exact"}));
        fake.echo("api", "PUT", "/v1/workspaces/{workspaceId}/time-entries/{id}", 200, json!({"billable": false, "tagIds": []}));
        fake.echo("api", "POST", "/v1/workspaces/{workspaceId}/tags", 201, json!({"archived": false}));
        let http = client();
        let get = |p: &str| http.get(format!("{}{p}", fake.core_url())).send();

        let body: Value = get("/v1/workspaces/ws1/projects/p1").await.unwrap().json().await.unwrap();
        assert_eq!(body, json!({"name": "any"}));
        let body: Value = get("/v1/workspaces/ws1/projects/p9").await.unwrap().json().await.unwrap();
        assert_eq!(body, json!({"name": "exact"}), "an exact route wins");
        for missing in ["/v1/workspaces/ws1/projects", "/v1/workspaces/ws1/projects/p1/tasks", "/v1/workspaces//projects/p1"] {
            assert_eq!(get(missing).await.unwrap().status(), 404, "{missing}");
        }
        // Patterns are per group and method.
        let resp = http.get(format!("{}/v1/workspaces/ws1/projects/p1", fake.reports_url())).send().await.unwrap();
        assert_eq!(resp.status(), 404);
        let resp = http.delete(format!("{}/v1/workspaces/ws1/projects/p1", fake.core_url())).send().await.unwrap();
        assert_eq!(resp.status(), 404);

        let resp = http
            .put(format!("{}/v1/workspaces/ws1/time-entries/te%201", fake.core_url()))
            .json(&json!({"description": "d", "billable": true, "id": "from-body"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body, json!({"billable": true, "tagIds": [], "description": "d", "id": "te 1", "workspaceId": "ws1"}));

        let mut ids = Vec::new();
        for name in ["a", "b"] {
            let resp = http.post(format!("{}/v1/workspaces/ws1/tags", fake.core_url())).json(&json!({"name": name})).send().await.unwrap();
            assert_eq!(resp.status(), 201);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["name"], name);
            assert_eq!(body["workspaceId"], "ws1");
            assert_eq!(body["archived"], false);
            let id = body["id"].as_str().unwrap().to_owned();
            assert!(id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
            ids.push(id);
        }
        assert_ne!(ids[0], ids[1], "each echo makes up a fresh id");

        // Re-registering replaces the answer.
        fake.on_pattern("api", "GET", "/v1/workspaces/{ws}/projects/{id}", 410, json!({"message": "gone"}));
        assert_eq!(get("/v1/workspaces/ws1/projects/p1").await.unwrap().status(), 410);
        assert_eq!(fake.count("PUT", "/api/v1/workspaces/ws1/time-entries/te%201"), 1);
    }

    #[tokio::test]
    async fn subscribers_see_every_request_once_answered() {
        let fake = FakeClockify::start().await;
        fake.on("api", "GET", "/v1/user", 200, json!({"id": "u1"}));
        let mut log = fake.subscribe();
        let http = client();
        http.get(format!("{}/v1/user?x=1", fake.core_url())).header("X-Addon-Token", "t").send().await.unwrap();
        http.post(format!("{}/v1/nothing", fake.core_url())).send().await.unwrap();
        fake.require_addon_token("other");
        http.get(format!("{}/v1/user", fake.core_url())).send().await.unwrap();
        let seen: Vec<(String, String, String, u16, Option<String>)> = (0..3)
            .map(|_| {
                let r = log.try_recv().expect("one message per request");
                (r.method.clone(), r.path.clone(), r.query.clone(), r.status, r.header("x-addon-token").map(str::to_owned))
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("GET".into(), "/api/v1/user".into(), "x=1".into(), 200, Some("t".into())),
                ("POST".into(), "/api/v1/nothing".into(), String::new(), 404, None),
                ("GET".into(), "/api/v1/user".into(), String::new(), 401, None),
            ]
        );
        assert!(log.try_recv().is_err(), "nothing more");
        // A dropped receiver is forgotten; the fake keeps serving.
        drop(log);
        fake.clear_auth();
        assert_eq!(http.get(format!("{}/v1/user", fake.core_url())).send().await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn created_webhooks_carry_minted_tokens() {
        let fake = FakeClockify::start().await;
        fake.serve_webhooks("ws1");
        let http = client();
        let url = format!("{}/v1/workspaces/ws1/webhooks", fake.core_url());
        let body: Value = http.post(&url).json(&json!({"webhookEvent": "NEW_TAG"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["authToken"], "token-of-wh1");
        fake.mint_webhook_tokens(|ws, id, event| format!("{ws}:{id}:{event}"));
        let body: Value = http.post(&url).json(&json!({"webhookEvent": "PROJECT_UPDATED"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["authToken"], "ws1:wh2:PROJECT_UPDATED");
        assert_eq!(fake.webhooks("ws1")[1]["authToken"], "ws1:wh2:PROJECT_UPDATED");
    }

    #[test]
    fn helpers() {
        assert_eq!(workspace_key("/api/v1/workspaces/ws9/tags"), "ws9");
        assert_eq!(workspace_key("/api/v1/user"), "");
        assert_eq!(split_group("/reports/v1/x"), Some(("reports", "/v1/x")));
        assert_eq!(split_group("/apix/v1"), None);
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(query_param("x=1&name=a%26b", "name").as_deref(), Some("a&b"));
        assert_eq!(match_pattern("/v1/w/{ws}/t/{id}", "/v1/w/a/t/b"), Some(vec![("ws".into(), "a".into()), ("id".into(), "b".into())]));
        assert_eq!(match_pattern("/v1/w/{ws}", "/v1/x/a"), None);
        assert_eq!(match_pattern("/v1/w/{ws}", "/v1/w/"), None);
        assert_eq!(match_pattern("/v1/w", "/v1/w"), Some(vec![]));
    }

    #[tokio::test]
    async fn a_collection_keeps_what_is_written() {
        let fake = FakeClockify::start().await;
        fake.serve_collection("api", "/v1/workspaces/ws1/tags", vec![json!({"id": "t1", "name": "Billable"})]);
        let c = client();
        let base = format!("{}/v1/workspaces/ws1/tags", fake.core_url());
        let created: Value = c.post(&base).json(&json!({"name": "needs-project"})).send().await.unwrap().json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("tags-"), "{created}");
        let found: Value = c.get(format!("{base}?name=NEEDS-project&strict-name-search=true")).send().await.unwrap().json().await.unwrap();
        assert_eq!(ids(&found), vec![id.clone()]);
        let none: Value = c.get(format!("{base}?name=needs&strict-name-search=true")).send().await.unwrap().json().await.unwrap();
        assert_eq!(ids(&none), Vec::<String>::new(), "strict: whole names only");
        let some: Value = c.get(format!("{base}?name=needs")).send().await.unwrap().json().await.unwrap();
        assert_eq!(ids(&some), vec![id.clone()]);

        let r = c.put(format!("{base}/t1")).json(&json!({"name": "Billed", "id": "other"})).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let one: Value = c.get(format!("{base}/t1")).send().await.unwrap().json().await.unwrap();
        assert_eq!(one, json!({"id": "t1", "name": "Billed"}), "members set, id kept");
        assert_eq!(c.get(format!("{base}/nope")).send().await.unwrap().status(), 404);
        assert_eq!(c.delete(format!("{base}/t1")).send().await.unwrap().status(), 200);
        assert_eq!(fake.collection("api", "/v1/workspaces/ws1/tags").len(), 1);
        assert_eq!(fake.count("PUT", "/api/v1/workspaces/ws1/tags/t1"), 1, "recorded like any request");
    }
}
