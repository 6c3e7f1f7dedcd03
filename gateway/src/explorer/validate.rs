//! Checking explorer input against the operation's JSON Schemas from the
//! contract (with the `jsonschema` crate) before anything is sent.
//!
//! The catalog's schemas are compact JSON with `$ref`s into the contract's
//! components; the contract is embedded, registered once as a resource and
//! the references point into it. Validators are compiled once per operation,
//! on first use. OpenAPI 3.0 schemas are JSON Schema draft 4 plus
//! `nullable`, which is rewritten into a `"null"` type before compiling.

use std::sync::OnceLock;

use clockify_client::catalog::{OPERATIONS, Operation, ParamLocation};
use jsonschema::{Draft, Registry, Validator};
use serde_json::{Map, Value};

use clockify_explorer_dispatch::Args;

/// The contract, as committed (`openapi.json`).
const CONTRACT: &str = include_str!("../../../openapi.json");
const CONTRACT_URI: &str = "urn:clockify:contract";

/// One thing wrong with the input, at a JSON pointer into
/// `{path, query, body}` (e.g. `/query/page-size`, `/body/name`).
pub use crate::error::Violation;

fn violation(pointer: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation { pointer: pointer.into(), message: message.into() }
}

struct Compiled {
    params: Vec<Option<Validator>>,
    /// Each parameter schema's `type`, for reading text values.
    types: Vec<Option<String>>,
    body: Option<Validator>,
}

fn rewrite_nullable(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = m.get("type").cloned()
            {
                m.insert("type".into(), Value::Array(vec![Value::String(t), Value::String("null".into())]));
            }
            m.values_mut().for_each(rewrite_nullable);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_nullable),
        _ => {}
    }
}

fn registry() -> Result<&'static Registry<'static>, String> {
    static REGISTRY: OnceLock<Result<Registry<'static>, String>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut contract: Value = serde_json::from_str(CONTRACT).map_err(|e| format!("openapi.json: {e}"))?;
            rewrite_nullable(&mut contract);
            Registry::new()
                .add(CONTRACT_URI, Draft::Draft4.create_resource(contract))
                .and_then(|b| b.prepare())
                .map_err(|e| format!("openapi.json as a schema resource: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn compile(schema: &str) -> Result<Validator, String> {
    let rewritten = schema.replace("\"$ref\":\"#/", &format!("\"$ref\":\"{CONTRACT_URI}#/"));
    let mut value: Value = serde_json::from_str(&rewritten).map_err(|e| format!("schema is not JSON: {e}"))?;
    rewrite_nullable(&mut value);
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .with_registry(registry()?)
        .build(&value)
        .map_err(|e| format!("schema does not compile: {e}"))
}

fn compiled(index: usize) -> Result<&'static Compiled, String> {
    static CACHE: OnceLock<Vec<OnceLock<Result<Compiled, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| OPERATIONS.iter().map(|_| OnceLock::new()).collect());
    let op = &OPERATIONS[index];
    cache[index]
        .get_or_init(|| {
            let params = op.params.iter().map(|p| compile(p.schema).map(Some)).collect::<Result<Vec<_>, _>>()?;
            let types = op.params.iter().map(|p| schema_type(p.schema)).collect();
            let body = match &op.body {
                Some(b) if b.content_type == "application/json" => Some(compile(b.schema)?),
                _ => None,
            };
            Ok(Compiled { params, types, body })
        })
        .as_ref()
        .map_err(|e| format!("{}: {e}", op.id))
}

/// Compiles every operation's validators now (startup, benchmarks); returns
/// the first failure, naming the operation.
pub fn compile_all() -> Result<(), String> {
    (0..OPERATIONS.len()).try_for_each(|i| compiled(i).map(|_| ()))
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn schema_type(schema: &str) -> Option<String> {
    let v: Value = serde_json::from_str(schema).ok()?;
    v.get("type").and_then(Value::as_str).map(str::to_owned)
}

/// Query and path values often arrive as text (a URL, a form field): turn
/// them into what the schema types them as, when they read as such.
fn coerce(ty: Option<&str>, value: Value) -> Value {
    let Value::String(s) = &value else {
        return match (ty, value) {
            (Some("array"), v @ (Value::Number(_) | Value::Bool(_))) => Value::Array(vec![v]),
            (_, v) => v,
        };
    };
    match ty {
        Some("integer") => s.trim().parse::<i64>().map(Value::from).unwrap_or(value),
        Some("number") => s.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(value),
        Some("boolean") => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value,
        },
        Some("array") => Value::Array(s.split(',').map(|p| Value::String(p.to_owned())).collect()),
        _ => value,
    }
}

