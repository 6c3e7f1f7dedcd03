//! Verification of Clockify's add-on tokens, without the gateway.
//!
//! Clockify signs every token it gives an add-on (the installation token, the
//! user token a component gets as its `auth_token` query parameter, the
//! webhook and lifecycle signatures) as an RS256 JWT with one published key.
//! A [`TokenVerifier`] holds the keys (Clockify's, compiled in, plus optional
//! extra keys a token selects by its `kid`) and checks the signature and
//! algorithm, `exp` and `nbf`, the issuer, the `type` and the subject (the
//! add-on's key), then the claim rules of the [`TokenKind`] the caller
//! expects. An [`Expectation`] names that kind and can bind the token to a
//! workspace or an installation. The result is the token's [`Claims`], or a
//! [`TokenRejection`] that never echoes any part of the token.
//!
//! The crate depends on `jsonwebtoken` (its RustCrypto backend), serde,
//! serde_json, thiserror and base64 only: no web framework, database or async
//! runtime. An app that serves its own pages beside `clockify-client` verifies
//! Clockify's tokens with it alone; the gateway uses it for every route.
//!
//! # Verifying a component's `auth_token`
//!
//! Build one verifier at startup and share it (it is `Send + Sync`): for
//! Clockify's tokens that is `TokenVerifier::clockify("your-addon-key")?`.
//! To sign a token of its own, the example below adds a test key as an extra
//! key with the id `test`; tokens without a `kid`, as Clockify sends them,
//! are still checked against Clockify's key.
//!
//! ```
//! use clockify_addon_auth::{Expectation, TokenKind, TokenRejection, TokenVerifier, VerifierConfig, VerifierKeys};
//!
//! /// Who opened the component.
//! #[derive(Debug)]
//! struct Viewer {
//!     user_id: String,
//!     role: String,
//!     workspace_id: Option<String>,
//!     language: Option<String>,
//!     theme: Option<String>,
//! }
//!
//! /// The viewer behind a component's `auth_token`, or why the token is refused.
//! fn viewer(verifier: &TokenVerifier, auth_token: &str) -> Result<Viewer, TokenRejection> {
//!     let claims = verifier.verify(auth_token, &Expectation::of(TokenKind::User))?;
//!     // `TokenKind::User` requires `user`, `workspaceRole` and `exp`: they are there.
//!     Ok(Viewer {
//!         user_id: claims.user.unwrap_or_default(),
//!         role: claims.workspace_role.unwrap_or_default(),
//!         workspace_id: claims.workspace_id,
//!         language: claims.language,
//!         theme: claims.theme,
//!     })
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // This repository's test key pair (a test key, never Clockify's).
//! let public_pem = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../testkit/keys/test-rsa-public.pem"));
//! let private_pem = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../testkit/keys/test-rsa-private.pem"));
//!
//! // Clockify's key, plus the test key for tokens whose `kid` is `test`.
//! let keys = VerifierKeys::clockify(&[("test".to_owned(), public_pem.to_vec())])?;
//! let verifier = TokenVerifier::new(keys, VerifierConfig::new("my-addon"))?;
//!
//! // What Clockify does when a user opens the component: a user token, 30 minutes.
//! let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
//! let claims = serde_json::json!({
//!     "iss": "clockify", "type": "addon", "sub": "my-addon",
//!     "workspaceId": "68adfddad138cb5a4b2b4d2e", "addonId": "68ae0e2bd138cb5a4b2b5a11",
//!     "user": "68adfddad138cb5a4b2b4d2f", "workspaceRole": "TEAM_MANAGER",
//!     "language": "EN", "theme": "DARK",
//!     "backendUrl": "https://api.clockify.me/api", "reportsUrl": "https://reports.api.clockify.me",
//!     "iat": now, "exp": now + 30 * 60,
//! });
//! let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
//! header.kid = Some("test".to_owned());
//! let auth_token = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_rsa_pem(private_pem)?)?;
//!
//! let who = viewer(&verifier, &auth_token)?;
//! assert_eq!(who.user_id, "68adfddad138cb5a4b2b4d2f");
//! assert_eq!(who.role, "TEAM_MANAGER");
//! assert_eq!(who.workspace_id.as_deref(), Some("68adfddad138cb5a4b2b4d2e"));
//! assert_eq!(who.language.as_deref(), Some("EN"));
//! assert_eq!(who.theme.as_deref(), Some("DARK"));
//!
//! // A user token passes as no other kind, and a changed token not at all.
//! let as_installation = verifier.verify(&auth_token, &Expectation::of(TokenKind::Installation));
//! assert_eq!(as_installation.unwrap_err(), TokenRejection::Kind);
//! let mut forged = auth_token.clone();
//! forged.push('A');
//! assert!(viewer(&verifier, &forged).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! Where the request names a workspace, bind the token to it:
//! `Expectation::of(TokenKind::User).for_workspace(workspace_id)` refuses a
//! token of another workspace with [`TokenRejection::Workspace`].

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
