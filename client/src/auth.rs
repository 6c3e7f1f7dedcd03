//! Credentials. Their `Debug` output is redacted so a credential can never
//! reach a log through `{:?}` of a client or its configuration.

use std::fmt;

/// How the client authenticates to Clockify.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// An add-on token (installation or user token), sent as `X-Addon-Token`.
    AddonToken(String),
    /// A personal API key, sent as `X-Api-Key`.
    ApiKey(String),
}

impl Auth {
    pub fn header_name(&self) -> &'static str {
        match self {
            Auth::AddonToken(_) => "x-addon-token",
            Auth::ApiKey(_) => "x-api-key",
        }
    }

    pub(crate) fn secret(&self) -> &str {
        match self {
            Auth::AddonToken(s) | Auth::ApiKey(s) => s,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::AddonToken(_) => f.write_str("AddonToken(<redacted>)"),
            Auth::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
        }
    }
}
