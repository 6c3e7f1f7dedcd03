//! Running flows on a stored delivery: from the inbox (once per delivery
//! and flow: an execution row is written before the first step, keyed by
//! flow, delivery and `auto`, so a delivery handled again finds it and the
//! flow does not run twice), forced by an operator (a new key each time),
//! or as a dry run (every request resolved and validated, none sent,
//! nothing recorded).
//!
//! A step: its `if` (skipped when false), its templates resolved against
//! `{payload, steps, settings, workspace}`, the request validated against
//! the operation's schemas with the flow's workspace as `workspaceId`, then
//! sent through the generated dispatch by the installation's client (its
//! token, the workspace's 50 rps budget, the declared scopes) with the
//! explorer's guard. Reads are retried as the client retries them; writes
//! are sent once. A step that fails stops the flow.

use std::sync::Arc;
use std::time::Instant;

use clockify_client::RetryPolicy;
use clockify_client::catalog::Access;
use clockify_client::exchange::{CapturedRequest, Exchange, ExchangeMode};
use clockify_explorer_dispatch::{self as dispatch, DispatchError, Sent};
use serde_json::{Map, Value, json};

use super::cache::FlowCache;
use super::conditions;
use super::model::{Definition, Flow, Outcome, Step, StepRecord, StepRequest};
use super::templates::{self, Missing};
use crate::config::HostPort;
use crate::error::GatewayError;
use crate::explorer::{self, validate::Input};
use crate::installations::client::InstallationClients;
use crate::metrics::Metrics;
use crate::redact::{redact_secrets, redact_url};
use crate::store::{ExecutionRow, FlowRow, FlowStore, InstallationStore, StoreError, now_ms};

/// What running flows reads: the inbox workers and the flows' routes each
/// hold one.
#[derive(Clone, Debug)]
pub struct FlowRunner {
    pub flows: FlowStore,
    /// Each workspace's enabled flows, as the inbox last read them.
    pub cache: Arc<FlowCache>,
    /// Whose settings a flow's conditions and templates read.
    pub installations: InstallationStore,
    /// Calls Clockify for the installation.
    pub clients: InstallationClients,
    pub metrics: Arc<Metrics>,
    /// ALLOWED_API_HOSTS: where a step's request may go.
    pub allowed_api_hosts: Arc<[HostPort]>,
}

/// A delivery as flows see it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub workspace_id: String,
    pub event: String,
    pub body: Value,
}

/// How flows are run on a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// From the inbox: once per delivery and flow.
    Auto,
    /// By an operator: again, whatever ran before.
    Forced,
    /// Resolved and validated, nothing sent or recorded.
    DryRun,
}

/// One run of one flow.
#[derive(Debug, Clone)]
pub struct Execution {
    pub id: String,
    pub flow_id: String,
    pub flow_version: i64,
    pub flow_name: String,
    pub delivery_id: String,
    pub event: String,
    pub forced: bool,
    pub outcome: Outcome,
    pub steps: Vec<StepRecord>,
    pub error: Option<String>,
    pub started_at: i64,
    pub duration_us: i64,
}

/// A stored flow as it runs; `None` (logged) when its definition no longer reads.
pub fn flow_from_row(row: FlowRow) -> Option<Flow> {
    match serde_json::from_str::<Definition>(&row.definition) {
        Ok(definition) => Some(Flow {
            id: row.id,
            workspace_id: row.workspace_id,
            name: row.name,
            enabled: row.enabled != 0,
            version: row.version,
            definition,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }),
        Err(e) => {
            tracing::error!(flow = %row.id, error = %e, "a stored flow does not read; it is not run");
            None
        }
    }
}

