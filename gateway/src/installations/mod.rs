//! Installations: the lifecycle `routes` Clockify calls, the typed `client`
//! acting for an installation, REST webhook `registration`, and the `jobs`
//! that run after INSTALLED (registration) and DELETED (clean-up).

pub mod client;
pub(crate) mod jobs;
pub mod registration;
pub(crate) mod routes;
