//! Where an add-on author plugs in: `Application::build_with_hooks(config,
//! hooks)`. Hooks run after the gateway has verified and stored the event, so
//! they see only what is already durable; a failing hook does not undo it.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum LifecycleEvent {
    Installed { workspace_id: String },
    Deleted { workspace_id: String },
    SettingsUpdated { workspace_id: String, settings: Value },
    StatusChanged { workspace_id: String, active: bool },
}

pub type HookFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Your add-on's reactions. Every method has a no-op default.
pub trait AddonHooks: Send + Sync + 'static {
    fn on_lifecycle(&self, event: LifecycleEvent) -> HookFuture<'_> {
        let _ = event;
        Box::pin(async {})
    }
}

/// The stock gateway: stores and acknowledges, nothing more.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl AddonHooks for NoHooks {}
