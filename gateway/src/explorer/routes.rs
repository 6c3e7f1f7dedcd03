//! The API explorer's routes: the catalog, calls by operationId or by method
//! and path, and the web page (static assets embedded in the binary). The
//! logic lives in `crate::explorer`.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Html, Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::{Map, Value};

use std::sync::Arc;

use crate::auth::schemes::UserToken;
use crate::auth::token::TokenVerifier;
use crate::error::{ApiError, GatewayError, Violation};
use crate::explorer::{self, Call, Caller, Explorer, ExplorerError, Input, Operation};
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::store::{ExplorerHistory, HistoryEntry, InstallationStore};
use clockify_client::catalog::{Access, HostGroup, OPERATIONS, ParamLocation};

const PAGE_HTML: &str = include_str!("../explorer/assets/index.html");
const PAGE_JS: &str = include_str!("../explorer/assets/app.js");
const PAGE_CSS: &str = include_str!("../explorer/assets/app.css");

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct ParameterView {
    pub name: String,
    /// `path` or `query`.
    pub location: String,
    pub required: bool,
    /// JSON Schema from the contract (may hold `$ref`s into its components).
    pub schema: Value,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct BodyView {
    pub content_type: String,
    pub required: bool,
    pub schema: Value,
    /// The body's required properties with placeholder values, to start from.
    pub template: Value,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ResponseView {
    pub status: u16,
    pub content_type: Option<String>,
    pub schema: Option<Value>,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct EndpointView {
    pub operation_id: String,
    pub method: String,
    pub path: String,
    pub tag: String,
    /// `read` or `write`.
    pub access: String,
    /// The manifest scope the operation needs, if any.
    pub scope: Option<String>,
    /// Whether the add-on's manifest declares that scope.
    pub scope_declared: bool,
    /// `core`, `reports` or `pto`.
    pub host_group: String,
    pub deprecated: bool,
    /// Multipart operations are listed but cannot be called from the explorer.
    pub callable: bool,
    pub parameters: Vec<ParameterView>,
    pub request_body: Option<BodyView>,
    pub response: Option<ResponseView>,
}

#[derive(Object, Debug, Clone)]
pub struct TagGroup {
    pub tag: String,
    pub operations: Vec<EndpointView>,
}

#[derive(Object, Debug, Clone)]
pub struct Endpoints {
    /// Operations in the filter, grouped by tag (tags in contract order).
    pub tags: Vec<TagGroup>,
    pub count: u32,
}

#[derive(ApiResponse, Debug)]
pub enum EndpointsResponse {
    #[oai(status = 200)]
    Ok(Json<Endpoints>),
}

/// A call by operationId.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ExecuteRequest {
    pub operation_id: String,
    /// Path parameters by name; `workspaceId` may be left out (it is always the token's own).
    pub path_params: Option<Value>,
    /// Query parameters by name (values typed as the schema says, or as text).
    pub query: Option<Value>,
    pub body: Option<Value>,
    /// Validate and show the exact request; send nothing.
    #[oai(default)]
    pub dry_run: bool,
}

/// A call by method and concrete path (e.g. `GET /v1/workspaces/{ws}/projects`).
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ApiCallRequest {
    pub method: String,
    pub path: String,
    pub query: Option<Value>,
    pub body: Option<Value>,
    #[oai(default)]
    pub dry_run: bool,
}

#[derive(Object, Debug, Clone)]
pub struct HeaderView {
    pub name: String,
    pub value: String,
}

/// The request as sent, or as a dry run would send it (credentials redacted).
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RequestView {
    pub method: String,
    pub url: String,
    pub headers: Vec<HeaderView>,
    /// The body as sent, as text (`None` without a body).
    pub body: Option<String>,
}

#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ExecuteResult {
    pub operation_id: String,
    pub method: String,
    pub path_template: String,
    pub access: String,
    pub dry_run: bool,
    pub request: Option<RequestView>,
    /// Clockify's status (absent in a dry run).
    pub status: Option<u16>,
    /// `Last-Page`, rate-limit and content-type headers of Clockify's answer.
    pub headers: Vec<HeaderView>,
    pub body: Option<Value>,
    /// `json`, `text`, `base64` or `empty`.
    pub body_encoding: Option<String>,
    /// Why the answer did not decode as the contract's success type, when it did not.
    pub note: Option<String>,
    /// Time spent in the gateway and at Clockify, in milliseconds.
    pub duration_ms: f64,
}

#[derive(ApiResponse, Debug)]
pub enum ExecuteResponse {
    /// The call was made (see `status` for Clockify's answer) or dry-run.
    #[oai(status = 200)]
    Ok(Json<ExecuteResult>),
}

/// One call of the caller's history.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct HistoryView {
    pub id: String,
    pub operation_id: String,
    pub method: String,
    /// `read` or `write`.
    pub access: String,
    pub path_params: Value,
    pub query: Value,
    pub body: Option<Value>,
    pub dry_run: bool,
    /// Clockify's status, when a request was sent.
    pub status: Option<u16>,
    /// The status, `dry_run`, or why the explorer refused (`invalid`, `host_refused`, ...).
    pub outcome: String,
    pub duration_ms: f64,
    /// Unix milliseconds.
    pub called_at: i64,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct History {
    pub items: Vec<HistoryView>,
}

#[derive(ApiResponse, Debug)]
pub enum HistoryResponse {
    #[oai(status = 200)]
    Ok(Json<History>),
}

/// How to replay a call from the history.
#[derive(Object, Debug, Clone, Default, PartialEq, Eq)]
#[oai(rename_all = "camelCase")]
pub struct ReplayCall {
    /// Required to send a write again.
    #[oai(default)]
    pub confirm: bool,
    #[oai(default)]
    pub dry_run: bool,
}

fn history_view(e: HistoryEntry) -> HistoryView {
    let op = clockify_client::catalog::by_id(&e.operation);
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
    HistoryView {
        method: op.map(|o| o.method.to_owned()).unwrap_or_default(),
        access: op.map(|o| explorer::access_label(o).to_owned()).unwrap_or_default(),
        path_params: parse(&e.path_params),
        query: parse(&e.query),
        body: e.body.as_deref().map(parse),
        dry_run: e.dry_run,
        status: e.status.and_then(|s| u16::try_from(s).ok()),
        outcome: e.outcome,
        duration_ms: e.duration_us as f64 / 1000.0,
        called_at: e.called_at,
        operation_id: e.operation,
        id: e.id,
    }
}

/// The history's outcome for a call the explorer refused.
fn api_error_label(e: &ApiError) -> &'static str {
    match e {
        ApiError::BadRequest(_) => "bad_request",
        ApiError::Unauthorized(_) => "unauthorized",
        ApiError::Forbidden(_) => "forbidden",
        ApiError::NotFound(_) => "not_found",
        ApiError::PayloadTooLarge(_) => "too_large",
        ApiError::UnprocessableEntity(_) => "invalid",
        ApiError::TooManyRequests(..) => "rate_limited",
        ApiError::Internal(_) => "internal",
        ApiError::BadGateway(_) => "bad_gateway",
        ApiError::Unavailable(_) => "unavailable",
    }
}

