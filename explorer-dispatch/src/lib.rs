//! The API explorer's dispatch: [`dispatch`] turns an operation and its
//! arguments into a call of the typed client. The match is generated
//! (`generated.rs`, by `cargo xtask regen`); this file is what it needs:
//! the explorer's arguments as JSON, turned into each setter's generated type
//! with an error naming the argument, and the outcome of the typed call.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

// Formatted by codegen, not rustfmt (see rustfmt.toml).
#[rustfmt::skip]
mod generated;

pub use generated::{MultipartOperation, Operation, dispatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
        }
    }
}

/// A call's arguments, already validated against the operation's schemas.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub path: Map<String, Value>,
    pub query: Map<String, Value>,
    pub body: Option<Value>,
}

/// Why the typed call could not be made or finished.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// An argument does not fit its generated type (`pointer` like `/query/page`).
    #[error("{pointer}: {message}")]
    Argument { pointer: String, message: String },
    #[error("{0:?} takes a multipart/form-data body, which the explorer does not send")]
    Multipart(MultipartOperation),
}

fn pointer(loc: Location, name: &str) -> String {
    format!("/{}/{}", loc.as_str(), name.replace('~', "~0").replace('/', "~1"))
}

impl Args {
    fn map(&self, loc: Location) -> Option<&Map<String, Value>> {
        match loc {
            Location::Path => Some(&self.path),
            Location::Query => Some(&self.query),
            Location::Header => None,
        }
    }

    fn convert<T: DeserializeOwned>(loc: Location, name: &str, v: &Value) -> Result<T, DispatchError> {
        T::deserialize(v).map_err(|e| DispatchError::Argument { pointer: pointer(loc, name), message: e.to_string() })
    }

    pub fn required<T: DeserializeOwned>(&self, loc: Location, name: &str) -> Result<T, DispatchError> {
        match self.map(loc).and_then(|m| m.get(name)) {
            Some(v) => Self::convert(loc, name, v),
            None => Err(DispatchError::Argument { pointer: pointer(loc, name), message: "required".into() }),
        }
    }

    pub fn optional<T: DeserializeOwned>(&self, loc: Location, name: &str) -> Result<Option<T>, DispatchError> {
        match self.map(loc).and_then(|m| m.get(name)) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Self::convert(loc, name, v).map(Some),
        }
    }

    pub fn body<T: DeserializeOwned>(&self) -> Result<Option<T>, DispatchError> {
        match &self.body {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::deserialize(v).map(Some).map_err(|e| DispatchError::Argument { pointer: "/body".into(), message: e.to_string() }),
        }
    }
}

/// How the typed call ended. The raw answer itself is in the client's exchange.
#[derive(Debug)]
pub enum Sent {
    /// The answer had the contract's success status and decoded into its type.
    Decoded,
    /// Clockify answered, but not with the documented success (or its body did
    /// not fit the contract's type): the reason, for the caller to see.
    Undecoded(String),
    /// Refused before sending (scope, host, path guard, argument encoding).
    Refused(String),
    /// No answer: connect, timeout, reset.
    Transport(String),
}

pub fn finish<T, E>(result: Result<clockify_client::ResponseValue<T>, clockify_client::generated::sdk::Error<E>>) -> Sent {
    use clockify_client::generated::sdk::Error as E2;
    match result {
        Ok(_) => Sent::Decoded,
        Err(E2::InvalidRequest(m)) => Sent::Refused(m),
        Err(E2::Custom(m)) => Sent::Refused(m),
        Err(E2::CommunicationError(e)) | Err(E2::InvalidUpgrade(e)) | Err(E2::ResponseBodyError(e)) => Sent::Transport(e.to_string()),
        Err(E2::ErrorResponse(r)) => Sent::Undecoded(format!("status {} is not the operation's success status", r.status())),
        Err(E2::UnexpectedResponse(r)) => Sent::Undecoded(format!("status {} is not the operation's success status", r.status())),
        Err(E2::InvalidResponsePayload(_, e)) => Sent::Undecoded(format!("the body does not fit the contract's response type: {e}")),
    }
}
