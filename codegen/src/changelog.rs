//! The API changelog between the previously committed contract and a newly
//! normalized one: which operations, webhook events and component schemas were
//! added, removed or changed. Printed by `cargo xtask regen` so a reviewer sees
//! what an upstream spec update means before reading the generated diff.
//!
//! Operations and schemas a normalization patch added (marked `x-patch` in
//! the contract, `crate::patches::PATCH_MARKER`) are listed apart from
//! upstream additions, with the patch's name: they are not Clockify's.
//!
//! Everything is sorted, so the same pair of contracts always prints the same
//! text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::contract::{Contract, OperationRef};
use crate::patches::PATCH_MARKER;

/// What changed between two contracts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changelog {
    /// Operations added upstream:
    /// `"getProjects (GET /v1/workspaces/{workspaceId}/projects)"`.
    pub operations_added: Vec<String>,
    /// Operations added by a normalization patch: `(patch, operation)`.
    pub operations_added_by_patch: Vec<(String, String)>,
    pub operations_removed: Vec<String>,
    pub operations_changed: Vec<OperationChange>,
    pub events_added: Vec<String>,
    pub events_removed: Vec<String>,
    pub schemas_added: Vec<String>,
    /// Schemas added by a normalization patch: `(patch, schema)`.
    pub schemas_added_by_patch: Vec<(String, String)>,
    pub schemas_removed: Vec<String>,
    /// Names of component schemas whose JSON differs.
    pub schemas_changed: Vec<String>,
}

/// The changes of one operation present in both contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationChange {
    /// The operationId in the new contract.
    pub operation: String,
    /// Short phrases, e.g. "query parameter `page` added".
    pub changes: Vec<String>,
}

impl Changelog {
    pub fn between(old: &Contract, new: &Contract) -> Changelog {
        let mut log = Changelog::default();
        diff_operations(old, new, &mut log);

        let old_events: BTreeSet<String> = old.webhook_events().unwrap_or_default().into_iter().collect();
        let new_events: BTreeSet<String> = new.webhook_events().unwrap_or_default().into_iter().collect();
        log.events_added = new_events.difference(&old_events).cloned().collect();
        log.events_removed = old_events.difference(&new_events).cloned().collect();

        let empty = serde_json::Map::new();
        let old_schemas = old.schemas().unwrap_or(&empty);
        let new_schemas = new.schemas().unwrap_or(&empty);
        for (name, schema) in new_schemas {
            match old_schemas.get(name) {
                None => match added_by(schema) {
                    Some(patch) => log.schemas_added_by_patch.push((patch, name.clone())),
                    None => log.schemas_added.push(name.clone()),
                },
                Some(prev) if prev != schema => log.schemas_changed.push(name.clone()),
                Some(_) => {}
            }
        }
        for name in old_schemas.keys() {
            if !new_schemas.contains_key(name) {
                log.schemas_removed.push(name.clone());
            }
        }
        log.schemas_added.sort();
        log.schemas_added_by_patch.sort();
        log.schemas_removed.sort();
        log.schemas_changed.sort();
        log
    }

    pub fn is_empty(&self) -> bool {
        self.operations_added.is_empty()
            && self.operations_added_by_patch.is_empty()
            && self.operations_removed.is_empty()
            && self.operations_changed.is_empty()
            && self.events_added.is_empty()
            && self.events_removed.is_empty()
            && self.schemas_added.is_empty()
            && self.schemas_added_by_patch.is_empty()
            && self.schemas_removed.is_empty()
            && self.schemas_changed.is_empty()
    }
}

