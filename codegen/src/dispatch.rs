//! The explorer's dispatch (`explorer-dispatch/src/generated.rs`):
//! one `match` arm per operation of the contract that turns explorer input
//! (path, query and body as JSON values) into a call of the generated typed
//! client, each argument deserialized into the type progenitor gives it.
//!
//! The setter types are read from the generated SDK's builders, so the arms
//! always agree with the client; a parameter the generator cannot map to a
//! setter (or a setter no parameter explains) fails codegen, naming both.
//! The generated `Operation` enum has one variant per operation and the match
//! has no wildcard, so the gateway does not compile against a contract whose
//! operations it does not dispatch.

use std::collections::BTreeMap;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, quote};

use crate::catalog::rust_name;
use crate::error::{CodegenError, Result};
use crate::facts::{OperationFacts, ParamLocation};

/// Setter name -> the type its `V: TryInto<T>` bound names, per builder struct.
type Setters = BTreeMap<String, BTreeMap<String, syn::Type>>;

/// Reads the operation builders of the generated SDK (`pub mod builder`).
fn builder_setters(sdk: &str) -> Result<Setters> {
    let start = sdk.find("\npub mod builder {").ok_or_else(|| CodegenError::Other("sdk.rs has no `pub mod builder`".into()))?;
    let rest = &sdk[start..];
    // The module ends at the first line that closes it at column 0.
    let end = rest.find("\n}\n").map(|i| i + 2).unwrap_or(rest.len());
    let module: syn::ItemMod = syn::parse_str(&rest[..end])
        .map_err(|e| CodegenError::Syntax { file: "sdk.rs (builder module)".into(), problem: e.to_string() })?;
    let mut out = Setters::new();
    for item in module.content.map(|(_, items)| items).unwrap_or_default() {
        let syn::Item::Impl(imp) = item else { continue };
        let syn::Type::Path(self_ty) = &*imp.self_ty else { continue };
        let Some(name) = self_ty.path.segments.last().map(|s| s.ident.to_string()) else { continue };
        let setters = out.entry(name).or_default();
        for it in imp.items {
            let syn::ImplItem::Fn(f) = it else { continue };
            let Some(wc) = &f.sig.generics.where_clause else { continue };
            for pred in &wc.predicates {
                let syn::WherePredicate::Type(p) = pred else { continue };
                if p.bounded_ty.to_token_stream().to_string() != "V" {
                    continue;
                }
                for bound in &p.bounds {
                    let syn::TypeParamBound::Trait(t) = bound else { continue };
                    let Some(last) = t.path.segments.last() else { continue };
                    if last.ident != "TryInto" {
                        continue;
                    }
                    if let syn::PathArguments::AngleBracketed(args) = &last.arguments
                        && let Some(syn::GenericArgument::Type(ty)) = args.args.first()
                    {
                        setters.insert(f.sig.ident.to_string(), ty.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The setter type as the gateway spells it: `types::X` lives in `clockify_client`.
fn gateway_type(ty: &syn::Type) -> TokenStream {
    let text = ty.to_token_stream().to_string();
    let text = format!(" {text}").replace(" types ::", " clockify_client :: types ::");
    text.parse().unwrap_or_else(|_| ty.to_token_stream())
}

fn variant(id: &str) -> Ident {
    Ident::new(&id.to_upper_camel_case(), Span::call_site())
}

/// The match arm and the per-operation function it calls.
fn arm(f: &OperationFacts, setters: &Setters) -> Result<(TokenStream, TokenStream)> {
    let v = variant(&f.id);
    if f.is_multipart() {
        return Ok((
            quote!(Operation::#v => Box::pin(std::future::ready(Err(DispatchError::Multipart(MultipartOperation::#v)))),),
            quote!(),
        ));
    }
    let builder = f.id.to_upper_camel_case();
    let known = setters.get(&builder).ok_or_else(|| CodegenError::op(&f.id, format!("the SDK has no builder `{builder}`")))?;
    let mut used = vec!["body".to_owned()];
    let mut steps = Vec::new();
    for p in &f.params {
        // progenitor appends `_` to names that are Rust keywords (`type_`).
        let snake = p.name.to_snake_case();
        let setter = [snake.clone(), format!("{snake}_")].into_iter().find(|s| known.contains_key(s)).ok_or_else(|| {
            CodegenError::op(&f.id, format!("parameter `{}`: the SDK builder `{builder}` has no setter `{snake}`", p.name))
        })?;
        let ty = &known[&setter];
        used.push(setter.clone());
        let ty = gateway_type(ty);
        let set = Ident::new(&setter, Span::call_site());
        let name = &p.name;
        let loc = match p.location {
            ParamLocation::Path => quote!(Location::Path),
            ParamLocation::Query => quote!(Location::Query),
            ParamLocation::Header => quote!(Location::Header),
        };
        steps.push(if p.required {
            quote!(b = b.#set(args.required::<#ty>(#loc, #name)?);)
        } else {
            quote!(if let Some(v) = args.optional::<#ty>(#loc, #name)? { b = b.#set(v); })
        });
    }
    if f.body.is_some() {
        let ty = known.get("body").ok_or_else(|| CodegenError::op(&f.id, format!("the SDK builder `{builder}` has no body setter")))?;
        let ty = gateway_type(ty);
        steps.push(quote!(if let Some(v) = args.body::<#ty>()? { b = b.body(v); }));
    }
    let unexplained: Vec<&String> = known.keys().filter(|k| !used.contains(k)).collect();
    if !unexplained.is_empty() {
        return Err(CodegenError::op(&f.id, format!("SDK builder `{builder}` has setters no parameter explains: {unexplained:?}")));
    }
    let method = Ident::new(&rust_name(&f.id), Span::call_site());
    let call = Ident::new(&format!("call_{}", rust_name(&f.id)), Span::call_site());
    let doc = format!("`{}` with the explorer's arguments.", f.id);
    Ok((
        quote!(Operation::#v => Box::pin(#call(client, args)),),
        quote! {
            #[doc = #doc]
            async fn #call(client: &Client, args: &Args) -> Result<Sent, DispatchError> {
                let mut b = client.#method();
                #(#steps)*
                Ok(finish(b.send().await))
            }
        },
    ))
}

pub fn generate(sdk: &str, facts: &[OperationFacts]) -> Result<String> {
    let setters = builder_setters(sdk)?;
    let variants: Vec<Ident> = facts.iter().map(|f| variant(&f.id)).collect();
    let ids: Vec<&str> = facts.iter().map(|f| f.id.as_str()).collect();
    let count = facts.len();
    let index = 0..count;
    let multipart: Vec<Ident> = facts.iter().filter(|f| f.is_multipart()).map(|f| variant(&f.id)).collect();
    let (arms, calls): (Vec<TokenStream>, Vec<TokenStream>) =
        facts.iter().map(|f| arm(f, &setters)).collect::<Result<Vec<_>>>()?.into_iter().unzip();
    let tokens = quote! {
        use clockify_client::Client;

        use crate::{Args, DispatchError, Location, Sent, finish};

        /// Every operation of the contract, in contract order (the catalog's order).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            #(#variants,)*
        }

        impl Operation {
            pub const ALL: [Operation; #count] = [#(Operation::#variants,)*];

            /// The operation with this operationId.
            pub fn from_id(id: &str) -> Option<Self> {
                match id {
                    #(#ids => Some(Operation::#variants),)*
                    _ => None,
                }
            }

            /// Index of this operation in `clockify_client::catalog::OPERATIONS`.
            pub fn catalog_index(self) -> usize {
                match self {
                    #(Operation::#variants => #index,)*
                }
            }
        }

        /// The operations with a `multipart/form-data` body; the explorer decides
        /// by hand what to do with each (an exhaustive match in the gateway's explorer).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum MultipartOperation {
            #(#multipart,)*
        }

        /// Calls `op` through the typed client with `args`, each argument
        /// deserialized into its generated type first. Each operation's call
        /// is its own boxed future, so no stack frame holds all of them.
        pub fn dispatch<'a>(
            client: &'a Client,
            op: Operation,
            args: &'a Args,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Sent, DispatchError>> + Send + 'a>> {
            match op {
                #(#arms)*
            }
        }

        #(#calls)*
    };
    crate::render::format_tokens("explorer_dispatch.rs", tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Access, ParamFacts};
    use crate::hosts::HostGroup;

    const SDK: &str = "// header
pub mod types {}
pub mod builder {
    use super::types;
    pub struct GetThings<'a> { client: &'a super::Client }
    impl<'a> GetThings<'a> {
        pub fn workspace_id<V>(mut self, value: V) -> Self where V: std::convert::TryInto<::std::string::String> { self }
        pub fn type_<V>(mut self, value: V) -> Self where V: std::convert::TryInto<types::ThingType> { self }
    }
}
";

    fn facts(params: &[(&str, ParamLocation, bool)]) -> OperationFacts {
        OperationFacts {
            id: "getThings".into(),
            method: "get".into(),
            path: "/v1/workspaces/{workspaceId}/things".into(),
            tag: "Thing".into(),
            host: HostGroup::Core,
            access: Access::Read,
            scope: None,
            deprecated: false,
            params: params
                .iter()
                .map(|(n, l, r)| ParamFacts {
                    name: (*n).into(),
                    location: *l,
                    required: *r,
                    schema: serde_json::json!({"type": "string"}),
                })
                .collect(),
            body: None,
            response: None,
            pagination: None,
        }
    }

    #[test]
    fn an_arm_per_operation_with_each_setters_type() {
        let f = facts(&[("workspaceId", ParamLocation::Path, true), ("type", ParamLocation::Query, false)]);
        let out = generate(SDK, &[f]).expect("generates");
        assert!(out.contains("Operation::GetThings => Box::pin(call_get_things(client, args))"), "{out}");
        assert!(out.contains("clockify_client::types::ThingType"), "{out}");
        assert!(out.contains(".type_(v)"), "{out}");
    }

    #[test]
    fn a_parameter_without_a_setter_or_a_setter_without_a_parameter_fails_naming_it() {
        let f = facts(&[
            ("workspaceId", ParamLocation::Path, true),
            ("type", ParamLocation::Query, false),
            ("colour", ParamLocation::Query, false),
        ]);
        let e = generate(SDK, &[f]).unwrap_err().to_string();
        assert!(e.contains("getThings") && e.contains("colour"), "{e}");
        let f = facts(&[("workspaceId", ParamLocation::Path, true)]);
        let e = generate(SDK, &[f]).unwrap_err().to_string();
        assert!(e.contains("type_"), "{e}");
    }
}
