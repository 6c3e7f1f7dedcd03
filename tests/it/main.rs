//! Tests across crates, in one binary (one link instead of one per file).

mod support;

/// The gateway tests' harness: a real gateway on an ephemeral port.
#[path = "../../gateway/tests/support/mod.rs"]
mod gateway_support;

mod client_addon;
mod client_decoding;
mod client_pagination;
mod client_requests;
mod contract;
mod manifest;
mod webhook_payloads;
