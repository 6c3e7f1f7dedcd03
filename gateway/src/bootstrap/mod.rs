//! Workspace bootstrap: reading every safe list of a workspace into the
//! entity snapshot. `plan` decides what to read from the generated catalog;
//! `run` reads it, page by page, within the workspace's budget, resumably.

pub mod plan;
pub mod run;

pub use plan::{ParentRef, Plan, SkipReason, Skipped, Step, entity_type_of, plan};
pub use run::{RunOutcome, Stop, run_leased, run_workspace};
