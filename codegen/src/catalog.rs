//! The operation catalog (`client/src/generated/catalog.rs`): static data the
//! explorer and bootstrap read instead of parsing the spec at run time.

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use crate::error::Result;
use crate::facts::{Access, ListShape, OperationFacts, PageLocation, ParamLocation};

/// The method name progenitor gives an operation.
pub fn rust_name(operation_id: &str) -> String {
    operation_id.to_snake_case()
}

fn json(v: &Value) -> String {
    serde_json::to_string(v).expect("a JSON value always serializes")
}

fn opt_str(s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    }
}

fn entry(f: &OperationFacts) -> TokenStream {
    let id = &f.id;
    let rust = rust_name(&f.id);
    let method = f.method.to_uppercase();
    let path = &f.path;
    let tag = &f.tag;
    let host = proc_macro2::Ident::new(f.host.variant(), proc_macro2::Span::call_site());
    let access = match f.access {
        Access::Read => quote!(Access::Read),
        Access::Write => quote!(Access::Write),
    };
    let deprecated = f.deprecated;
    let scope = match &f.scope {
        Some(s) => {
            let v = proc_macro2::Ident::new(&crate::scopes::variant_name(s), proc_macro2::Span::call_site());
            quote!(Some(Scope::#v))
        }
        None => quote!(None),
    };
    let params = f.params.iter().map(|p| {
        let name = &p.name;
        let loc = match p.location {
            ParamLocation::Path => quote!(ParamLocation::Path),
            ParamLocation::Query => quote!(ParamLocation::Query),
            ParamLocation::Header => quote!(ParamLocation::Header),
        };
        let required = p.required;
        let schema = json(&p.schema);
        quote!(Param { name: #name, location: #loc, required: #required, schema: #schema })
    });
    let body = match &f.body {
        Some((ct, schema, required)) => {
            let schema = json(schema);
            quote!(Some(Body { content_type: #ct, required: #required, schema: #schema }))
        }
        None => quote!(None),
    };
    let response = match &f.response {
        Some((status, ct, schema)) => {
            let status: u16 = status.parse().unwrap_or(200);
            let ct = opt_str(ct.as_deref());
            let schema = opt_str(schema.as_ref().map(json).as_deref());
            quote!(Some(Response { status: #status, content_type: #ct, schema: #schema }))
        }
        None => quote!(None),
    };
    let pagination = match &f.pagination {
        Some(p) => {
            let loc = match p.location {
                PageLocation::Query => quote!(PageLocation::Query),
                PageLocation::Body => quote!(PageLocation::Body),
            };
            let (page, size, first, pis, sis) = (&p.page, &p.size, p.first_page, p.page_is_string, p.size_is_string);
            let max = match p.max_size {
                Some(m) => quote!(Some(#m)),
                None => quote!(None),
            };
            let shape = match &p.shape {
                ListShape::Array => quote!(ListShape::Array),
                ListShape::Envelope { list, total } => {
                    let total = opt_str(total.as_deref());
                    quote!(ListShape::Envelope { list: #list, total: #total })
                }
                ListShape::Report => quote!(ListShape::Report),
            };
            quote!(Some(Pagination { location: #loc, page: #page, size: #size, first_page: #first, max_size: #max, page_is_string: #pis, size_is_string: #sis, shape: #shape }))
        }
        None => quote!(None),
    };
    quote! {
        Operation {
            id: #id, rust_name: #rust, method: #method, path: #path, tag: #tag,
            host: HostGroup::#host, access: #access, scope: #scope, deprecated: #deprecated,
            params: &[#(#params),*], body: #body, response: #response, pagination: #pagination,
        }
    }
}

pub fn generate(facts: &[OperationFacts]) -> Result<String> {
    let count = facts.len();
    let entries = facts.iter().map(entry);
    let names: Vec<String> = facts.iter().map(|f| rust_name(&f.id)).collect();
    let index = 0..count;
    let tokens = quote! {
        use crate::catalog::*;
        use crate::generated::scopes::Scope;

        /// Every operation of the contract, in contract order.
        pub static OPERATIONS: &[Operation; #count] = &[#(#entries),*];

        /// Index into [`OPERATIONS`] of the operation progenitor names `name`.
        pub fn position_of_rust_name(name: &str) -> Option<usize> {
            match name {
                #(#names => Some(#index),)*
                _ => None,
            }
        }
    };
    crate::render::format_tokens("catalog.rs", tokens)
}
