//! [`VerifiedUser`]: the extractor an add-on's own routes take. A Clockify
//! user token (a component's `auth_token` query parameter on the page load,
//! `X-Addon-Token` on the page's calls after it), verified as a user token
//! of this add-on, for a workspace where the add-on is installed and live.

use std::ops::Deref;
use std::sync::Arc;

use poem::http::StatusCode;
use poem::{Request, RequestBody};
use poem_openapi::auth::ApiKey;
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

use crate::auth::token::{Expectation, TokenKind, TokenVerifier};
use crate::metrics::Metrics;
use crate::store::{InstallationStore, Standing};

/// A Clockify user, from a verified user token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The `user` claim.
    pub id: String,
    pub workspace_id: String,
    /// The installation's id (`addonId`).
    pub addon_id: String,
    /// `OWNER`, `WORKSPACE_ADMIN`, `TEAM_MANAGER`, `PROJECT_MANAGER`, ...
    pub role: String,
    /// `EN`, ...
    pub language: Option<String>,
    /// `DEFAULT`, `DARK`, ...
    pub theme: Option<String>,
    token: String,
}

impl User {
    /// The workspace's owner or an admin.
    pub fn is_admin(&self) -> bool {
        matches!(self.role.as_str(), "OWNER" | "WORKSPACE_ADMIN")
    }

    /// The token itself, for calls made with the user's own authority
    /// (never with the installation's).
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// A user token in `X-Addon-Token`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-Addon-Token", key_in = "header", checker = "check_user_token")]
pub struct AddonTokenHeader(User);

/// A user token in the `auth_token` query parameter, as Clockify loads a
/// component or a settings page.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "auth_token", key_in = "query", checker = "check_user_token")]
pub struct AuthTokenQuery(User);

/// A verified Clockify user: take it as a parameter of an add-on route.
/// The token comes from `X-Addon-Token` when that header is sent, else
/// from `auth_token`; the spec lists both schemes. Dereferences to [`User`].
pub struct VerifiedUser(User);

// By hand rather than a derived enum of the two schemes: the derived one
// tries both and answers the last one's error, so a refused header token
// would read as a missing query parameter (401 instead of 403).
impl<'a> ApiExtractor<'a> for VerifiedUser {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        AddonTokenHeader::register(registry);
        AuthTokenQuery::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = AddonTokenHeader::security_schemes();
        schemes.extend(AuthTokenQuery::security_schemes());
        schemes
    }

    async fn from_request(req: &'a Request, body: &mut RequestBody, options: ExtractParamOptions<()>) -> poem::Result<Self> {
        if req.headers().contains_key("x-addon-token") {
            AddonTokenHeader::from_request(req, body, options).await.map(|h| VerifiedUser(h.0))
        } else {
            AuthTokenQuery::from_request(req, body, options).await.map(|q| VerifiedUser(q.0))
        }
    }
}

impl Deref for VerifiedUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0
    }
}

/// What the check needs, given to the add-on's routes as request data.
#[derive(Clone, Debug)]
pub(crate) struct UserCheck {
    pub verifier: Arc<TokenVerifier>,
    pub installations: InstallationStore,
    pub metrics: Arc<Metrics>,
}

async fn check_user_token(req: &Request, key: ApiKey) -> poem::Result<User> {
    let check = req
        .data::<UserCheck>()
        .ok_or_else(|| poem::Error::from_string("user check not configured", StatusCode::INTERNAL_SERVER_ERROR))?;
    let claims = check.verifier.verify(&key.key, &Expectation::of(TokenKind::User)).map_err(|rejection| {
        check.metrics.auth_failure(rejection.reason());
        tracing::warn!(target: "audit", event = "auth_failure", route = "addon", reason = rejection.reason(), "user token rejected");
        poem::Error::from_string(format!("token rejected: {rejection}"), StatusCode::UNAUTHORIZED)
    })?;
    let (Some(id), Some(workspace_id), Some(addon_id), Some(role)) = (claims.user, claims.workspace_id, claims.addon_id, claims.workspace_role)
    else {
        // TokenKind::User requires these claims; kept as an answer, not a panic.
        return Err(poem::Error::from_string("token rejected: user claims missing", StatusCode::UNAUTHORIZED));
    };
    let standing = check.installations.standing(&workspace_id, &addon_id).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read the installation for a user token");
        poem::Error::from_string("database unavailable", StatusCode::SERVICE_UNAVAILABLE)
    })?;
    if standing != Standing::Live {
        check.metrics.auth_failure("not_installed");
        tracing::warn!(target: "audit", event = "auth_failure", route = "addon", reason = "not_installed", workspace_id = %workspace_id,
            "user token of a workspace without this installation");
        return Err(poem::Error::from_string(
            format!("the add-on is not installed on workspace {workspace_id} (or this token is of an earlier installation)"),
            StatusCode::FORBIDDEN,
        ));
    }
    Ok(User { id, workspace_id, addon_id, role, language: claims.language, theme: claims.theme, token: key.key })
}
