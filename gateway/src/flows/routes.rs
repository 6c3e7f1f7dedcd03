//! The flows' admin routes, for a workspace's owner and admins: create,
//! read, update, enable, disable and delete flows; list executions; run a
//! flow against a stored delivery as a dry run (nothing sent) or force the
//! delivery's flows to run again; and the page that does all of that.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Html, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::model::{FlowDefinition, StepRecord, Trigger};
use super::run::{self, Delivery, Execution, FlowRunner, Mode, flow_from_row};
use crate::addon::AddonManifest;
use crate::auth::gate::AdminGate;
use crate::auth::schemes::UserToken;
use crate::error::{ApiError, GatewayError};
use crate::explorer::routes::{PageResponse, ScriptResponse};
use crate::store::{ExecutionRow, FlowRow};

/// A saved flow.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct FlowView {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// Grows with every update; each execution records the version it ran.
    pub version: i64,
    pub trigger: Trigger,
    pub steps: Vec<super::model::Step>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct FlowList {
    pub items: Vec<FlowView>,
}

/// One run of a flow on a delivery.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ExecutionView {
    pub id: String,
    pub flow_id: String,
    pub flow_version: i64,
    pub flow_name: String,
    pub delivery_id: String,
    pub event: String,
    /// Run by an operator rather than by the inbox.
    pub forced: bool,
    /// `running`, `completed`, `failed` or `filtered` (the trigger's conditions did not hold;
    /// recorded only in forced runs, the inbox counts them in the metrics).
    pub outcome: String,
    /// Each step: its resolved request (secrets redacted), answer status, outcome.
    pub steps: Vec<StepRecord>,
    pub error: Option<String>,
    /// Unix milliseconds.
    pub started_at: i64,
    pub duration_us: i64,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct ExecutionPage {
    pub items: Vec<ExecutionView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next: Option<String>,
}

/// Which stored delivery to try a flow on.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct DryRunRequest {
    pub delivery_id: String,
}

/// A forced run: one flow (even disabled), or every enabled flow the delivery's event triggers.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct ForcedRunRequest {
    pub flow_id: Option<String>,
}

#[derive(Object, Debug, Clone, PartialEq)]
pub struct RunResult {
    pub executions: Vec<ExecutionView>,
}

#[derive(ApiResponse, Debug)]
pub enum FlowResponse {
    #[oai(status = 200)]
    Ok(Json<FlowView>),
}

#[derive(ApiResponse, Debug)]
pub enum CreatedResponse {
    #[oai(status = 201)]
    Created(Json<FlowView>),
}

#[derive(ApiResponse, Debug)]
pub enum FlowListResponse {
    #[oai(status = 200)]
    Ok(Json<FlowList>),
}

