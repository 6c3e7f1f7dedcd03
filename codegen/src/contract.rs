//! The contract: Clockify's OpenAPI document as JSON, with the few typed
//! accessors every generator needs. Kept as `serde_json::Value` (with key order
//! preserved) so patches can rewrite anything and output stays byte-stable.

use std::path::Path;

use serde_json::Value;

use crate::error::{CodegenError, Result};

pub const HTTP_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The schema whose `webhookEvent` enum is the list of webhook events.
pub const WEBHOOK_EVENT_SCHEMA: &str = "CreateWebhookRequestV1";
pub const WEBHOOK_EVENT_PROPERTY: &str = "webhookEvent";

#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    pub doc: Value,
}

/// One operation of the contract, borrowed from the document.
#[derive(Debug, Clone, Copy)]
pub struct OperationRef<'a> {
    pub path: &'a str,
    pub method: &'a str,
    pub path_item: &'a Value,
    pub op: &'a Value,
}

impl<'a> OperationRef<'a> {
    pub fn id(&self) -> &'a str {
        self.op.get("operationId").and_then(Value::as_str).unwrap_or("")
    }

    pub fn tag(&self) -> &'a str {
        self.op.get("tags").and_then(|t| t.get(0)).and_then(Value::as_str).unwrap_or("Untagged")
    }

    /// Parameters of the path item followed by those of the operation.
    pub fn parameters(&self) -> Vec<&'a Value> {
        let mut out: Vec<&Value> = Vec::new();
        for src in [self.path_item.get("parameters"), self.op.get("parameters")] {
            if let Some(Value::Array(list)) = src {
                out.extend(list.iter());
            }
        }
        out
    }

    pub fn server(&self) -> Option<&'a str> {
        self.op
            .get("servers")
            .or_else(|| self.path_item.get("servers"))
            .and_then(|s| s.get(0))
            .and_then(|s| s.get("url"))
            .and_then(Value::as_str)
    }

    pub fn request_content_types(&self) -> Vec<&'a str> {
        self.op
            .pointer("/requestBody/content")
            .and_then(Value::as_object)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// `(status, content type, schema)` of every 2xx response.
    pub fn success_responses(&self) -> Vec<(&'a str, Option<&'a str>, Option<&'a Value>)> {
        let mut out = Vec::new();
        if let Some(Value::Object(responses)) = self.op.get("responses") {
            for (status, resp) in responses {
                if !status.starts_with('2') {
                    continue;
                }
                match resp.get("content").and_then(Value::as_object) {
                    Some(content) if !content.is_empty() => {
                        for (ct, media) in content {
                            out.push((status.as_str(), Some(ct.as_str()), media.get("schema")));
                        }
                    }
                    _ => out.push((status.as_str(), None, None)),
                }
            }
        }
        out
    }

    pub fn is_deprecated(&self) -> bool {
        self.op.get("deprecated").and_then(Value::as_bool).unwrap_or(false)
    }
}

impl Contract {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| CodegenError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Self> {
        let doc: Value = serde_json::from_str(text).map_err(|source| CodegenError::Json { path: origin.to_path_buf(), source })?;
        let contract = Self { doc };
        contract.check_shape()?;
        Ok(contract)
    }

    fn check_shape(&self) -> Result<()> {
        let version = self.doc.get("openapi").and_then(Value::as_str).unwrap_or("");
        if !version.starts_with("3.0") {
            return Err(CodegenError::NotOpenApi(format!("`openapi` is {version:?}; only 3.0.x is supported")));
        }
        if !self.doc.get("paths").is_some_and(Value::is_object) {
            return Err(CodegenError::NotOpenApi("`paths` is missing".into()));
        }
        Ok(())
    }

    /// Every operation, in document order.
    pub fn operations(&self) -> Vec<OperationRef<'_>> {
        let mut out = Vec::new();
        if let Some(Value::Object(paths)) = self.doc.get("paths") {
            for (path, item) in paths {
                for method in HTTP_METHODS {
                    if let Some(op) = item.get(method) {
                        out.push(OperationRef { path, method, path_item: item, op });
                    }
                }
            }
        }
        out
    }

    pub fn schemas(&self) -> Option<&serde_json::Map<String, Value>> {
        self.doc.pointer("/components/schemas").and_then(Value::as_object)
    }

    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.schemas().and_then(|s| s.get(name))
    }

    /// Follows `$ref`s into `components/schemas` until a concrete schema.
    pub fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match v.get("$ref").and_then(Value::as_str).and_then(ref_name) {
                Some(name) => match self.schema(name) {
                    Some(next) => v = next,
                    None => return v,
                },
                None => return v,
            }
        }
        v
    }

    /// The webhook events, in the order the spec lists them.
    pub fn webhook_events(&self) -> Result<Vec<String>> {
        let schema = self
            .schema(WEBHOOK_EVENT_SCHEMA)
            .ok_or_else(|| CodegenError::schema(WEBHOOK_EVENT_SCHEMA, "missing; it carries the webhook event enum"))?;
        let prop = schema
            .pointer(&format!("/properties/{WEBHOOK_EVENT_PROPERTY}"))
            .map(|p| self.resolve(p))
            .ok_or_else(|| CodegenError::schema(WEBHOOK_EVENT_SCHEMA, format!("no `{WEBHOOK_EVENT_PROPERTY}` property")))?;
        let values = prop
            .get("enum")
            .and_then(Value::as_array)
            .ok_or_else(|| CodegenError::schema(WEBHOOK_EVENT_SCHEMA, format!("`{WEBHOOK_EVENT_PROPERTY}` is not an enum")))?;
        values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| CodegenError::schema(WEBHOOK_EVENT_SCHEMA, format!("event {v} is not a string")))
            })
            .collect()
    }

    /// The committed form: two-space indented JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.doc).expect("a JSON value always serializes");
        s.push('\n');
        s
    }
}

/// `#/components/schemas/Name` -> `Name`.
pub fn ref_name(r: &str) -> Option<&str> {
    r.strip_prefix("#/components/schemas/")
}
