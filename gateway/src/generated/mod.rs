//! Code generated from `addon.toml` and `openapi.json` by `cargo xtask regen`.
//! Never edit by hand.

pub mod addon;
