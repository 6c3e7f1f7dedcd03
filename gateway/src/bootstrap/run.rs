//! Running a workspace's bootstrap: the plan's lists read page by page with
//! the largest page each accepts, children fanned out from their parents'
//! stored rows, every page stored with its progress, all requests drawn from
//! the workspace's shared budget. A 429 slows the run down and never fails
//! it; a killed process resumes at the next page; a runner that loses its
//! lease stops writing.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clockify_client::catalog::ListShape;
use clockify_client::raw::RawResponse;
use clockify_client::{Client, ClockifyError};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::BootstrapSettings;
use super::plan::{Plan, Step, plan};
use crate::installations::client::InstallationClients;
use crate::metrics::Metrics;
use crate::store::{BootstrapItem, BootstrapStore, Lease, NewItem, PageWrite, StoreError};

/// What running bootstraps reads: the runner loop holds one, and every run
/// and list a clone.
#[derive(Clone, Debug)]
pub struct BootstrapRunner {
    pub bootstrap: BootstrapStore,
    /// Clients drawing within the bootstrap's share of each workspace's budget.
    pub clients: InstallationClients,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<BootstrapSettings>,
}

/// Lists read at once per workspace. The budget (50 per second) paces the
/// requests; this only bounds how many wait for it.
const CONCURRENT_ITEMS: usize = 16;

/// Attempts of one page after the client's own retries gave up on a
/// server error or a broken connection.
const PAGE_ATTEMPTS: u32 = 3;

/// Longest pause after a 429 that the client could not absorb.
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(300);

/// Tells a run to stop (lease lost, cancelled, shutting down) and wakes it
/// from any wait.
#[derive(Debug, Default)]
pub struct Stop {
    flag: AtomicBool,
    notify: Notify,
}

impl Stop {
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps for `d`; `false` when stopped meanwhile.
    async fn sleep(&self, d: Duration) -> bool {
        let notified = self.notify.notified();
        if self.is_set() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_set(),
            _ = notified => false,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every item done or truncated.
    Done,
    /// Some items failed; the message counts and names them.
    Failed(String),
    /// The lease was lost or the run cancelled; nothing more was written.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemOutcome {
    Finished,
    Failed,
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Setup(String),
}

/// The rows of one page and whether it was the last.
#[derive(Debug)]
struct PageRows {
    rows: Vec<Value>,
    last: bool,
}

/// Extracts the rows of a page and decides whether more follow: a short
/// page, an envelope's total reached, or `Last-Page: true` ends the list.
fn page_rows(step: &Step, resp: &RawResponse, rows_before: i64) -> Result<PageRows, String> {
    let body: Value = serde_json::from_slice(&resp.body).map_err(|e| format!("{}: the answer is not JSON: {e}", step.operation.id))?;
    let (rows, total) = match step.operation.pagination.map(|p| p.shape) {
        Some(ListShape::Envelope { list, total }) => {
            let rows = body
                .pointer(list)
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| format!("{}: the answer has no list at {list}", step.operation.id))?;
            (rows, total.and_then(|t| body.pointer(t)).and_then(Value::as_i64))
        }
        _ => match body {
            Value::Array(rows) => (rows, None),
            _ => return Err(format!("{}: the answer is not a JSON array", step.operation.id)),
        },
    };
    let last_page_header = resp.headers.get("last-page").and_then(|v| v.to_str().ok()).map(|v| v.trim().eq_ignore_ascii_case("true"));
    let last = step.operation.pagination.is_none()
        || rows.is_empty()
        || (rows.len() as u64) < u64::from(step.page_size)
        || last_page_header == Some(true)
        || total.is_some_and(|t| rows_before + rows.len() as i64 >= t);
    Ok(PageRows { rows, last })
}