/// The inbox's call: runs every enabled flow of the delivery's workspace
/// whose trigger names its event, each once per delivery. Only a store
/// failure is an error (the delivery is then handled again later; flows
/// that already ran for it do not run again).
pub async fn on_delivery(runner: &FlowRunner, delivery: &crate::store::ClaimedDelivery) -> Result<(), StoreError> {
    let enabled = match runner.cache.get(&delivery.workspace_id) {
        Some(flows) => flows,
        None => {
            // Once more at once on failure: a pooled connection the server
            // ended fails once and is dropped (the retry takes a fresh one),
            // which should not send the delivery into backoff.
            let rows = match runner.flows.list(&delivery.workspace_id, true).await {
                Ok(rows) => rows,
                Err(_) => runner.flows.list(&delivery.workspace_id, true).await?,
            };
            let flows = std::sync::Arc::new(rows.into_iter().filter_map(flow_from_row).collect::<Vec<_>>());
            runner.cache.put(&delivery.workspace_id, flows.clone());
            flows
        }
    };
    let flows: Vec<Flow> =
        enabled.iter().filter(|f| f.definition.trigger.events.iter().any(|e| e == &delivery.event)).cloned().collect();
    if flows.is_empty() {
        return Ok(());
    }
    // Parsed only for a workspace with a flow on this event.
    let delivery = Delivery {
        id: delivery.id.clone(),
        workspace_id: delivery.workspace_id.clone(),
        event: delivery.event.clone(),
        body: serde_json::from_str(&delivery.body).unwrap_or_default(),
    };
    run_flows(runner, &delivery, flows, Mode::Auto).await.map(|_| ()).map_err(|e| match e {
        RunError::Store(s) => s,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RunError> for GatewayError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Store(s) => s.into(),
        }
    }
}

/// Runs `flows` (already chosen for the delivery's event) in order. The
/// ones whose trigger does not hold are `filtered`: counted, and recorded
/// only in a forced run.
pub async fn run_flows(runner: &FlowRunner, delivery: &Delivery, flows: Vec<Flow>, mode: Mode) -> Result<Vec<Execution>, RunError> {
    // The settings are read once, and only when a gate or a step may need them.
    let mut settings: Option<Value> = None;
    let key = run_key(mode);
    let mut out = Vec::with_capacity(flows.len());
    let mut filtered = Vec::new();
    for flow in flows {
        let trigger = &flow.definition.trigger;
        if settings.is_none() && trigger.conditions.iter().any(|c| c.pointer.starts_with("/settings")) {
            settings = Some(read_settings(runner, &delivery.workspace_id).await?);
        }
        let mut doc = json!({
            "payload": delivery.body,
            "steps": {},
            "settings": settings.clone().unwrap_or_else(|| json!({})),
            "workspace": { "id": delivery.workspace_id },
        });
        let listens = trigger.events.iter().any(|e| e == &delivery.event);
        if !listens || !conditions::gate(trigger.match_, &trigger.conditions, &doc) {
            let mut e = execution(delivery, &flow, mode);
            e.outcome = Outcome::Filtered;
            if !listens {
                e.error = Some(format!("the flow's trigger does not name {}", delivery.event));
            }
            filtered.push(e);
            continue;
        }
        if settings.is_none() {
            let read = read_settings(runner, &delivery.workspace_id).await?;
            doc["settings"] = read.clone();
            settings = Some(read);
        }
        if let Some(e) = run_one(runner, delivery, &flow, &mut doc, mode, &key).await? {
            out.push(e);
        }
    }
    // A closed gate is counted, not stored (from the inbox, ten flows that do
    // not match would otherwise write ten rows per delivery: a fifth of the
    // inbox's rate on SQLite); a forced run, which an operator asked for,
    // records them all.
    if mode != Mode::DryRun {
        for _ in &filtered {
            runner.metrics.flow("filtered");
        }
    }
    if mode == Mode::Forced && !filtered.is_empty() {
        let rows = filtered.iter().map(|e| row_of(e, &delivery.workspace_id, &key)).collect::<Result<Vec<_>, _>>()?;
        runner.flows.record_executions(&rows).await?;
    }
    out.extend(filtered);
    Ok(out)
}

/// The installation's settings as `{id: value}`.
async fn read_settings(runner: &FlowRunner, workspace_id: &str) -> Result<Value, StoreError> {
    Ok(Value::Object(match runner.installations.get(workspace_id).await? {
        Some(i) => i.settings.as_ref().map(crate::context::settings_values).unwrap_or_default(),
        None => Map::new(),
    }))
}

fn run_key(mode: Mode) -> String {
    match mode {
        Mode::Auto => "auto".into(),
        Mode::Forced => format!("forced:{}", uuid::Uuid::new_v4()),
        Mode::DryRun => "dry-run".into(),
    }
}

