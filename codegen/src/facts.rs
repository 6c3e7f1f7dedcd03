//! Facts about each operation, derived once from the normalized contract and
//! shared by every generator: the catalog, doc comments, pagination streams,
//! multipart methods.

use serde_json::Value;

use crate::contract::{Contract, OperationRef};
use crate::error::{CodegenError, Result};
use crate::hosts::HostGroup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamLocation {
    Path,
    Query,
    Header,
}

#[derive(Debug, Clone)]
pub struct ParamFacts {
    pub name: String,
    pub location: ParamLocation,
    pub required: bool,
    pub schema: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListShape {
    /// The response is a bare JSON array.
    Array,
    /// The items sit at `list` (a JSON pointer) with an optional count at `total`.
    Envelope { list: String, total: Option<String> },
    /// A paged report: pages are documents, not lists of entities.
    Report,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageLocation {
    /// `page` and the size parameter are query parameters.
    Query,
    /// `page` and `pageSize` are fields of the POST filter body.
    Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pagination {
    pub location: PageLocation,
    pub page: String,
    pub size: String,
    pub first_page: u32,
    pub max_size: Option<u32>,
    /// The contract types these parameters as strings (entity-change endpoints).
    pub page_is_string: bool,
    pub size_is_string: bool,
    pub shape: ListShape,
}

#[derive(Debug, Clone)]
pub struct OperationFacts {
    pub id: String,
    pub method: String,
    pub path: String,
    pub tag: String,
    pub host: HostGroup,
    pub access: Access,
    /// The manifest scope the operation needs (`crate::scopes`), if any.
    pub scope: Option<String>,
    pub deprecated: bool,
    pub params: Vec<ParamFacts>,
    /// `(media type, schema)` of the request body.
    pub body: Option<(String, Value, bool)>,
    /// `(status, media type, schema)` of the success response.
    pub response: Option<(String, Option<String>, Option<Value>)>,
    pub pagination: Option<Pagination>,
}

impl OperationFacts {
    pub fn is_multipart(&self) -> bool {
        self.body.as_ref().is_some_and(|(ct, _, _)| ct == "multipart/form-data")
    }

    /// The success answer is a string sent as text (`crate::sdk::TEXT`).
    pub fn has_text_response(&self) -> bool {
        self.response.as_ref().is_some_and(|(_, ct, _)| ct.as_deref() == Some(crate::sdk::TEXT))
    }

    /// One line of facts, used as the doc comment of generated items.
    pub fn doc_line(&self) -> String {
        let access = match self.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        let mut s = format!("`{} {}` on the {}. Tag: {}. {}.", self.method.to_uppercase(), self.path, self.host.label(), self.tag, access);
        match &self.scope {
            Some(scope) => s.push_str(&format!(" Scope: `{scope}`.")),
            None => s.push_str(" Needs no scope."),
        }
        if let Some(p) = &self.pagination {
            let loc = match p.location {
                PageLocation::Query => "query",
                PageLocation::Body => "body",
            };
            s.push_str(&format!(" Paginated by `{}`/`{}` in the {loc}, first page {}", p.page, p.size, p.first_page));
            match p.max_size {
                Some(m) => s.push_str(&format!(", at most {m} per page.")),
                None => s.push('.'),
            }
        }
        if self.deprecated {
            s.push_str(" Deprecated upstream.");
        }
        s
    }
}

/// POST operations that only read (filters and report generation): the
/// explorer shows them as reads. Retries still treat them as POST.
fn post_is_read(id: &str) -> bool {
    ["get", "filter", "generate", "find"].iter().any(|p| id.starts_with(p))
}

/// Envelopes whose list is not the single array property of the response.
/// Reviewed by hand: `None` marks a paged report rather than a list.
type ReviewedEnvelope = (&'static str, Option<(&'static str, Option<&'static str>)>);
const ENVELOPES: &[ReviewedEnvelope] = &[
    ("getExpenses", Some(("/expenses/expenses", Some("/expenses/count")))),
    ("getUserTotalsForSingleUser", None),
    ("generateSharedReportV1", None),
    ("generateDetailedReportV1", Some(("/expenses", Some("/totals/expensesCount")))),
];

pub fn collect(contract: &Contract) -> Result<Vec<OperationFacts>> {
    contract.operations().into_iter().map(|op| operation_facts(contract, op)).collect()
}

fn operation_facts(contract: &Contract, op: OperationRef<'_>) -> Result<OperationFacts> {
    let id = op.id().to_owned();
    let host = HostGroup::from_server(op.server()).map_err(|e| CodegenError::op(&id, e))?;
    let access = match op.method {
        "get" | "head" | "options" => Access::Read,
        "post" if post_is_read(&id) => Access::Read,
        _ => Access::Write,
    };
    let scope = crate::scopes::scope_for(&id, op.tag(), access)?;
    let mut params = Vec::new();
    for p in op.parameters() {
        let p = contract.resolve(p);
        let location = match p.get("in").and_then(Value::as_str) {
            Some("path") => ParamLocation::Path,
            Some("query") => ParamLocation::Query,
            Some("header") => ParamLocation::Header,
            other => return Err(CodegenError::op(&id, format!("parameter location {other:?} is not supported"))),
        };
        params.push(ParamFacts {
            name: p.get("name").and_then(Value::as_str).unwrap_or_default().to_owned(),
            location,
            required: p.get("required").and_then(Value::as_bool).unwrap_or(location == ParamLocation::Path),
            schema: p.get("schema").cloned().unwrap_or(Value::Null),
        });
    }
    let body = op.op.pointer("/requestBody/content").and_then(Value::as_object).and_then(|c| {
        c.iter().next().map(|(ct, media)| {
            let required = op.op.pointer("/requestBody/required").and_then(Value::as_bool).unwrap_or(false);
            (ct.clone(), media.get("schema").cloned().unwrap_or(Value::Null), required)
        })
    });
    let response =
        op.success_responses().into_iter().next().map(|(status, ct, schema)| (status.to_owned(), ct.map(str::to_owned), schema.cloned()));
    let mut facts = OperationFacts {
        id,
        method: op.method.to_owned(),
        path: op.path.to_owned(),
        tag: op.tag().to_owned(),
        host,
        access,
        scope,
        deprecated: op.is_deprecated(),
        params,
        body,
        response,
        pagination: None,
    };
    facts.pagination = pagination(contract, &facts)?;
    Ok(facts)
}

fn as_u32(v: Option<&Value>) -> Option<u32> {
    match v? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

const SIZE_PARAMS: [&str; 4] = ["page-size", "pageSize", "size", "limit"];

fn pagination(contract: &Contract, f: &OperationFacts) -> Result<Option<Pagination>> {
    let query = |name: &str| f.params.iter().find(|p| p.location == ParamLocation::Query && p.name == name);
    let is_string = |p: &ParamFacts| p.schema.get("type").and_then(Value::as_str) == Some("string");
    let (location, page, size, first_page, max_size, page_is_string, size_is_string) =
        if let (Some(page), Some(size)) = (query("page"), SIZE_PARAMS.iter().find_map(|s| query(s))) {
            let first = as_u32(page.schema.get("default")).unwrap_or(1);
            (PageLocation::Query, "page", size.name.clone(), first, as_u32(size.schema.get("maximum")), is_string(page), is_string(size))
        } else if let Some((_, schema, _)) = &f.body {
            let body = contract.resolve(schema);
            let props = body.get("properties").and_then(Value::as_object);
            match props {
                Some(p) if p.contains_key("page") && p.contains_key("pageSize") => {
                    let max = as_u32(p.get("pageSize").map(|s| contract.resolve(s)).and_then(|s| s.get("maximum")));
                    (PageLocation::Body, "page", "pageSize".to_owned(), 1, max, false, false)
                }
                _ => return Ok(None),
            }
        } else {
            return Ok(None);
        };

    let shape = if let Some((_, reviewed)) = ENVELOPES.iter().find(|(op, _)| *op == f.id) {
        match reviewed {
            Some((list, total)) => ListShape::Envelope { list: (*list).into(), total: total.map(Into::into) },
            None => ListShape::Report,
        }
    } else {
        let schema = f.response.as_ref().and_then(|(_, _, s)| s.as_ref()).map(|s| contract.resolve(s));
        match schema {
            Some(s) if s.get("type").and_then(Value::as_str) == Some("array") => ListShape::Array,
            Some(s) => {
                let props = s.get("properties").and_then(Value::as_object);
                let arrays: Vec<&String> = props
                    .into_iter()
                    .flatten()
                    .filter(|(_, v)| contract.resolve(v).get("type").and_then(Value::as_str) == Some("array"))
                    .map(|(k, _)| k)
                    .collect();
                let total = props.into_iter().flatten().find_map(|(k, v)| {
                    (matches!(k.as_str(), "total" | "count") && contract.resolve(v).get("type").and_then(Value::as_str) == Some("integer"))
                        .then(|| format!("/{k}"))
                });
                match arrays.as_slice() {
                    [one] => ListShape::Envelope { list: format!("/{one}"), total },
                    _ => {
                        return Err(CodegenError::op(
                            &f.id,
                            format!(
                                "paginated, but the list inside its response is ambiguous ({} array fields); add it to ENVELOPES in codegen/src/facts.rs",
                                arrays.len()
                            ),
                        ));
                    }
                }
            }
            None => return Err(CodegenError::op(&f.id, "paginated, but has no response schema")),
        }
    };
    Ok(Some(Pagination { location, page: page.into(), size, first_page, max_size, page_is_string, size_is_string, shape }))
}
