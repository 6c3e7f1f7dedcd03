//! The verifier: signature, algorithm, key by `kid`, time and claims.
//!
//! Every token Clockify sends (installation, user, webhook and lifecycle
//! tokens) is an RS256 JWT signed with Clockify's published key. A
//! [`TokenVerifier`] is built once at startup from that key (plus optional
//! operator-configured rotation keys, each with a `kid`) and then shared,
//! usually behind an `Arc`, by every request handler.
//!
//! Rejections are a closed set ([`TokenRejection`]) whose
//! [`reason`](TokenRejection::reason) is a stable metric label and whose
//! `Display` never echoes any part of the token.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;

use crate::{ADDON_TOKEN_TYPE, Algorithm, CLOCKIFY_ISSUER, Claims, Expectation, KeyError, VerifierKeys};

/// Longest token we look at. Real Clockify tokens are well under 2 KiB; the
/// cap bounds the work an attacker can make us do before any decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Clock skew tolerated on `exp` and `nbf` unless configured otherwise.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// The verifier configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("no token algorithm is allowed")]
    NoAlgorithm,
    #[error("algorithm {0:?} is not allowed for Clockify tokens (only RS256, RS384, RS512)")]
    UnsupportedAlgorithm(Algorithm),
    #[error("the add-on key (expected `sub` claim) must not be empty")]
    EmptyAddonKey,
}

/// Everything about verification that is not a key.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The manifest `key`; add-on tokens carry it as `sub`.
    pub addon_key: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway_seconds: u64,
    /// Accepted `alg` header values. Clockify uses RS256 only.
    pub algorithms: Vec<Algorithm>,
}

impl VerifierConfig {
    /// RS256 only, [`DEFAULT_LEEWAY_SECONDS`] of leeway.
    pub fn new(addon_key: impl Into<String>) -> Self {
        Self { addon_key: addon_key.into(), leeway_seconds: DEFAULT_LEEWAY_SECONDS, algorithms: vec![Algorithm::RS256] }
    }
}

/// Why a token was refused. Carries no data on purpose: nothing from the
/// token may reach logs or responses through an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum TokenRejection {
    #[error("token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token algorithm is not accepted")]
    Algorithm,
    #[error("token names a key id that is not configured")]
    UnknownKid,
    #[error("token signature does not verify")]
    Signature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is not Clockify")]
    Issuer,
    #[error("token type is not accepted here")]
    Type,
    #[error("token subject is not this add-on")]
    Subject,
    #[error("token is not of the kind this route takes")]
    Kind,
    #[error("token belongs to another workspace")]
    Workspace,
    #[error("token belongs to another add-on installation")]
    Addon,
}

impl TokenRejection {
    /// Every variant, e.g. to pre-register metric labels.
    pub const ALL: [Self; 13] = [
        Self::TooLong,
        Self::Malformed,
        Self::Algorithm,
        Self::UnknownKid,
        Self::Signature,
        Self::Expired,
        Self::NotYetValid,
        Self::Issuer,
        Self::Type,
        Self::Subject,
        Self::Kind,
        Self::Workspace,
        Self::Addon,
    ];

    /// Stable snake_case label for metrics and structured logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::TooLong => "too_long",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::UnknownKid => "unknown_kid",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Issuer => "issuer",
            Self::Type => "type",
            Self::Subject => "subject",
            Self::Kind => "kind",
            Self::Workspace => "workspace",
            Self::Addon => "addon",
        }
    }
}

/// Verifies Clockify tokens. Immutable after construction, `Send + Sync`;
/// share one instance (e.g. `Arc<TokenVerifier>`) across all requests.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: VerifierKeys,
    addon_key: String,
    leeway: u64,
    /// Built once per allowed algorithm, not per call.
    validations: Vec<(Algorithm, Validation)>,
}

// Handlers share the verifier across tasks; fail the build if that breaks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TokenVerifier>();
};

/// Just the header fields we act on; unknown fields are ignored.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

impl TokenVerifier {
    pub fn new(keys: VerifierKeys, config: VerifierConfig) -> Result<Self, ConfigError> {
        if config.addon_key.is_empty() {
            return Err(ConfigError::EmptyAddonKey);
        }
        if config.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        let mut validations: Vec<(Algorithm, Validation)> = Vec::new();
        for &alg in &config.algorithms {
            if !matches!(alg, Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512) {
                return Err(ConfigError::UnsupportedAlgorithm(alg));
            }
            if validations.iter().any(|(a, _)| *a == alg) {
                continue;
            }
            // The library only checks the signature; claims are checked in
            // `check_claims`, because `exp` must be optional and each failure
            // needs its own rejection reason.
            let mut validation = Validation::new(alg);
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.validate_aud = false;
            validations.push((alg, validation));
        }
        Ok(Self { keys, addon_key: config.addon_key, leeway: config.leeway_seconds, validations })
    }

    /// The verifier for Clockify's tokens with no configuration: Clockify's
    /// published key (compiled in) and [`VerifierConfig::new`]'s defaults
    /// (RS256, [`DEFAULT_LEEWAY_SECONDS`] of leeway). `addon_key` is the
    /// `key` of the add-on's manifest, which add-on tokens carry as `sub`.
    pub fn clockify(addon_key: impl Into<String>) -> Result<Self, ConfigError> {
        Self::new(VerifierKeys::clockify(&[])?, VerifierConfig::new(addon_key))
    }

