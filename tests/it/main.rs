//! Tests across crates, in one binary (one link instead of one per file).

mod support;

mod client_decoding;
mod client_pagination;
mod client_requests;
mod contract;
mod manifest;
mod webhook_payloads;
