//! Secret-looking members of JSON shown to operators (delivery bodies,
//! explorer history) are replaced by `***`.

use serde_json::Value;

/// Marks a key whose value must not be shown: tokens, secrets, passwords,
/// keys, signatures, credentials.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['-', '_'], "");
    ["token", "secret", "password", "passwd", "apikey", "authorization", "signature", "credential", "privatekey", "cookie"]
        .iter()
        .any(|s| k.contains(s))
}

/// The body with every secret-looking member's value replaced by `***`.
pub fn redact_secrets(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(&k) && !v.is_null() { Value::String("***".into()) } else { redact_secrets(v) };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_secrets).collect()),
        other => other,
    }
}
