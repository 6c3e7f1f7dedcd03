//! Where an add-on author plugs in: `Application::builder(config).hooks(h)`.
//! Hooks run after the gateway has verified and stored the event, so they
//! see only what is already durable, each with the [`AddonContext`] of its
//! workspace.

use std::future::Future;
use std::pin::Pin;

use clockify_client::WebhookEvent;
use serde_json::Value;

use crate::context::AddonContext;
use crate::events::{Change, WebhookPayload};

/// A lifecycle call Clockify made, as the hook gets it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LifecycleEvent {
    Installed {
        workspace_id: String,
    },
    Deleted {
        workspace_id: String,
    },
    /// `settings` as Clockify sent them: `[{id, name, value}]`.
    SettingsUpdated {
        workspace_id: String,
        settings: Value,
    },
    StatusChanged {
        workspace_id: String,
        active: bool,
    },
}

impl LifecycleEvent {
    pub fn workspace_id(&self) -> &str {
        match self {
            LifecycleEvent::Installed { workspace_id }
            | LifecycleEvent::Deleted { workspace_id }
            | LifecycleEvent::SettingsUpdated { workspace_id, .. }
            | LifecycleEvent::StatusChanged { workspace_id, .. } => workspace_id,
        }
    }

    /// The lifecycle type's wire name (`INSTALLED`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            LifecycleEvent::Installed { .. } => "INSTALLED",
            LifecycleEvent::Deleted { .. } => "DELETED",
            LifecycleEvent::SettingsUpdated { .. } => "SETTINGS_UPDATED",
            LifecycleEvent::StatusChanged { .. } => "STATUS_CHANGED",
        }
    }
}

/// One recorded lifecycle call, as the hook runs it.
#[derive(Debug, Clone)]
pub struct LifecycleDelivery {
    /// Stable across attempts: the same call sent twice by Clockify is one
    /// delivery, run once.
    pub id: String,
    pub event: LifecycleEvent,
    /// 1 on the first attempt.
    pub attempt: i64,
}

/// One stored delivery, decoded.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    /// Stable across attempts and replays.
    pub id: String,
    pub workspace_id: String,
    pub event: WebhookEvent,
    pub change: Change,
    pub payload: WebhookPayload,
    /// 1 on the first attempt.
    pub attempt: i64,
    pub received_at_ms: i64,
}

/// A handler failure: the delivery is retried, then dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

impl HandlerError {
    pub fn new(reason: impl std::fmt::Display) -> Self {
        HandlerError(reason.to_string())
    }
}

impl From<crate::context::ContextError> for HandlerError {
    fn from(e: crate::context::ContextError) -> Self {
        HandlerError(e.to_string())
    }
}

impl From<clockify_client::ClockifyError> for HandlerError {
    fn from(e: clockify_client::ClockifyError) -> Self {
        HandlerError(e.to_string())
    }
}

/// A failed call of the typed client, with Clockify's status and message.
impl From<progenitor_client::Error<()>> for HandlerError {
    fn from(e: progenitor_client::Error<()>) -> Self {
        HandlerError(clockify_client::ClockifyError::from(e).to_string())
    }
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// Your add-on's reactions. Every method has a no-op default.
///
/// Both run from durable queues, at least once: an `Err` (or a crash, or a
/// handler running past its timeout) runs the same delivery again, with
/// backoff, until `WEBHOOK_MAX_ATTEMPTS`; then it is dead (kept, shown in
/// the operator console). Make them idempotent with the delivery's `id`.
pub trait AddonHooks: Send + Sync + 'static {
    /// After Clockify's lifecycle call was verified, applied and answered;
    /// in the order Clockify made them, per workspace. On DELETED the
    /// context's client no longer works (the token is void).
    fn on_lifecycle<'a>(&'a self, ctx: &'a AddonContext, delivery: &'a LifecycleDelivery) -> HandlerFuture<'a> {
        let _ = (ctx, delivery);
        Box::pin(async { Ok(()) })
    }

    /// Called for every verified delivery of an active installation.
    fn on_webhook<'a>(&'a self, ctx: &'a AddonContext, delivery: &'a WebhookDelivery) -> HandlerFuture<'a> {
        let _ = (ctx, delivery);
        Box::pin(async { Ok(()) })
    }
}

/// So the handles holding the hooks (the inbox workers', the lifecycle
/// runner's) can derive `Debug`.
impl std::fmt::Debug for dyn AddonHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AddonHooks")
    }
}

/// The stock gateway: stores, mirrors and acknowledges, nothing more.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl AddonHooks for NoHooks {}
