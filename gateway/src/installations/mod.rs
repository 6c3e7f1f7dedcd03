//! Installations: the lifecycle `routes` Clockify calls, the typed `client`
//! acting for an installation, REST webhook `registration`, and the `jobs`
//! that run after INSTALLED (registration) and DELETED (clean-up), and the
//! add-on's `lifecycle_hooks` run from recorded lifecycle calls.

pub mod client;
pub(crate) mod jobs;
pub(crate) mod lifecycle_hooks;
pub(crate) mod rekey;
pub mod registration;
pub(crate) mod routes;
