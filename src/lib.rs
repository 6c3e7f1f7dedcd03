//! The Clockify add-on toolkit: re-exports the typed client and the gateway.
//! This root package also owns the build-time contract check (`build.rs`) and
//! the cross-crate tests (`tests/`).

pub use clockify_client as client;
pub use clockify_gateway as gateway;
