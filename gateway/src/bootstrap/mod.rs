//! Workspace bootstrap: reading every safe list of a workspace into the
//! entity snapshot. `plan` decides what to read from the generated catalog;
//! running the plan (paging, the shared budget, resume, leases) is the rest
//! of the bootstrap issue and not built yet.

pub mod plan;

pub use plan::{ParentRef, Plan, SkipReason, Skipped, Step, plan};
