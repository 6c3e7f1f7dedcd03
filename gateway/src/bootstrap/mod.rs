//! Workspace bootstrap: reading every safe list of a workspace into the
//! entity snapshot. `plan` decides what to read from the generated catalog;
//! `run` reads it, page by page, within the workspace's budget, resumably;
//! `runner` is the instance's loop that claims runs; `routes` the admins'
//! HTTP API.

pub mod plan;
pub(crate) mod routes;
pub mod run;
mod runner;

pub use plan::{Choices, ParentRef, Plan, SkipReason, Skipped, Step, entity_type_of, plan};

/// The deployment's choices of what a bootstrap reads, from the configuration.
pub fn choices(config: &crate::config::Config) -> Choices {
    Choices {
        include: config.bootstrap_include.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
        exclude: config.bootstrap_exclude.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
        time_entries_start: config.bootstrap_time_entries_since.map(|d| {
            (chrono::Utc::now() - chrono::Duration::days(i64::from(d.0))).format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }),
    }
}
pub use run::{RunOutcome, Stop, run_leased, run_workspace};
pub(crate) use runner::run_bootstraps;
