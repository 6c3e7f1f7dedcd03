//! The API explorer: any operation of the contract, called with the caller's
//! own Clockify user token, validated against the contract before anything
//! leaves, through the generated typed client (`dispatch`), with a dry run
//! that shows the exact request and sends nothing.
//!
//! Order of checks for one call: the operation exists (by operationId, or by
//! method and path template for `/api-call`); it is not multipart; the host
//! of its group comes from the token's claims and is in `ALLOWED_API_HOSTS`;
//! path, query and body pass the operation's schemas (the `workspaceId` path
//! parameter must be the token's own); the arguments fit their generated
//! types. Only then is the typed call made, and the client's guard checks the
//! final URL once more (host allowed, path exactly the template's shape).

pub(crate) mod routes;
pub mod validate;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clockify_client::catalog::{Access, HostGroup, OPERATIONS, Operation as CatalogOperation};
use clockify_client::exchange::{CapturedRequest, CapturedResponse, Exchange, ExchangeMode};
use clockify_client::{Auth, ClientBuilder, Hosts, RateBudget};
use serde_json::{Map, Value};

use crate::auth::token::Claims;
use crate::config::HostPort;
use clockify_explorer_dispatch as dispatch;
use dispatch::{Args, DispatchError, Sent};
pub use dispatch::{MultipartOperation, Operation};
pub use validate::{Input, Invalid, Violation};

/// Answer headers worth showing: paging and rate limits.
const SHOWN_HEADERS: [&str; 7] =
    ["last-page", "content-type", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-request-id"];

/// The largest answer the explorer reads and shows: a longer body is cut
/// off there (one chunk past it at most) and the call is a 502.
pub const MAX_ANSWER_BYTES: usize = 10 * 1024 * 1024;

/// Why a call was refused or failed before Clockify answered.
#[derive(Debug, thiserror::Error)]
pub enum ExplorerError {
    /// Not an operation of the contract (unknown id, method or path).
    #[error("{0}")]
    NotInContract(String),
    /// A multipart operation; the explorer sends JSON bodies only.
    #[error("{0:?} takes a multipart/form-data body (a file upload); the explorer cannot send it")]
    Multipart(MultipartOperation),
    /// The input does not fit the contract.
    #[error("the request does not fit the contract ({} problem(s))", .0.len())]
    Invalid(Vec<Violation>),
    /// A host from the token that is missing or not allowed.
    #[error("{0}")]
    HostRefused(String),
    /// The client refused before sending (guard, encoding).
    #[error("refused before sending: {0}")]
    Refused(String),
    /// Clockify could not be reached.
    #[error("Clockify could not be reached: {0}")]
    Transport(String),
    /// Clockify's answer (with this status) was over [`MAX_ANSWER_BYTES`]; reading stopped there.
    #[error(
        "Clockify's answer (status {0}) was over 10 MB, more than the explorer reads; it was cut off (ask for less, e.g. a smaller page-size)"
    )]
    AnswerTooLarge(u16),
    #[error("{0}")]
    Internal(String),
}

impl From<Invalid> for ExplorerError {
    fn from(e: Invalid) -> Self {
        match e {
            Invalid::Violations(v) => ExplorerError::Invalid(v),
            Invalid::Internal(m) => ExplorerError::Internal(m),
        }
    }
}

/// The caller, from a verified user token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The raw token, sent on as `X-Addon-Token`.
    pub token: String,
    pub workspace_id: String,
    pub backend_url: Option<String>,
    pub reports_url: Option<String>,
    pub pto_url: Option<String>,
}

impl Caller {
    pub fn from_claims(token: &str, claims: &Claims) -> Option<Self> {
        Some(Self {
            token: token.to_owned(),
            workspace_id: claims.workspace_id.clone()?,
            backend_url: claims.backend_url.clone(),
            reports_url: claims.reports_url.clone(),
            pto_url: claims.pto_url.clone(),
        })
    }
}

