//! HTTP gateway for Clockify add-ons.
//!
//! An add-on is built on it with [`Application::builder`]: its generated
//! [`AddonManifest`], its [`AddonHooks`] (webhooks and lifecycle calls, each
//! with the workspace's [`AddonContext`]: a typed client acting for the
//! installation, the settings, the entity mirror) and its own poem-openapi
//! routes taking a [`VerifiedUser`]. The stock gateway (`main.rs`) is
//! `Application::build(config)` with none of them.
//!
//! Inside, one folder per part: `auth` (Clockify's tokens), `installations`
//! (lifecycle, the installation's client, REST webhooks, clean-up), `inbox`
//! (webhook deliveries from request to handled), `bootstrap`, `explorer`,
//! `flows` (workspace automations run from the inbox),
//! `admin` (the operators' routes and console), `ops` (probes, metrics,
//! manifest), `http` (middleware), `store` (the database). `api` assembles
//! the routes into one OpenAPI service; `startup` builds the application
//! (`state::Parts`), hands each route, middleware and background loop only
//! the handles it reads, and starts the loops.

// Without `internals`, what only the tests reach (re-exports, a few
// helpers) is unused; with it (every test and clippy build) it is public.
#![cfg_attr(not(feature = "internals"), allow(unused_imports, dead_code))]

/// Parts that are not the add-on author's API: private, or public with the
/// `internals` feature, which only the gateway's own tests and benchmarks
/// enable (they reach into the stores); not a stable API.
macro_rules! internal {
    ($($(#[$attr:meta])* mod $name:ident;)*) => {$(
        $(#[$attr])*
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$attr])*
        #[cfg(not(feature = "internals"))]
        mod $name;
    )*};
}

pub mod addon;
pub mod config;
pub mod context;
pub mod events;
pub mod hooks;
pub mod startup;
pub mod telemetry;

internal! {
    mod admin;
    mod api;
    mod auth;
    mod bootstrap;
    mod crypto;
    mod error;
    mod explorer;
    mod flows;
    // Formatted by codegen, not rustfmt (see rustfmt.toml).
    #[rustfmt::skip]
    mod generated;
    mod http;
    mod inbox;
    mod installations;
    mod limiter;
    mod metrics;
    mod ops;
    mod state;
    mod store;
}
mod background;
mod redact;
mod tags;

pub use addon::AddonManifest;
pub use auth::user::{User, VerifiedUser};
pub use config::{Config, LogFormat};
pub use context::{AddonContext, ContextError, Contexts, Installation, Mirror};
/// The problem answers (RFC 7807) of every gateway route; an add-on route
/// returns `Result<_, RouteError>` so its spec lists them too (including
/// the 401 and 403 of `VerifiedUser`).
pub use error::{ApiError as RouteError, Problem};
pub use events::{Change, WebhookPayload};
pub use hooks::{AddonHooks, HandlerError, HandlerFuture, LifecycleDelivery, LifecycleEvent, NoHooks, WebhookDelivery};
pub use startup::{Application, ApplicationBuilder, StartupError};
#[cfg(feature = "internals")]
pub use state::Parts;
/// The versions the add-on's routes are written against.
pub use {clockify_client, poem, poem_openapi};