impl fmt::Display for Changelog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "No API changes.");
        }
        fn section(f: &mut fmt::Formatter<'_>, heading: &str, mark: char, items: &[String]) -> fmt::Result {
            if items.is_empty() {
                return Ok(());
            }
            writeln!(f, "{heading} ({}):", items.len())?;
            for item in items {
                writeln!(f, "  {mark} {item}")?;
            }
            Ok(())
        }
        fn by_patch(f: &mut fmt::Formatter<'_>, heading: &str, items: &[(String, String)]) -> fmt::Result {
            if items.is_empty() {
                return Ok(());
            }
            writeln!(f, "{heading} ({}):", items.len())?;
            for (patch, item) in items {
                writeln!(f, "  + {item} [patch {patch}]")?;
            }
            Ok(())
        }
        section(f, "Operations added", '+', &self.operations_added)?;
        by_patch(f, "Operations added by normalization patches", &self.operations_added_by_patch)?;
        section(f, "Operations removed", '-', &self.operations_removed)?;
        if !self.operations_changed.is_empty() {
            writeln!(f, "Operations changed ({}):", self.operations_changed.len())?;
            for change in &self.operations_changed {
                writeln!(f, "  ~ {}: {}", change.operation, change.changes.join("; "))?;
            }
        }
        section(f, "Webhook events added", '+', &self.events_added)?;
        section(f, "Webhook events removed", '-', &self.events_removed)?;
        section(f, "Schemas added", '+', &self.schemas_added)?;
        by_patch(f, "Schemas added by normalization patches", &self.schemas_added_by_patch)?;
        section(f, "Schemas removed", '-', &self.schemas_removed)?;
        section(f, "Schemas changed", '~', &self.schemas_changed)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

/// The patch that added an operation or schema (its `x-patch`), if one did.
fn added_by(item: &Value) -> Option<String> {
    item.get(PATCH_MARKER).and_then(Value::as_str).map(str::to_owned)
}

/// The key an operation is matched by: its operationId, or `METHOD path`
/// when it has none.
fn op_key(op: &OperationRef<'_>) -> String {
    match op.id() {
        "" => endpoint(op),
        id => id.to_owned(),
    }
}

/// `GET /v1/foo`
fn endpoint(op: &OperationRef<'_>) -> String {
    format!("{} {}", op.method.to_uppercase(), op.path)
}

/// `getFoo (GET /v1/foo)`
fn describe_op(op: &OperationRef<'_>) -> String {
    match op.id() {
        "" => endpoint(op),
        id => format!("{id} ({})", endpoint(op)),
    }
}

