//! Verification of Clockify's add-on tokens, without the gateway.

mod claims;
// Formatted by codegen, not rustfmt (see rustfmt.toml).
#[rustfmt::skip]
mod generated;
mod keys;
mod kinds;
mod verifier;

pub use claims::{ADDON_TOKEN_TYPE, CLOCKIFY_ISSUER, Claims};
pub use generated::clockify_key::{CLOCKIFY_PUBLIC_KEY_DER_HEX, clockify_public_key_pem};
pub use jsonwebtoken::Algorithm;
pub use keys::{KeyError, KeyName, VerifierKeys, load_extra_keys_dir};
pub use kinds::{Expectation, TokenKind};
pub use verifier::{ConfigError, DEFAULT_LEEWAY_SECONDS, MAX_TOKEN_LEN, TokenRejection, TokenVerifier, VerifierConfig};
