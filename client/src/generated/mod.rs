//! Code generated from `openapi.json` by `cargo xtask regen`. Never edit these
//! files by hand: change the contract or `codegen/`, then regenerate.

pub mod catalog;
pub mod streams;
pub mod events;
pub mod multipart;
pub mod scopes;
pub mod sdk;