/// `parent/id` for relation lists; the row's `id`, or the id of its
/// entity-named member (`approvalRequest.id`), or a digest of the row.
fn entity_id(step: &Step, row: &Value, parent: Option<&str>) -> String {
    let as_id = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let camel: String = {
        let mut out = String::new();
        let mut upper = false;
        for c in step.entity_type.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    let own = row
        .get("id")
        .and_then(as_id)
        .or_else(|| row.get(&camel).and_then(|m| m.get("id")).and_then(as_id))
        .unwrap_or_else(|| crate::store::sha256_hex(&row.to_string()));
    match (step.keyed_by_parent, parent) {
        (true, Some(p)) => format!("{p}/{own}"),
        _ => own,
    }
}

fn item_key(step: &Step, parent: Option<&str>) -> String {
    match parent {
        Some(p) => format!("{}/{p}", step.operation.id),
        None => step.operation.id.to_owned(),
    }
}

fn first_page(step: &Step) -> i64 {
    step.operation.pagination.map(|p| i64::from(p.first_page)).unwrap_or(0)
}

/// Everything one item's task needs.
#[derive(Clone)]
struct Ctx {
    runner: BootstrapRunner,
    lease: Lease,
    client: Client,
    stop: Arc<Stop>,
}

/// Reads one item to its end (or until stopped), storing every page.
async fn run_item(ctx: Ctx, step: Step, item: BootstrapItem) -> ItemOutcome {
    let ws = ctx.lease.workspace_id.as_str();
    let op = step.operation;
    let parent_param = step.parent.as_ref().map(|p| p.path_param);
    let mut page = item.next_page;
    let mut pages = item.pages;
    let mut rows_so_far = item.rows;
    let mut failures = 0u32;
    let mut throttled_in_a_row = 0u32;
    let max_pages = i64::from(ctx.runner.settings.max_pages);
    loop {
        if ctx.stop.is_set() {
            return ItemOutcome::Stopped;
        }
        let mut path: Vec<(&str, &str)> = vec![("workspaceId", ws)];
        if let (Some(name), Some(id)) = (parent_param, item.parent_id.as_deref()) {
            path.push((name, id));
        }
        let mut query: Vec<(&str, String)> = step.fixed_query.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        query.extend(step.chosen_query.iter().cloned());
        if let Some(p) = op.pagination {
            query.push((p.page, page.to_string()));
            query.push((p.size, step.page_size.to_string()));
        }
        let asked = std::time::Instant::now();
        let answer = ctx.client.get_raw(op, &path, &query).await;
        ctx.runner.metrics.bootstrap_page_time(op.id, asked.elapsed());
        let (requests, throttled) = match &answer {
            Err(ClockifyError::Api(f)) if f.status == 429 => (1, 1),
            _ => (1, 0),
        };
        if let Err(e) = ctx.runner.bootstrap.count_requests(ws, requests, throttled).await {
            tracing::warn!(workspace_id = ws, error = %e, "cannot count bootstrap requests");
        }
        match answer {
            Ok(resp) => {
                ctx.runner.metrics.bootstrap_request("ok");
                throttled_in_a_row = 0;
                let parsed = match page_rows(&step, &resp, rows_so_far) {
                    Ok(p) => p,
                    Err(e) => return fail_item(&ctx, &item.item, &e).await,
                };
                let rows: Vec<(String, String)> =
                    parsed.rows.iter().map(|r| (entity_id(&step, r, item.parent_id.as_deref()), r.to_string())).collect();
                let truncated = !parsed.last && pages + 1 >= max_pages;
                let state = if parsed.last {
                    "done"
                } else if truncated {
                    "truncated"
                } else {
                    "pending"
                };
                let write = PageWrite { item: &item.item, entity_type: &step.entity_type, rows: &rows, next_page: page + 1, state };
                match ctx.runner.bootstrap.record_page(&ctx.lease, &write).await {
                    Ok(true) => {}
                    Ok(false) => return ItemOutcome::Stopped,
                    Err(e) => {
                        // The page was not stored; read it again after a pause.
                        tracing::warn!(workspace_id = ws, operation = op.id, error = %e, "cannot store a bootstrap page");
                        if !ctx.stop.sleep(Duration::from_secs(1)).await {
                            return ItemOutcome::Stopped;
                        }
                        continue;
                    }
                }
                ctx.runner.metrics.bootstrap_page(op.id, &step.entity_type, rows.len());
                pages += 1;
                rows_so_far += rows.len() as i64;
                page += 1;
                failures = 0;
                if parsed.last || truncated {
                    if truncated {
                        tracing::warn!(workspace_id = ws, operation = op.id, pages, "bootstrap list truncated at BOOTSTRAP_MAX_PAGES");
                    }
                    return ItemOutcome::Finished;
                }
            }
            Err(ClockifyError::Api(f)) if f.status == 429 => {
                // A plan with a far lower limit than 50/s: slow down, keep the progress.
                ctx.runner.metrics.bootstrap_request("throttled");
                throttled_in_a_row += 1;
                // The client already paused the workspace and lowered its
                // budget; this wait only grows for a limit that stays hit.
                let wait = Duration::from_secs(u64::from(throttled_in_a_row)).min(MAX_THROTTLE_WAIT);
                tracing::info!(workspace_id = ws, operation = op.id, wait_s = wait.as_secs(), "bootstrap throttled by Clockify; waiting");
                if !ctx.stop.sleep(wait).await {
                    return ItemOutcome::Stopped;
                }
            }
            Err(ClockifyError::Api(f)) if f.status == 404 && item.parent_id.is_some() => {
                // The parent was deleted since its list was read.
                let note = format!("{}: the parent is gone (404)", op.id);
                ctx.runner.metrics.bootstrap_request("error");
                return match ctx.runner.bootstrap.item_state(&ctx.lease, &item.item, "done", Some(&note)).await {
                    Ok(()) => ItemOutcome::Finished,
                    Err(_) => ItemOutcome::Stopped,
                };
            }
            Err(e) => {
                ctx.runner.metrics.bootstrap_request("error");
                let transient = matches!(&e, ClockifyError::Transport(_))
                    || matches!(&e, ClockifyError::Api(f) if f.status >= 500)
                    || matches!(&e, ClockifyError::UnexpectedStatus { status } if *status >= 500);
                failures += 1;
                if !transient || failures >= PAGE_ATTEMPTS {
                    return fail_item(&ctx, &item.item, &e.to_string()).await;
                }
                if let Err(se) = ctx.runner.bootstrap.item_state(&ctx.lease, &item.item, "pending", Some(&e.to_string())).await {
                    tracing::warn!(workspace_id = ws, error = %se, "cannot record a bootstrap error");
                }
                if !ctx.stop.sleep(Duration::from_secs(1u64 << failures)).await {
                    return ItemOutcome::Stopped;
                }
            }
        }
    }
}

async fn fail_item(ctx: &Ctx, item: &str, error: &str) -> ItemOutcome {
    tracing::warn!(workspace_id = %ctx.lease.workspace_id, item, error, "bootstrap list failed");
    match ctx.runner.bootstrap.item_state(&ctx.lease, item, "failed", Some(error)).await {
        Ok(()) => ItemOutcome::Failed,
        Err(_) => ItemOutcome::Stopped,
    }
}

/// Creates the child items of `parent_op` from its stored rows.
async fn seed_children(ctx: &Ctx, plan: &Plan, parent_op: &str) -> Result<(), StoreError> {
    let ws = &ctx.lease.workspace_id;
    for child in plan.steps.iter().filter(|s| s.parent.as_ref().is_some_and(|p| p.from_operation == parent_op)) {
        let Some(parent_step) = plan.steps.iter().find(|s| s.operation.id == parent_op) else { continue };
        let ids = ctx.runner.bootstrap.entity_ids(ws, &parent_step.entity_type).await?;
        let items: Vec<NewItem> = ids
            .iter()
            .map(|id| NewItem {
                item: item_key(child, Some(id)),
                operation: child.operation.id,
                parent_id: Some(id.clone()),
                entity_type: child.entity_type.clone(),
                first_page: first_page(child),
            })
            .collect();
        ctx.runner.bootstrap.seed(&ctx.lease, &items).await?;
    }
    Ok(())
}

/// Runs the bootstrap of the leased workspace until every item has ended or
/// the run is stopped.
pub async fn run_workspace(runner: &BootstrapRunner, lease: &Lease, stop: Arc<Stop>) -> Result<RunOutcome, RunError> {
    let ws = lease.workspace_id.as_str();
    // Within BOOTSTRAP_BUDGET_SHARE of the workspace's budget.
    let client = runner.clients.for_workspace(ws).await.map_err(|e| RunError::Setup(e.to_string()))?;
    let settings = &runner.settings;
    let plan = plan(settings.declared_scopes, settings.page_size).with_choices(&settings.choices());
    let ctx = Ctx { runner: runner.clone(), lease: lease.clone(), client, stop: stop.clone() };
    let top: Vec<NewItem> = plan
        .steps
        .iter()
        .filter(|s| s.parent.is_none())
        .map(|s| NewItem {
            item: item_key(s, None),
            operation: s.operation.id,
            parent_id: None,
            entity_type: s.entity_type.clone(),
            first_page: first_page(s),
        })
        .collect();
    runner.bootstrap.seed(lease, &top).await?;
    // On a resume, parents finished earlier already have their children.
    for item in runner.bootstrap.items(ws).await? {
        if item.parent_id.is_none() && matches!(item.state.as_str(), "done" | "truncated") {
            seed_children(&ctx, &plan, &item.operation).await?;
        }
    }
    let steps: HashMap<&str, &Step> = plan.steps.iter().map(|s| (s.operation.id, s)).collect();
    let mut started: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<BootstrapItem> = VecDeque::new();
    let mut failed: Vec<String> = Vec::new();
    let enqueue_pending =
        |items: Vec<BootstrapItem>, started: &mut HashSet<String>, queue: &mut VecDeque<BootstrapItem>, failed: &mut Vec<String>| {
            for it in items {
                if it.state == "failed" && !failed.contains(&it.item) {
                    failed.push(it.item.clone());
                }
                if it.state == "pending" && steps.contains_key(it.operation.as_str()) && started.insert(it.item.clone()) {
                    queue.push_back(it);
                }
            }
        };
    enqueue_pending(runner.bootstrap.items(ws).await?, &mut started, &mut queue, &mut failed);
    let mut running: JoinSet<(BootstrapItem, ItemOutcome)> = JoinSet::new();
    loop {
        while running.len() < CONCURRENT_ITEMS && !stop.is_set() {
            let Some(item) = queue.pop_front() else { break };
            let Some(step) = steps.get(item.operation.as_str()).map(|s| (*s).clone()) else { continue };
            let ctx = ctx.clone();
            running.spawn(async move {
                let outcome = run_item(ctx, step, item.clone()).await;
                (item, outcome)
            });
        }
        let Some(joined) = running.join_next().await else { break };
        let (item, outcome) = match joined {
            Ok(done) => done,
            Err(e) => return Err(RunError::Setup(format!("a bootstrap task ended abnormally: {e}"))),
        };
        match outcome {
            ItemOutcome::Stopped => stop.trigger(),
            ItemOutcome::Failed => failed.push(item.item.clone()),
            ItemOutcome::Finished if item.parent_id.is_none() => {
                seed_children(&ctx, &plan, &item.operation).await?;
                enqueue_pending(runner.bootstrap.items(ws).await?, &mut started, &mut queue, &mut failed);
            }
            ItemOutcome::Finished => {}
        }
    }
    if stop.is_set() {
        return Ok(RunOutcome::Stopped);
    }
    if failed.is_empty() {
        Ok(RunOutcome::Done)
    } else {
        failed.sort();
        let shown: Vec<&str> = failed.iter().take(5).map(String::as_str).collect();
        Ok(RunOutcome::Failed(format!("{} list(s) failed: {}", failed.len(), shown.join(", "))))
    }
}

/// Holds the lease while `run` goes on: renews it every third of its
/// length and stops the run when it is lost (cancelled, restarted, or
/// taken over after this instance stalled).
pub async fn run_leased(runner: BootstrapRunner, lease: Lease) {
    let stop = Arc::new(Stop::default());
    let lease_ms = runner.settings.lease_ms();
    // Both halves live in this future: aborting it (shutdown, a killed
    // server in tests) stops the renewals along with the work.
    let heartbeat = async {
        let every = Duration::from_millis((lease_ms / 3).max(100) as u64);
        while stop.sleep(every).await {
            match runner.bootstrap.renew(&lease, lease_ms).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(workspace_id = %lease.workspace_id, "bootstrap lease gone (cancelled, restarted or taken over); stopping");
                    stop.trigger();
                }
                // The database is away: keep going; record_page refuses to
                // write once the lease has passed to someone else.
                Err(e) => tracing::warn!(workspace_id = %lease.workspace_id, error = %e, "cannot renew the bootstrap lease"),
            }
        }
    };
    let work = async {
        let outcome = run_workspace(&runner, &lease, stop.clone()).await;
        stop.trigger();
        outcome
    };
    let (outcome, ()) = tokio::join!(work, heartbeat);
    let (final_state, error) = match &outcome {
        Ok(RunOutcome::Done) => ("done", None),
        Ok(RunOutcome::Failed(msg)) => ("failed", Some(msg.clone())),
        Ok(RunOutcome::Stopped) => return,
        Err(RunError::Store(e)) => {
            // The database, not the workspace, failed: resume later.
            tracing::warn!(workspace_id = %lease.workspace_id, error = %e, "bootstrap interrupted by the database; requeued");
            tokio::time::sleep(Duration::from_secs(2)).await;
            if let Err(e) = runner.bootstrap.requeue(&lease, &e.to_string()).await {
                tracing::warn!(workspace_id = %lease.workspace_id, error = %e, "cannot requeue; the lease will expire instead");
            }
            return;
        }
        Err(e) => ("failed", Some(e.to_string())),
    };
    runner.metrics.bootstrap_run(final_state);
    tracing::info!(workspace_id = %lease.workspace_id, outcome = final_state, error = error.as_deref().unwrap_or(""), "bootstrap finished");
    if let Err(e) = runner.bootstrap.finish(&lease, final_state, error.as_deref()).await {
        tracing::error!(workspace_id = %lease.workspace_id, error = %e, "cannot record the end of a bootstrap");
    }
}
