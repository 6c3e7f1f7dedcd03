//! Checks that run on the normalized contract before anything is generated.
//! Whatever progenitor or typify would panic on, or silently mistype, is caught
//! here and reported with the operation or schema it concerns, so an upstream
//! change that no patch handles fails regen with a message, not a backtrace.

use std::collections::BTreeMap;

use heck::ToSnakeCase;
use serde_json::Value;

use crate::contract::Contract;
use crate::error::{CodegenError, Result};
use crate::hosts::HostGroup;

/// Request body media types the generators know how to emit.
pub const REQUEST_TYPES: [&str; 2] = ["application/json", "multipart/form-data"];
/// Success response media types the generators know how to emit.
/// `text/plain` only with a string schema: the client returns it as a `String`.
pub const RESPONSE_TYPES: [&str; 3] = ["application/json", "application/octet-stream", crate::sdk::TEXT];

/// All problems at once, so one regen run lists everything to fix.
pub fn lint(contract: &Contract) -> Result<(), Vec<CodegenError>> {
    let mut problems = Vec::new();
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();

    for op in contract.operations() {
        let id = op.id();
        let name = if id.is_empty() { format!("{} {}", op.method.to_uppercase(), op.path) } else { id.to_owned() };
        if id.is_empty() {
            problems.push(CodegenError::op(&name, "has no operationId"));
        }
        *ids.entry(id).or_default() += 1;

        if let Err(e) = HostGroup::from_server(op.server()) {
            problems.push(CodegenError::op(&name, e));
        }

        let request = op.request_content_types();
        if request.len() > 1 {
            problems.push(CodegenError::op(&name, format!("request body has several media types {request:?}")));
        }
        for ct in request {
            if !REQUEST_TYPES.contains(&ct) {
                problems.push(CodegenError::op(&name, format!("request body media type `{ct}` is not supported")));
            }
        }

        let mut success_types = Vec::new();
        for (status, ct, schema) in op.success_responses() {
            if let Some(ct) = ct {
                if !RESPONSE_TYPES.contains(&ct) {
                    problems.push(CodegenError::op(
                        &name,
                        format!("response {status} has media type `{ct}`; add a normalization patch for it"),
                    ));
                }
                if ct == crate::sdk::TEXT
                    && schema.map(|s| contract.resolve(s)).and_then(|s| s.get("type")).and_then(Value::as_str) != Some("string")
                {
                    problems.push(CodegenError::op(&name, format!("response {status} is `{ct}` without a string schema")));
                }
                success_types.push((ct, schema.map(|s| s.to_string())));
            }
        }
        success_types.sort();
        success_types.dedup();
        if success_types.len() > 1 {
            problems.push(CodegenError::op(
                &name,
                format!(
                    "several success response types ({}); the typed client needs one",
                    success_types.iter().map(|(ct, _)| *ct).collect::<Vec<_>>().join(", ")
                ),
            ));
        }

        for p in op.parameters() {
            let p = contract.resolve(p);
            let pname = p.get("name").and_then(Value::as_str).unwrap_or("?");
            if p.get("schema").is_none() {
                problems.push(CodegenError::op(&name, format!("parameter `{pname}` has no schema")));
            }
        }
    }
    for (id, n) in ids {
        if n > 1 && !id.is_empty() {
            problems.push(CodegenError::op(id, format!("operationId used {n} times")));
        }
    }

    if let Some(schemas) = contract.schemas() {
        for (name, schema) in schemas {
            lint_schema(name, schema, &mut problems);
        }
    }
    if let Err(e) = contract.webhook_events() {
        problems.push(e);
    }

    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

fn lint_schema(name: &str, schema: &Value, problems: &mut Vec<CodegenError>) {
    // typify turns `type: object` + a string-enum `oneOf` into an enum with no
    // variants, which then rejects every value on the wire.
    let object_with_string_one_of = schema.get("type").and_then(Value::as_str) == Some("object")
        && schema
            .get("oneOf")
            .and_then(Value::as_array)
            .is_some_and(|alts| alts.iter().any(|a| a.get("type").and_then(Value::as_str) == Some("string") && a.get("enum").is_some()));
    if object_with_string_one_of {
        problems.push(CodegenError::schema(
            name,
            "is an object whose oneOf is a string enum (a reflected Java enum); extend the enum-objects-to-string-enums patch",
        ));
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for prop in props.keys() {
        if let Some(first) = seen.insert(prop.to_snake_case(), prop) {
            problems.push(CodegenError::schema(
                name,
                format!("properties `{first}` and `{prop}` map to the same Rust field `{}`", prop.to_snake_case()),
            ));
        }
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req {
            if r.as_str().is_none_or(|r| !props.contains_key(r)) {
                problems.push(CodegenError::schema(name, format!("required entry {r} is not a property")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with_response(content_type: &str, schema: serde_json::Value) -> Contract {
        Contract {
            doc: json!({
                "openapi": "3.0.1",
                "paths": { "/addon/user/{userId}/token": { "post": {
                    "operationId": "createAddonUserToken",
                    "responses": { "200": { "description": "", "content": { content_type: { "schema": schema } } } }
                } } },
                "components": { "schemas": {
                    "CreateWebhookRequestV1": { "type": "object", "properties": { "webhookEvent": { "type": "string", "enum": ["NEW_PROJECT"] } } }
                } }
            }),
        }
    }

    #[test]
    fn text_answers_need_a_string_schema() {
        assert!(lint(&with_response("text/plain", json!({ "type": "string" }))).is_ok());
        let problems = lint(&with_response("text/plain", json!({ "type": "object" }))).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text, vec!["operation `createAddonUserToken`: response 200 is `text/plain` without a string schema".to_owned()]);
        let problems = lint(&with_response("text/html", json!({ "type": "string" }))).unwrap_err();
        assert!(problems[0].to_string().contains("`text/html`"), "{problems:?}");
    }
}