fn diff_operations(old: &Contract, new: &Contract, log: &mut Changelog) {
    let old_ops: BTreeMap<String, OperationRef<'_>> = old.operations().into_iter().map(|o| (op_key(&o), o)).collect();
    let new_ops: BTreeMap<String, OperationRef<'_>> = new.operations().into_iter().map(|o| (op_key(&o), o)).collect();

    // Pairs (old, new) of operations present in both, matched by id.
    let mut pairs: Vec<(OperationRef<'_>, OperationRef<'_>, bool)> = Vec::new();
    for (key, n) in &new_ops {
        if let Some(o) = old_ops.get(key) {
            pairs.push((*o, *n, false));
        }
    }

    // Ids only in the new / only in the old contract.
    let mut added: BTreeMap<String, OperationRef<'_>> =
        new_ops.iter().filter(|(k, _)| !old_ops.contains_key(*k)).map(|(k, v)| (k.clone(), *v)).collect();
    let removed: Vec<(&String, &OperationRef<'_>)> = old_ops.iter().filter(|(k, _)| !new_ops.contains_key(*k)).collect();

    // A vanished id whose METHOD+path now carries a new id is a rename.
    for (_, o) in removed {
        let renamed = added.iter().find(|(_, n)| n.method.eq_ignore_ascii_case(o.method) && n.path == o.path).map(|(k, _)| k.clone());
        match renamed.and_then(|k| added.remove(&k)) {
            Some(n) => pairs.push((*o, n, true)),
            None => log.operations_removed.push(describe_op(o)),
        }
    }
    for op in added.values() {
        match added_by(op.op) {
            Some(patch) => log.operations_added_by_patch.push((patch, describe_op(op))),
            None => log.operations_added.push(describe_op(op)),
        }
    }

    for (o, n, renamed) in pairs {
        let mut changes = Vec::new();
        if renamed {
            changes.push(format!("operationId renamed from {}", o.id()));
        }
        changes.extend(diff_operation(old, &o, new, &n));
        if !changes.is_empty() {
            log.operations_changed.push(OperationChange { operation: op_key(&n), changes });
        }
    }

    log.operations_added.sort();
    log.operations_added_by_patch.sort();
    log.operations_removed.sort();
    log.operations_changed.sort_by(|a, b| a.operation.cmp(&b.operation));
}

/// Every difference between two versions of one operation, as short phrases.
fn diff_operation(old: &Contract, o: &OperationRef<'_>, new: &Contract, n: &OperationRef<'_>) -> Vec<String> {
    let mut changes = Vec::new();

    if !o.method.eq_ignore_ascii_case(n.method) {
        changes.push(format!("method changed ({} -> {})", o.method.to_uppercase(), n.method.to_uppercase()));
    }
    if o.path != n.path {
        changes.push(format!("path changed ({} -> {})", o.path, n.path));
    }
    if o.tag() != n.tag() {
        changes.push(format!("tag changed ({} -> {})", o.tag(), n.tag()));
    }
    let (os, ns) = (server_of(old, o), server_of(new, n));
    if os != ns {
        changes.push(format!("server changed ({} -> {})", os.unwrap_or("default"), ns.unwrap_or("default")));
    }

    diff_parameters(old, o, new, n, &mut changes);
    diff_request_body(old, o, new, n, &mut changes);
    diff_responses(o, n, &mut changes);

    match (o.is_deprecated(), n.is_deprecated()) {
        (false, true) => changes.push("now deprecated".to_owned()),
        (true, false) => changes.push("no longer deprecated".to_owned()),
        _ => {}
    }
    changes
}

/// The operation's server URL, falling back to the document's first server.
fn server_of<'a>(c: &'a Contract, op: &OperationRef<'a>) -> Option<&'a str> {
    op.server().or_else(|| c.doc.pointer("/servers/0/url").and_then(Value::as_str))
}

/// Follows a local `$ref` (any `#/...` pointer) so shared parameters and
/// request bodies compare by content.
fn deref<'a>(c: &'a Contract, mut v: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(target) = v.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')).and_then(|p| c.doc.pointer(p)) else {
            return v;
        };
        v = target;
    }
    v
}

fn diff_parameters(old: &Contract, o: &OperationRef<'_>, new: &Contract, n: &OperationRef<'_>, changes: &mut Vec<String>) {
    fn by_key<'a>(c: &'a Contract, op: &OperationRef<'a>) -> BTreeMap<(String, String), &'a Value> {
        let mut out = BTreeMap::new();
        for p in op.parameters() {
            let p = deref(c, p);
            let loc = p.get("in").and_then(Value::as_str).unwrap_or("unknown").to_owned();
            let name = p.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
            // Operation-level parameters come later and override path-level ones.
            out.insert((loc, name), p);
        }
        out
    }
    let op_params = by_key(old, o);
    let np_params = by_key(new, n);

    for (loc, name) in op_params.keys() {
        if !np_params.contains_key(&(loc.clone(), name.clone())) {
            changes.push(format!("{loc} parameter `{name}` removed"));
        }
    }
    for ((loc, name), np) in &np_params {
        let Some(op) = op_params.get(&(loc.clone(), name.clone())) else {
            let req = if is_required(np) { " (required)" } else { "" };
            changes.push(format!("{loc} parameter `{name}` added{req}"));
            continue;
        };
        match (is_required(op), is_required(np)) {
            (false, true) => changes.push(format!("{loc} parameter `{name}` now required")),
            (true, false) => changes.push(format!("{loc} parameter `{name}` now optional")),
            _ => {}
        }
        let (os, ns) = (param_schema(op), param_schema(np));
        if os != ns {
            changes.push(format!("{loc} parameter `{name}` schema changed{}", transition(os, ns)));
        }
    }
}

fn is_required(v: &Value) -> bool {
    v.get("required").and_then(Value::as_bool).unwrap_or(false)
}

