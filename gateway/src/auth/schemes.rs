//! The token each route takes, as one poem-openapi security scheme per kind
//! of Clockify token: a route's signature names the kind, and the scheme's
//! `verify` checks the token as that kind and no other (token.rs), so a user
//! token cannot reach a lifecycle route or a webhook through a shared helper.

use poem_openapi::SecurityScheme;
use poem_openapi::auth::ApiKey;

use crate::auth::token::{Claims, Expectation, TokenKind, TokenRejection, TokenVerifier};

/// The lifecycle signature, as PLATFORM.md §1.2 names it.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Addon-Lifecycle-Token", key_in = "header")]
pub struct LifecycleToken(ApiKey);

/// The header older docs use for the lifecycle signature.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "Clockify-Signature", key_in = "header")]
pub struct ClockifySignature(ApiKey);

/// A lifecycle token in either header; `X-Addon-Lifecycle-Token` wins when
/// both are sent. Verified as [`TokenKind::Lifecycle`] only.
#[derive(SecurityScheme)]
pub enum LifecycleAuth {
    LifecycleToken(LifecycleToken),
    ClockifySignature(ClockifySignature),
}

impl LifecycleAuth {
    /// A lifecycle token of this workspace and installation.
    pub fn verify(&self, verifier: &TokenVerifier, workspace_id: &str, addon_id: &str) -> Result<Claims, TokenRejection> {
        let token = match self {
            LifecycleAuth::LifecycleToken(t) => &t.0.key,
            LifecycleAuth::ClockifySignature(t) => &t.0.key,
        };
        verifier.verify(token, &Expectation::of(TokenKind::Lifecycle).for_workspace(workspace_id).for_addon(addon_id))
    }
}

/// A webhook delivery's signature (`clockify-signature`): a
/// [`TokenKind::Webhook`] token for the events the manifest declares, a
/// [`TokenKind::RestWebhook`] one for those registered through the REST API.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "Clockify-Signature", key_in = "header")]
pub struct WebhookSignature(ApiKey);

impl WebhookSignature {
    pub fn token(&self) -> &str {
        &self.0.key
    }
}

/// A Clockify user token (a component's `auth_token`, sent on as
/// `X-Addon-Token`). Verified as [`TokenKind::User`] only.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Addon-Token", key_in = "header")]
pub struct UserToken(ApiKey);

impl UserToken {
    /// A user token, of `workspace_id` when one is given.
    pub fn verify(&self, verifier: &TokenVerifier, workspace_id: Option<&str>) -> Result<Claims, TokenRejection> {
        let expect = Expectation::of(TokenKind::User);
        let expect = match workspace_id {
            Some(ws) => expect.for_workspace(ws),
            None => expect,
        };
        verifier.verify(&self.0.key, &expect)
    }

    /// The raw token, for calls made with the user's own authority.
    pub fn token(&self) -> &str {
        &self.0.key
    }
}
