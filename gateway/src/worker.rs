//! Background work of one gateway instance: the webhook inbox worker and the
//! retention sweep. Every instance runs them; the database's leases decide
//! who handles what, so nothing depends on which instance took the delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clockify_client::WebhookEvent;
use tokio::sync::Notify;

use crate::events::{Change, WebhookPayload, decode};
use crate::hooks::WebhookDelivery;
use crate::state::AppState;
use crate::store::{ClaimedDelivery, MirrorChange, now_ms};

/// How long a claimed delivery stays leased before another worker may take it.
const LEASE_MS: i64 = 60_000;
/// A handler taking longer than this counts as failed.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Wakes a background loop when there is new work (a stored delivery, a queued job).
#[derive(Debug, Default)]
pub struct WakeSignal(Notify, AtomicBool);

impl WakeSignal {
    pub fn wake(&self) {
        self.1.store(true, Ordering::Release);
        self.0.notify_waiters();
    }

    /// Whether `wake` was called since the last time this returned true
    /// (for a loop that was busy when it was called).
    fn take_wake(&self) -> bool {
        self.1.swap(false, Ordering::AcqRel)
    }
}

/// Retry delay after `attempt` failures: 1 s, 2 s, 4 s, ... capped at 5 min.
pub fn backoff_ms(attempt: i64) -> i64 {
    1000i64.saturating_mul(1 << attempt.clamp(1, 20).saturating_sub(1)).min(300_000)
}

/// The mirror entity type of a payload.
fn entity_type(p: &WebhookPayload) -> Option<&'static str> {
    Some(match p {
        WebhookPayload::Project(_) => "project",
        WebhookPayload::Task(_) => "task",
        WebhookPayload::Client(_) => "client",
        WebhookPayload::Tag(_) => "tag",
        WebhookPayload::TimeEntry(_) => "time_entry",
        WebhookPayload::User(_) => "user",
        WebhookPayload::UserGroup(_) => "user_group",
        WebhookPayload::Invoice(_) => "invoice",
        WebhookPayload::Expense(_) => "expense",
        WebhookPayload::ApprovalRequest(_) => "approval_request",
        WebhookPayload::TimeOffRequest(_) => "time_off_request",
        WebhookPayload::Balance(_) => "balance",
        WebhookPayload::Assignment(_) => "assignment",
        WebhookPayload::Raw(_) => return None,
    })
}

/// What a delivery does to the entity mirror.
pub fn mirror_change(payload: &WebhookPayload, change: Change, body: &serde_json::Value) -> Option<MirrorChange> {
    let entity_type = entity_type(payload)?;
    let entity_id = body.get("id").and_then(|v| v.as_str())?.to_owned();
    match change {
        Change::Created | Change::Updated => Some(MirrorChange::Upsert { entity_type, entity_id, body: body.to_string() }),
        Change::Deleted => Some(MirrorChange::Delete { entity_type, entity_id }),
        Change::Other => None,
    }
}

/// Deliveries claimed at once: their completions share one commit.
const BATCH: i64 = 64;

/// Runs the add-on's handler for one claimed delivery; on success returns
/// the mirror change to apply with its completion.
async fn handle(state: &AppState, claimed: &ClaimedDelivery) -> Result<Option<MirrorChange>, String> {
    let event: WebhookEvent = claimed.event.parse().unwrap_or_else(|never| match never {});
    let body: serde_json::Value = serde_json::from_str(&claimed.body).unwrap_or(serde_json::Value::Null);
    let decoded = decode(&event, &body);
    state.metrics.payload(&claimed.event, decoded.payload.is_typed());
    let mirror = mirror_change(&decoded.payload, decoded.change, &body);
    let delivery = WebhookDelivery {
        id: claimed.id.clone(),
        workspace_id: claimed.workspace_id.clone(),
        event: event.clone(),
        change: decoded.change,
        payload: decoded.payload,
        attempt: claimed.attempt,
        received_at_ms: claimed.received_at,
    };
    match tokio::time::timeout(HANDLER_TIMEOUT, state.hooks.on_webhook(&delivery)).await {
        Ok(Ok(())) => Ok(mirror),
        Ok(Err(e)) => Err(e.0),
        Err(_) => Err(format!("handler timed out after {} s", HANDLER_TIMEOUT.as_secs())),
    }
}