/// A parameter's schema: `schema`, or the schema of its single `content` entry.
fn param_schema(p: &Value) -> Option<&Value> {
    p.get("schema").or_else(|| p.get("content").and_then(Value::as_object).and_then(|m| m.values().next()).and_then(|m| m.get("schema")))
}

fn diff_request_body(old: &Contract, o: &OperationRef<'_>, new: &Contract, n: &OperationRef<'_>, changes: &mut Vec<String>) {
    let ob = o.op.get("requestBody").map(|b| deref(old, b));
    let nb = n.op.get("requestBody").map(|b| deref(new, b));
    let (ob, nb) = match (ob, nb) {
        (None, None) => return,
        (Some(_), None) => {
            changes.push("request body removed".to_owned());
            return;
        }
        (None, Some(b)) => {
            let types = media_types(b);
            if types.is_empty() {
                changes.push("request body added".to_owned());
            } else {
                changes.push(format!("request body added ({})", types.join(", ")));
            }
            return;
        }
        (Some(ob), Some(nb)) => (ob, nb),
    };

    match (is_required(ob), is_required(nb)) {
        (false, true) => changes.push("request body now required".to_owned()),
        (true, false) => changes.push("request body now optional".to_owned()),
        _ => {}
    }

    let (ot, nt) = (media_types(ob), media_types(nb));
    if ot != nt {
        changes.push(format!("request body media type changed ({} -> {})", list_or_none(&ot), list_or_none(&nt)));
    }
    let qualify = nt.len() > 1;
    for ct in nt.iter().filter(|ct| ot.contains(ct)) {
        let os = ob.pointer(&media_schema_pointer(ct));
        let ns = nb.pointer(&media_schema_pointer(ct));
        if os != ns {
            let at = if qualify { format!(" ({ct})") } else { String::new() };
            changes.push(format!("request body{at} schema changed{}", transition(os, ns)));
        }
    }
    // When the only media type was swapped, still report a schema change.
    if ot.len() == 1 && nt.len() == 1 && ot != nt {
        let os = ob.pointer(&media_schema_pointer(&ot[0]));
        let ns = nb.pointer(&media_schema_pointer(&nt[0]));
        if os != ns {
            changes.push(format!("request body schema changed{}", transition(os, ns)));
        }
    }
}

/// Media types of a request body, sorted.
fn media_types(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = body.get("content").and_then(Value::as_object).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    out.sort();
    out
}

/// JSON pointer to `content[ct].schema`, escaping the media type.
fn media_schema_pointer(ct: &str) -> String {
    format!("/content/{}/schema", ct.replace('~', "~0").replace('/', "~1"))
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

fn diff_responses(o: &OperationRef<'_>, n: &OperationRef<'_>, changes: &mut Vec<String>) {
    type ByMedia<'a> = BTreeMap<Option<&'a str>, Option<&'a Value>>;
    type ByStatus<'a> = BTreeMap<&'a str, ByMedia<'a>>;
    fn by_status<'a>(op: &OperationRef<'a>) -> ByStatus<'a> {
        let mut out: ByStatus<'a> = BTreeMap::new();
        for (status, ct, schema) in op.success_responses() {
            out.entry(status).or_default().insert(ct, schema);
        }
        out
    }
    let (or, nr) = (by_status(o), by_status(n));

    let os: Vec<&str> = or.keys().copied().collect();
    let ns: Vec<&str> = nr.keys().copied().collect();
    if os != ns {
        if os.len() == 1 && ns.len() == 1 {
            changes.push(format!("success status changed ({} -> {})", os[0], ns[0]));
        } else {
            for s in os.iter().filter(|s| !nr.contains_key(*s)) {
                changes.push(format!("response {s} removed"));
            }
            for s in ns.iter().filter(|s| !or.contains_key(*s)) {
                changes.push(format!("response {s} added"));
            }
        }
    }

    // Pair responses by status; a lone status that changed pairs with the other lone one.
    let mut pairs: Vec<(&str, &ByMedia<'_>, &ByMedia<'_>)> = Vec::new();
    if os.len() == 1 && ns.len() == 1 {
        pairs.push((ns[0], &or[os[0]], &nr[ns[0]]));
    } else {
        for (s, nm) in &nr {
            if let Some(om) = or.get(s) {
                pairs.push((s, om, nm));
            }
        }
    }

    for (status, om, nm) in pairs {
        let ot: Vec<Option<&str>> = om.keys().copied().collect();
        let nt: Vec<Option<&str>> = nm.keys().copied().collect();
        if ot != nt {
            changes.push(format!("response {status} media type changed ({} -> {})", content_types(&ot), content_types(&nt)));
        }
        let qualify = nt.len() > 1;
        if ot.len() == 1 && nt.len() == 1 {
            let (os, ns) = (om[&ot[0]], nm[&nt[0]]);
            if os != ns {
                changes.push(format!("response {status} type changed{}", transition(os, ns)));
            }
        } else {
            for (ct, ns) in nm {
                if let Some(os) = om.get(ct).filter(|os| *os != ns) {
                    let at = match ct {
                        Some(ct) if qualify => format!(" ({ct})"),
                        _ => String::new(),
                    };
                    changes.push(format!("response {status}{at} type changed{}", transition(*os, *ns)));
                }
            }
        }
    }
}

