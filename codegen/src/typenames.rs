//! Rust names of contract types as typify spells them.

use heck::ToUpperCamelCase;
use serde_json::Value;

use crate::contract::{Contract, ref_name};

/// `#/components/schemas/ProjectDtoV1` -> `ProjectDtoV1`.
pub fn type_of_ref(schema: &Value) -> Option<String> {
    let name = ref_name(schema.get("$ref")?.as_str()?)?;
    Some(name.to_upper_camel_case())
}

/// The item type of the array found at JSON pointer `pointer` inside
/// `schema` (following `$ref`s and `properties` at each step); `""` means the
/// schema itself is the array.
pub fn item_type_at(contract: &Contract, operation_id: &str, schema: &Value, pointer: &str) -> Option<String> {
    let inline_response = schema.get("$ref").is_none();
    let mut here = contract.resolve(schema);
    for key in pointer.split('/').filter(|k| !k.is_empty()) {
        here = contract.resolve(here.get("properties")?.get(key)?);
    }
    if here.get("type").and_then(Value::as_str) != Some("array") {
        return None;
    }
    let items = here.get("items")?;
    match type_of_ref(items) {
        Some(name) => Some(name),
        // progenitor names an inline response `{OperationId}Response`, and
        // typify names the inline items of an array `...Item`.
        None if inline_response && pointer.is_empty() => Some(format!("{}ResponseItem", operation_id.to_upper_camel_case())),
        None => None,
    }
}

/// The Rust integer type typify gives an integer schema with a `format`
/// (its common path: NonZero for `minimum: 1`).
pub fn integer_type(schema: &Value) -> Option<&'static str> {
    const FORMATS: [(&str, &str, &str); 6] = [
        ("int32", "i32", "::std::num::NonZeroU32"),
        ("int", "i32", "::std::num::NonZeroU32"),
        ("uint32", "u32", "::std::num::NonZeroU32"),
        ("int64", "i64", "::std::num::NonZeroU64"),
        ("uint64", "u64", "::std::num::NonZeroU64"),
        ("uint", "u32", "::std::num::NonZeroU32"),
    ];
    if schema.get("type").and_then(Value::as_str) != Some("integer") || schema.get("multipleOf").is_some() {
        return None;
    }
    let format = schema.get("format").and_then(Value::as_str)?;
    let (_, ty, nz) = FORMATS.iter().find(|(f, _, _)| *f == format)?;
    let min = schema.get("minimum").and_then(Value::as_f64);
    Some(if min == Some(1.0) { nz } else { ty })
}
