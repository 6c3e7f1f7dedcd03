//! HTTP gateway for Clockify add-ons.
//!
//! Kept as a library (with a thin `main.rs`) so integration tests and other
//! binaries can start the exact same application on an ephemeral port.
//!
//! One folder per part: `auth` (Clockify's tokens), `installations`
//! (lifecycle, the installation's client, REST webhooks, clean-up), `inbox`
//! (webhook deliveries from request to handled), `bootstrap`, `explorer`,
//! `admin` (the operators' routes and console), `ops` (probes, metrics,
//! manifest), `http` (middleware), `store` (the database). `api` assembles
//! the routes into one OpenAPI service; `startup` builds the application and
//! starts each part's background loops.

pub mod admin;
pub mod api;
pub mod auth;
mod background;
pub mod bootstrap;
pub mod config;
pub mod crypto;
pub mod error;
pub mod events;
pub mod explorer;
// Formatted by codegen, not rustfmt (see rustfmt.toml).
#[rustfmt::skip]
pub mod generated;
pub mod hooks;
pub mod http;
pub mod inbox;
pub mod installations;
pub mod limiter;
pub mod metrics;
pub mod ops;
mod redact;
pub mod startup;
pub mod state;
pub mod store;
mod tags;
pub mod telemetry;

pub use config::{Config, LogFormat};
pub use hooks::{AddonHooks, HandlerError, LifecycleEvent, NoHooks, WebhookDelivery};
pub use startup::{Application, StartupError};
pub use state::AppState;
