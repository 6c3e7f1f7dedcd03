//! The webhook inbox: `routes` receives and verifies deliveries, `ingest`
//! writes them durably (group commit) before the 2xx, `handoff` passes new
//! ones to this instance's `workers` in memory, `events` decodes their typed
//! payloads, `retention` sweeps the old ones.

pub mod events;
pub mod handoff;
pub(crate) mod ingest;
pub(crate) mod retention;
pub(crate) mod routes;
pub(crate) mod workers;

pub use handoff::HandOff;
pub use workers::mirror_change;
