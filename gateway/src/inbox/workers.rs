//! The inbox workers: handle stored deliveries (those the ingest handed
//! over already leased, and those claimed from the database), run the
//! workspace's flows and the add-on's handler, and complete them with
//! their mirror change in one commit. Every instance runs them; the database's leases decide who
//! handles what.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clockify_client::WebhookEvent;

use crate::background::{HANDLER_TIMEOUT, IDLE_POLL, LEASE_MS, backoff_ms};
use crate::context::ContextSource;
use crate::events::{Change, WebhookPayload, decode_text};
use crate::flows::run::FlowRunner;
use crate::hooks::{AddonHooks, WebhookDelivery};
use crate::metrics::Metrics;
use crate::store::{ClaimedDelivery, DeliveryStore, MirrorChange, now_ms};

/// What an inbox worker reads; each worker holds a clone.
#[derive(Clone, Debug)]
pub struct InboxWorker {
    pub deliveries: DeliveryStore,
    /// The workspace's flows, run before the add-on's handler.
    pub flows: FlowRunner,
    pub hooks: Arc<dyn AddonHooks>,
    /// The contexts the handler gets.
    pub(crate) contexts: ContextSource,
    pub metrics: Arc<Metrics>,
    /// WEBHOOK_MAX_ATTEMPTS: after that many failures a delivery is dead.
    pub max_attempts: u32,
}

/// The mirror entity type and id of a payload (a raw one has neither).
fn entity(p: &WebhookPayload) -> Option<(&'static str, Option<&str>)> {
    Some(match p {
        WebhookPayload::Project(e) => ("project", e.id.as_deref()),
        WebhookPayload::Task(e) => ("task", e.id.as_deref()),
        WebhookPayload::Client(e) => ("client", e.id.as_deref()),
        WebhookPayload::Tag(e) => ("tag", e.id.as_deref()),
        WebhookPayload::TimeEntry(e) => ("time_entry", e.id.as_deref()),
        WebhookPayload::User(e) => ("user", e.id.as_deref()),
        WebhookPayload::UserGroup(e) => ("user_group", e.id.as_deref()),
        WebhookPayload::Invoice(e) => ("invoice", e.id.as_deref()),
        WebhookPayload::Expense(e) => ("expense", e.id.as_deref()),
        WebhookPayload::ApprovalRequest(e) => ("approval_request", e.id.as_deref()),
        WebhookPayload::TimeOffRequest(e) => ("time_off_request", e.id.as_deref()),
        WebhookPayload::Balance(e) => ("balance", e.id.as_deref()),
        WebhookPayload::Assignment(e) => ("assignment", e.id.as_deref()),
        WebhookPayload::Raw(_) => return None,
    })
}

/// What a delivery does to the entity mirror. `body` is the delivery's
/// JSON text, stored as received (an upsert keeps it as is).
pub fn mirror_change(payload: &WebhookPayload, change: Change, body: &str) -> Option<MirrorChange> {
    let (entity_type, id) = entity(payload)?;
    let entity_id = id?.to_owned();
    match change {
        Change::Created | Change::Updated => Some(MirrorChange::Upsert { entity_type, entity_id, body: body.to_owned() }),
        Change::Deleted => Some(MirrorChange::Delete { entity_type, entity_id }),
        Change::Other => None,
    }
}

/// Deliveries claimed at once: their completions share one commit.
const BATCH: i64 = 64;