    /// Parses the keys and builds the verifier in one step.
    pub fn from_pem(primary_pem: &[u8], extra: &[(String, Vec<u8>)], config: VerifierConfig) -> Result<Self, ConfigError> {
        Self::new(VerifierKeys::from_pem(primary_pem, extra)?, config)
    }

    /// The configured extra key ids, for startup logging.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.kids()
    }

    /// Verifies `token` against the current clock.
    pub fn verify(&self, token: &str, expect: &Expectation<'_>) -> Result<Claims, TokenRejection> {
        // A clock before 1970 is broken beyond what this check can fix.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.verify_at(token, expect, now)
    }

    /// Verifies `token` as of `now` (Unix seconds); for deterministic tests.
    pub fn verify_at(&self, token: &str, expect: &Expectation<'_>, now: u64) -> Result<Claims, TokenRejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenRejection::TooLong);
        }
        let header = parse_header(token)?;
        let alg = Algorithm::from_str(&header.alg).map_err(|_| TokenRejection::Algorithm)?;
        let validation = self.validations.iter().find_map(|(a, v)| (*a == alg).then_some(v)).ok_or(TokenRejection::Algorithm)?;
        // RFC 7515 §4.1.11: extensions we do not understand must be refused.
        if header.crit.is_some() {
            return Err(TokenRejection::Malformed);
        }
        let key = self.select_key(header.kid.as_deref())?;
        let claims = jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|e| rejection_from_library(e.kind()))?.claims;
        self.check_claims(&claims, expect, now)?;
        Ok(claims)
    }

    fn select_key(&self, kid: Option<&str>) -> Result<&DecodingKey, TokenRejection> {
        match kid {
            // Clockify sends no kid; a kid only means something once the
            // operator has configured kid-named rotation keys.
            Some(kid) if !self.keys.extra.is_empty() => {
                self.keys.extra.iter().find_map(|(k, key)| (k == kid).then_some(key)).ok_or(TokenRejection::UnknownKid)
            }
            _ => Ok(&self.keys.primary),
        }
    }

    fn check_claims(&self, claims: &Claims, expect: &Expectation<'_>, now: u64) -> Result<(), TokenRejection> {
        if claims.iss.as_deref() != Some(CLOCKIFY_ISSUER) {
            return Err(TokenRejection::Issuer);
        }
        if expect.kind.is_addon_token() {
            if claims.kind.as_deref() != Some(ADDON_TOKEN_TYPE) {
                return Err(TokenRejection::Type);
            }
            if claims.sub.as_deref() != Some(self.addon_key.as_str()) {
                return Err(TokenRejection::Subject);
            }
        }
        if !expect.kind.claims_fit(claims) {
            return Err(TokenRejection::Kind);
        }
        // Installation, webhook and lifecycle tokens have no `exp`: check
        // the time claims only when present. Saturating, so no leeway or
        // claim value can overflow.
        if let Some(exp) = claims.exp
            && now >= exp.saturating_add(self.leeway)
        {
            return Err(TokenRejection::Expired);
        }
        if let Some(nbf) = claims.nbf
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(TokenRejection::NotYetValid);
        }
        if !binding_holds(expect.workspace_id, claims.workspace_id.as_deref()) {
            return Err(TokenRejection::Workspace);
        }
        if !binding_holds(expect.addon_id, claims.addon_id.as_deref()) {
            return Err(TokenRejection::Addon);
        }
        Ok(())
    }
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("keys", &self.keys)
            .field("addon_key", &self.addon_key)
            .field("leeway", &self.leeway)
            .field("algorithms", &self.validations.iter().map(|(a, _)| a).collect::<Vec<_>>())
            .finish()
    }
}

/// An unset expectation always holds; a set one needs an equal, non-empty claim.
fn binding_holds(expected: Option<&str>, actual: Option<&str>) -> bool {
    match expected {
        None => true,
        Some(want) => actual.is_some_and(|got| !got.is_empty() && got == want),
    }
}

/// Checks the compact shape strictly and reads the header. Doing this before
/// the library means a mangled token reads as `malformed`, an unknown `alg`
/// (including `none`) as `algorithm`, and `signature` is left to mean
/// "well-formed but did not verify".
fn parse_header(token: &str) -> Result<RawHeader, TokenRejection> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenRejection::Malformed);
    };
    if payload.is_empty() || URL_SAFE_NO_PAD.decode(payload).is_err() {
        return Err(TokenRejection::Malformed);
    }
    // An empty signature is well-formed (it is what `alg: none` sends) and is
    // refused by the algorithm or signature check.
    if URL_SAFE_NO_PAD.decode(signature).is_err() {
        return Err(TokenRejection::Malformed);
    }
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenRejection::Malformed)?;
    serde_json::from_slice(&header).map_err(|_| TokenRejection::Malformed)
}

fn rejection_from_library(kind: &ErrorKind) -> TokenRejection {
    match kind {
        ErrorKind::InvalidSignature => TokenRejection::Signature,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            TokenRejection::Algorithm
        }
        // Key/algorithm mismatches are ruled out at construction; if one
        // slips through, the token still must not pass.
        ErrorKind::InvalidKeyFormat | ErrorKind::InvalidRsaKey(_) => TokenRejection::Signature,
        ErrorKind::ExpiredSignature => TokenRejection::Expired,
        ErrorKind::ImmatureSignature => TokenRejection::NotYetValid,
        ErrorKind::InvalidIssuer => TokenRejection::Issuer,
        ErrorKind::InvalidSubject => TokenRejection::Subject,
        _ => TokenRejection::Malformed,
    }
}
