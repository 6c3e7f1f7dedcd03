//! HTTP gateway for Clockify add-ons.
//!
//! Kept as a library (with a thin `main.rs`) so integration tests and other
//! binaries can start the exact same application on an ephemeral port.

pub mod api;
pub mod bootstrap;
pub mod clockify;
pub mod config;
pub mod crypto;
pub mod error;
pub mod events;
pub mod explorer;
pub mod generated;
pub mod handoff;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod registration;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod verified_tokens;
pub mod worker;

pub use config::{Config, LogFormat};
pub use hooks::{AddonHooks, HandlerError, LifecycleEvent, NoHooks, WebhookDelivery};
pub use startup::{Application, StartupError};
pub use state::AppState;
