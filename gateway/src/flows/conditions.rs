//! Evaluating a trigger's gate and a step's `if` over the run's document
//! `{payload, steps, settings, workspace}`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::model::{Condition, Match, Op};

/// Longest regular expression a condition may hold.
pub const MAX_PATTERN: usize = 1000;

/// Compiles `pattern` once per process (flows are read per delivery).
pub fn regex(pattern: &str) -> Result<Arc<regex::Regex>, String> {
    static CACHE: OnceLock<parking_lot::Mutex<HashMap<String, Arc<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().get(pattern) {
        return Ok(r.clone());
    }
    if pattern.len() > MAX_PATTERN {
        return Err(format!("a pattern is at most {MAX_PATTERN} characters"));
    }
    let compiled = Arc::new(regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().map_err(|e| e.to_string())?);
    let mut cache = cache.lock();
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), compiled.clone());
    Ok(compiled)
}

/// Whether `c` holds over `doc`. A condition that cannot be evaluated (a
/// bad pattern: refused at save) does not hold.
pub fn holds(c: &Condition, doc: &Value) -> bool {
    let actual = doc.pointer(&c.pointer).filter(|v| !v.is_null());
    match c.op {
        Op::Exists => actual.is_some() == c.value.as_ref().and_then(Value::as_bool).unwrap_or(true),
        Op::Equals => actual == c.value.as_ref().filter(|v| !v.is_null()),
        Op::NotEquals => actual != c.value.as_ref().filter(|v| !v.is_null()),
        Op::In => match (actual, c.value.as_ref()) {
            (Some(a), Some(Value::Array(items))) => items.contains(a),
            _ => false,
        },
        Op::Matches => {
            let text = match actual {
                Some(Value::String(s)) => s.clone(),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
                _ => return false,
            };
            match c.value.as_ref().and_then(Value::as_str).map(regex) {
                Some(Ok(r)) => r.is_match(&text),
                _ => false,
            }
        }
    }
}

/// Whether a gate is open.
pub fn gate(match_: Match, conditions: &[Condition], doc: &Value) -> bool {
    match match_ {
        Match::All => conditions.iter().all(|c| holds(c, doc)),
        Match::Any => conditions.is_empty() || conditions.iter().any(|c| holds(c, doc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(pointer: &str, op: Op, value: Option<Value>) -> Condition {
        Condition { pointer: pointer.into(), op, value }
    }

    #[test]
    fn each_operator_compares_as_documented() {
        let doc = json!({ "payload": { "projectId": null, "billable": true, "description": "Fix #12", "n": 7 } });
        assert!(holds(&c("/payload/projectId", Op::Exists, Some(json!(false))), &doc));
        assert!(!holds(&c("/payload/projectId", Op::Exists, None), &doc));
        assert!(holds(&c("/payload/billable", Op::Equals, Some(json!(true))), &doc));
        assert!(holds(&c("/payload/absent", Op::NotEquals, Some(json!("x"))), &doc));
        assert!(holds(&c("/payload/n", Op::In, Some(json!([1, 7]))), &doc));
        assert!(!holds(&c("/payload/n", Op::In, Some(json!([1]))), &doc));
        assert!(holds(&c("/payload/description", Op::Matches, Some(json!("#\\d+"))), &doc));
        assert!(!holds(&c("/payload/description", Op::Matches, Some(json!("^x"))), &doc));
        let conds = [c("/payload/n", Op::Equals, Some(json!(1))), c("/payload/billable", Op::Exists, None)];
        assert!(!gate(Match::All, &conds, &doc));
        assert!(gate(Match::Any, &conds, &doc));
    }
}