#[derive(ApiResponse, Debug)]
pub enum DeletedResponse {
    /// Deleted; its executions stay until retention.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse, Debug)]
pub enum ExecutionsResponse {
    #[oai(status = 200)]
    Ok(Json<ExecutionPage>),
}

#[derive(ApiResponse, Debug)]
pub enum DryRunResponse {
    /// The run as it would go: each step's resolved request, nothing sent.
    #[oai(status = 200)]
    Ok(Json<ExecutionView>),
}

#[derive(ApiResponse, Debug)]
pub enum RunResponse {
    #[oai(status = 200)]
    Ok(Json<RunResult>),
}

fn view(row: FlowRow) -> Result<FlowView, GatewayError> {
    let flow = flow_from_row(row).ok_or_else(|| GatewayError::Internal("a stored flow does not read".into()))?;
    Ok(FlowView {
        id: flow.id,
        name: flow.name,
        enabled: flow.enabled,
        version: flow.version,
        trigger: flow.definition.trigger,
        steps: flow.definition.steps,
        created_at: flow.created_at,
        updated_at: flow.updated_at,
    })
}

fn execution_view(e: Execution) -> ExecutionView {
    ExecutionView {
        id: e.id,
        flow_id: e.flow_id,
        flow_version: e.flow_version,
        flow_name: e.flow_name,
        delivery_id: e.delivery_id,
        event: e.event,
        forced: e.forced,
        outcome: e.outcome.as_str().to_owned(),
        steps: e.steps,
        error: e.error,
        started_at: e.started_at,
        duration_us: e.duration_us,
    }
}

fn execution_row_view(r: ExecutionRow) -> ExecutionView {
    ExecutionView {
        forced: r.run_key.starts_with("forced:"),
        steps: serde_json::from_str(&r.steps).unwrap_or_default(),
        id: r.id,
        flow_id: r.flow_id,
        flow_version: r.flow_version,
        flow_name: r.flow_name,
        delivery_id: r.delivery_id,
        event: r.event,
        outcome: r.outcome,
        error: r.error,
        started_at: r.started_at,
        duration_us: r.duration_us,
    }
}

fn not_found(ws: &str, id: &str) -> GatewayError {
    GatewayError::NotFound(format!("workspace {ws} has no flow {id}"))
}

pub struct FlowsApi {
    pub gate: AdminGate,
    /// Runs them (dry runs, forced runs); its store and cache are the
    /// routes' too.
    pub runner: FlowRunner,
    /// What a flow is checked against (declared scopes).
    pub addon: &'static AddonManifest,
}

impl FlowsApi {
    async fn authorize(&self, token: &UserToken, workspace_id: &str) -> Result<(), GatewayError> {
        self.gate.authorize(token, workspace_id, "flows").await
    }

    /// Checks a definition; every problem with its pointer (422).
    fn check(&self, flow: &FlowDefinition) -> Result<String, GatewayError> {
        let problems = super::validate::check(flow, self.addon);
        if !problems.is_empty() {
            return Err(GatewayError::Invalid(problems));
        }
        let definition = super::model::Definition { trigger: flow.trigger.clone(), steps: flow.steps.clone() };
        serde_json::to_string(&definition).map_err(|e| GatewayError::Internal(e.to_string()))
    }

    async fn delivery(&self, ws: &str, id: &str) -> Result<Delivery, GatewayError> {
        let d = self
            .runner
            .flows
            .delivery(ws, id)
            .await?
            .ok_or_else(|| GatewayError::NotFound(format!("workspace {ws} has no stored delivery {id}")))?;
        Ok(Delivery { id: d.id, workspace_id: d.workspace_id, event: d.event, body: serde_json::from_str(&d.body).unwrap_or_default() })
    }
}

fn parse_cursor(cursor: &str) -> Result<(i64, &str), GatewayError> {
    cursor
        .split_once(':')
        .and_then(|(at, id)| Some((at.parse().ok()?, id)))
        .ok_or_else(|| GatewayError::BadRequest(format!("before: `{cursor}` is not a cursor this endpoint returned")))
}

const PAGE_HTML: &str = include_str!("ui/index.html");
const PAGE_JS: &str = include_str!("ui/app.js");

#[OpenApi(tag = "crate::tags::Tag::Flows")]
impl FlowsApi {
    /// The flows page for a workspace's admins (reads `auth_token` from its
    /// URL, as Clockify's iframe passes it; styles of `/ui/admin`).
    #[oai(path = "/ui/flows", method = "get")]
    async fn page(&self) -> PageResponse {
        PageResponse::Html(Html(PAGE_HTML))
    }

    /// The flows page's script.
    #[oai(path = "/ui/flows/app.js", method = "get")]
    async fn script(&self) -> ScriptResponse {
        ScriptResponse::Js(PlainText(PAGE_JS))
    }