fn push_schema_errors(out: &mut Vec<Violation>, validator: &Validator, prefix: &str, instance: &Value) {
    for e in validator.iter_errors(instance) {
        out.push(violation(format!("{prefix}{}", e.instance_path().as_str()), e.masked().to_string()));
    }
}

/// Why input was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Every violation found.
    Violations(Vec<Violation>),
    /// A schema of the contract does not compile (a gateway bug, not the caller's).
    Internal(String),
}

/// The input of one call, as the explorer received it.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub path: Map<String, Value>,
    pub query: Map<String, Value>,
    pub body: Option<Value>,
}

/// Checks `input` against `op`'s schemas; `workspace` is the caller's
/// workspace, which a `workspaceId` path parameter must name (it is filled in
/// when absent). Returns the arguments for the typed call, or every violation.
pub fn validate(index: usize, input: Input, workspace: &str) -> Result<Args, Invalid> {
    let op: &'static Operation = OPERATIONS.get(index).ok_or_else(|| Invalid::Internal(format!("no operation at {index}")))?;
    let compiled = compiled(index).map_err(Invalid::Internal)?;
    let mut violations = Vec::new();
    let Input { mut path, mut query, body } = input;
    for (name, _) in path.iter() {
        if !op.params.iter().any(|p| p.location == ParamLocation::Path && p.name == name) {
            violations.push(violation(format!("/path/{}", escape(name)), format!("{} has no path parameter `{name}`", op.id)));
        }
    }
    for (name, _) in query.iter() {
        if !op.params.iter().any(|p| p.location == ParamLocation::Query && p.name == name) {
            violations.push(violation(format!("/query/{}", escape(name)), format!("{} has no query parameter `{name}`", op.id)));
        }
    }
    let mut args = Args::default();
    for ((p, validator), ty) in op.params.iter().zip(&compiled.params).zip(&compiled.types) {
        let (map, out, loc) = match p.location {
            ParamLocation::Path => (&mut path, &mut args.path, "path"),
            ParamLocation::Query => (&mut query, &mut args.query, "query"),
            ParamLocation::Header => continue,
        };
        let pointer = format!("/{loc}/{}", escape(p.name));
        if p.location == ParamLocation::Path && p.name == "workspaceId" {
            match map.remove(p.name) {
                None => {}
                Some(Value::String(s)) if s == workspace => {}
                Some(other) => {
                    violations.push(violation(
                        pointer,
                        format!("names workspace {other}, but the token is for workspace {workspace}; the explorer only calls the caller's own workspace"),
                    ));
                    continue;
                }
            }
            out.insert(p.name.to_owned(), Value::String(workspace.to_owned()));
            continue;
        }
        let value = match map.remove(p.name) {
            None | Some(Value::Null) if p.required => {
                violations.push(violation(pointer, "required"));
                continue;
            }
            None | Some(Value::Null) => continue,
            Some(v) => coerce(ty.as_deref(), v),
        };
        if p.location == ParamLocation::Path
            && let Some(problem) = value.as_str().and_then(path_value_problem)
        {
            violations.push(violation(pointer, problem));
            continue;
        }
        if let Some(v) = validator {
            let before = violations.len();
            push_schema_errors(&mut violations, v, &pointer, &value);
            if violations.len() > before {
                continue;
            }
        }
        out.insert(p.name.to_owned(), value);
    }
    match (&op.body, body) {
        (_, None | Some(Value::Null)) if op.body.is_some_and(|b| b.required) => {
            violations.push(violation("/body", "required"));
        }
        (_, None | Some(Value::Null)) => {}
        (None, Some(_)) => violations.push(violation("/body", format!("{} takes no body", op.id))),
        (Some(_), Some(b)) => {
            if let Some(v) = &compiled.body {
                push_schema_errors(&mut violations, v, "/body", &b);
            }
            args.body = Some(b);
        }
    }
    if violations.is_empty() { Ok(args) } else { Err(Invalid::Violations(violations)) }
}

