//! Named normalization patches applied to Clockify's upstream spec.
//!
//! Each patch is a small function with a name and a reason. `normalize` runs
//! them in order and reports how many places each one changed, so a reader of
//! `cargo xtask regen` output sees every liberty taken with the upstream text.
//! A patch that no longer finds anything to change reports 0: that is the cue to
//! delete it when Clockify fixes its spec.

use heck::ToSnakeCase;
use serde_json::{Map, Value};

use crate::contract::{Contract, HTTP_METHODS};
use crate::error::Result;

pub struct Patch {
    pub name: &'static str,
    pub reason: &'static str,
    apply: fn(&mut Value) -> Result<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPatch {
    pub name: &'static str,
    pub reason: &'static str,
    pub places: usize,
}

/// The PTO service host (PLATFORM.md §5); the deprecated PTO group's spec
/// server `http://localhost:5050` is an artefact of how Clockify built the spec.
pub const PTO_HOST: &str = "https://pto.api.clockify.me";

pub const PATCHES: &[Patch] = &[
    Patch {
        name: "strip-prose",
        reason: "descriptions, summaries and examples are prose, not contract; removing them keeps diffs of openapi.json about the API itself",
        apply: strip_prose,
    },
    Patch {
        name: "enum-objects-to-string-enums",
        reason: "Java enums reflected as beans (`type: object`, a single string-enum `oneOf`, one property per constant plus getters such as `value`) are plain strings on the wire; left as objects they generate enums with no variants, and their bean properties also collide after snake-casing (ACTIVE/active, NOT_REGISTERED/notRegistered)",
        apply: enum_objects_to_string_enums,
    },
    Patch {
        name: "drop-write-only-case-twins",
        reason: "a writeOnly property whose snake_case name equals a readable sibling's (RTL beside rtl) is the setter half of one Java bean field; the readable name is kept",
        apply: drop_write_only_case_twins,
    },
    Patch {
        name: "drop-required-without-property",
        reason: "a `required` entry naming no property (page-size in InvoiceFilterRequestV1) can never be satisfied",
        apply: drop_required_without_property,
    },
    Patch {
        name: "wildcard-json-responses",
        reason: "responses typed `*/*` whose schema is a JSON object or array are JSON; declaring them so gives them typed results",
        apply: wildcard_json_responses,
    },
    Patch {
        name: "wildcard-binary-responses",
        reason: "responses typed `*/*` with a string/byte schema are file downloads; they become application/octet-stream byte streams",
        apply: wildcard_binary_responses,
    },
    Patch {
        name: "pto-server-localhost",
        reason: "the deprecated PTO group names `http://localhost:5050` as its server; those endpoints live on the PTO host",
        apply: pto_server_localhost,
    },
];

/// Applies every patch in order.
pub fn normalize(upstream: &Contract) -> Result<(Contract, Vec<AppliedPatch>)> {
    let mut doc = upstream.doc.clone();
    let mut report = Vec::with_capacity(PATCHES.len());
    for patch in PATCHES {
        let places = (patch.apply)(&mut doc)?;
        report.push(AppliedPatch { name: patch.name, reason: patch.reason, places });
    }
    Ok((Contract { doc }, report))
}

const PROSE_KEYS: [&str; 5] = ["description", "summary", "example", "examples", "externalDocs"];

fn strip_prose(doc: &mut Value) -> Result<usize> {
    // Maps keyed by names the API chose: their keys are data (a property may
    // well be called `description`), never annotations.
    const NAME_MAPS: [&str; 9] =
        ["properties", "schemas", "paths", "securitySchemes", "headers", "content", "mapping", "requestBodies", "responses"];
    fn walk(v: &mut Value, is_name_map: bool, count: &mut usize) {
        match v {
            Value::Object(map) => {
                if !is_name_map {
                    for key in PROSE_KEYS {
                        if map.shift_remove(key).is_some() {
                            *count += 1;
                        }
                    }
                }
                for (k, child) in map.iter_mut() {
                    walk(child, !is_name_map && NAME_MAPS.contains(&k.as_str()), count);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, false, count)),
            _ => {}
        }
    }
    let mut count = 0;
    walk(doc, false, &mut count);
    // OpenAPI requires a description on every response: keep the key, empty.
    for_each_operation(doc, |_, _, op| {
        if let Some(Value::Object(responses)) = op.get_mut("responses") {
            for resp in responses.values_mut() {
                if let Value::Object(r) = resp {
                    r.insert("description".into(), Value::String(String::new()));
                }
            }
        }
    });
    Ok(count)
}

fn for_each_operation(doc: &mut Value, mut f: impl FnMut(&str, &str, &mut Map<String, Value>)) {
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            for method in HTTP_METHODS {
                if let Some(Value::Object(op)) = item.get_mut(method) {
                    f(path, method, op);
                }
            }
        }
    }
}

fn schemas_mut(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut)
}