    /// The workspace's flows, oldest first.
    #[oai(path = "/admin/flows/:workspace_id", method = "get")]
    async fn list(&self, auth: UserToken, workspace_id: Path<String>) -> Result<FlowListResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws).await?;
        let rows = self.runner.flows.list(&ws, false).await.map_err(GatewayError::from)?;
        let items = rows.into_iter().map(view).collect::<Result<_, _>>()?;
        Ok(FlowListResponse::Ok(Json(FlowList { items })))
    }

    /// Saves a new flow after checking it: unknown operations, undeclared
    /// scopes, templates that refer to nothing and values that do not fit
    /// the operation's schemas are refused (422) with every problem and its
    /// JSON pointer into the flow.
    #[oai(path = "/admin/flows/:workspace_id", method = "post")]
    async fn create(&self, auth: UserToken, workspace_id: Path<String>, body: Json<FlowDefinition>) -> Result<CreatedResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws).await?;
        let definition = self.check(&body.0)?;
        let row = self.runner.flows.create(&ws, body.0.name.trim(), body.0.enabled, &definition).await.map_err(GatewayError::from)?;
        self.runner.cache.invalidate(&ws);
        tracing::info!(target: "audit", event = "flow_created", workspace_id = %ws, flow = %row.id, "flow saved");
        Ok(CreatedResponse::Created(Json(view(row)?)))
    }

    /// Replaces a flow, checked as when it was created; its version grows by one.
    #[oai(path = "/admin/flows/:workspace_id/:flow_id", method = "put")]
    async fn update(
        &self,
        auth: UserToken,
        workspace_id: Path<String>,
        flow_id: Path<String>,
        body: Json<FlowDefinition>,
    ) -> Result<FlowResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws).await?;
        let definition = self.check(&body.0)?;
        let row = self
            .runner
            .flows
            .update(&ws, &flow_id.0, body.0.name.trim(), body.0.enabled, &definition)
            .await
            .map_err(GatewayError::from)?
            .ok_or_else(|| not_found(&ws, &flow_id.0))?;
        self.runner.cache.invalidate(&ws);
        tracing::info!(target: "audit", event = "flow_updated", workspace_id = %ws, flow = %row.id, version = row.version, "flow saved");
        Ok(FlowResponse::Ok(Json(view(row)?)))
    }

    /// Deletes a flow; its executions stay until retention.
    #[oai(path = "/admin/flows/:workspace_id/:flow_id", method = "delete")]
    async fn delete(&self, auth: UserToken, workspace_id: Path<String>, flow_id: Path<String>) -> Result<DeletedResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws).await?;
        if !self.runner.flows.delete(&ws, &flow_id.0).await.map_err(GatewayError::from)? {
            return Err(not_found(&ws, &flow_id.0).into());
        }
        self.runner.cache.invalidate(&ws);
        tracing::info!(target: "audit", event = "flow_deleted", workspace_id = %ws, flow = %flow_id.0, "flow deleted");
        Ok(DeletedResponse::Deleted)
    }

    /// Enables a flow: deliveries from now on run it.
    #[oai(path = "/admin/flows/:workspace_id/:flow_id/enable", method = "post")]
    async fn enable(&self, auth: UserToken, workspace_id: Path<String>, flow_id: Path<String>) -> Result<FlowResponse, ApiError> {
        self.set_enabled(auth, workspace_id.0, flow_id.0, true).await
    }

    /// Disables a flow: deliveries no longer run it.
    #[oai(path = "/admin/flows/:workspace_id/:flow_id/disable", method = "post")]
    async fn disable(&self, auth: UserToken, workspace_id: Path<String>, flow_id: Path<String>) -> Result<FlowResponse, ApiError> {
        self.set_enabled(auth, workspace_id.0, flow_id.0, false).await
    }

    /// The workspace's flow executions, newest first, optionally of one flow or delivery.
    #[oai(path = "/admin/flows/:workspace_id/executions", method = "get")]
    async fn executions(
        &self,
        auth: UserToken,
        workspace_id: Path<String>,
        #[oai(name = "flowId")] flow_id: Query<Option<String>>,
        #[oai(name = "deliveryId")] delivery_id: Query<Option<String>>,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// Entries per page, 1 to 500 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u32>>,
    ) -> Result<ExecutionsResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws).await?;
        let cursor = before.0.as_deref().map(parse_cursor).transpose()?;
        let limit = i64::from(limit.0.unwrap_or(50));
        let mut rows = self
            .runner
            .flows
            .executions(&ws, flow_id.0.as_deref(), delivery_id.0.as_deref(), cursor, limit + 1)
            .await
            .map_err(GatewayError::from)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(|r| format!("{}:{}", r.started_at, r.id)) } else { None };
        Ok(ExecutionsResponse::Ok(Json(ExecutionPage { items: rows.into_iter().map(execution_row_view).collect(), next })))
    }

    /// Runs a flow (enabled or not) against a stored delivery as a dry run:
    /// every step's request resolved and validated, nothing sent, nothing
    /// recorded. Answers of earlier steps are unknown, so references to
    /// them show as `<unresolved: ...>`.
    #[oai(path = "/admin/flows/:workspace_id/:flow_id/dry-run", method = "post")]
    async fn dry_run(
        &self,
        auth: UserToken,
        workspace_id: Path<String>,
        flow_id: Path<String>,
        body: Json<DryRunRequest>,
    ) -> Result<DryRunResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws).await?;
        let row = self.runner.flows.get(&ws, &flow_id.0).await.map_err(GatewayError::from)?.ok_or_else(|| not_found(&ws, &flow_id.0))?;
        let flow = flow_from_row(row).ok_or_else(|| GatewayError::Internal("a stored flow does not read".into()))?;
        let delivery = self.delivery(&ws, &body.0.delivery_id).await?;
        let mut runs = run::run_flows(&self.runner, &delivery, vec![flow], Mode::DryRun).await.map_err(GatewayError::from)?;
        let execution = runs.pop().ok_or_else(|| GatewayError::Internal("a dry run gave no execution".into()))?;
        Ok(DryRunResponse::Ok(Json(execution_view(execution))))
    }

    /// Runs a stored delivery's flows again, whatever ran before: the named
    /// flow (even disabled), or every enabled flow its event triggers. Each
    /// run is recorded as forced.
    #[oai(path = "/admin/flows/:workspace_id/deliveries/:delivery_id/run", method = "post")]
    async fn run(
        &self,
        auth: UserToken,
        workspace_id: Path<String>,
        delivery_id: Path<String>,
        body: Json<ForcedRunRequest>,
    ) -> Result<RunResponse, ApiError> {
        let ws = workspace_id.0;
        self.authorize(&auth, &ws).await?;
        let delivery = self.delivery(&ws, &delivery_id.0).await?;
        let flows = match &body.0.flow_id {
            Some(id) => {
                let row = self.runner.flows.get(&ws, id).await.map_err(GatewayError::from)?.ok_or_else(|| not_found(&ws, id))?;
                flow_from_row(row).into_iter().collect()
            }
            None => self
                .runner
                .flows
                .list(&ws, true)
                .await
                .map_err(GatewayError::from)?
                .into_iter()
                .filter_map(flow_from_row)
                .filter(|f| f.definition.trigger.events.contains(&delivery.event))
                .collect(),
        };
        let runs = run::run_flows(&self.runner, &delivery, flows, Mode::Forced).await.map_err(GatewayError::from)?;
        tracing::info!(target: "audit", event = "flows_forced", workspace_id = %ws, delivery = %delivery.id, runs = runs.len(), "forced flow run");
        Ok(RunResponse::Ok(Json(RunResult { executions: runs.into_iter().map(execution_view).collect() })))
    }
}

impl FlowsApi {
    async fn set_enabled(&self, auth: UserToken, ws: String, id: String, enabled: bool) -> Result<FlowResponse, ApiError> {
        self.authorize(&auth, &ws).await?;
        let row = self.runner.flows.set_enabled(&ws, &id, enabled).await.map_err(GatewayError::from)?.ok_or_else(|| not_found(&ws, &id))?;
        self.runner.cache.invalidate(&ws);
        tracing::info!(target: "audit", event = if enabled { "flow_enabled" } else { "flow_disabled" }, workspace_id = %ws, flow = %id, "flow state changed");
        Ok(FlowResponse::Ok(Json(view(row)?)))
    }
}
