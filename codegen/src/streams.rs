//! `stream()` methods on the builders of paginated list operations
//! (`client/src/generated/streams.rs`), each behind its operation's tag feature.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::contract::Contract;
use crate::error::{CodegenError, Result};
use crate::facts::{ListShape, OperationFacts, PageLocation};
use crate::features::{self, TagFeatures};
use crate::typenames::{integer_type, item_type_at};

fn ident(s: &str) -> Ident {
    Ident::new(s, Span::call_site())
}

fn stream_impl(contract: &Contract, index: usize, f: &OperationFacts, tags: &TagFeatures) -> Result<Option<TokenStream>> {
    let Some(p) = &f.pagination else { return Ok(None) };
    let response = f.response.as_ref().and_then(|(_, _, s)| s.as_ref());
    let Some(response) = response else { return Ok(None) };
    let (pointer, total) = match &p.shape {
        ListShape::Array => ("", None),
        ListShape::Envelope { list, total } => (list.as_str(), total.clone()),
        ListShape::Report => return Ok(None),
    };
    let item = item_type_at(contract, &f.id, response, pointer)
        .ok_or_else(|| CodegenError::op(&f.id, format!("paginated, but the items at `{pointer}` are not an array of a named schema")))?;
    let item = ident(&item);
    let builder = ident(&f.id.to_upper_camel_case());
    let page_setter = ident(&p.page.to_snake_case());
    let size_setter = ident(&p.size.to_snake_case());
    let page_value = if p.page_is_string { quote!(page.to_string()) } else { quote!(page) };
    let size_value = if p.size_is_string { quote!(size.to_string()) } else { quote!(size) };
    let set_paging = match p.location {
        PageLocation::Query => quote!(b.#page_setter(#page_value).#size_setter(#size_value)),
        PageLocation::Body => {
            // typify's builder setters want the field's exact type.
            let (_, body_schema, _) = f.body.as_ref().ok_or_else(|| CodegenError::op(&f.id, "body pagination without a body"))?;
            let body = contract.resolve(body_schema);
            let required: Vec<&str> =
                body.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|v| v.as_str()).collect();
            let field = |name: &str, var: TokenStream| -> Result<TokenStream> {
                let schema = body.pointer(&format!("/properties/{name}")).map(|s| contract.resolve(s));
                let ty: TokenStream = schema
                    .and_then(integer_type)
                    .ok_or_else(|| CodegenError::op(&f.id, format!("body field `{name}` is not an integer with a format")))?
                    .parse()
                    .map_err(|_| CodegenError::op(&f.id, "bad integer type"))?;
                let value = quote!(crate::paginate::int::<#ty>(#var)?);
                // typify makes a field optional unless it is required or has a default.
                let has_default = schema.is_some_and(|s| s.get("default").is_some());
                Ok(if required.contains(&name) || has_default { value } else { quote!(Some(#value)) })
            };
            let pv = field(&p.page, quote!(page))?;
            let sv = field(&p.size, quote!(size))?;
            quote!({
                let (page, size) = (#pv, #sv);
                b.body_map(move |body| body.#page_setter(page).#size_setter(size))
            })
        }
    };
    let to_page = match &p.shape {
        ListShape::Array => quote!(Ok(array_page(r))),
        _ => {
            let total = match total {
                Some(t) => quote!(Some(#t)),
                None => quote!(None),
            };
            quote!(envelope_page(r, #pointer, #total))
        }
    };
    let doc = format!(
        "Streams every item of `{}`, page by page, with the largest page size the contract allows (or {} when it sets no maximum).",
        f.id, "`paginate::DEFAULT_PAGE_SIZE`"
    );
    let cfg = features::cfg(&BTreeSet::from([tags.of_operation(&f.id)?.to_owned()]));
    Ok(Some(quote! {
        #cfg
        impl<'a> builder::#builder<'a> {
            #[doc = #doc]
            pub fn stream(self) -> ItemStream<'a, types::#item> {
                self.stream_with_page_size(None)
            }

            /// Like `stream`, with a page size of your choice (capped by the contract's maximum).
            pub fn stream_with_page_size(self, page_size: Option<u32>) -> ItemStream<'a, types::#item> {
                let Some(paging) = OPERATIONS[#index].pagination.as_ref() else {
                    return Box::pin(futures::stream::empty());
                };
                stream_pages(paging, page_size, move |page, size| {
                    let b = self.clone();
                    async move {
                        let r = #set_paging.send().await?;
                        #to_page
                    }
                })
            }
        }
    }))
}

pub fn generate(contract: &Contract, facts: &[OperationFacts]) -> Result<String> {
    let tags = TagFeatures::new(facts)?;
    let mut impls = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        if f.is_multipart() {
            continue;
        }
        if let Some(tokens) = stream_impl(contract, i, f, &tags)? {
            impls.push(tokens);
        }
    }
    let tokens = quote! {
        use crate::generated::catalog::OPERATIONS;
        use crate::generated::sdk::{builder, types};
        use crate::paginate::{ItemStream, array_page, envelope_page, stream_pages};

        #(#impls)*
    };
    crate::render::format_tokens("streams.rs", tokens)
}