/// Runs the add-on's handler for one claimed delivery; on success returns
/// the mirror change to apply with its completion.
async fn handle(worker: &InboxWorker, claimed: &ClaimedDelivery) -> Result<Option<MirrorChange>, String> {
    let event: WebhookEvent = claimed.event.parse().unwrap_or_else(|never| match never {});
    // Decoded once, from the stored text into its type.
    let decoded = decode_text(&event, &claimed.body);
    worker.metrics.payload(&claimed.event, decoded.payload.is_typed());
    let mirror = mirror_change(&decoded.payload, decoded.change, &claimed.body);
    // The workspace's flows, each once per delivery (a delivery handled
    // again finds their executions); only a store failure retries it.
    crate::flows::run::on_delivery(&worker.flows, claimed).await.map_err(|e| format!("flows: {e}"))?;
    let delivery = WebhookDelivery {
        id: claimed.id.clone(),
        workspace_id: claimed.workspace_id.clone(),
        event: event.clone(),
        change: decoded.change,
        payload: decoded.payload,
        attempt: claimed.attempt,
        received_at_ms: claimed.received_at,
    };
    match tokio::time::timeout(HANDLER_TIMEOUT, worker.hooks.on_webhook(&worker.contexts.context(&claimed.workspace_id), &delivery)).await {
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
pub async fn run_inbox(worker: InboxWorker, inbox: super::Inbox) {
    let signal = &inbox.wake;
    let mut backlog = false;
    let mut claim_next = true;
    let mut last_claim = Instant::now();
    // Handled, but the completion could not be written (database away):
    // written with the next one, so they are not handled again after
    // their lease unless this instance stops first.
    let mut unrecorded: Vec<(ClaimedDelivery, Option<MirrorChange>)> = Vec::new();
    loop {
        let woken = signal.notified();
        let handed = inbox.handoff.arrived();
        if inbox.handoff.is_closed() {
            // Stopping: what was handled is written, the rest of the hand-off
            // is released by `Background::stop`.
            record_unrecorded(&worker.deliveries, &mut unrecorded).await;
            return;
        }
        if !backlog {
            tokio::time::sleep(GATHER).await;
        }
        let mut batch = inbox.handoff.take(BATCH as usize, now_ms(), HANDLER_TIMEOUT.as_millis() as i64);
        claim_next |= signal.take_wake() || last_claim.elapsed() >= IDLE_POLL;
        if claim_next && (batch.len() as i64) < BATCH {
            let limit = BATCH - batch.len() as i64;
            match worker.deliveries.claim(limit, LEASE_MS).await {
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
            backlog = batch.len() as i64 >= BATCH || claim_next || !inbox.handoff.is_empty();
            let mut done = Vec::with_capacity(batch.len());
            let mut batch = batch.into_iter();
            while let Some(claimed) = batch.next() {
                if inbox.handoff.is_closed() {
                    // Not started: given back with the hand-off's rest.
                    inbox.handoff.push(std::iter::once(claimed).chain(batch).collect());
                    break;
                }
                match handle(&worker, &claimed).await {
                    Ok(mirror) => {
                        worker.metrics.handled(&claimed.event, "done");
                        worker.metrics.webhook_delay(&claimed.event, claimed.received_at);
                        done.push((claimed, mirror));
                    }
                    Err(error) => {
                        let dead = claimed.attempt >= i64::from(worker.max_attempts);
                        worker.metrics.handled(&claimed.event, if dead { "dead" } else { "retrying" });
                        tracing::warn!(delivery = %claimed.id, event = %claimed.event, attempt = claimed.attempt, dead, %error, "webhook handler failed");
                        if let Err(e) = worker.deliveries.fail(&claimed.id, &error, backoff_ms(claimed.attempt), dead).await {
                            tracing::error!(delivery = %claimed.id, error = %e, "cannot record a handler failure");
                        }
                    }
                }
            }
            done.splice(0..0, unrecorded.drain(..));
            record_handled(&worker.deliveries, done, &mut unrecorded).await;
            continue;
        }
        record_unrecorded(&worker.deliveries, &mut unrecorded).await;
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
async fn record_unrecorded(deliveries: &DeliveryStore, unrecorded: &mut Vec<(ClaimedDelivery, Option<MirrorChange>)>) {
    if !unrecorded.is_empty() {
        record_handled(deliveries, std::mem::take(unrecorded), unrecorded).await;
    }
}

/// Completes `done`; what cannot be written now stays in `unrecorded`.
async fn record_handled(
    deliveries: &DeliveryStore,
    done: Vec<(ClaimedDelivery, Option<MirrorChange>)>,
    unrecorded: &mut Vec<(ClaimedDelivery, Option<MirrorChange>)>,
) {
    if let Err(e) = deliveries.complete(&done).await {
        tracing::error!(error = %e, handled = done.len(), "cannot record handled deliveries yet; retrying");
        *unrecorded = done;
        let over = unrecorded.len().saturating_sub(UNRECORDED_MAX);
        if over > 0 {
            tracing::warn!(dropped = over, "too many unrecorded completions; the oldest will be handled again after their lease");
            unrecorded.drain(..over);
        }
    }
}