/// After a wake-up, how long the inbox lets deliveries gather before it
/// claims them: at a moderate rate each ingest commit would otherwise get a
/// claim and a completion commit of its own, and on PostgreSQL those
/// commits (each a WAL flush) would queue up with the ingest's.
const GATHER: Duration = Duration::from_millis(10);

/// Handles due deliveries until the task is dropped: those the ingest
/// handed over already leased (`HandOff`), and those it claims from the
/// database, when woken for them (stored unleased, replayed) and every
/// `IDLE_POLL` (retries, leases that ran out, work of stopped instances).
pub async fn run_inbox(state: AppState, signal: Arc<WakeSignal>) {
    let mut backlog = false;
    let mut claim_next = true;
    let mut last_claim = Instant::now();
    // Handled, but the completion could not be written (database away):
    // written with the next one, so they are not handled again after
    // their lease unless this instance stops first.
    let mut unrecorded: Vec<(ClaimedDelivery, Option<MirrorChange>)> = Vec::new();
    loop {
        let woken = signal.0.notified();
        let handed = state.handoff.arrived();
        if state.handoff.is_closed() {
            // Stopping: what was handled is written, the rest of the hand-off
            // is released by `Background::stop`.
            record_unrecorded(&state, &mut unrecorded).await;
            return;
        }
        if !backlog {
            tokio::time::sleep(GATHER).await;
        }
        let mut batch = state.handoff.take(BATCH as usize, now_ms(), HANDLER_TIMEOUT.as_millis() as i64);
        claim_next |= signal.take_wake() || last_claim.elapsed() >= IDLE_POLL;
        if claim_next && (batch.len() as i64) < BATCH {
            let limit = BATCH - batch.len() as i64;
            match state.deliveries.claim(limit, LEASE_MS).await {
                Ok(claimed) => {
                    // A full claim: more are waiting.
                    claim_next = claimed.len() as i64 >= limit;
                    batch.extend(claimed);
                    batch.sort_by_key(|d| d.received_at);
                }
                Err(e) => tracing::warn!(error = %e, "inbox unavailable; retrying"),
            }
            // Failed or not, the next claim is due `IDLE_POLL` from now
            // unless something wakes the worker.
            last_claim = Instant::now();
        }
        if !batch.is_empty() {
            // More waiting: no gathering before the next round.
            backlog = batch.len() as i64 >= BATCH || claim_next || !state.handoff.is_empty();
            let mut done = Vec::with_capacity(batch.len());
            let mut batch = batch.into_iter();
            while let Some(claimed) = batch.next() {
                if state.handoff.is_closed() {
                    // Not started: given back with the hand-off's rest.
                    state.handoff.push(std::iter::once(claimed).chain(batch).collect());
                    break;
                }
                match handle(&state, &claimed).await {
                    Ok(mirror) => {
                        state.metrics.handled(&claimed.event, "done");
                        done.push((claimed, mirror));
                    }
                    Err(error) => {
                        let dead = claimed.attempt >= i64::from(state.config.webhook_max_attempts);
                        state.metrics.handled(&claimed.event, if dead { "dead" } else { "retrying" });
                        tracing::warn!(delivery = %claimed.id, event = %claimed.event, attempt = claimed.attempt, dead, %error, "webhook handler failed");
                        if let Err(e) = state.deliveries.fail(&claimed.id, &error, backoff_ms(claimed.attempt), dead).await {
                            tracing::error!(delivery = %claimed.id, error = %e, "cannot record a handler failure");
                        }
                    }
                }
            }
            done.splice(0..0, unrecorded.drain(..));
            record_handled(&state, done, &mut unrecorded).await;
            continue;
        }
        record_unrecorded(&state, &mut unrecorded).await;
        backlog = false;
        let wait = IDLE_POLL.saturating_sub(last_claim.elapsed());
        tokio::select! {
            _ = woken => claim_next = true,
            _ = handed => {}
            _ = tokio::time::sleep(wait) => claim_next = true,
        }
    }
}

/// Most handled deliveries kept for a later completion; past it the oldest
/// are let go (handled again once their lease runs out: at least once).
const UNRECORDED_MAX: usize = 16 * BATCH as usize;

