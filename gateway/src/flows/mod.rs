//! Flows: a workspace's automations. When a webhook event arrives and its
//! payload passes the flow's conditions, the flow's steps (operations of
//! the contract, with templated inputs) run in order through the generated
//! dispatch, acting for the installation.
//!
//! `model` is the flow document (the admin routes' bodies and what is
//! stored); `templates` its `{{ }}` language; `conditions` the gate and
//! step conditions; `validate` the checks before a flow is saved; `run`
//! runs flows on a delivery (inbox, forced, dry run) and records each
//! execution; `cache` keeps each workspace's enabled flows for a second;
//! `routes` the admin routes. Storage is `store::FlowStore`,
//! retention is the inbox's retention job.

pub mod cache;
pub mod conditions;
pub mod model;
pub(crate) mod routes;
pub mod run;
pub mod templates;
pub mod validate;
