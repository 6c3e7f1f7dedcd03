//! Code generated from `addon.toml` and the workspace's `openapi.json` by
//! `cargo xtask regen`. Never edit by hand.

pub mod addon;
