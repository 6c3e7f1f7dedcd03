//! The template language of step inputs: `{{ ref ?? ref ?? 'literal' }}`
//! inside strings. A reference is a root (`payload`, `steps`, `settings`,
//! `workspace`) and dot-separated members (array indexes are numbers), read
//! from the run's document `{payload, steps, settings, workspace}`; the
//! first alternative with a value (not absent, not null) wins. A string that
//! is exactly one template takes its value's JSON type; inside a longer
//! string a value is written as text. No code, no filters.

use serde_json::{Map, Value};

/// The roots a reference may start with.
pub const ROOTS: [&str; 4] = ["payload", "steps", "settings", "workspace"];

/// One alternative of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alternative {
    /// Root and members, e.g. `["steps", "find_tag", "body", "0", "id"]`.
    Reference(Vec<String>),
    Literal(String),
}

impl Alternative {
    /// The JSON pointer of a reference into the run's document.
    pub fn pointer(segments: &[String]) -> String {
        segments.iter().map(|s| format!("/{s}")).collect()
    }
}

/// One `{{ ... }}` of a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    /// As written, trimmed.
    pub text: String,
    pub alternatives: Vec<Alternative>,
}

/// A string split into literal text and expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Expr(Expression),
}

/// Parses a string; `Ok(None)` when it has no template.
pub fn parse(s: &str) -> Result<Option<Vec<Part>>, String> {
    if !s.contains("{{") {
        return Ok(None);
    }
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| "a `{{` without its `}}`".to_owned())?;
        parts.push(Part::Expr(expression(&after[..end])?));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(Some(parts))
}

fn expression(text: &str) -> Result<Expression, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("an empty `{{ }}`".into());
    }
    let pieces: Vec<&str> = text.split("??").map(str::trim).collect();
    let mut alternatives = Vec::with_capacity(pieces.len());
    for (i, piece) in pieces.iter().enumerate() {
        let quoted = |q: char| piece.len() >= 2 && piece.starts_with(q) && piece.ends_with(q);
        if quoted('\'') || quoted('"') {
            if i + 1 != pieces.len() {
                return Err(format!("`{text}`: a literal can only be the last alternative"));
            }
            alternatives.push(Alternative::Literal(piece[1..piece.len() - 1].to_owned()));
            continue;
        }
        if piece.is_empty() {
            return Err(format!("`{text}`: an empty alternative"));
        }
        let segments: Vec<String> = piece.split('.').map(str::to_owned).collect();
        if let Some(bad) = segments.iter().find(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
            return Err(format!("`{piece}`: member `{bad}` is not a name (letters, digits, `_`, `-`)"));
        }
        if !ROOTS.contains(&segments[0].as_str()) {
            return Err(format!("`{piece}` starts with `{}`; a reference starts with one of {}", segments[0], ROOTS.join(", ")));
        }
        alternatives.push(Alternative::Reference(segments));
    }
    Ok(Expression { text: text.to_owned(), alternatives })
}

/// Every expression in a JSON value, with the JSON pointer of the string it
/// is in (relative to `value`); parse errors with theirs.
pub fn expressions_in(value: &Value, pointer: &str, out: &mut Vec<(String, Result<Expression, String>)>) {
    match value {
        Value::String(s) => match parse(s) {
            Ok(None) => {}
            Ok(Some(parts)) => out.extend(parts.into_iter().filter_map(|p| match p {
                Part::Expr(e) => Some((pointer.to_owned(), Ok(e))),
                Part::Text(_) => None,
            })),
            Err(e) => out.push((pointer.to_owned(), Err(e))),
        },
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| expressions_in(v, &format!("{pointer}/{i}"), out)),
        Value::Object(m) => m.iter().for_each(|(k, v)| expressions_in(v, &format!("{pointer}/{}", escape(k)), out)),
        _ => {}
    }
}

/// Escapes a member name for a JSON pointer.
pub fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Whether a JSON value has a template anywhere.
pub fn has_template(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("{{"),
        Value::Array(items) => items.iter().any(has_template),
        Value::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

/// How a reference without a value is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// An error naming the template (a real run).
    Fail,
    /// A `<unresolved: ...>` placeholder for step answers (a dry run, where nothing was answered).
    PlaceholderForSteps,
}

fn evaluate(e: &Expression, doc: &Value, missing: Missing) -> Result<Value, String> {
    for alt in &e.alternatives {
        match alt {
            Alternative::Literal(s) => return Ok(Value::String(s.clone())),
            Alternative::Reference(segments) => match doc.pointer(&Alternative::pointer(segments)) {
                Some(Value::Null) | None => continue,
                Some(v) => return Ok(v.clone()),
            },
        }
    }
    let refers_to_steps = e.alternatives.iter().any(|a| matches!(a, Alternative::Reference(s) if s[0] == "steps"));
    if missing == Missing::PlaceholderForSteps && refers_to_steps {
        return Ok(Value::String(format!("<unresolved: {}>", e.text)));
    }
    Err(format!("`{{{{{}}}}}` has no value", e.text))
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Resolves every template in `value` against `doc`; errors carry the JSON
/// pointer (relative to `value`) of the string that failed.
pub fn render(value: &Value, doc: &Value, missing: Missing, pointer: &str) -> Result<Value, (String, String)> {
    Ok(match value {
        Value::String(s) => {
            let Some(parts) = parse(s).map_err(|e| (pointer.to_owned(), e))? else { return Ok(value.clone()) };
            if let [Part::Expr(e)] = parts.as_slice() {
                evaluate(e, doc, missing).map_err(|m| (pointer.to_owned(), m))?
            } else {
                let mut out = String::new();
                for p in &parts {
                    match p {
                        Part::Text(t) => out.push_str(t),
                        Part::Expr(e) => out.push_str(&as_text(&evaluate(e, doc, missing).map_err(|m| (pointer.to_owned(), m))?)),
                    }
                }
                Value::String(out)
            }
        }
        Value::Array(items) => Value::Array(
            items.iter().enumerate().map(|(i, v)| render(v, doc, missing, &format!("{pointer}/{i}"))).collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), render(v, doc, missing, &format!("{pointer}/{}", escape(k)))?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_whole_template_keeps_its_type_and_fallbacks_are_tried_in_order() {
        let doc = json!({ "payload": { "n": 3, "name": "x" }, "steps": { "b": { "body": { "id": "t2" } } } });
        let r = |s: &str| render(&json!(s), &doc, Missing::Fail, "");
        assert_eq!(r("{{payload.n}}"), Ok(json!(3)));
        assert_eq!(r("n={{ payload.n }}, {{payload.name}}"), Ok(json!("n=3, x")));
        assert_eq!(r("{{steps.a.body.0.id ?? steps.b.body.id}}"), Ok(json!("t2")));
        assert_eq!(r("{{payload.none ?? 'dflt'}}"), Ok(json!("dflt")));
        let e = r("{{payload.none}}").unwrap_err();
        assert!(e.1.contains("payload.none"), "{e:?}");
        let dry = render(&json!("{{steps.a.body.id}}"), &doc, Missing::PlaceholderForSteps, "");
        assert_eq!(dry, Ok(json!("<unresolved: steps.a.body.id>")));
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["{{payload.x", "{{}}", "{{secrets.x}}", "{{'a' ?? payload.x}}", "{{payload..x}}", "{{payload.a b}}"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(parse("plain"), Ok(None));
    }
}