/// What the explorer needs besides the caller: where it may go and how it sends.
#[derive(Clone)]
pub struct Explorer {
    pub allowed_hosts: Arc<[HostPort]>,
    pub http: reqwest::Client,
    pub budget: RateBudget,
    pub retry: clockify_client::RetryPolicy,
    pub observer: Option<Arc<dyn clockify_client::CallObserver>>,
}

impl Explorer {
    pub fn new(allowed_hosts: &[HostPort]) -> Self {
        Self {
            allowed_hosts: allowed_hosts.into(),
            http: shared_http(),
            budget: RateBudget::global(),
            retry: clockify_client::RetryPolicy::default(),
            observer: None,
        }
    }
}

/// One HTTP client (one connection pool) for every explorer call.
pub(crate) fn shared_http() -> reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            // A redirect would carry the caller's X-Addon-Token to whatever
            // host its Location names (reqwest keeps custom headers across
            // hosts); the 3xx is shown as Clockify's answer instead.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("clockify-gateway-explorer/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
    .clone()
}

/// A resolved call: which operation, with what input.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: Operation,
    pub input: Input,
    pub dry_run: bool,
}

/// Clockify's answer, as the explorer shows it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// `json`, `text`, `base64` or `empty`.
    pub body_encoding: &'static str,
    /// Set when the answer did not decode as the contract's success type.
    pub note: Option<String>,
}

/// The result of one call.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub operation: &'static CatalogOperation,
    /// The request as sent (or, in a dry run, as it would be sent); credentials redacted.
    pub request: Option<CapturedRequest>,
    /// `None` in a dry run.
    pub answer: Option<Answer>,
    pub duration: Duration,
}

/// The catalog entry of `op`.
pub fn catalog_entry(op: Operation) -> &'static CatalogOperation {
    &OPERATIONS[op.catalog_index()]
}

/// The operation with this operationId, or an error naming it.
pub fn by_id(id: &str) -> Result<Operation, ExplorerError> {
    Operation::from_id(id).ok_or_else(|| ExplorerError::NotInContract(format!("`{id}` is not an operationId of the contract")))
}

/// Resolves `method path` (a concrete path such as
/// `/v1/workspaces/abc/projects/p1`, with or without the `/api` prefix of the
/// core host) to an operation by its path template; the template's
/// parameters become path parameters. The error names what did not match.
pub fn by_method_and_path(method: &str, path: &str) -> Result<(Operation, Map<String, Value>), ExplorerError> {
    let method = method.to_ascii_uppercase();
    if path.contains(['?', '#']) {
        return Err(ExplorerError::NotInContract(format!("path `{path}` carries a query or fragment; send query parameters in `query`")));
    }
    let trimmed = path.strip_prefix("/api").filter(|p| p.starts_with("/v")).unwrap_or(path);
    let segments: Vec<&str> = trimmed.trim_end_matches('/').split('/').collect();
    let mut path_matched = false;
    // The template with the most literal segments wins (`/projects/templates`
    // over `/projects/{projectId}`), as a router would choose.
    let mut best: Option<(usize, &'static CatalogOperation, Map<String, Value>)> = None;
    for op in OPERATIONS {
        let template: Vec<&str> = op.path.split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Map::new();
        let mut literals = 0;
        let fits = template.iter().zip(&segments).all(|(t, s)| match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) => {
                params.insert(name.to_owned(), Value::String(percent_decode(s)));
                !s.is_empty()
            }
            None => {
                literals += 1;
                t == s
            }
        });
        if !fits {
            continue;
        }
        path_matched = true;
        if op.method == method && best.as_ref().is_none_or(|(n, _, _)| literals > *n) {
            best = Some((literals, op, params));
        }
    }
    if let Some((_, op, params)) = best {
        // Decoding `%2F` or `%23` must not smuggle a separator into the call.
        if let Some((name, problem)) = params.iter().find_map(|(n, v)| v.as_str().and_then(validate::path_value_problem).map(|p| (n, p))) {
            return Err(ExplorerError::NotInContract(format!("path parameter `{name}` of `{trimmed}`: {problem}")));
        }
        let found = Operation::from_id(op.id)
            .ok_or_else(|| ExplorerError::Internal(format!("{} is in the catalog but not in the dispatch", op.id)))?;
        return Ok((found, params));
    }
    Err(ExplorerError::NotInContract(if path_matched {
        let allowed: Vec<&str> = OPERATIONS
            .iter()
            .filter(|o| {
                let t: Vec<&str> = o.path.split('/').collect();
                t.len() == segments.len() && t.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s)
            })
            .map(|o| o.method)
            .collect();
        format!("method {method} is not an operation on path `{trimmed}` (the contract has {})", allowed.join(", "))
    } else {
        format!("path `{trimmed}` matches no path template of the contract")
    }))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// Scheme, host and exact port, all from `HostPort::matches`: a bare entry allows https only.