#[derive(ApiResponse, Debug)]
pub enum PageResponse {
    #[oai(status = 200)]
    Html(Html<&'static str>),
}

/// A page's script. One type per content type, so the spec documents each.
#[derive(ApiResponse, Debug)]
pub enum ScriptResponse {
    #[oai(status = 200, content_type = "text/javascript; charset=utf-8")]
    Js(PlainText<&'static str>),
}

/// A page's styles.
#[derive(ApiResponse, Debug)]
pub enum StyleResponse {
    #[oai(status = 200, content_type = "text/css; charset=utf-8")]
    Css(PlainText<&'static str>),
}

pub struct ExplorerApi {
    pub verifier: Arc<TokenVerifier>,
    /// The members' per-workspace limit.
    pub limiter: Arc<RateLimiter>,
    pub metrics: Arc<Metrics>,
    /// Whose installation is live.
    pub installations: InstallationStore,
    pub history: ExplorerHistory,
    /// The manifest's scopes, marked on each operation of the catalog.
    pub declared_scopes: &'static [clockify_client::Scope],
    pub explorer: Explorer,
}

impl ExplorerApi {
    /// The verified caller and the user the token is for, whose history the
    /// call joins. A workspace without a live installation is not found.
    async fn caller(&self, token: &UserToken) -> Result<(Caller, String), GatewayError> {
        let claims = token.verify(&self.verifier, None).map_err(|r| {
            self.metrics.auth_failure(r.reason());
            tracing::warn!(target: "audit", event = "auth_failure", route = "explorer", reason = r.reason(), "explorer token rejected");
            GatewayError::Token(r)
        })?;
        let caller = Caller::from_claims(token.token(), &claims)
            .ok_or_else(|| GatewayError::Forbidden("the token names no workspace (workspaceId claim)".into()))?;
        self.limiter.enforce_workspace(&self.metrics, &caller.workspace_id)?;
        crate::auth::gate::require_live(&self.installations, &caller.workspace_id).await?;
        // A user token always names its user (TokenKind::User).
        let user = claims.user.clone().unwrap_or_default();
        Ok((caller, user))
    }

