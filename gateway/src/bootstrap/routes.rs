//! Bootstrap control and the entity snapshot, for a workspace's admins.

use std::collections::BTreeMap;
use std::sync::Arc;

use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, payload::Json};
use serde_json::Value;

use super::BootstrapSettings;
use crate::auth::gate::AdminGate;
use crate::auth::schemes::UserToken;
use crate::background::WakeSignal;
use crate::bootstrap::{SkipReason, plan};
use crate::error::{ApiError, GatewayError};
use crate::store::{BootstrapStore, RunMode};

/// Snapshot rows per page when the caller does not say.
const DEFAULT_ENTITY_PAGE: u32 = 100;
const MAX_ENTITY_PAGE: u32 = 1000;
/// Failed work items listed in the status, at most.
const FAILED_ITEMS_SHOWN: usize = 20;

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[oai(rename_all = "lowercase")]
pub enum BootstrapMode {
    /// Continue where the last run stopped (failed lists are tried again);
    /// after a finished run, read everything again.
    #[default]
    Resume,
    /// Forget the progress and read everything again.
    Restart,
}

/// Progress of one list operation over all its work items (one per parent
/// row for fanned-out lists).
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct OperationProgress {
    pub operation: String,
    pub entity_type: String,
    pub items: i64,
    pub pending: i64,
    pub done: i64,
    /// Stopped at `BOOTSTRAP_MAX_PAGES` with more pages left.
    pub truncated: i64,
    pub failed: i64,
    pub pages: i64,
    pub rows: i64,
    pub last_error: Option<String>,
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct FailedItem {
    pub item: String,
    pub error: Option<String>,
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct SkippedOperation {
    pub operation: String,
    pub reason: String,
}

#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(rename_all = "camelCase")]
pub struct EntityCount {
    pub entity_type: String,
    pub count: i64,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct BootstrapStatus {
    pub workspace_id: String,
    /// `never`, `queued`, `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// Unix milliseconds.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Calls made to Clockify by this run, and how many were answered 429.
    pub requests: i64,
    pub throttled: i64,
    pub last_error: Option<String>,
    pub operations: Vec<OperationProgress>,
    pub failed_items: Vec<FailedItem>,
    /// Operations the plan does not read, with the reason.
    pub skipped: Vec<SkippedOperation>,
    pub entities: Vec<EntityCount>,
    /// What this deployment chose a bootstrap reads, and at what pace.
    pub choices: BootstrapChoices,
}

/// BOOTSTRAP_BUDGET_SHARE, BOOTSTRAP_INCLUDE, BOOTSTRAP_EXCLUDE and
/// BOOTSTRAP_TIME_ENTRIES_SINCE as in force.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
pub struct BootstrapChoices {
    /// Share of the workspace's 50 requests per second a bootstrap uses.
    pub budget_share: f64,
    /// Entity types read (empty: all the declared scopes allow).
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// `start` of the time-entry lists, when the history is bounded.
    pub time_entries_since: Option<String>,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct SnapshotEntity {
    pub id: String,
    /// Unix milliseconds.
    pub fetched_at: i64,
    pub body: Value,
}

#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct EntityPage {
    pub items: Vec<SnapshotEntity>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(ApiResponse, Debug)]
pub enum StatusResponse {
    #[oai(status = 200)]
    Ok(Json<BootstrapStatus>),
}

#[derive(ApiResponse, Debug)]
pub enum QueuedResponse {
    /// The run is queued (or keeps running, on resume).
    #[oai(status = 202)]
    Accepted(Json<BootstrapStatus>),
}

#[derive(ApiResponse, Debug)]
pub enum EntitiesResponse {
    #[oai(status = 200)]
    Ok(Json<EntityPage>),
}

fn skip_reason(r: &SkipReason) -> String {
    match r {
        SkipReason::ScopeNotDeclared(s) => format!("needs scope {s}, which the manifest does not declare"),
        SkipReason::NeedsQuery(q) => format!("needs query parameters no list provides: {}", q.join(", ")),
        SkipReason::NoListProvides(p) => format!("needs path parameter {p}, which no planned list provides"),
        SkipReason::Deprecated => "deprecated; its replacement is read".to_owned(),
        SkipReason::NotIncluded(t) => format!("its entity type {t} is not in BOOTSTRAP_INCLUDE"),
        SkipReason::Excluded(t) => format!("its entity type {t} is in BOOTSTRAP_EXCLUDE"),
        SkipReason::ParentNotRead(op) => format!("its parents come from {op}, which this bootstrap does not read"),
    }
}

pub struct BootstrapApi {
    pub gate: AdminGate,
    pub bootstrap: BootstrapStore,
    /// Wakes the runner for a queued bootstrap.
    pub jobs_signal: Arc<WakeSignal>,
    /// What the status shows of the plan and choices.
    pub settings: Arc<BootstrapSettings>,
}

impl BootstrapApi {
    async fn status(&self, ws: &str) -> Result<BootstrapStatus, GatewayError> {
        let run = self.bootstrap.run(ws).await?;
        let items = self.bootstrap.items(ws).await?;
        let mut ops: BTreeMap<String, OperationProgress> = BTreeMap::new();
        let mut failed_items = Vec::new();
        for it in &items {
            let p = ops.entry(it.operation.clone()).or_insert_with(|| OperationProgress {
                operation: it.operation.clone(),
                entity_type: it.entity_type.clone(),
                items: 0,
                pending: 0,
                done: 0,
                truncated: 0,
                failed: 0,
                pages: 0,
                rows: 0,
                last_error: None,
            });
            p.items += 1;
            p.pages += it.pages;
            p.rows += it.rows;
            match it.state.as_str() {
                "done" => p.done += 1,
                "truncated" => p.truncated += 1,
                "failed" => {
                    p.failed += 1;
                    if failed_items.len() < FAILED_ITEMS_SHOWN {
                        failed_items.push(FailedItem { item: it.item.clone(), error: it.last_error.clone() });
                    }
                }
                _ => p.pending += 1,
            }
            if it.last_error.is_some() {
                p.last_error.clone_from(&it.last_error);
            }
        }
        let choices = self.settings.choices();
        let plan = plan(self.settings.declared_scopes, self.settings.page_size).with_choices(&choices);
        let entities = self
            .bootstrap
            .entity_counts(ws)
            .await?
            .into_iter()
            .map(|(entity_type, count)| EntityCount { entity_type, count })
            .collect();
        Ok(BootstrapStatus {
            workspace_id: ws.to_owned(),
            state: run.as_ref().map_or_else(|| "never".to_owned(), |r| r.state.clone()),
            started_at: run.as_ref().and_then(|r| r.started_at),
            finished_at: run.as_ref().and_then(|r| r.finished_at),
            requests: run.as_ref().map_or(0, |r| r.requests),
            throttled: run.as_ref().map_or(0, |r| r.throttled),
            last_error: run.and_then(|r| r.last_error),
            operations: ops.into_values().collect(),
            failed_items,
            skipped: plan
                .skipped
                .iter()
                .map(|s| SkippedOperation { operation: s.operation.to_owned(), reason: skip_reason(&s.reason) })
                .collect(),
            entities,
            choices: BootstrapChoices {
                budget_share: self.settings.budget_share,
                include: choices.include,
                exclude: choices.exclude,
                time_entries_since: choices.time_entries_start,
            },
        })
    }
}

#[OpenApi(tag = "crate::tags::Tag::Bootstrap")]
impl BootstrapApi {
    /// Starts (or resumes) reading the workspace's lists into the snapshot.
    #[oai(path = "/bootstrap/:workspace_id", method = "post")]
    async fn start(
        &self,
        auth: UserToken,
        workspace_id: Path<String>,
        /// `resume` (default) continues unfinished work; `restart` reads everything again.
        mode: Query<Option<BootstrapMode>>,
    ) -> Result<QueuedResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "bootstrap").await?;
        let mode = match mode.0.unwrap_or_default() {
            BootstrapMode::Resume => RunMode::Resume,
            BootstrapMode::Restart => RunMode::Restart,
        };
        self.bootstrap.queue(&ws, mode).await.map_err(GatewayError::from)?;
        self.jobs_signal.wake();
        tracing::info!(target: "audit", event = "bootstrap_requested", workspace_id = %ws, ?mode, "bootstrap queued");
        Ok(QueuedResponse::Accepted(Json(self.status(&ws).await?)))
    }

    /// Cancels a queued or running bootstrap; its progress is kept for a later resume.
    #[oai(path = "/bootstrap/:workspace_id", method = "delete")]
    async fn cancel(&self, auth: UserToken, workspace_id: Path<String>) -> Result<StatusResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "bootstrap").await?;
        let cancelled = self.bootstrap.cancel(&ws).await.map_err(GatewayError::from)?;
        if !cancelled {
            return Err(GatewayError::NotFound(format!("no bootstrap is queued or running for workspace {ws}")).into());
        }
        tracing::info!(target: "audit", event = "bootstrap_cancelled", workspace_id = %ws, "bootstrap cancelled");
        Ok(StatusResponse::Ok(Json(self.status(&ws).await?)))
    }

    /// The run and per-operation progress, what the plan skips and why, and
    /// the snapshot's entity counts.
    #[oai(path = "/bootstrap/:workspace_id/status", method = "get")]
    async fn get_status(&self, auth: UserToken, workspace_id: Path<String>) -> Result<StatusResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "bootstrap").await?;
        Ok(StatusResponse::Ok(Json(self.status(&ws).await?)))
    }

    /// Pages through the snapshot of one entity type, in id order.
    #[oai(path = "/bootstrap/:workspace_id/entities/:entity_type", method = "get")]
    async fn entities(
        &self,
        auth: UserToken,
        workspace_id: Path<String>,
        entity_type: Path<String>,
        /// The `next` of the previous page.
        after: Query<Option<String>>,
        /// Rows per page, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> Result<EntitiesResponse, ApiError> {
        let ws = workspace_id.0;
        self.gate.authorize(&auth, &ws, "bootstrap").await?;
        let limit = limit.0.unwrap_or(DEFAULT_ENTITY_PAGE).clamp(1, MAX_ENTITY_PAGE);
        let rows = self
            .bootstrap
            .entities(&ws, &entity_type.0, after.0.as_deref(), i64::from(limit) + 1)
            .await
            .map_err(GatewayError::from)?;
        let more = rows.len() > limit as usize;
        let items: Vec<SnapshotEntity> = rows
            .into_iter()
            .take(limit as usize)
            .map(|e| SnapshotEntity {
                body: serde_json::from_str(&e.body).unwrap_or(Value::String(e.body)),
                id: e.id,
                fetched_at: e.fetched_at,
            })
            .collect();
        let next = if more { items.last().map(|e| e.id.clone()) } else { None };
        Ok(EntitiesResponse::Ok(Json(EntityPage { items, next })))
    }
}
