//! The groups the gateway's OpenAPI document lists its routes under; each
//! part's routes name theirs, and `api` assembles the parts.

use poem_openapi::Tags;

#[derive(Tags)]
pub enum Tag {
    /// Probes and metrics.
    Operations,
    /// What Clockify reads to install the add-on.
    Addon,
    /// Calls Clockify makes when the add-on is installed, changed or removed.
    Lifecycle,
    /// Event deliveries from Clockify.
    Webhooks,
    /// For a workspace's owner and admins.
    Admin,
    /// Reading a workspace's lists into the entity snapshot, for its admins.
    Bootstrap,
    /// A workspace's automations, from webhook events to Clockify calls, for its admins.
    Flows,
    /// Any operation of Clockify's API, validated against the contract, with the caller's token.
    Explorer,
}