fn execution(delivery: &Delivery, flow: &Flow, mode: Mode) -> Execution {
    Execution {
        id: uuid::Uuid::now_v7().to_string(),
        flow_id: flow.id.clone(),
        flow_version: flow.version,
        flow_name: flow.name.clone(),
        delivery_id: delivery.id.clone(),
        event: delivery.event.clone(),
        forced: mode == Mode::Forced,
        outcome: Outcome::Running,
        steps: Vec::new(),
        error: None,
        started_at: now_ms(),
        duration_us: 0,
    }
}

fn row_of(e: &Execution, workspace_id: &str, run_key: &str) -> Result<ExecutionRow, StoreError> {
    Ok(ExecutionRow {
        id: e.id.clone(),
        workspace_id: workspace_id.to_owned(),
        flow_id: e.flow_id.clone(),
        flow_version: e.flow_version,
        flow_name: e.flow_name.clone(),
        delivery_id: e.delivery_id.clone(),
        event: e.event.clone(),
        run_key: run_key.to_owned(),
        outcome: e.outcome.as_str().to_owned(),
        steps: serde_json::to_string(&e.steps).map_err(|err| StoreError::Corrupt(err.to_string()))?,
        error: e.error.clone(),
        started_at: e.started_at,
        duration_us: e.duration_us,
    })
}

/// One flow whose trigger holds on one delivery; `None` when it already
/// ran for it (Auto).
async fn run_one(
    runner: &FlowRunner,
    delivery: &Delivery,
    flow: &Flow,
    doc: &mut Value,
    mode: Mode,
    key: &str,
) -> Result<Option<Execution>, RunError> {
    let started = Instant::now();
    let mut execution = execution(delivery, flow, mode);
    if mode != Mode::DryRun {
        // Written before the first step: a delivery handled again (retry,
        // replay, another instance after a crash) finds it and does not run
        // the flow again.
        if !runner.flows.start_execution(&row_of(&execution, &delivery.workspace_id, key)?).await? {
            return Ok(None);
        }
        runner.metrics.flow("executed");
    }
    execution.outcome = Outcome::Completed;
    for step in &flow.definition.steps {
        let record = run_step(runner, &delivery.workspace_id, step, doc, mode).await;
        let failed = record.outcome == "failed";
        if mode != Mode::DryRun {
            runner.metrics.flow_step(match record.outcome.as_str() {
                "skipped" => "skipped",
                _ => "executed",
            });
            if failed {
                runner.metrics.flow_step("failed");
            }
        }
        if failed {
            execution.error = Some(format!("step `{}`: {}", step.id, record.error.clone().unwrap_or_default()));
            execution.outcome = Outcome::Failed;
        }
        execution.steps.push(record);
        if failed {
            break;
        }
    }
    execution.duration_us = started.elapsed().as_micros() as i64;
    if mode != Mode::DryRun {
        let steps = serde_json::to_string(&execution.steps).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        runner
            .flows
            .finish_execution(&execution.id, execution.outcome.as_str(), &steps, execution.error.as_deref(), execution.duration_us)
            .await?;
        runner.metrics.flow(execution.outcome.as_str());
        tracing::info!(flow = %flow.id, delivery = %delivery.id, outcome = execution.outcome.as_str(), forced = execution.forced, "flow ran");
    }
    Ok(Some(execution))
}

fn record(step: &Step, outcome: &str, started: Instant) -> StepRecord {
    StepRecord {
        id: step.id.clone(),
        operation_id: step.operation_id.clone(),
        outcome: outcome.to_owned(),
        request: None,
        status: None,
        error: None,
        duration_us: started.elapsed().as_micros() as i64,
    }
}

fn failed(mut r: StepRecord, error: impl Into<String>) -> StepRecord {
    r.outcome = "failed".into();
    r.error = Some(error.into());
    r
}

fn request_view(r: CapturedRequest) -> StepRequest {
    let body = r.body.map(|b| match serde_json::from_slice::<Value>(&b) {
        Ok(v) => redact_secrets(v),
        Err(_) => Value::String(String::from_utf8_lossy(&b).into_owned()),
    });
    StepRequest { method: r.method, url: redact_url(&r.url), body }
}