    /// Runs the call and adds it to the user's history (parameters with
    /// secret-looking members redacted). A history that cannot be written
    /// does not fail the call.
    async fn run_recorded(&self, caller: &Caller, user: &str, call: Call) -> Result<ExecuteResponse, ApiError> {
        let operation = explorer::catalog_entry(call.operation).id;
        let redacted = |v: Value| crate::redact::redact_secrets(v).to_string();
        let mut entry = HistoryEntry {
            id: ExplorerHistory::new_id(),
            operation: operation.to_owned(),
            path_params: redacted(Value::Object(call.input.path.clone())),
            query: redacted(Value::Object(call.input.query.clone())),
            body: call.input.body.clone().map(redacted),
            dry_run: call.dry_run,
            status: None,
            outcome: String::new(),
            duration_us: 0,
            called_at: ExplorerHistory::now(),
        };
        let result = self.run(caller, call).await;
        match &result {
            Ok(ExecuteResponse::Ok(r)) => {
                entry.status = r.status.map(i64::from);
                entry.outcome = r.status.map_or_else(|| "dry_run".to_owned(), |s| s.to_string());
                entry.duration_us = (r.duration_ms * 1000.0) as i64;
            }
            Err(e) => entry.outcome = api_error_label(e).to_owned(),
        }
        if let Err(e) = self.history.record(&caller.workspace_id, user, &entry).await {
            tracing::warn!(workspace = %caller.workspace_id, error = %e, "explorer history not recorded");
        }
        result
    }

    async fn run(&self, caller: &Caller, call: Call) -> Result<ExecuteResponse, ApiError> {
        let entry = explorer::catalog_entry(call.operation);
        let dry_run = call.dry_run;
        let result = explorer::execute(&self.explorer, caller, call).await;
        let (status_label, status) = match &result {
            Ok(o) => match &o.answer {
                Some(a) => (a.status.to_string(), Some(a.status)),
                None => ("dry_run".to_owned(), None),
            },
            Err(e) => (refusal_label(e).to_owned(), None),
        };
        self.metrics.explorer_call(entry.id, status_label.clone());
        let duration_ms = result.as_ref().map(|o| o.duration.as_secs_f64() * 1000.0).unwrap_or(0.0);
        tracing::info!(
            target: "explorer",
            workspace = %caller.workspace_id,
            operation = entry.id,
            status = status.map(i64::from).unwrap_or(-1),
            outcome = %status_label,
            dry_run,
            duration_ms,
            "explorer call"
        );
        let outcome = result.map_err(to_gateway)?;
        let header_views = |h: Vec<(String, String)>| h.into_iter().map(|(name, value)| HeaderView { name, value }).collect();
        let request = outcome.request.map(|r| RequestView {
            method: r.method,
            url: r.url,
            headers: header_views(r.headers),
            body: r.body.map(|b| String::from_utf8_lossy(&b).into_owned()),
        });
        let (headers, body, body_encoding, note) = match outcome.answer {
            Some(a) => (header_views(a.headers), Some(a.body), Some(a.body_encoding.to_owned()), a.note),
            None => (Vec::new(), None, None, None),
        };
        Ok(ExecuteResponse::Ok(Json(ExecuteResult {
            operation_id: entry.id.to_owned(),
            method: entry.method.to_owned(),
            path_template: entry.path.to_owned(),
            access: explorer::access_label(entry).to_owned(),
            dry_run,
            request,
            status,
            headers,
            body,
            body_encoding,
            note,
            duration_ms,
        })))
    }
}

fn refusal_label(e: &ExplorerError) -> &'static str {
    match e {
        ExplorerError::NotInContract(_) => "not_in_contract",
        ExplorerError::Multipart(_) => "multipart",
        ExplorerError::Invalid(_) => "invalid",
        ExplorerError::HostRefused(_) => "host_refused",
        ExplorerError::Refused(_) => "refused",
        ExplorerError::Transport(_) => "transport",
        ExplorerError::AnswerTooLarge(_) => "answer_too_large",
        ExplorerError::Internal(_) => "internal",
    }
}

fn to_gateway(e: ExplorerError) -> GatewayError {
    match e {
        ExplorerError::Invalid(v) => GatewayError::Invalid(v),
        ExplorerError::HostRefused(m) => GatewayError::Forbidden(m),
        ExplorerError::Transport(m) => GatewayError::BadGateway(m),
        e @ ExplorerError::AnswerTooLarge(_) => GatewayError::BadGateway(e.to_string()),
        ExplorerError::Internal(m) => GatewayError::Internal(m),
        e @ (ExplorerError::NotInContract(_) | ExplorerError::Multipart(_) | ExplorerError::Refused(_)) => {
            GatewayError::BadRequest(e.to_string())
        }
    }
}

/// A JSON object argument (`pathParams`, `query`), or the violation naming it.
fn object(v: Option<Value>, pointer: &str) -> Result<Map<String, Value>, GatewayError> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(GatewayError::Invalid(vec![Violation { pointer: pointer.into(), message: "must be a JSON object".into() }])),
    }
}

