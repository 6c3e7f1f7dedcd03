//! Code generation for the Clockify add-on toolkit.
//!
//! `normalize` turns Clockify's upstream spec into the committed contract
//! (`openapi.json`) through named patches; `generate` turns the contract into
//! the committed Rust artifacts. Both are plain functions: `cargo xtask regen`
//! writes their output, and the root `build.rs` and a test compare it with what
//! is committed.

pub mod addon;
pub mod artifacts;
pub mod catalog;
pub mod changelog;
pub mod clockify_key;
pub mod contract;
pub mod dispatch;
pub mod error;
pub mod events;
pub mod examples;
pub mod facts;
pub mod features;
pub mod hosts;
pub mod lint;
pub mod manifest;
pub mod multipart;
pub mod patches;
pub mod render;
pub mod scopes;
pub mod sdk;
pub mod settings;
pub mod streams;
pub mod typenames;

pub use addon::AddonDefinition;
pub use artifacts::{ARTIFACT_PATHS, Artifact, INPUT_PATHS, check_committed, generate};
pub use contract::Contract;
pub use error::{CodegenError, Result};
pub use patches::{AppliedPatch, normalize};
