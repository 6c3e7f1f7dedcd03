//! HTTP gateway for Clockify add-ons.
//!
//! Kept as a library (with a thin `main.rs`) so integration tests and other
//! binaries can start the exact same application on an ephemeral port.

pub mod api;
pub mod config;
pub mod generated;
pub mod startup;
pub mod telemetry;

pub use config::{Config, LogFormat};
pub use startup::{Application, StartupError};