fn content_types(types: &[Option<&str>]) -> String {
    let names: Vec<&str> = types.iter().map(|t| t.unwrap_or("no content")).collect();
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

// ---------------------------------------------------------------------------
// Schema descriptions
// ---------------------------------------------------------------------------

/// ` (A -> B)` when the two schemas describe differently, else nothing (two
/// inline schemas that differ somewhere deep).
fn transition(old: Option<&Value>, new: Option<&Value>) -> String {
    let (o, n) = (describe_schema(old), describe_schema(new));
    if o == n { String::new() } else { format!(" ({o} -> {n})") }
}

/// A short name for a schema: its `$ref`, `array of X`, a primitive type
/// (with format), or `inline object`.
fn describe_schema(schema: Option<&Value>) -> String {
    let Some(s) = schema else { return "none".to_owned() };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.to_owned();
    }
    let ty = s.get("type").and_then(Value::as_str);
    match ty {
        Some("array") => format!("array of {}", describe_schema(s.get("items"))),
        Some("object") | None => {
            for key in ["allOf", "oneOf", "anyOf"] {
                if s.get(key).is_some() {
                    return format!("{key} schema");
                }
            }
            if ty.is_none() && s.as_object().is_some_and(|m| m.is_empty()) { "any".to_owned() } else { "inline object".to_owned() }
        }
        Some(t) => {
            let mut out = t.to_owned();
            if let Some(f) = s.get("format").and_then(Value::as_str) {
                out = format!("{out} ({f})");
            }
            if let Some(e) = s.get("enum").and_then(Value::as_array) {
                out = format!("{out} enum of {}", e.len());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn contract(paths: Value, events: &[&str], extra_schemas: Value) -> Contract {
        let mut schemas = json!({
            "CreateWebhookRequestV1": {
                "type": "object",
                "properties": {
                    "webhookEvent": { "type": "string", "enum": events }
                }
            }
        });
        if let Value::Object(extra) = extra_schemas {
            schemas.as_object_mut().unwrap().extend(extra);
        }
        Contract {
            doc: json!({
                "openapi": "3.0.1",
                "info": { "title": "Clockify", "version": "v1" },
                "servers": [{ "url": "https://api.clockify.me/api" }],
                "paths": paths,
                "components": { "schemas": schemas }
            }),
        }
    }

    fn projects_op(id: &str, params: Value, schema_ref: &str) -> Value {
        json!({
            "tags": ["Project"],
            "operationId": id,
            "parameters": params,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        "application/json": {
                            "schema": { "type": "array", "items": { "$ref": schema_ref } }
                        }
                    }
                }
            }
        })
    }

    fn workspace_param() -> Value {
        json!({ "name": "workspaceId", "in": "path", "required": true, "schema": { "type": "string" } })
    }

    fn base() -> Contract {
        contract(
            json!({
                "/v1/workspaces/{workspaceId}/projects": {
                    "get": projects_op("getProjects", json!([workspace_param()]), "#/components/schemas/ProjectDtoV1"),
                    "post": {
                        "tags": ["Project"],
                        "operationId": "createProject",
                        "parameters": [workspace_param()],
                        "requestBody": {
                            "content": {
                                "application/json": { "schema": { "$ref": "#/components/schemas/ProjectRequest" } }
                            },
                            "required": true
                        },
                        "responses": {
                            "201": {
                                "description": "Created",
                                "content": {
                                    "application/json": { "schema": { "$ref": "#/components/schemas/ProjectDtoV1" } }
                                }
                            }
                        }
                    }
                },
                "/v1/user": {
                    "get": {
                        "tags": ["User"],
                        "operationId": "getLoggedUser",
                        "responses": { "200": { "description": "OK" } }
                    }
                }
            }),
            &["NEW_PROJECT", "NEW_TIME_ENTRY"],
            json!({
                "ProjectDtoV1": { "type": "object", "properties": { "id": { "type": "string" } } },
                "ProjectRequest": { "type": "object", "properties": { "name": { "type": "string" } } }
            }),
        )
    }

    /// `base()` with its paths edited by `f`.
    fn edited(f: impl FnOnce(&mut Value)) -> Contract {
        let mut c = base();
        f(&mut c.doc);
        c
    }

    #[test]
    fn identical_contracts_have_no_changes() {
        let log = Changelog::between(&base(), &base());
        assert!(log.is_empty(), "{log:?}");
        assert_eq!(log, Changelog::default());
        assert_eq!(log.to_string(), "No API changes.\n");
    }

    #[test]
    fn added_and_removed_operations() {
        let new = edited(|doc| {
            let paths = doc["paths"].as_object_mut().unwrap();
            paths.remove("/v1/user");
            paths.insert("/v1/foo".into(), json!({ "get": { "operationId": "getFoo", "responses": { "200": { "description": "OK" } } } }));
        });
        let log = Changelog::between(&base(), &new);
        assert_eq!(log.operations_added, vec!["getFoo (GET /v1/foo)".to_owned()]);
        assert_eq!(log.operations_removed, vec!["getLoggedUser (GET /v1/user)".to_owned()]);
        assert!(log.operations_changed.is_empty(), "{:?}", log.operations_changed);
        let text = log.to_string();
        assert!(text.contains("Operations added (1):\n  + getFoo (GET /v1/foo)\n"), "{text}");
        assert!(text.contains("Operations removed (1):\n  - getLoggedUser (GET /v1/user)\n"), "{text}");
        assert!(!text.contains("Operations changed"), "{text}");
    }

    #[test]
    fn operations_and_schemas_a_patch_added_are_listed_apart_with_its_name() {
        let new = edited(|doc| {
            let paths = doc["paths"].as_object_mut().unwrap();
            let marked =
                |id: &str| json!({ "operationId": id, "x-patch": "addon-endpoints", "responses": { "200": { "description": "" } } });
            paths.insert("/addon/workspaces/{workspaceId}/user".into(), json!({ "get": marked("getAddonUser") }));
            paths.insert("/addon/user/{userId}/token".into(), json!({ "post": marked("createAddonUserToken") }));
            paths.insert("/v1/foo".into(), json!({ "get": { "operationId": "getFoo", "responses": { "200": { "description": "" } } } }));
            let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
            schemas.insert("AddonSettings".into(), json!({ "type": "object", "x-patch": "addon-endpoints" }));
            schemas.insert("Foo".into(), json!({ "type": "object" }));
        });
        let log = Changelog::between(&base(), &new);
        assert_eq!(log.operations_added, vec!["getFoo (GET /v1/foo)".to_owned()], "only the upstream one");
        assert_eq!(
            log.operations_added_by_patch,
            vec![
                ("addon-endpoints".to_owned(), "createAddonUserToken (POST /addon/user/{userId}/token)".to_owned()),
                ("addon-endpoints".to_owned(), "getAddonUser (GET /addon/workspaces/{workspaceId}/user)".to_owned()),
            ]
        );
        assert_eq!(log.schemas_added, vec!["Foo".to_owned()]);
        assert_eq!(log.schemas_added_by_patch, vec![("addon-endpoints".to_owned(), "AddonSettings".to_owned())]);
        let text = log.to_string();
        assert!(text.contains("Operations added (1):\n  + getFoo (GET /v1/foo)\n"), "{text}");
        assert!(
            text.contains(
                "Operations added by normalization patches (2):\n  \
                 + createAddonUserToken (POST /addon/user/{userId}/token) [patch addon-endpoints]\n  \
                 + getAddonUser (GET /addon/workspaces/{workspaceId}/user) [patch addon-endpoints]\n"
            ),
            "{text}"
        );
        assert!(text.contains("Schemas added by normalization patches (1):\n  + AddonSettings [patch addon-endpoints]\n"), "{text}");

        // Only the patch's additions: not empty, and nothing upstream listed.
        let only_patch = edited(|doc| {
            doc["components"]["schemas"]["AddonSettings"] = json!({ "type": "object", "x-patch": "addon-endpoints" });
        });
        let log = Changelog::between(&base(), &only_patch);
        assert!(!log.is_empty());
        assert!(log.schemas_added.is_empty() && log.operations_added.is_empty(), "{log:?}");
    }

    #[test]
    fn renamed_operation_id_is_a_change() {
        let new = edited(|doc| {
            doc["paths"]["/v1/user"]["get"]["operationId"] = json!("getCurrentUser");
        });
        let log = Changelog::between(&base(), &new);
        assert!(log.operations_added.is_empty(), "{log:?}");
        assert!(log.operations_removed.is_empty(), "{log:?}");
        assert_eq!(
            log.operations_changed,
            vec![OperationChange { operation: "getCurrentUser".into(), changes: vec!["operationId renamed from getLoggedUser".into()] }]
        );
        assert!(log.to_string().contains("  ~ getCurrentUser: operationId renamed from getLoggedUser\n"));
    }

    #[test]
    fn query_parameter_added_and_response_ref_changed() {
        let new = edited(|doc| {
            let archived = json!({ "name": "archived", "in": "query", "required": false, "schema": { "type": "boolean" } });
            doc["paths"]["/v1/workspaces/{workspaceId}/projects"]["get"] =
                projects_op("getProjects", json!([workspace_param(), archived]), "#/components/schemas/ProjectDtoV2");
            doc["paths"]["/v1/workspaces/{workspaceId}/projects"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"] =
                json!("#/components/schemas/ProjectDtoV2");
            doc["components"]["schemas"]["ProjectDtoV2"] = json!({ "type": "object" });
        });
        let log = Changelog::between(&base(), &new);
        assert_eq!(log.operations_changed.len(), 2, "{log:?}");
        assert_eq!(
            log.operations_changed[0],
            OperationChange {
                operation: "createProject".into(),
                changes: vec!["response 201 type changed (#/components/schemas/ProjectDtoV1 -> #/components/schemas/ProjectDtoV2)".into()],
            }
        );
        assert_eq!(
            log.operations_changed[1],
            OperationChange {
                operation: "getProjects".into(),
                changes: vec![
                    "query parameter `archived` added".into(),
                    "response 200 type changed (array of #/components/schemas/ProjectDtoV1 -> array of #/components/schemas/ProjectDtoV2)"
                        .into(),
                ],
            }
        );
        assert_eq!(log.schemas_added, vec!["ProjectDtoV2".to_owned()]);
        let text = log.to_string();
        assert!(text.contains("Operations changed (2):\n"), "{text}");
        assert!(text.contains("  ~ getProjects: query parameter `archived` added; response 200 type changed"), "{text}");
        assert!(text.contains("Schemas added (1):\n  + ProjectDtoV2\n"), "{text}");
    }

    #[test]
    fn parameter_body_server_tag_and_deprecation_changes() {
        let new = edited(|doc| {
            let post = &mut doc["paths"]["/v1/workspaces/{workspaceId}/projects"]["post"];
            post["tags"] = json!(["Projects"]);
            post["deprecated"] = json!(true);
            post["servers"] = json!([{ "url": "https://reports.api.clockify.me" }]);
            post["parameters"][0]["schema"] = json!({ "type": "integer" });
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"] = json!("#/components/schemas/ProjectRequestV2");
            let user = &mut doc["paths"]["/v1/user"]["get"];
            user["parameters"] = json!([{ "name": "include", "in": "query", "required": true, "schema": { "type": "string" } }]);
            user["requestBody"] = json!({ "content": { "application/json": { "schema": { "type": "object" } } } });
        });
        let log = Changelog::between(&base(), &new);
        let create = log.operations_changed.iter().find(|c| c.operation == "createProject").unwrap();
        assert_eq!(
            create.changes,
            vec![
                "tag changed (Project -> Projects)".to_owned(),
                "server changed (https://api.clockify.me/api -> https://reports.api.clockify.me)".to_owned(),
                "path parameter `workspaceId` schema changed (string -> integer)".to_owned(),
                "request body schema changed (#/components/schemas/ProjectRequest -> #/components/schemas/ProjectRequestV2)".to_owned(),
                "now deprecated".to_owned(),
            ]
        );
        let user = log.operations_changed.iter().find(|c| c.operation == "getLoggedUser").unwrap();
        assert_eq!(
            user.changes,
            vec!["query parameter `include` added (required)".to_owned(), "request body added (application/json)".to_owned(),]
        );
    }

    #[test]
    fn webhook_events_and_schemas() {
        let new = edited(|doc| {
            doc["components"]["schemas"]["CreateWebhookRequestV1"]["properties"]["webhookEvent"]["enum"] =
                json!(["NEW_PROJECT", "NEW_THING"]);
            let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
            schemas.remove("ProjectRequest");
            schemas["ProjectDtoV1"]["properties"]["name"] = json!({ "type": "string" });
        });
        let log = Changelog::between(&base(), &new);
        assert_eq!(log.events_added, vec!["NEW_THING".to_owned()]);
        assert_eq!(log.events_removed, vec!["NEW_TIME_ENTRY".to_owned()]);
        assert_eq!(log.schemas_removed, vec!["ProjectRequest".to_owned()]);
        // The enum lives inside CreateWebhookRequestV1, so it changed too.
        assert_eq!(log.schemas_changed, vec!["CreateWebhookRequestV1".to_owned(), "ProjectDtoV1".to_owned()]);
        assert!(log.operations_changed.is_empty(), "{log:?}");
        let text = log.to_string();
        assert!(text.contains("Webhook events added (1):\n  + NEW_THING\n"), "{text}");
        assert!(text.contains("Webhook events removed (1):\n  - NEW_TIME_ENTRY\n"), "{text}");
        assert!(text.contains("Schemas removed (1):\n  - ProjectRequest\n"), "{text}");
        assert!(text.contains("Schemas changed (2):\n  ~ CreateWebhookRequestV1\n  ~ ProjectDtoV1\n"), "{text}");
    }

    #[test]
    fn missing_event_schema_counts_as_no_events() {
        let old = Contract { doc: json!({ "openapi": "3.0.1", "paths": {} }) };
        let log = Changelog::between(&old, &base());
        assert_eq!(log.events_added, vec!["NEW_PROJECT".to_owned(), "NEW_TIME_ENTRY".to_owned()]);
        assert_eq!(log.operations_added.len(), 3);
        assert!(log.events_removed.is_empty());
    }

    #[test]
    fn key_order_does_not_count_as_a_change() {
        let new = edited(|doc| {
            let s = &mut doc["components"]["schemas"]["ProjectDtoV1"];
            *s = json!({ "properties": { "id": { "type": "string" } }, "type": "object" });
        });
        assert!(Changelog::between(&base(), &new).is_empty());
    }
}
