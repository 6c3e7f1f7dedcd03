//! Answers that are a string sent as text (`text/plain` in the contract): the
//! user token of `createAddonUserToken`. progenitor decodes only JSON, so
//! codegen (`codegen/src/sdk.rs`) has the generated `send` call
//! [`string_body`] instead.
//!
//! Clockify documents the answer only as "the user token as a string", and a
//! Java service may send a bare string as it is (under either content type)
//! or as a JSON string; both are taken.

use progenitor_client::{Error, ResponseValue};

/// The body as a string: a JSON string literal is unquoted (`"abc"` is
/// `abc`); any other UTF-8 text is taken as it is, without surrounding
/// whitespace (a trailing newline is not part of a token). A JSON object or
/// array, or a body that is not UTF-8, is not a string:
/// `Error::InvalidResponsePayload`, with the body.
pub async fn string_body<E>(response: reqwest::Response) -> Result<ResponseValue<String>, Error<E>> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(Error::ResponseBodyError)?;
    match decode(&body) {
        Ok(value) => Ok(ResponseValue::new(value, status, headers)),
        Err(e) => Err(Error::InvalidResponsePayload(body, e)),
    }
}

fn decode(body: &[u8]) -> Result<String, serde_json::Error> {
    let as_json = serde_json::from_slice::<String>(body);
    if as_json.is_ok() {
        return as_json;
    }
    let container = serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.is_object() || v.is_array());
    match std::str::from_utf8(body) {
        Ok(text) if !container => Ok(text.trim().to_owned()),
        _ => as_json,
    }
}