fn host_label(h: HostGroup) -> &'static str {
    match h {
        HostGroup::Core => "core",
        HostGroup::Reports => "reports",
        HostGroup::Pto => "pto",
    }
}

fn parse_schema(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

fn endpoint_view(op: &'static clockify_client::catalog::Operation, declared: &[clockify_client::Scope]) -> EndpointView {
    EndpointView {
        operation_id: op.id.to_owned(),
        method: op.method.to_owned(),
        path: op.path.to_owned(),
        tag: op.tag.to_owned(),
        access: explorer::access_label(op).to_owned(),
        scope: op.scope.map(|s| s.to_string()),
        scope_declared: op.scope.is_none_or(|s| declared.contains(&s)),
        host_group: host_label(op.host).to_owned(),
        deprecated: op.deprecated,
        callable: op.body.is_none_or(|b| b.content_type != "multipart/form-data"),
        parameters: op
            .params
            .iter()
            .map(|p| ParameterView {
                name: p.name.to_owned(),
                location: match p.location {
                    ParamLocation::Path => "path",
                    ParamLocation::Query => "query",
                    ParamLocation::Header => "header",
                }
                .to_owned(),
                required: p.required,
                schema: parse_schema(p.schema),
            })
            .collect(),
        request_body: op.body.map(|b| BodyView {
            content_type: b.content_type.to_owned(),
            required: b.required,
            schema: parse_schema(b.schema),
            template: crate::explorer::validate::body_template(b.schema),
        }),
        response: op.response.map(|r| ResponseView {
            status: r.status,
            content_type: r.content_type.map(str::to_owned),
            schema: r.schema.map(parse_schema),
        }),
    }
}

#[OpenApi(tag = "crate::tags::Tag::Explorer")]
impl ExplorerApi {
    /// Every operation of the contract, grouped by tag: method, path template,
    /// read or write, scope, host group, parameters with their JSON Schemas,
    /// request body and response schemas. `tag` keeps one tag (case-insensitive);
    /// `q` keeps operations whose id, path, tag or method contain it.
    #[oai(path = "/ui/api-explorer/endpoints", method = "get")]
    async fn endpoints(&self, tag: Query<Option<String>>, q: Query<Option<String>>) -> EndpointsResponse {
        let tag = tag.0.map(|t| t.to_lowercase()).filter(|t| !t.is_empty());
        let q = q.0.map(|t| t.to_lowercase()).filter(|t| !t.is_empty());
        let mut groups: Vec<TagGroup> = Vec::new();
        let mut count = 0;
        for op in OPERATIONS {
            if tag.as_deref().is_some_and(|t| op.tag.to_lowercase() != t) {
                continue;
            }
            if let Some(q) = &q {
                let hay = format!("{} {} {} {}", op.id, op.path, op.tag, op.method).to_lowercase();
                if !hay.contains(q.as_str()) {
                    continue;
                }
            }
            count += 1;
            let view = endpoint_view(op, self.declared_scopes);
            match groups.iter_mut().find(|g| g.tag == op.tag) {
                Some(g) => g.operations.push(view),
                None => groups.push(TagGroup { tag: op.tag.to_owned(), operations: vec![view] }),
            }
        }
        EndpointsResponse::Ok(Json(Endpoints { tags: groups, count }))
    }

    /// Calls one operation by operationId with the caller's user token
    /// (`X-Addon-Token`), after validating path, query and body against the
    /// contract. `dryRun` shows the exact request and sends nothing.
    #[oai(path = "/ui/api-explorer/execute", method = "post")]
    async fn execute(&self, auth: UserToken, body: Json<ExecuteRequest>) -> Result<ExecuteResponse, ApiError> {
        let (caller, user) = self.caller(&auth).await?;
        let r = body.0;
        let operation = explorer::by_id(&r.operation_id).map_err(to_gateway)?;
        let input = Input { path: object(r.path_params, "/pathParams")?, query: object(r.query, "/query")?, body: r.body };
        self.run_recorded(&caller, &user, Call { operation, input, dry_run: r.dry_run }).await
    }

    /// Calls the operation whose method and path template match `method` and
    /// `path` (anything else is a 400 naming what did not match), like
    /// `/ui/api-explorer/execute`.
    #[oai(path = "/api-call", method = "post")]
    async fn api_call(&self, auth: UserToken, body: Json<ApiCallRequest>) -> Result<ExecuteResponse, ApiError> {
        let (caller, user) = self.caller(&auth).await?;
        let r = body.0;
        let (operation, path): (Operation, Map<String, Value>) = explorer::by_method_and_path(&r.method, &r.path).map_err(to_gateway)?;
        let input = Input { path, query: object(r.query, "/query")?, body: r.body };
        self.run_recorded(&caller, &user, Call { operation, input, dry_run: r.dry_run }).await
    }

    /// The caller's recent explorer calls, newest first: operation,
    /// parameters (secret-looking members redacted), status, duration.
    #[oai(path = "/ui/api-explorer/history", method = "get")]
    async fn history(
        &self,
        auth: UserToken,
        /// Entries, 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
    ) -> Result<HistoryResponse, ApiError> {
        let (caller, user) = self.caller(&auth).await?;
        let rows = self
            .history
            .list(&caller.workspace_id, &user, i64::from(limit.0.unwrap_or(50)))
            .await
            .map_err(GatewayError::from)?;
        Ok(HistoryResponse::Ok(Json(History { items: rows.into_iter().map(history_view).collect() })))
    }

    /// Runs one of the caller's earlier calls again, with its kept
    /// parameters. A write is sent only with `confirm: true`; `dryRun` shows
    /// the request without sending.
    #[oai(path = "/ui/api-explorer/history/:id/replay", method = "post")]
    async fn replay(&self, auth: UserToken, id: Path<String>, body: Json<ReplayCall>) -> Result<ExecuteResponse, ApiError> {
        let (caller, user) = self.caller(&auth).await?;
        let opts = body.0;
        let entry = self
            .history
            .get(&caller.workspace_id, &user, &id.0)
            .await
            .map_err(GatewayError::from)?
            .ok_or_else(|| GatewayError::NotFound(format!("no explorer call {} in your history", id.0)))?;
        let operation = explorer::by_id(&entry.operation).map_err(to_gateway)?;
        let catalog = explorer::catalog_entry(operation);
        if catalog.access == Access::Write && !opts.dry_run && !opts.confirm {
            return Err(GatewayError::Invalid(vec![Violation {
                pointer: "/confirm".into(),
                message: format!("{} is a write; it is replayed only with \"confirm\": true", catalog.id),
            }])
            .into());
        }
        let parse = |s: &str| {
            serde_json::from_str::<Value>(s).map_err(|e| GatewayError::Internal(format!("stored explorer call {}: {e}", entry.id)))
        };
        let input = Input {
            path: object(Some(parse(&entry.path_params)?), "/pathParams")?,
            query: object(Some(parse(&entry.query)?), "/query")?,
            body: entry.body.as_deref().map(parse).transpose()?,
        };
        tracing::info!(target: "audit", event = "explorer_replay", workspace = %caller.workspace_id, operation = catalog.id, dry_run = opts.dry_run, "explorer call replayed");
        self.run_recorded(&caller, &user, Call { operation, input, dry_run: opts.dry_run }).await
    }

    /// The explorer's web page (reads `auth_token` from its URL, as Clockify's iframe passes it).
    #[oai(path = "/ui/api-explorer", method = "get")]
    async fn page(&self) -> PageResponse {
        PageResponse::Html(Html(PAGE_HTML))
    }

    /// The page's script.
    #[oai(path = "/ui/api-explorer/app.js", method = "get")]
    async fn script(&self) -> ScriptResponse {
        ScriptResponse::Js(PlainText(PAGE_JS))
    }

    /// The page's styles.
    #[oai(path = "/ui/api-explorer/app.css", method = "get")]
    async fn styles(&self) -> StyleResponse {
        StyleResponse::Css(PlainText(PAGE_CSS))
    }
}
