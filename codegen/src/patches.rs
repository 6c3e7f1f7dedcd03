//! Named normalization patches applied to Clockify's upstream spec.
//!
//! Each patch is a small function with a name and a reason. `normalize` runs
//! them in order and reports how many places each one changed, so a reader of
//! `cargo xtask regen` output sees every liberty taken with the upstream text.
//! A patch that no longer finds anything to change reports 0: that is the cue to
//! delete it when Clockify fixes its spec.

use heck::ToSnakeCase;
use serde_json::{Map, Value, json};

use crate::contract::{Contract, HTTP_METHODS};
use crate::error::{CodegenError, Result};
use crate::hosts::CORE_SERVER;

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

/// The extension naming the patch that added an operation or schema which
/// Clockify's spec does not have (`"x-patch": "addon-endpoints"`). The API
/// changelog reads it to tell patch-added items from upstream ones.
pub const PATCH_MARKER: &str = "x-patch";

/// The patch adding the `/addon/...` endpoints, and the tag they carry.
pub const ADDON_ENDPOINTS: &str = "addon-endpoints";
pub const ADDON_TAG: &str = "Add-on";

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
        name: "custom-field-values-any-json",
        reason: "a custom field's `value` is declared a bare `type: object`, but Clockify sends the value as the field's type has it (a string for text and dropdowns, a number, a list, a link); as an object, a time entry with a text custom field fails its typed decode. It becomes any JSON",
        apply: custom_field_values_any_json,
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
    Patch {
        name: ADDON_ENDPOINTS,
        reason: "the add-on endpoints under `{backendUrl}/addon/...` (settings read and update, user-token exchange, current user; PLATFORM.md §2.1, §4.2) are not in Clockify's spec; they are added with their own schemas, each marked `x-patch`",
        apply: addon_endpoints,
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

fn custom_field_values_any_json(doc: &mut Value) -> Result<usize> {
    let mut count = 0;
    let Some(schemas) = schemas_mut(doc) else { return Ok(0) };
    for (name, schema) in schemas.iter_mut() {
        if !name.contains("CustomField") {
            continue;
        }
        if let Some(value) = schema.pointer_mut("/properties/value")
            && *value == json!({ "type": "object" })
        {
            *value = json!({});
            count += 1;
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

/// The schema of the contract the add-on's current-user endpoint answers
/// with: the same user as `GET /v1/user`.
const ADDON_USER_SCHEMA: &str = "UserDtoV1";

/// `(path, method, operation)` of an operation a patch adds.
type AddedOperation = (&'static str, &'static str, Value);

/// The four `/addon/...` operations as `(path, method, operation)` and the
/// schemas they name, each marked with [`PATCH_MARKER`]. Written from
/// PLATFORM.md: §2.1 (token exchange) and §4.2 (structured settings and the
/// Settings REST API). The settings tree follows the manifest schema's
/// `settings`, `settingsTab`, `settingsGroup`, `setting` and `settingsHeader`,
/// without its `minLength`/`minItems`: those constrain what a manifest
/// declares, while an answer carries whatever values the workspace holds now.
fn addon_definitions() -> (Vec<AddedOperation>, Vec<(&'static str, Value)>) {
    let r = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let path_param = |name: &str| json!({ "in": "path", "name": name, "required": true, "schema": { "type": "string" } });
    let op = |id: &str, params: Value, response: Value| {
        json!({
            "operationId": id,
            "parameters": params,
            "responses": { "200": response },
            "security": [{ "AddonKeyAuth": [] }],
            "tags": [ADDON_TAG],
            PATCH_MARKER: ADDON_ENDPOINTS,
        })
    };
    let json_response = |schema: Value| json!({ "content": { "application/json": { "schema": schema } }, "description": "" });
    let settings_path = "/addon/workspaces/{workspaceId}/settings";

    let mut update = op("updateAddonSettings", json!([path_param("workspaceId")]), json_response(r("AddonSettings")));
    update["requestBody"] = json!({
        "content": { "application/json": { "schema": { "type": "array", "items": r("AddonSettingUpdate") } } },
        "required": true
    });
    // The body is the token itself (PLATFORM.md §2.1): declared as text; the
    // generated client also takes it as a JSON string (codegen/src/sdk.rs).
    let token = op(
        "createAddonUserToken",
        json!([path_param("userId")]),
        json!({ "content": { "text/plain": { "schema": { "type": "string" } } }, "description": "" }),
    );
    let operations = vec![
        (settings_path, "get", op("getAddonSettings", json!([path_param("workspaceId")]), json_response(r("AddonSettings")))),
        (settings_path, "patch", update),
        (
            "/addon/workspaces/{workspaceId}/user",
            "get",
            op("getAddonUser", json!([path_param("workspaceId")]), json_response(r(ADDON_USER_SCHEMA))),
        ),
        ("/addon/user/{userId}/token", "post", token),
    ];

    let string = json!({ "type": "string" });
    let boolean = json!({ "type": "boolean" });
    let array_of = |items: Value| json!({ "type": "array", "items": items });
    let object = |required: &[&str], properties: Value| json!({ "type": "object", "properties": properties, "required": required, PATCH_MARKER: ADDON_ENDPOINTS });
    let string_enum = |values: &[&str]| json!({ "type": "string", "enum": values, PATCH_MARKER: ADDON_ENDPOINTS });
    let schemas = vec![
        ("AddonSettings", object(&["tabs"], json!({ "tabs": array_of(r("AddonSettingsTab")) }))),
        (
            "AddonSettingsTab",
            object(
                &["id", "name"],
                json!({
                    "id": string, "name": string, "header": r("AddonSettingsHeader"),
                    "groups": array_of(r("AddonSettingsGroup")), "settings": array_of(r("AddonSetting"))
                }),
            ),
        ),
        (
            "AddonSettingsGroup",
            object(
                &["id", "title", "settings"],
                json!({
                    "id": string, "title": string, "description": string, "header": r("AddonSettingsHeader"),
                    "settings": array_of(r("AddonSetting"))
                }),
            ),
        ),
        ("AddonSettingsHeader", object(&["title"], json!({ "title": string }))),
        (
            "AddonSetting",
            object(
                &["id", "name", "type", "value", "accessLevel"],
                json!({
                    "id": string, "name": string, "type": r("AddonSettingType"), "value": r("AddonSettingValue"),
                    "accessLevel": r("AddonSettingAccessLevel"), "description": string, "placeholder": string, "key": string,
                    "allowedValues": array_of(string.clone()), "required": boolean, "copyable": boolean, "readOnly": boolean
                }),
            ),
        ),
        (
            "AddonSettingType",
            string_enum(&[
                "TXT",
                "NUMBER",
                "DROPDOWN_SINGLE",
                "DROPDOWN_MULTIPLE",
                "CHECKBOX",
                "LINK",
                "USER_DROPDOWN_SINGLE",
                "USER_DROPDOWN_MULTIPLE",
            ]),
        ),
        ("AddonSettingAccessLevel", string_enum(&["ADMINS", "EVERYONE"])),
        (
            "AddonSettingValue",
            json!({
                "oneOf": [string, { "type": "number" }, boolean, array_of(string.clone())],
                PATCH_MARKER: ADDON_ENDPOINTS
            }),
        ),
        ("AddonSettingUpdate", object(&["id", "value"], json!({ "id": string, "value": r("AddonSettingValue") }))),
    ];
    (operations, schemas)
}

/// Adds the `/addon/...` operations, their schemas and their tag. Each item
/// is added only where the spec lacks it, so a second run changes nothing,
/// and once Clockify publishes an operation itself its own text is kept.
/// A schema of the same name with other content is an error: the added
/// operations would silently refer to it.
fn addon_endpoints(doc: &mut Value) -> Result<usize> {
    let (operations, schemas) = addon_definitions();
    let problem = |problem: String| CodegenError::Patch { patch: ADDON_ENDPOINTS, problem };
    let root = doc.as_object_mut().ok_or_else(|| problem("the spec is not a JSON object".into()))?;
    let mut count = 0;

    let components = root.entry("components").or_insert_with(|| json!({}));
    let existing = components
        .as_object_mut()
        .ok_or_else(|| problem("`components` is not an object".into()))?
        .entry("schemas")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or_else(|| problem("`components.schemas` is not an object".into()))?;
    if !existing.contains_key(ADDON_USER_SCHEMA) {
        return Err(problem(format!(
            "schema `{ADDON_USER_SCHEMA}` (the user `GET /v1/user` returns) is gone; getAddonUser answers with it"
        )));
    }
    for (name, schema) in schemas {
        match existing.get(name) {
            None => {
                existing.insert(name.into(), schema);
                count += 1;
            }
            Some(present) if *present == schema => {}
            Some(_) => {
                return Err(problem(format!(
                    "the spec already has a schema `{name}` unlike the one this patch adds; rename the patch's schema or use Clockify's"
                )));
            }
        }
    }

    let paths = root.get_mut("paths").and_then(Value::as_object_mut).ok_or_else(|| problem("`paths` is missing".into()))?;
    for (path, method, operation) in operations {
        let item = paths.entry(path).or_insert_with(|| json!({ "servers": [{ "url": CORE_SERVER }] }));
        let item = item.as_object_mut().ok_or_else(|| problem(format!("path item `{path}` is not an object")))?;
        if !item.contains_key(method) {
            item.insert(method.into(), operation);
            count += 1;
        }
    }

    if let Some(Value::Array(tags)) = root.get_mut("tags")
        && !tags.iter().any(|t| t.get("name").and_then(Value::as_str) == Some(ADDON_TAG))
    {
        tags.push(json!({ "name": ADDON_TAG, "x-displayName": ADDON_TAG }));
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A spec with the one schema the add-on patch reuses, an upstream
    /// operation and the top-level tag list.
    fn spec() -> Value {
        json!({
            "openapi": "3.0.1",
            "info": { "title": "Clockify API", "version": "v1" },
            "tags": [{ "name": "User", "x-displayName": "User" }],
            "paths": {
                "/v1/user": {
                    "get": {
                        "operationId": "getLoggedUser", "tags": ["User"],
                        "responses": { "200": { "description": "", "content": { "application/json": {
                            "schema": { "$ref": "#/components/schemas/UserDtoV1" } } } } }
                    },
                    "servers": [{ "url": CORE_SERVER }]
                }
            },
            "components": { "schemas": {
                "UserDtoV1": { "type": "object", "properties": { "id": { "type": "string" }, "email": { "type": "string" } } }
            } }
        })
    }

    /// `(METHOD path, operationId)` of every operation.
    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in HTTP_METHODS {
                if let Some(op) = item.get(method) {
                    out.insert((format!("{} {path}", method.to_uppercase()), op["operationId"].as_str().unwrap().to_owned()));
                }
            }
        }
        out
    }

    fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    const ADDED: [(&str, &str); 4] = [
        ("GET /addon/workspaces/{workspaceId}/settings", "getAddonSettings"),
        ("PATCH /addon/workspaces/{workspaceId}/settings", "updateAddonSettings"),
        ("GET /addon/workspaces/{workspaceId}/user", "getAddonUser"),
        ("POST /addon/user/{userId}/token", "createAddonUserToken"),
    ];

    const SCHEMAS: [&str; 9] = [
        "AddonSettings",
        "AddonSettingsTab",
        "AddonSettingsGroup",
        "AddonSettingsHeader",
        "AddonSetting",
        "AddonSettingType",
        "AddonSettingAccessLevel",
        "AddonSettingValue",
        "AddonSettingUpdate",
    ];

    #[test]
    fn addon_endpoints_adds_exactly_the_four_operations_with_their_schemas_and_tag() {
        let mut doc = spec();
        let before = operations(&doc);
        let places = addon_endpoints(&mut doc).expect("applies");
        // 4 operations, 9 schemas, 1 tag.
        assert_eq!(places, 14);
        let added: BTreeSet<_> = operations(&doc).difference(&before).cloned().collect();
        assert_eq!(added, set(&ADDED));
        assert!(before.is_subset(&operations(&doc)), "upstream operations are kept");

        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let added_schemas: BTreeSet<&str> = schemas.keys().map(String::as_str).filter(|n| *n != "UserDtoV1").collect();
        assert_eq!(added_schemas, SCHEMAS.into_iter().collect());
        for name in SCHEMAS {
            assert_eq!(schemas[name][PATCH_MARKER], ADDON_ENDPOINTS, "{name} is marked");
        }
        assert_eq!(schemas["UserDtoV1"].get(PATCH_MARKER), None, "the reused schema is Clockify's");
        assert_eq!(doc["tags"][1], json!({ "name": "Add-on", "x-displayName": "Add-on" }));

        let contract = Contract { doc: doc.clone() };
        for op in contract.operations().into_iter().filter(|o| o.path.starts_with("/addon/")) {
            assert_eq!(op.op[PATCH_MARKER], ADDON_ENDPOINTS, "{} is marked", op.id());
            assert_eq!(op.tag(), ADDON_TAG);
            assert_eq!(op.server(), Some(CORE_SERVER), "{} goes to the backend host", op.id());
            assert_eq!(op.op["security"], json!([{ "AddonKeyAuth": [] }]));
            assert_eq!(op.op["responses"]["200"]["description"], "", "OpenAPI requires a response description");
        }
        // Every $ref of the added items names a schema of the contract.
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|c| refs(c, out));
                }
                Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc["paths"], &mut all);
        refs(&doc["components"], &mut all);
        for r in all {
            let name = crate::contract::ref_name(&r).expect("a component schema");
            assert!(contract.schema(name).is_some(), "{r} resolves");
        }

        let paths = &doc["paths"];
        let user = &paths["/addon/workspaces/{workspaceId}/user"]["get"];
        assert_eq!(user["responses"]["200"]["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/UserDtoV1");
        let token = &paths["/addon/user/{userId}/token"]["post"];
        assert_eq!(token["responses"]["200"]["content"], json!({ "text/plain": { "schema": { "type": "string" } } }));
        assert_eq!(token.get("requestBody"), None);
        let update = &paths["/addon/workspaces/{workspaceId}/settings"]["patch"];
        assert_eq!(
            update["requestBody"],
            json!({ "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/AddonSettingUpdate" } } } }, "required": true })
        );
        let setting = &schemas["AddonSetting"];
        assert_eq!(setting["required"], json!(["id", "name", "type", "value", "accessLevel"]));
        assert_eq!(schemas["AddonSettingValue"]["oneOf"].as_array().map(Vec::len), Some(4), "string, number, boolean, array");
    }

    #[test]
    fn addon_endpoints_is_idempotent() {
        let mut doc = spec();
        assert_eq!(addon_endpoints(&mut doc).unwrap(), 14);
        let once = doc.clone();
        assert_eq!(addon_endpoints(&mut doc).unwrap(), 0, "nothing left to add");
        assert_eq!(doc, once);

        // The whole normalization, run on its own output, adds nothing either.
        let (normalized, _) = normalize(&Contract { doc: spec() }).unwrap();
        let (again, report) = normalize(&normalized).unwrap();
        assert_eq!(again, normalized);
        let places = report.iter().find(|p| p.name == ADDON_ENDPOINTS).map(|p| p.places);
        assert_eq!(places, Some(0));
    }

    #[test]
    fn normalize_reports_the_addon_patch_with_its_places() {
        let (normalized, report) = normalize(&Contract { doc: spec() }).unwrap();
        let applied = report.iter().find(|p| p.name == ADDON_ENDPOINTS).expect("reported");
        assert_eq!(applied.places, 14);
        assert!(applied.reason.contains("/addon/"), "{}", applied.reason);
        assert_eq!(report.last().map(|p| p.name), Some(ADDON_ENDPOINTS), "runs last, after strip-prose");
        assert_eq!(operations(&normalized.doc).len(), 5);
    }

    #[test]
    fn an_operation_clockify_publishes_itself_is_kept_and_not_counted() {
        let mut doc = spec();
        let upstream = json!({ "operationId": "getAddonUserUpstream", "tags": ["User"], "responses": { "200": { "description": "" } } });
        doc["paths"]["/addon/workspaces/{workspaceId}/user"] = json!({ "get": upstream.clone() });
        assert_eq!(addon_endpoints(&mut doc).unwrap(), 13);
        assert_eq!(doc["paths"]["/addon/workspaces/{workspaceId}/user"]["get"], upstream);
    }

    #[test]
    fn a_different_schema_of_the_same_name_or_no_user_schema_is_an_error() {
        let mut doc = spec();
        doc["components"]["schemas"]["AddonSetting"] = json!({ "type": "object" });
        let e = addon_endpoints(&mut doc).unwrap_err().to_string();
        assert!(e.contains("addon-endpoints") && e.contains("`AddonSetting`"), "{e}");

        let mut doc = spec();
        doc["components"]["schemas"].as_object_mut().unwrap().shift_remove("UserDtoV1");
        let e = addon_endpoints(&mut doc).unwrap_err().to_string();
        assert!(e.contains("UserDtoV1") && e.contains("getAddonUser"), "{e}");
    }

    #[test]
    fn custom_field_values_become_any_json_and_nothing_else_does() {
        let mut doc = json!({ "components": { "schemas": {
            "CustomFieldValueDtoV1": { "type": "object", "properties": { "value": { "type": "object" }, "name": { "type": "string" } } },
            "UserCustomFieldValueDtoV1": { "type": "object", "properties": { "value": { "type": "object" } } },
            "CustomFieldFilterV1": { "type": "object", "properties": { "value": { "type": "string" } } },
            "AmountDto": { "type": "object", "properties": { "value": { "type": "object" } } }
        } } });
        assert_eq!(custom_field_values_any_json(&mut doc).expect("applies"), 2);
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["CustomFieldValueDtoV1"]["properties"]["value"], json!({}));
        assert_eq!(schemas["UserCustomFieldValueDtoV1"]["properties"]["value"], json!({}));
        assert_eq!(schemas["CustomFieldValueDtoV1"]["properties"]["name"], json!({ "type": "string" }));
        assert_eq!(schemas["CustomFieldFilterV1"]["properties"]["value"], json!({ "type": "string" }), "a typed value stays");
        assert_eq!(schemas["AmountDto"]["properties"]["value"], json!({ "type": "object" }), "not a custom field");
    }
}