fn host_allowed(allowed: &[HostPort], url: &url::Url) -> bool {
    allowed.iter().any(|h| h.matches(url))
}

/// The base URL of `group` from the caller's claims, if the claim is there
/// and its host is allowed.
fn checked_base(explorer: &Explorer, caller: &Caller, group: HostGroup) -> Result<String, ExplorerError> {
    let (claim, value) = match group {
        HostGroup::Core => ("backendUrl", caller.backend_url.as_deref()),
        HostGroup::Reports => ("reportsUrl", caller.reports_url.as_deref()),
        HostGroup::Pto => ("ptoUrl", caller.pto_url.as_deref()),
    };
    let raw =
        value.ok_or_else(|| ExplorerError::HostRefused(format!("the token has no {claim} claim, which this operation's host needs")))?;
    let url = url::Url::parse(raw).map_err(|_| ExplorerError::HostRefused(format!("the token's {claim} is not a URL")))?;
    if !host_allowed(&explorer.allowed_hosts, &url) {
        let origin = crate::config::origin_of(&url);
        tracing::warn!(target: "audit", event = "host_refused", claim, origin = %origin, "explorer: API host outside ALLOWED_API_HOSTS");
        return Err(ExplorerError::HostRefused(format!(
            "the token's {claim} `{origin}` is not in ALLOWED_API_HOSTS{}",
            crate::config::HTTP_HINT
        )));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// The last check before a request leaves: its host is allowed and its path
/// has exactly the template's segments (no value added, removed or replaced one).
pub(crate) fn guard(allowed: Arc<[HostPort]>, template: &'static str) -> clockify_client::exchange::Guard {
    Arc::new(move |request: &reqwest::Request| {
        let url = request.url();
        if !host_allowed(&allowed, url) {
            return Err(format!("`{}` is not in ALLOWED_API_HOSTS", crate::config::origin_of(url)));
        }
        if url.fragment().is_some() {
            return Err("the URL has a fragment".into());
        }
        // Both start with `/`; the sent path has the host's base path (`/api`) before the template's segments.
        let sent: Vec<&str> = url.path().split('/').skip(1).collect();
        let expected: Vec<&str> = template.split('/').skip(1).collect();
        let tail = sent.len().checked_sub(expected.len()).map(|start| &sent[start..]);
        let fits = tail.is_some_and(|tail| {
            tail.iter().zip(&expected).all(|(s, t)| if t.starts_with('{') { !s.is_empty() && *s != "." && *s != ".." } else { s == t })
        });
        if !fits {
            return Err(format!("the URL path `{}` does not have the shape of `{template}`", url.path()));
        }
        Ok(())
    })
}

fn answer_from(r: CapturedResponse, note: Option<String>) -> Answer {
    let headers: Vec<(String, String)> =
        r.headers.into_iter().filter(|(n, _)| SHOWN_HEADERS.contains(&n.as_str()) || n.starts_with("x-ratelimit")).collect();
    let (body, body_encoding) = if r.body.is_empty() {
        (Value::Null, "empty")
    } else if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
        (v, "json")
    } else if let Ok(s) = std::str::from_utf8(&r.body) {
        (Value::String(s.to_owned()), "text")
    } else {
        use base64::Engine as _;
        (Value::String(base64::engine::general_purpose::STANDARD.encode(&r.body)), "base64")
    };
    Answer { status: r.status, headers, body, body_encoding, note }
}

/// Validates and makes one call for `caller`.
pub async fn execute(explorer: &Explorer, caller: &Caller, call: Call) -> Result<Outcome, ExplorerError> {
    let started = Instant::now();
    let entry = catalog_entry(call.operation);
    let args: Args = prepare(caller, &call)?;
    let base = |g| checked_base(explorer, caller, g);
    let core = base(HostGroup::Core)?;
    // Only the operation's own group has to be reachable; the others are never used.
    let reports = if entry.host == HostGroup::Reports { base(HostGroup::Reports)? } else { core.clone() };
    let pto = if entry.host == HostGroup::Pto { Some(base(HostGroup::Pto)?) } else { None };
    let hosts = Hosts::explicit(&core, &reports, pto.as_deref()).map_err(|e| ExplorerError::HostRefused(e.to_string()))?;
    let mode = if call.dry_run { ExchangeMode::DryRun } else { ExchangeMode::Send };
    let exchange =
        Arc::new(Exchange::new(mode).with_guard(guard(explorer.allowed_hosts.clone(), entry.path)).with_response_limit(MAX_ANSWER_BYTES));
    let mut client = ClientBuilder::new(Auth::AddonToken(caller.token.clone()))
        .hosts(hosts)
        .budget(explorer.budget.clone())
        .retry(explorer.retry)
        .http_client(explorer.http.clone())
        .exchange(exchange.clone());
    if let Some(observer) = &explorer.observer {
        client = client.observer(observer.clone());
    }
    let client = client
        .build()
        .map_err(|e| ExplorerError::Refused(e.to_string()))?;
    let sent = dispatch::dispatch(&client, call.operation, &args).await.map_err(|e| match e {
        DispatchError::Argument { pointer, message } => ExplorerError::Invalid(vec![Violation { pointer, message }]),
        DispatchError::Multipart(m) => ExplorerError::Multipart(m),
    })?;
    let request = exchange.request();
    // Before the typed outcome: a cut-off body also fails the typed call, as a transport or decode error.
    if let Some(cut) = exchange.response().filter(|r| r.cut_off) {
        return Err(ExplorerError::AnswerTooLarge(cut.status));
    }
    let answer = match (call.dry_run, sent) {
        (true, Sent::Refused(m)) | (false, Sent::Refused(m)) => return Err(ExplorerError::Refused(m)),
        (true, _) => None,
        (false, Sent::Transport(m)) => return Err(ExplorerError::Transport(m)),
        (false, sent) => {
            let note = match sent {
                Sent::Undecoded(n) => Some(n),
                _ => None,
            };
            let raw = exchange.response().ok_or_else(|| ExplorerError::Internal("the client recorded no answer".into()))?;
            Some(answer_from(raw, note))
        }
    };
    Ok(Outcome { operation: entry, request, answer, duration: started.elapsed() })
}

/// Everything checked before a client is built: multipart, then the schemas.
pub fn prepare(caller: &Caller, call: &Call) -> Result<Args, ExplorerError> {
    let entry = catalog_entry(call.operation);
    if entry.body.is_some_and(|b| b.content_type == "multipart/form-data") {
        return Err(match multipart(call.operation) {
            Some(m) => ExplorerError::Multipart(m),
            None => ExplorerError::Internal(format!("{} is multipart but not in MultipartOperation", entry.id)),
        });
    }
    Ok(validate::validate(call.operation.catalog_index(), call.input.clone(), &caller.workspace_id)?)
}

/// The multipart operations, each handled here by hand: a new one in the
/// contract stops the build at this match until someone decides.
fn multipart(op: Operation) -> Option<MultipartOperation> {
    let m = match op {
        Operation::UploadImage => MultipartOperation::UploadImage,
        Operation::CreateExpense => MultipartOperation::CreateExpense,
        Operation::UpdateExpense => MultipartOperation::UpdateExpense,
        _ => return None,
    };
    // Exhaustive: every multipart operation is refused with the same reason for now.
    match m {
        MultipartOperation::UploadImage | MultipartOperation::CreateExpense | MultipartOperation::UpdateExpense => Some(m),
    }
}

/// Read or write, as the page and the logs say it.
pub fn access_label(op: &CatalogOperation) -> &'static str {
    match op.access {
        Access::Read => "read",
        Access::Write => "write",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Arc<[HostPort]> {
        Arc::from(vec!["api.clockify.me".parse::<HostPort>().expect("host")])
    }

    fn request(url: &str) -> reqwest::Request {
        reqwest::Request::new(reqwest::Method::GET, url.parse().expect("url"))
    }

    #[test]
    fn the_guard_lets_only_the_templates_shape_through_on_allowed_hosts() {
        let g = guard(allowed(), "/v1/workspaces/{workspaceId}/projects/{projectId}");
        assert!(g(&request("https://api.clockify.me/api/v1/workspaces/ws1/projects/p1")).is_ok());
        for bad in [
            "https://evil.example/api/v1/workspaces/ws1/projects/p1",
            "http://api.clockify.me/api/v1/workspaces/ws1/projects/p1",
            "https://api.clockify.me:8443/api/v1/workspaces/ws1/projects/p1",
            "https://api.clockify.me/api/v1/workspaces/ws1/projects/p1/tasks",
            "https://api.clockify.me/api/v1/workspaces/ws1/clients/p1",
            "https://api.clockify.me/api/v1/workspaces/ws1/projects/",
            "https://api.clockify.me/api/v1/workspaces/ws1/projects/p1#x",
        ] {
            assert!(g(&request(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn method_and_path_resolve_to_an_operation_with_its_path_parameters() {
        let (op, params) = by_method_and_path("get", "/api/v1/workspaces/ws1/projects/p%201").expect("getProject");
        assert_eq!(op, Operation::GetProject);
        assert_eq!(params.get("projectId"), Some(&Value::String("p 1".into())));
        assert_eq!(params.get("workspaceId"), Some(&Value::String("ws1".into())));
        let (op, _) = by_method_and_path("POST", "/v1/workspaces/ws1/projects").expect("createNewProject");
        assert_eq!(op, Operation::CreateNewProject);
        let e = by_method_and_path("PUT", "/v1/workspaces/ws1/projects").unwrap_err().to_string();
        assert!(e.contains("PUT") && e.contains("GET") && e.contains("POST"), "{e}");
        let e = by_method_and_path("GET", "/v2/nothing").unwrap_err().to_string();
        assert!(e.contains("/v2/nothing"), "{e}");
        for smuggled in [
            "/v1/workspaces/%23/projects",
            "/v1/workspaces/ws1/projects/a%2Fb",
            "/v1/workspaces/%2E%2E/projects",
            "/v1/workspaces/a%3Fx/tags",
        ] {
            let e = by_method_and_path("GET", smuggled).unwrap_err().to_string();
            assert!(e.contains("path parameter `") && e.contains("change the path") || e.contains("`..`"), "{smuggled}: {e}");
        }
    }

    #[test]
    fn every_operation_of_the_catalog_is_dispatched_and_every_schema_compiles() {
        for (i, op) in OPERATIONS.iter().enumerate() {
            let found = Operation::from_id(op.id).expect(op.id);
            assert_eq!(found.catalog_index(), i, "{}", op.id);
        }
        assert_eq!(Operation::ALL.len(), OPERATIONS.len());
        validate::compile_all().expect("every schema of the contract compiles");
    }
}
