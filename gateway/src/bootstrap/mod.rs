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

/// The bootstrap's settings, read from the configuration once.
#[derive(Clone, Debug)]
pub struct BootstrapSettings {
    /// The manifest's scopes: what the plan may read.
    pub declared_scopes: &'static [clockify_client::Scope],
    /// BOOTSTRAP_PAGE_SIZE.
    pub page_size: u32,
    /// BOOTSTRAP_MAX_PAGES per list.
    pub max_pages: u32,
    /// BOOTSTRAP_LEASE_SECONDS.
    pub lease_seconds: u64,
    /// BOOTSTRAP_WORKERS: workspaces run at once by this instance.
    pub workers: usize,
    /// BOOTSTRAP_BUDGET_SHARE (the clients already draw within it; shown in the status).
    pub budget_share: f64,
    /// BOOTSTRAP_INCLUDE, BOOTSTRAP_EXCLUDE.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// BOOTSTRAP_TIME_ENTRIES_SINCE.
    pub time_entries_since: Option<crate::config::Days>,
}

impl BootstrapSettings {
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            declared_scopes: config.addon.declared_scopes,
            page_size: config.bootstrap_page_size,
            max_pages: config.bootstrap_max_pages,
            lease_seconds: config.bootstrap_lease_seconds,
            workers: config.bootstrap_workers,
            budget_share: config.bootstrap_budget_share,
            include: config.bootstrap_include.clone(),
            exclude: config.bootstrap_exclude.clone(),
            time_entries_since: config.bootstrap_time_entries_since,
        }
    }

    /// The deployment's choices of what a bootstrap reads (the time entries'
    /// start counted back from now).
    pub fn choices(&self) -> Choices {
        Choices {
            include: self.include.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
            exclude: self.exclude.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect(),
            time_entries_start: self.time_entries_since.map(|d| {
                (chrono::Utc::now() - chrono::Duration::days(i64::from(d.0))).format("%Y-%m-%dT%H:%M:%SZ").to_string()
            }),
        }
    }

    /// Milliseconds a claimed run holds its lease without renewing it.
    pub fn lease_ms(&self) -> i64 {
        (self.lease_seconds * 1000) as i64
    }
}
pub use run::{BootstrapRunner, RunOutcome, Stop, run_leased, run_workspace};
pub(crate) use runner::run_bootstraps;