fn enum_objects_to_string_enums(doc: &mut Value) -> Result<usize> {
    let mut count = 0;
    let Some(schemas) = schemas_mut(doc) else { return Ok(0) };
    for schema in schemas.values_mut() {
        let Some(obj) = schema.as_object() else { continue };
        if obj.get("type").and_then(Value::as_str) != Some("object") {
            continue;
        }
        let Some([only]) = obj.get("oneOf").and_then(Value::as_array).map(Vec::as_slice) else { continue };
        let Some(constants) = only.get("enum").and_then(Value::as_array) else { continue };
        if only.get("type").and_then(Value::as_str) != Some("string") {
            continue;
        }
        // A reflected enum bean: its properties include the constants
        // themselves (beside getters such as `value` or `active`).
        let props = obj.get("properties").and_then(Value::as_object);
        let looks_like_bean = props.is_some_and(|p| p.keys().any(|name| constants.iter().any(|c| c == name)));
        if !looks_like_bean {
            continue;
        }
        let mut replacement = Map::new();
        replacement.insert("type".into(), Value::String("string".into()));
        replacement.insert("enum".into(), Value::Array(constants.clone()));
        *schema = Value::Object(replacement);
        count += 1;
    }
    Ok(count)
}

fn drop_write_only_case_twins(doc: &mut Value) -> Result<usize> {
    let mut count = 0;
    let Some(schemas) = schemas_mut(doc) else { return Ok(0) };
    for schema in schemas.values_mut() {
        let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else { continue };
        let write_only = |p: &Value| p.get("writeOnly").and_then(Value::as_bool).unwrap_or(false);
        let twins: Vec<String> = props
            .iter()
            .filter(|(name, prop)| {
                write_only(prop)
                    && props.iter().any(|(other, op)| other != *name && other.to_snake_case() == name.to_snake_case() && !write_only(op))
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in &twins {
            props.shift_remove(name);
            count += 1;
        }
        if !twins.is_empty()
            && let Some(Value::Array(req)) = schema.get_mut("required")
        {
            req.retain(|r| !twins.iter().any(|t| r == t));
        }
    }
    Ok(count)
}

fn drop_required_without_property(doc: &mut Value) -> Result<usize> {
    let mut count = 0;
    let Some(schemas) = schemas_mut(doc) else { return Ok(0) };
    for schema in schemas.values_mut() {
        let names: Vec<String> = match schema.get("properties").and_then(Value::as_object) {
            Some(p) => p.keys().cloned().collect(),
            None => continue,
        };
        if let Some(Value::Array(req)) = schema.get_mut("required") {
            let before = req.len();
            req.retain(|r| r.as_str().is_some_and(|r| names.iter().any(|n| n == r)));
            count += before - req.len();
        }
    }
    Ok(count)
}

/// Renames the `*/*` media type of success responses when `keep` accepts its schema.
fn rename_wildcard(doc: &mut Value, to: &str, keep: fn(&Value, &Value) -> bool) -> usize {
    let components = doc.pointer("/components/schemas").cloned().unwrap_or(Value::Null);
    let mut count = 0;
    for_each_operation(doc, |_, _, op| {
        let Some(Value::Object(responses)) = op.get_mut("responses") else { return };
        for resp in responses.values_mut() {
            let Some(Value::Object(content)) = resp.get_mut("content") else { continue };
            let matches = content.get("*/*").is_some_and(|media| media.get("schema").is_some_and(|s| keep(s, &components)));
            if matches {
                let mut media = content.shift_remove("*/*").unwrap_or(Value::Null);
                if to == "application/octet-stream"
                    && let Some(Value::Object(s)) = media.get_mut("schema")
                {
                    s.insert("format".into(), Value::String("binary".into()));
                }
                content.insert(to.into(), media);
                count += 1;
            }
        }
    });
    count
}

fn is_binary_string(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("string")
        && matches!(schema.get("format").and_then(Value::as_str), Some("byte" | "binary"))
}

fn wildcard_json_responses(doc: &mut Value) -> Result<usize> {
    Ok(rename_wildcard(doc, "application/json", |schema, _| {
        schema.get("$ref").is_some() || matches!(schema.get("type").and_then(Value::as_str), Some("object" | "array"))
    }))
}

fn wildcard_binary_responses(doc: &mut Value) -> Result<usize> {
    Ok(rename_wildcard(doc, "application/octet-stream", |schema, _| is_binary_string(schema)))
}

fn pto_server_localhost(doc: &mut Value) -> Result<usize> {
    let mut count = 0;
    if let Some(Value::Object(paths)) = doc.get_mut("paths") {
        for item in paths.values_mut() {
            let Some(Value::Array(servers)) = item.get_mut("servers") else { continue };
            for url in servers.iter_mut().filter_map(|s| s.get_mut("url")) {
                if url.as_str().is_some_and(|u| u.starts_with("http://localhost")) {
                    *url = Value::String(PTO_HOST.into());
                    count += 1;
                }
            }
        }
    }
    Ok(count)
}
