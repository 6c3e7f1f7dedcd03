//! Where an add-on author plugs in: `Application::build_with_hooks(config,
//! hooks)`. Hooks run after the gateway has verified and stored the event, so
//! they see only what is already durable.
//!
//! Webhook handlers run from the inbox, at least once: a handler that returns
//! an error (or whose process dies) gets the delivery again, with backoff,
//! until `WEBHOOK_MAX_ATTEMPTS`, then the delivery is dead (kept, visible,
//! replayable). Use `WebhookDelivery::id` to make a handler idempotent.

use std::future::Future;
use std::pin::Pin;

use clockify_client::WebhookEvent;
use serde_json::Value;

use crate::events::{Change, WebhookPayload};

#[derive(Debug, Clone, PartialEq)]
pub enum LifecycleEvent {
    Installed { workspace_id: String },
    Deleted { workspace_id: String },
    SettingsUpdated { workspace_id: String, settings: Value },
    StatusChanged { workspace_id: String, active: bool },
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

pub type HookFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// Your add-on's reactions. Every method has a no-op default.
pub trait AddonHooks: Send + Sync + 'static {
    fn on_lifecycle(&self, event: LifecycleEvent) -> HookFuture<'_> {
        let _ = event;
        Box::pin(async {})
    }

    /// Called for every verified delivery of an active installation.
    fn on_webhook<'a>(&'a self, delivery: &'a WebhookDelivery) -> HandlerFuture<'a> {
        let _ = delivery;
        Box::pin(async { Ok(()) })
    }
}

/// The stock gateway: stores, mirrors and acknowledges, nothing more.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl AddonHooks for NoHooks {}
