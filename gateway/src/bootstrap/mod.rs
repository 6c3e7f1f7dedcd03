//! Workspace bootstrap: reading every safe list of a workspace into the
//! entity snapshot. `plan` decides what to read from the generated catalog;
//! `run` reads it, page by page, within the workspace's budget, resumably;
//! `runner` is the instance's loop that claims runs; `routes` the admins'
//! HTTP API.

pub mod plan;
pub(crate) mod routes;
pub mod run;
mod runner;

pub use plan::{ParentRef, Plan, SkipReason, Skipped, Step, entity_type_of, plan};
pub use run::{RunOutcome, Stop, run_leased, run_workspace};
pub(crate) use runner::run_bootstraps;
