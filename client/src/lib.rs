//! A typed Clockify API client for add-ons.
//!
//! Every operation and schema of Clockify's contract (`openapi.json`) is
//! generated into [`generated`] by progenitor; this crate adds what a real
//! client needs around it, through progenitor's hooks ([`hooks`]):
//! credentials, per-region hosts, a per-workspace budget of 50 requests per
//! second shared by every clone, retries that never replay a write, and
//! pagination streams.
//!
//! One cargo feature per tag of the contract (`project`, `time-entry`,
//! `webhooks`, ...; the table in `Cargo.toml` is generated), and `full`, the
//! default, for all of them. With `default-features = false` and the tags an
//! app calls, only those operations (methods, builders, streams) and the
//! schema types they reach are compiled. The catalog ([`catalog`]) always
//! holds every operation: the hooks route by it, and [`Client::get_raw`]
//! sends a GET of any of its operations, whatever the features.
//!
//! ```no_run
//! # #[cfg(feature = "project")]
//! # async fn run() -> Result<(), clockify_client::ClockifyError> {
//! use futures::TryStreamExt;
//! use clockify_client::{Auth, ClientBuilder, Hosts};
//!
//! let client = ClientBuilder::new(Auth::ApiKey("my-key".into()))
//!     .hosts(Hosts::global())
//!     .build()
//!     .expect("valid configuration");
//! let projects: Vec<_> = client.get_projects().workspace_id("ws").stream().try_collect().await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod catalog;
pub mod error;
pub mod exchange;
// Formatted by codegen, not rustfmt (see rustfmt.toml).
#[rustfmt::skip]
pub mod generated;
pub mod hooks;
pub mod hosts;
pub mod paginate;
pub mod rate_limit;
pub mod raw;
pub mod retry;
pub mod runtime;
pub mod text;
pub mod upload;

pub use auth::Auth;
pub use error::{ApiFailure, ClockifyError, ConfigError};
pub use exchange::{Exchange, ExchangeMode};
pub use generated::events::WebhookEvent;
pub use generated::scopes::Scope;
pub use generated::sdk::{Client, builder, types};
pub use hosts::{Hosts, Region};
pub use progenitor_client::{ByteStream, ResponseValue};
pub use rate_limit::{RateBudget, RateLimit, SharedBudget};
pub use retry::RetryPolicy;
pub use runtime::{CallObserver, ClientBuilder, Runtime};
pub use upload::FilePart;
