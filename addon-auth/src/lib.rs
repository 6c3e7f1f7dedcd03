//! Verification of Clockify's add-on tokens, without the gateway.

mod token;
// Formatted by codegen, not rustfmt (see rustfmt.toml).
#[rustfmt::skip]
mod generated;

pub use generated::clockify_key::{CLOCKIFY_PUBLIC_KEY_DER_HEX, clockify_public_key_pem};
pub use token::*;
