//! The one place the gateway checks Clockify JWTs.
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
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{DecodingKey, Validation};
use serde::{Deserialize, Serialize};

pub use jsonwebtoken::Algorithm;

/// Longest token we look at. Real Clockify tokens are well under 2 KiB; the
/// cap bounds the work an attacker can make us do before any decoding.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The `iss` claim of every Clockify token.
pub const CLOCKIFY_ISSUER: &str = "clockify";

/// The `type` claim of add-on tokens.
pub const ADDON_TOKEN_TYPE: &str = "addon";

/// Clock skew tolerated on `exp` and `nbf` unless configured otherwise.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 60;

/// Clockify's key is RSA-2048; anything smaller is a misconfiguration.
const MIN_RSA_MODULUS_BITS: usize = 2048;

// ---------------------------------------------------------------------------
// Keys and configuration
// ---------------------------------------------------------------------------

/// Which configured key an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyName {
    /// The primary (Clockify-published, kid-less) key.
    Primary,
    /// An extra rotation key, by its `kid`.
    Kid(String),
    /// A key file in the extra-keys directory.
    File(PathBuf),
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Primary => f.write_str("primary key"),
            Self::Kid(kid) => write!(f, "extra key `{kid}`"),
            Self::File(path) => write!(f, "key file {}", path.display()),
        }
    }
}

/// A configured public key could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{key} is not a usable RSA public key: {detail}")]
    Invalid { key: KeyName, detail: String },
    #[error("extra key id `{0}` is configured more than once")]
    DuplicateKid(String),
    #[error("key file {} has no usable key id (the file stem must be non-empty UTF-8)", .0.display())]
    BadKid(PathBuf),
}

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

/// Parsed public keys: the kid-less primary key and optional rotation keys.
#[derive(Clone)]
pub struct VerifierKeys {
    primary: DecodingKey,
    extra: Vec<(String, DecodingKey)>,
}

impl VerifierKeys {
    /// Parses the primary key and every `(kid, pem)` extra key, failing on
    /// the first one that is not an RSA public key (the error names it).
    pub fn from_pem(primary_pem: &[u8], extra: &[(String, Vec<u8>)]) -> Result<Self, KeyError> {
        let primary = parse_public_key(primary_pem, KeyName::Primary)?;
        let mut parsed: Vec<(String, DecodingKey)> = Vec::with_capacity(extra.len());
        for (kid, pem) in extra {
            if parsed.iter().any(|(k, _)| k == kid) {
                return Err(KeyError::DuplicateKid(kid.clone()));
            }
            let key = parse_public_key(pem, KeyName::Kid(kid.clone()))?;
            parsed.push((kid.clone(), key));
        }
        Ok(Self { primary, extra: parsed })
    }

    /// The configured extra key ids, for startup logging.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.extra.iter().map(|(kid, _)| kid.as_str())
    }
}

impl fmt::Debug for VerifierKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierKeys").field("extra_kids", &self.kids().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

fn parse_public_key(pem: &[u8], name: KeyName) -> Result<DecodingKey, KeyError> {
    let invalid = |detail: String| KeyError::Invalid { key: name.clone(), detail };
    // `from_rsa_pem` happily accepts private keys and certificates, and never
    // parses the RSA structure itself; a wrong file would then only show up
    // as every token failing `signature`. Check it all here, once.
    if pem.windows(b"PRIVATE KEY".len()).any(|w| w == b"PRIVATE KEY") {
        return Err(invalid("this is a private key; configure the public key".into()));
    }
    let key = DecodingKey::from_rsa_pem(pem).map_err(|e| invalid(e.to_string()))?;
    // Converting to a JWK makes the crypto backend parse n and e for real.
    let jwk = Jwk::from_decoding_key(&key, Some(Algorithm::RS256)).map_err(|e| invalid(e.to_string()))?;
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(invalid("not an RSA key".into()));
    };
    let modulus = URL_SAFE_NO_PAD.decode(&rsa.n).map_err(|e| invalid(format!("bad modulus encoding: {e}")))?;
    let bits = modulus_bits(&modulus);
    if bits < MIN_RSA_MODULUS_BITS {
        return Err(invalid(format!("RSA modulus is {bits} bits, at least {MIN_RSA_MODULUS_BITS} required")));
    }
    Ok(key)
}

fn modulus_bits(be_bytes: &[u8]) -> usize {
    let significant = match be_bytes.iter().position(|&b| b != 0) {
        Some(i) => &be_bytes[i..],
        None => return 0,
    };
    significant.len() * 8 - significant[0].leading_zeros() as usize
}

/// Reads every `*.pem` file of `dir` as an extra key whose `kid` is the file
/// stem (`k2.pem` → `k2`), sorted by kid. Contents are checked here too, so a
/// bad file is reported by its path rather than by kid later.
pub fn load_extra_keys_dir(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, KeyError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Read { path, source }
    };
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
        let path = entry.map_err(read_err(dir))?.path();
        if path.extension().is_none_or(|ext| ext != "pem") || !path.is_file() {
            continue;
        }
        let kid = match path.file_stem().and_then(|s| s.to_str()) {
            Some(kid) if !kid.is_empty() => kid.to_owned(),
            _ => return Err(KeyError::BadKid(path)),
        };
        let pem = std::fs::read(&path).map_err(read_err(&path))?;
        parse_public_key(&pem, KeyName::File(path.clone()))?;
        keys.push((kid, pem));
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
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

// ---------------------------------------------------------------------------
// Claims, expectations and rejections
// ---------------------------------------------------------------------------

/// The claims of a verified Clockify token.
///
/// Optional claims stay `Option`: webhook tokens carry only a subset and
/// REST-API webhook tokens (`type: "access"`) carry other claims, kept in
/// [`extra`](Claims::extra). After [`TokenVerifier::verify`] succeeds, `iss`
/// is `clockify`, the claims fit the expected [`TokenKind`] (for every kind
/// but [`TokenKind::RestWebhook`] `type` is `addon` and `sub` is the add-on
/// key), and a bound workspace/add-on id is present and equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub iss: Option<String>,
    /// The `type` claim.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub sub: Option<String>,
    pub workspace_id: Option<String>,
    /// Installation id on the workspace (not the marketplace id).
    pub addon_id: Option<String>,
    pub user: Option<String>,
    pub backend_url: Option<String>,
    pub reports_url: Option<String>,
    pub locations_url: Option<String>,
    pub screenshots_url: Option<String>,
    pub pto_url: Option<String>,
    pub language: Option<String>,
    pub theme: Option<String>,
    /// `OWNER`, `WORKSPACE_ADMIN`, `TEAM_MANAGER`, `PROJECT_MANAGER`, …;
    /// a string so a new role never makes a valid token unreadable.
    pub workspace_role: Option<String>,
    pub exp: Option<u64>,
    pub nbf: Option<u64>,
    pub iat: Option<u64>,
    /// Any other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

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
    const fn is_addon_token(self) -> bool {
        !matches!(self, Self::RestWebhook)
    }

    /// The kind's own claim rules, after issuer, type and subject.
    fn claims_fit(self, c: &Claims) -> bool {
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

// ---------------------------------------------------------------------------
// The verifier
// ---------------------------------------------------------------------------

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