/// The contract as JSON (parsed once), for reading schemas.
pub fn contract() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(CONTRACT).unwrap_or(Value::Null))
}

/// A starting body for a schema: its required properties with placeholder
/// values of their types (following `$ref`s a few levels deep).
pub fn body_template(schema: &str) -> Value {
    let Ok(schema) = serde_json::from_str::<Value>(schema) else { return Value::Null };
    template_of(&schema, 0)
}

fn resolve(schema: &Value) -> &Value {
    let mut here = schema;
    for _ in 0..8 {
        match here.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => match contract().pointer(pointer) {
                Some(target) => here = target,
                None => break,
            },
            None => break,
        }
    }
    here
}

fn template_of(schema: &Value, depth: usize) -> Value {
    let s = resolve(schema);
    if let Some(e) = s.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return e.clone();
    }
    if let Some(d) = s.get("default") {
        return d.clone();
    }
    match s.get("type").and_then(Value::as_str) {
        Some("object") | None if s.get("properties").is_some() => {
            let mut out = Map::new();
            if depth > 3 {
                return Value::Object(out);
            }
            let required: Vec<&str> = s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (name, p) in props {
                    if required.contains(&name.as_str()) {
                        out.insert(name.clone(), template_of(p, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
        Some("array") => Value::Array(Vec::new()),
        Some("integer") | Some("number") => Value::from(0),
        Some("boolean") => Value::Bool(false),
        Some("string") => Value::String(String::new()),
        _ => Value::Object(Map::new()),
    }
}

/// Why a path parameter's value would change the path it is put into, if it
/// would: the resolver and the validator both refuse such values.
pub(crate) fn path_value_problem(s: &str) -> Option<&'static str> {
    if s.is_empty() || s == "." || s == ".." {
        Some("a path parameter cannot be empty, `.` or `..`")
    } else if s.chars().any(|c| matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_control()) {
        Some("a path parameter cannot contain `/`, `\\`, `?`, `#`, `%` or control characters (it would change the path)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index(id: &str) -> usize {
        OPERATIONS.iter().position(|o| o.id == id).expect(id)
    }

    fn input(path: Value, query: Value, body: Option<Value>) -> Input {
        let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
        Input { path: obj(path), query: obj(query), body }
    }

    fn pointers(r: Result<Args, Invalid>) -> Vec<String> {
        match r {
            Err(Invalid::Violations(v)) => v.into_iter().map(|v| v.pointer).collect(),
            other => panic!("expected violations, got {other:?}"),
        }
    }

    #[test]
    fn text_values_are_read_as_their_schema_types_and_the_workspace_filled_in() {
        let args =
            validate(index("getProjects"), input(json!({}), json!({"page": "2", "archived": "true", "clients": "a,b"}), None), "ws1")
                .expect("valid");
        assert_eq!(args.path["workspaceId"], json!("ws1"));
        assert_eq!(args.query["page"], json!(2));
        assert_eq!(args.query["archived"], json!(true));
        assert_eq!(args.query["clients"], json!(["a", "b"]));
    }

    #[test]
    fn nested_body_violations_carry_their_pointer() {
        let body = json!({"name": "ok name", "hourlyRate": {"amount": "lots"}, "memberships": [{"userId": 7}]});
        let p = pointers(validate(index("createNewProject"), input(json!({}), json!({}), Some(body)), "ws1"));
        assert!(p.iter().any(|p| p == "/body/hourlyRate/amount"), "{p:?}");
        assert!(p.iter().any(|p| p == "/body/memberships/0/userId"), "{p:?}");
    }

    #[test]
    fn a_body_where_none_is_taken_and_an_unknown_path_parameter_are_violations() {
        let p = pointers(validate(index("getTags"), input(json!({"tagId": "x"}), json!({}), Some(json!({"a": 1}))), "ws1"));
        assert_eq!(p, ["/path/tagId", "/body"]);
    }

    #[test]
    fn a_body_template_starts_from_the_required_properties() {
        let t = body_template(r##"{"$ref":"#/components/schemas/HourlyRateRequestV1"}"##);
        assert_eq!(t, json!({"amount": 0}));
    }
}
