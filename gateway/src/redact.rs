//! Secret-looking members of JSON shown to operators (delivery bodies,
//! explorer history, flow executions) and secret-looking query parameters
//! (the access log, flow executions) are replaced by `***`.

use serde_json::Value;

/// Marks a key whose value must not be shown: tokens, secrets, passwords,
/// keys, signatures, credentials.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['-', '_'], "");
    ["token", "secret", "password", "passwd", "apikey", "authorization", "signature", "credential", "privatekey", "cookie"]
        .iter()
        .any(|s| k.contains(s))
}

/// Query parameters whose value is a secret whatever else they are named.
const SECRET_PARAMS: [&str; 4] = ["auth_token", "api_key", "apikey", "key"];

/// The query with secret-looking values replaced by `***`.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            if SECRET_PARAMS.iter().any(|s| name.eq_ignore_ascii_case(s)) || is_secret_key(name) {
                format!("{name}=***")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The URL with its query's secret-looking values replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_query(query)),
        None => url.to_owned(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_members_are_hidden_at_any_depth() {
        let v = json!({ "name": "a", "authToken": "eyJ", "nested": [{ "api-key": "k", "password": null, "x": 1 }] });
        assert_eq!(
            redact_secrets(v),
            json!({ "name": "a", "authToken": "***", "nested": [{ "api-key": "***", "password": null, "x": 1 }] })
        );
    }

    #[test]
    fn tokens_in_a_query_or_url_are_redacted() {
        assert_eq!(redact_query("auth_token=eyJabc&page=2"), "auth_token=***&page=2");
        assert_eq!(redact_query("AUTH_TOKEN=x"), "AUTH_TOKEN=***");
        assert_eq!(redact_query("name=a&client-secret=s&key=k"), "name=a&client-secret=***&key=***");
        assert_eq!(redact_url("https://api.clockify.me/api/v1/x?token=t&page=1"), "https://api.clockify.me/api/v1/x?token=***&page=1");
        assert_eq!(redact_url("https://api.clockify.me/api/v1/x"), "https://api.clockify.me/api/v1/x");
    }
}