/// Tries again to complete what was handled but could not be written.
async fn record_unrecorded(state: &AppState, unrecorded: &mut Vec<(ClaimedDelivery, Option<MirrorChange>)>) {
    if !unrecorded.is_empty() {
        record_handled(state, std::mem::take(unrecorded), unrecorded).await;
    }
}

/// Completes `done`; what cannot be written now stays in `unrecorded`.
async fn record_handled(
    state: &AppState,
    done: Vec<(ClaimedDelivery, Option<MirrorChange>)>,
    unrecorded: &mut Vec<(ClaimedDelivery, Option<MirrorChange>)>,
) {
    if let Err(e) = state.deliveries.complete(&done).await {
        tracing::error!(error = %e, handled = done.len(), "cannot record handled deliveries yet; retrying");
        *unrecorded = done;
        let over = unrecorded.len().saturating_sub(UNRECORDED_MAX);
        if over > 0 {
            tracing::warn!(dropped = over, "too many unrecorded completions; the oldest will be handled again after their lease");
            unrecorded.drain(..over);
        }
    }
}

/// Runs queued REST webhook registrations until the task is dropped.
pub async fn run_registrations(state: AppState) {
    const KIND: &str = "register_webhooks";
    loop {
        let notified = state.jobs_signal.0.notified();
        match state.jobs.claim(KIND, LEASE_MS).await {
            Ok(Some(job)) => {
                let result = crate::registration::register_pending(&state, &job.workspace_id).await;
                let stored = match result {
                    Ok(report) => {
                        tracing::info!(workspace_id = %job.workspace_id, registered = report.registered.len(),
                            adopted = report.adopted.len(), failed = report.failed.len(), "webhook registration done");
                        state.jobs.complete(&job.id).await
                    }
                    Err(e) => {
                        tracing::warn!(workspace_id = %job.workspace_id, attempt = job.attempts, error = %e, "webhook registration will be retried");
                        state.metrics.registration("retry");
                        state.jobs.retry(&job, &e.0, backoff_ms(job.attempts)).await
                    }
                };
                if let Err(e) = stored {
                    tracing::error!(error = %e, "cannot record a registration job's outcome");
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "job queue unavailable; retrying"),
        }
        let _ = tokio::time::timeout(IDLE_POLL, notified).await;
    }
}

/// How long after a DELETED work of the installation may still finish: a
/// delivery leased before it, handled within its lease, writes its mirror
/// change with its completion.
const IN_FLIGHT_MS: i64 = LEASE_MS + HANDLER_TIMEOUT.as_millis() as i64;

/// Runs queued clean-ups of uninstalled workspaces until the task is
/// dropped: batch after batch until nothing of the workspace is left; the
/// job then runs once more after the work in flight at DELETED has ended
/// (so a late mirror write is deleted too) and is done; a failure leaves
/// the job to be retried with backoff.
pub async fn run_cleanups(state: AppState) {
    const KIND: &str = "cleanup";
    const BATCH: i64 = 1000;
    loop {
        let notified = state.jobs_signal.0.notified();
        match state.jobs.claim(KIND, LEASE_MS).await {
            Ok(Some(job)) => {
                let mut removed = 0u64;
                let result = loop {
                    match state.cleanup.forget_batch(&job.workspace_id, BATCH).await {
                        Ok(0) => break Ok(()),
                        Ok(n) => removed += n,
                        Err(e) => break Err(e),
                    }
                };
                let settled_at = match result {
                    Ok(()) => state.cleanup.deleted_at(&job.workspace_id).await.map(|at| at.map(|at| at + IN_FLIGHT_MS)),
                    Err(e) => Err(e),
                };
                let stored = match settled_at {
                    Ok(Some(at)) if at > now_ms() => {
                        tracing::info!(workspace_id = %job.workspace_id, rows = removed, "workspace data deleted; once more after the work in flight");
                        state.jobs.defer(&job, at).await
                    }
                    Ok(_) => {
                        tracing::info!(target: "audit", event = "uninstall_cleanup", workspace_id = %job.workspace_id, rows = removed, "workspace data deleted");
                        state.jobs.complete(&job.id).await
                    }
                    Err(e) => {
                        tracing::warn!(workspace_id = %job.workspace_id, attempt = job.attempts, rows = removed, error = %e, "clean-up will be retried");
                        state.jobs.retry(&job, &e.to_string(), backoff_ms(job.attempts)).await
                    }
                };
                if let Err(e) = stored {
                    tracing::error!(error = %e, "cannot record a clean-up job's outcome");
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "job queue unavailable; retrying"),
        }
        let _ = tokio::time::timeout(IDLE_POLL, notified).await;
    }
}

/// Deletes old delivery-log rows and duplicate keys, in bounded batches.
pub async fn run_retention(state: AppState) {
    const BATCH: i64 = 1000;
    loop {
        let day_ms = 86_400_000i64;
        let now = now_ms();
        let log_cutoff = match state.config.webhook_retention_days {
            0 => None,
            d => Some(now - i64::from(d) * day_ms),
        };
        let keys_cutoff = now - i64::from(state.config.webhook_dedup_days) * day_ms;
        match state.deliveries.purge(log_cutoff, keys_cutoff, BATCH).await {
            // A full batch: more may be waiting; go on without sleeping long.
            Ok(n) if n as i64 >= BATCH => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(_) => tokio::time::sleep(Duration::from_secs(600)).await,
            Err(e) => {
                tracing::warn!(error = %e, "retention sweep failed");
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        }
    }
}

/// One verified delivery waiting for the group commit, with what the
/// request already knows; the checks that need the database run in the
/// writer, for the whole batch at once, in the order of the spec.
pub struct IngestItem {
    pub delivery: crate::store::NewDelivery,
    pub checks: RequestChecks,
    pub reply: tokio::sync::oneshot::Sender<Result<IngestOutcome, String>>,
}

/// What the request found before the database is asked.
pub struct RequestChecks {
    /// SHA-256 of the signature, compared with the stored token's.
    pub token_sha256: String,
    /// For add-on tokens (manifest webhooks): the `addonId` claim to bind.
    pub addon_claim: Option<String>,
    /// The body names no other workspace than the signature.
    pub body_workspace_ok: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    UnknownInstallation,
    Addon,
    TokenMismatch,
    BodyWorkspace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Rejected(Rejection),
    /// The installation is inactive: acknowledged, not stored.
    Ignored,
    Stored(crate::store::Recorded),
}

/// Most deliveries written by one commit.
const INGEST_BATCH: usize = 256;

/// The checks of one delivery against its installation, in order.
fn check(
    delivery: &crate::store::NewDelivery,
    checks: &RequestChecks,
    context: Option<&crate::store::DeliveryContext>,
) -> Result<bool, Rejection> {
    use subtle::ConstantTimeEq;
    let ctx = context.filter(|c| c.status != crate::store::InstallationStatus::Deleted).ok_or(Rejection::UnknownInstallation)?;
    if checks.addon_claim.as_ref().is_some_and(|a| *a != ctx.addon_id) {
        return Err(Rejection::Addon);
    }
    let stored = ctx.token_hashes.get(&delivery.event);
    if !stored.is_some_and(|h| bool::from(h.as_bytes().ct_eq(checks.token_sha256.as_bytes()))) {
        return Err(Rejection::TokenMismatch);
    }
    if !checks.body_workspace_ok {
        return Err(Rejection::BodyWorkspace);
    }
    Ok(ctx.status == crate::store::InstallationStatus::Active)
}

/// Group commit for the inbox: requests hand their delivery over and wait;
/// whatever arrived meanwhile is checked and written in one transaction,
/// and every request gets its answer only after that commit (durable
/// before the 200). On PostgreSQL a few batches are in flight at once (one
/// waits for its WAL flush while the next is written); SQLite has one
/// writer, so there one batch forms while the previous one commits.
pub async fn run_ingest(state: AppState, mut rx: tokio::sync::mpsc::Receiver<IngestItem>) {
    let in_flight = match state.db.backend() {
        crate::store::Backend::Sqlite => 1,
        crate::store::Backend::Postgres => crate::store::POSTGRES_INGEST_BATCHES,
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut batches = tokio::task::JoinSet::new();
    while let Some(first) = rx.recv().await {
        while batches.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut items = vec![first];
        while items.len() < INGEST_BATCH {
            match rx.try_recv() {
                Ok(item) => items.push(item),
                Err(_) => break,
            }
        }
        let state = state.clone();
        batches.spawn(async move {
            ingest_batch(&state, items).await;
            drop(slot);
        });
    }
}

async fn ingest_batch(state: &AppState, items: Vec<IngestItem>) {
    // New deliveries go to this instance's inbox already leased, unless no
    // inbox runs here or it has enough waiting.
    let bytes = items.iter().map(|i| i.delivery.body.len()).sum();
    let lease = (state.config.webhook_workers > 0 && state.handoff.has_room(items.len(), bytes)).then_some(LEASE_MS);
    let mut workspaces: Vec<String> = items.iter().map(|i| i.delivery.workspace_id.clone()).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    let mut replies = Vec::with_capacity(items.len());
    let mut pending = Vec::with_capacity(items.len());
    for item in items {
        replies.push(item.reply);
        pending.push((item.delivery, item.checks));
    }
    // Decided next to the database (on SQLite, on its writer thread);
    // what is to be stored moves into the batch, by position.
    let decide = move |contexts: &std::collections::HashMap<String, crate::store::DeliveryContext>| {
        let mut answers: Vec<Option<IngestOutcome>> = Vec::with_capacity(pending.len());
        let mut batch = Vec::new();
        for (delivery, checks) in pending {
            match check(&delivery, &checks, contexts.get(&delivery.workspace_id)) {
                Err(r) => answers.push(Some(IngestOutcome::Rejected(r))),
                Ok(false) => answers.push(Some(IngestOutcome::Ignored)),
                Ok(true) => {
                    answers.push(None);
                    batch.push(delivery);
                }
            }
        }
        (answers, batch)
    };
    let (answers, recorded) = match state.deliveries.ingest(workspaces, lease, decide).await {
        Ok((answers, Ok(stored))) => {
            state.handoff.push(stored.leased);
            (answers, Ok(stored.recorded))
        }
        // Rejections stand; only what should have been stored fails (503, and Clockify retries).
        Ok((answers, Err(e))) => (answers, Err(e.to_string())),
        Err(e) => (vec![None; replies.len()], Err(e.to_string())),
    };
    let any_new = recorded.as_ref().is_ok_and(|r| r.contains(&crate::store::Recorded::New));
    let mut stored = recorded.map(Vec::into_iter);
    for (reply, answer) in replies.into_iter().zip(answers) {
        let outcome = match (answer, &mut stored) {
            (Some(decided), _) => Ok(decided),
            (None, Ok(stored)) => stored.next().map(IngestOutcome::Stored).ok_or_else(|| "not stored".to_owned()),
            (None, Err(message)) => Err(message.clone()),
        };
        let _ = reply.send(outcome);
    }
    if any_new && lease.is_none() {
        state.inbox.wake();
    }
}

/// Claims queued bootstraps (and those whose instance died) and runs up to
/// `BOOTSTRAP_WORKERS` workspaces at once in this instance.
pub async fn run_bootstraps(state: AppState) {
    let slots = Arc::new(tokio::sync::Semaphore::new(state.config.bootstrap_workers));
    let lease_ms = (state.config.bootstrap_lease_seconds * 1000) as i64;
    // Owned here so that stopping this task stops the runs too.
    let mut runs = tokio::task::JoinSet::new();
    loop {
        while runs.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let notified = state.jobs_signal.0.notified();
        match state.bootstrap.claim(lease_ms).await {
            Ok(Some(lease)) => {
                tracing::info!(workspace_id = %lease.workspace_id, "bootstrap claimed");
                let state = state.clone();
                runs.spawn(async move {
                    crate::bootstrap::run_leased(state, lease).await;
                    drop(slot);
                });
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "bootstrap queue unavailable; retrying"),
        }
        drop(slot);
        let _ = tokio::time::timeout(IDLE_POLL, notified).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(super::backoff_ms(1), 1000);
        assert_eq!(super::backoff_ms(2), 2000);
        assert_eq!(super::backoff_ms(5), 16000);
        assert_eq!(super::backoff_ms(40), 300_000);
    }
}
