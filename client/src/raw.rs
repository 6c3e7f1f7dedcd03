//! Calling a catalog operation by its entry rather than its typed method,
//! for code that walks the catalog (the gateway's bootstrap reads every list
//! operation the contract has, so it cannot name each method).
//!
//! The request goes through the same hooks as a typed call: host group,
//! credential, declared scopes, the workspace budget and the retry rules.
//! Only the body stays untyped; the caller gets the raw JSON.

use bytes::Bytes;
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::HeaderMap;

use crate::Client;
use crate::catalog::{Operation, ParamLocation};
use crate::error::{ApiFailure, ClockifyError};

/// A 2xx answer, unparsed.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Characters that may stand unescaped in a path segment: RFC 3986
/// unreserved only, so no value can add a segment, a query or a fragment.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `op.path` with every `{name}` replaced by its percent-encoded value.
pub fn fill_path(op: &Operation, path_params: &[(&str, &str)]) -> Result<String, ClockifyError> {
    let mut out = String::with_capacity(op.path.len() + 32);
    let mut rest = op.path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| ClockifyError::InvalidRequest(format!("{}: malformed path template", op.id)))?;
        let name = &rest[open + 1..close];
        let value = path_params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| ClockifyError::InvalidRequest(format!("{}: path parameter `{name}` is missing", op.id)))?;
        if value.is_empty() || value == "." || value == ".." {
            return Err(ClockifyError::InvalidRequest(format!("{}: path parameter `{name}` may not be `{value}`", op.id)));
        }
        out.push_str(&rest[..open]);
        out.extend(percent_encoding::utf8_percent_encode(value, SEGMENT));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Client {
    /// GETs `op` with the given path and query parameters.
    ///
    /// A non-2xx answer is a [`ClockifyError::Api`] carrying Clockify's
    /// message and the raw body, after the client's retries (429 for every
    /// method, 5xx and transport errors for idempotent ones).
    pub async fn get_raw(
        &self,
        op: &'static Operation,
        path_params: &[(&str, &str)],
        query: &[(&str, String)],
    ) -> Result<RawResponse, ClockifyError> {
        if op.method != "GET" {
            return Err(ClockifyError::InvalidRequest(format!("{}: get_raw sends GET only, the operation is {}", op.id, op.method)));
        }
        for (name, _) in query {
            if !op.params.iter().any(|p| p.location == ParamLocation::Query && p.name == *name) {
                return Err(ClockifyError::InvalidRequest(format!("{}: `{name}` is not a query parameter of the operation", op.id)));
            }
        }
        let path = fill_path(op, path_params)?;
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.baseurl()))
            .map_err(|e| ClockifyError::InvalidRequest(format!("{}: {e}", op.id)))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        request.headers_mut().insert(reqwest::header::ACCEPT, reqwest::header::HeaderValue::from_static("application/json"));
        let info = OperationInfo { operation_id: op.rust_name };
        self.pre::<()>(&mut request, &info).await.map_err(ClockifyError::from)?;
        let response = self.exec(request, &info).await.map_err(ClockifyError::Transport)?;
        let status = response.status().as_u16();
        if let Some(failure) = response.extensions().get::<ApiFailure>() {
            return Err(ClockifyError::Api(failure.clone()));
        }
        if !response.status().is_success() {
            return Err(ClockifyError::UnexpectedStatus { status });
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(ClockifyError::Transport)?;
        Ok(RawResponse { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_values_cannot_change_the_path() {
        let op = crate::catalog::by_id("getTasks").expect("getTasks is in the catalog");
        let filled = fill_path(op, &[("workspaceId", "ws1"), ("projectId", "../x?y#z/%2F")]).expect("fills");
        assert_eq!(filled, "/v1/workspaces/ws1/projects/..%2Fx%3Fy%23z%2F%252F/tasks");
        let missing = fill_path(op, &[("workspaceId", "ws1")]).expect_err("projectId is missing");
        assert!(missing.to_string().contains("projectId"), "{missing}");
        assert!(fill_path(op, &[("workspaceId", "ws1"), ("projectId", "..")]).is_err());
    }
}