/// Resolves a step's inputs; the error names the pointer and why.
fn resolve(step: &Step, doc: &Value, missing: Missing) -> Result<Input, String> {
    let render = |v: &Value, at: &str| templates::render(v, doc, missing, at).map_err(|(p, m)| format!("{p}: {m}"));
    let mut input = Input::default();
    for (name, v) in &step.path {
        input.path.insert(name.clone(), render(v, &format!("/path/{}", templates::escape(name)))?);
    }
    for (name, v) in &step.query {
        input.query.insert(name.clone(), render(v, &format!("/query/{}", templates::escape(name)))?);
    }
    input.body = step.body.as_ref().map(|b| render(b, "/body")).transpose()?;
    Ok(input)
}

async fn run_step(runner: &FlowRunner, workspace_id: &str, step: &Step, doc: &mut Value, mode: Mode) -> StepRecord {
    let started = Instant::now();
    if let Some(c) = &step.condition
        && !conditions::holds(c, doc)
    {
        return record(step, "skipped", started);
    }
    let dry = mode == Mode::DryRun;
    let base = record(step, if dry { "resolved" } else { "completed" }, started);
    let op = match explorer::by_id(&step.operation_id) {
        Ok(op) => op,
        Err(e) => return failed(base, e.to_string()),
    };
    let entry = explorer::catalog_entry(op);
    let input = match resolve(step, doc, if dry { Missing::PlaceholderForSteps } else { Missing::Fail }) {
        Ok(i) => i,
        Err(e) => return failed(base, e),
    };
    if input.path.contains_key("workspaceId") {
        return failed(base, "workspaceId is always the flow's own workspace");
    }
    let args = match explorer::validate::validate(op.catalog_index(), input, workspace_id) {
        Ok(a) => a,
        Err(explorer::Invalid::Violations(v)) => {
            let list: Vec<String> = v.iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect();
            return failed(base, format!("the resolved request does not fit the contract: {}", list.join("; ")));
        }
        Err(explorer::Invalid::Internal(m)) => return failed(base, m),
    };
    let builder = match runner.clients.builder(workspace_id).await {
        Ok(b) => b,
        Err(e) => return failed(base, format!("no client for the installation: {e}")),
    };
    let exchange = Arc::new(
        Exchange::new(if dry { ExchangeMode::DryRun } else { ExchangeMode::Send })
            .with_guard(explorer::guard(runner.allowed_api_hosts.clone(), entry.path))
            .with_response_limit(explorer::MAX_ANSWER_BYTES),
    );
    // Reads as the client retries them (429, 5xx, transport); a write is sent once.
    let retry = match entry.access {
        Access::Read => RetryPolicy::default(),
        Access::Write => RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
    };
    let client = match builder.exchange(exchange.clone()).retry(retry).http_client(explorer::shared_http()).build() {
        Ok(c) => c,
        Err(e) => return failed(base, e.to_string()),
    };
    let sent = dispatch::dispatch(&client, op, &args).await;
    let mut rec = base;
    rec.request = exchange.request().map(request_view);
    rec.duration_us = started.elapsed().as_micros() as i64;
    let sent = match sent {
        Ok(s) => s,
        Err(DispatchError::Argument { pointer, message }) => return failed(rec, format!("{pointer}: {message}")),
        Err(DispatchError::Multipart(m)) => return failed(rec, format!("{m:?} takes a multipart body")),
    };
    match sent {
        Sent::Refused(m) => return failed(rec, format!("refused before sending: {m}")),
        Sent::Transport(m) if !dry => return failed(rec, format!("Clockify could not be reached: {m}")),
        _ => {}
    }
    if dry {
        return rec;
    }
    let Some(answer) = exchange.response() else { return failed(rec, "Clockify gave no answer") };
    rec.status = Some(answer.status);
    if answer.cut_off {
        return failed(rec, "the answer was over 10 MB and was cut off");
    }
    let body = if answer.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(&answer.body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()))
    };
    if answer.status >= 400 {
        let message = body.get("message").and_then(Value::as_str).map(|m| format!(": {m}")).unwrap_or_default();
        return failed(rec, format!("Clockify answered {}{message}", answer.status));
    }
    if let Some(steps) = doc.get_mut("steps").and_then(Value::as_object_mut) {
        steps.insert(step.id.clone(), json!({ "status": answer.status, "body": body }));
    }
    rec
}
