//! The group commit behind every 2xx: verified deliveries wait here, the
//! checks that need the database run for the whole batch at once, and each
//! request gets its answer only after the commit.

use std::sync::Arc;

use crate::background::LEASE_MS;
use crate::store::{Backend, DeliveryStore};

/// What the group commit reads.
#[derive(Clone, Debug)]
pub struct Ingest {
    pub deliveries: DeliveryStore,
    /// How many batches may be in flight at once depends on it.
    pub backend: Backend,
    /// Whether this instance runs inbox workers (WEBHOOK_WORKERS > 0): only
    /// then are new deliveries handed to them already leased.
    pub hands_off: bool,
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
pub async fn run_ingest(ingest: Ingest, inbox: super::Inbox, mut rx: tokio::sync::mpsc::Receiver<IngestItem>) {
    let in_flight = match ingest.backend {
        Backend::Sqlite => 1,
        Backend::Postgres => crate::store::POSTGRES_INGEST_BATCHES,
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
        let (ingest, inbox) = (ingest.clone(), inbox.clone());
        batches.spawn(async move {
            ingest_batch(&ingest, &inbox, items).await;
            drop(slot);
        });
    }
}

async fn ingest_batch(ingest: &Ingest, inbox: &super::Inbox, items: Vec<IngestItem>) {
    // New deliveries go to this instance's inbox already leased, unless no
    // inbox runs here or it has enough waiting.
    let bytes = items.iter().map(|i| i.delivery.body.len()).sum();
    let lease = (ingest.hands_off && inbox.handoff.has_room(items.len(), bytes)).then_some(LEASE_MS);
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
    let (answers, recorded) = match ingest.deliveries.ingest(workspaces, lease, decide).await {
        Ok((answers, Ok(stored))) => {
            inbox.handoff.push(stored.leased);
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
        inbox.wake();
    }
}
