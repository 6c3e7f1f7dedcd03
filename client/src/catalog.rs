//! The operation catalog: one entry per operation of the contract, generated
//! into `generated/catalog.rs`. The explorer and bootstrap read it; nothing
//! parses the spec at run time.

pub use crate::generated::catalog::{OPERATIONS, position_of_rust_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostGroup {
    Core,
    Reports,
    Pto,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub location: ParamLocation,
    pub required: bool,
    /// JSON Schema of the parameter, as compact JSON (may hold `$ref`s into the contract).
    pub schema: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    pub content_type: &'static str,
    pub required: bool,
    pub schema: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub schema: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageLocation {
    Query,
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListShape {
    /// A bare JSON array.
    Array,
    /// Items at the JSON pointer `list`, an item count at `total` when present.
    Envelope { list: &'static str, total: Option<&'static str> },
    /// A paged report: pages are documents rather than lists of entities.
    Report,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination {
    pub location: PageLocation,
    pub page: &'static str,
    pub size: &'static str,
    pub first_page: u32,
    pub max_size: Option<u32>,
    pub page_is_string: bool,
    pub size_is_string: bool,
    pub shape: ListShape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The contract's operationId, e.g. `getProjects`.
    pub id: &'static str,
    /// The generated method's name, e.g. `get_projects`.
    pub rust_name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub host: HostGroup,
    pub access: Access,
    /// The manifest scope an add-on token needs for this operation; `None`
    /// when it needs none. From the reviewed table in `codegen/src/scopes.rs`.
    pub scope: Option<crate::Scope>,
    pub deprecated: bool,
    pub params: &'static [Param],
    pub body: Option<Body>,
    pub response: Option<Response>,
    pub pagination: Option<Pagination>,
}

pub fn operations() -> &'static [Operation] {
    OPERATIONS
}

pub fn by_id(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.id == id)
}

pub fn by_rust_name(name: &str) -> Option<&'static Operation> {
    position_of_rust_name(name).map(|i| &OPERATIONS[i])
}
