//! The kinds of token Clockify issues, each with its claim rules, and what a
//! route expects of a token.

use std::fmt;

use crate::Claims;

/// The tokens Clockify issues (PLATFORM.md §2.1-2.2). All are RS256 JWTs
/// from the same key, so only their claims tell them apart; each kind has
/// its own rules and a route names the one kind it takes. User claims
/// (`workspaceRole`, `language`, `theme`) mark a token any workspace member
/// can read out of a component's URL: they never pass as any other kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `X-Addon-Lifecycle-Token` on lifecycle calls: an add-on token with no
    /// user claims (Clockify documents no other claim of it).
    Lifecycle,
    /// INSTALLED's `authToken`: an add-on token with `backendUrl` and no user claims.
    Installation,
    /// `clockify-signature` of a webhook the manifest declares: an add-on
    /// token with none of the installation's or a user's claims.
    Webhook,
    /// `clockify-signature` of a webhook created through the REST API: its
    /// claims are not documented (a sample has `type: access`), so issuer,
    /// signature and time, and no user claims; the stored-token check binds it.
    RestWebhook,
    /// A user token (a component's `auth_token`): an add-on token with
    /// `user`, `workspaceRole` and an `exp` (30 minutes).
    User,
}

impl TokenKind {
    pub const ALL: [Self; 5] = [Self::Lifecycle, Self::Installation, Self::Webhook, Self::RestWebhook, Self::User];

    /// Stable snake_case name, for logs and the verified-token cache key.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Lifecycle => "lifecycle",
            Self::Installation => "installation",
            Self::Webhook => "webhook",
            Self::RestWebhook => "rest_webhook",
            Self::User => "user",
        }
    }

    /// Whether `type == "addon"` and `sub` == our add-on key are required.
    pub(crate) const fn is_addon_token(self) -> bool {
        !matches!(self, Self::RestWebhook)
    }

    /// The kind's own claim rules, after issuer, type and subject.
    pub(crate) fn claims_fit(self, c: &Claims) -> bool {
        let user_claims = c.workspace_role.is_some() || c.language.is_some() || c.theme.is_some();
        match self {
            Self::Lifecycle | Self::RestWebhook => !user_claims,
            Self::Installation => !user_claims && c.backend_url.is_some(),
            Self::Webhook => !user_claims && c.user.is_none() && c.backend_url.is_none(),
            Self::User => c.user.is_some() && c.workspace_role.is_some() && c.exp.is_some(),
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a route requires of a token, beyond a valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expectation<'a> {
    pub kind: TokenKind,
    /// When set, `workspaceId` must be present and equal.
    pub workspace_id: Option<&'a str>,
    /// When set, `addonId` must be present and equal.
    pub addon_id: Option<&'a str>,
}

impl<'a> Expectation<'a> {
    pub const fn of(kind: TokenKind) -> Self {
        Self { kind, workspace_id: None, addon_id: None }
    }

    /// Binds the token to a workspace, e.g. the one named in the request.
    #[must_use]
    pub const fn for_workspace(mut self, workspace_id: &'a str) -> Self {
        self.workspace_id = Some(workspace_id);
        self
    }

    /// Binds the token to an installation (`addonId`).
    #[must_use]
    pub const fn for_addon(mut self, addon_id: &'a str) -> Self {
        self.addon_id = Some(addon_id);
        self
    }
}
