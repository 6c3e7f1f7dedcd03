//! Typed methods for the multipart operations (`client/src/generated/multipart.rs`).
//!
//! progenitor rejects `multipart/form-data` bodies, so these are generated
//! here: one form struct per operation, built from the body schema, and a
//! method that sends it through the same hooks (hosts, credential, budget,
//! retry rules) as every generated method; both behind the operation's tag
//! feature.

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde_json::Value;

use crate::catalog::rust_name;
use crate::contract::Contract;
use crate::error::{CodegenError, Result};
use crate::facts::{OperationFacts, ParamLocation};
use crate::features::{self, TagFeatures};
use crate::typenames::type_of_ref;

fn ident(s: &str) -> Ident {
    let s = s.to_snake_case();
    match s.as_str() {
        "type" | "ref" | "self" | "match" | "mod" | "fn" | "use" => Ident::new_raw(&s, Span::call_site()),
        _ => Ident::new(&s, Span::call_site()),
    }
}

enum FieldKind {
    File,
    Text,
    Display,
    Json,
}

fn field_kind(schema: &Value) -> (TokenStream, FieldKind) {
    let ty = schema.get("type").and_then(Value::as_str);
    let format = schema.get("format").and_then(Value::as_str);
    match (ty, format) {
        (Some("string"), Some("binary")) => (quote!(crate::upload::FilePart), FieldKind::File),
        (Some("string"), _) => (quote!(String), FieldKind::Text),
        (Some("number"), _) => (quote!(f64), FieldKind::Display),
        (Some("integer"), _) => (quote!(i64), FieldKind::Display),
        (Some("boolean"), _) => (quote!(bool), FieldKind::Display),
        _ => (quote!(serde_json::Value), FieldKind::Json),
    }
}

fn operation(contract: &Contract, f: &OperationFacts, tags: &TagFeatures) -> Result<TokenStream> {
    let (_, body_schema, _) = f.body.as_ref().ok_or_else(|| CodegenError::op(&f.id, "multipart without a body"))?;
    let body = contract.resolve(body_schema);
    let props = body
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| CodegenError::op(&f.id, "multipart body schema has no properties"))?;
    let required: Vec<&str> = body.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();

    let form = Ident::new(&format!("{}Form", f.id.to_upper_camel_case()), Span::call_site());
    let mut fields = Vec::new();
    let mut appends = Vec::new();
    for (name, schema) in props {
        let schema = contract.resolve(schema);
        let field = ident(name);
        let (ty, kind) = field_kind(schema);
        let is_required = required.contains(&name.as_str());
        let to_part = match kind {
            FieldKind::File => quote!(form = form.part(#name, value.into_part()?);),
            FieldKind::Text => quote!(form = form.text(#name, value);),
            FieldKind::Display => quote!(form = form.text(#name, value.to_string());),
            FieldKind::Json => quote!(form = form.text(#name, value.to_string());),
        };
        if is_required {
            fields.push(quote!(pub #field: #ty));
            appends.push(quote!({ let value = body.#field; #to_part }));
        } else {
            fields.push(quote!(pub #field: Option<#ty>));
            appends.push(quote!(if let Some(value) = body.#field { #to_part }));
        }
    }

    let path_params: Vec<&str> = f.params.iter().filter(|p| p.location == ParamLocation::Path).map(|p| p.name.as_str()).collect();
    let mut template = f.path.clone();
    for p in &path_params {
        template = template.replace(&format!("{{{p}}}"), "{}");
    }
    let template = format!("{{}}{template}");
    let args: Vec<Ident> = path_params.iter().map(|p| ident(p)).collect();
    let (status, response_ty) = match &f.response {
        Some((status, _, Some(schema))) => {
            let ty = type_of_ref(schema).ok_or_else(|| CodegenError::op(&f.id, "multipart response is not a named schema"))?;
            (status.parse::<u16>().unwrap_or(200), Ident::new(&ty, Span::call_site()))
        }
        _ => return Err(CodegenError::op(&f.id, "multipart operation without a typed response")),
    };
    let method = Ident::new(&f.method.to_uppercase(), Span::call_site());
    let fn_name = Ident::new(&rust_name(&f.id), Span::call_site());
    let op_name = rust_name(&f.id);
    let form_doc = format!("The multipart body of `{}`.", f.id);
    let doc = f.doc_line();
    let cfg = features::cfg(&BTreeSet::from([tags.of_operation(&f.id)?.to_owned()]));

    Ok(quote! {
        #[doc = #form_doc]
        #cfg
        #[derive(Debug, Clone)]
        pub struct #form {
            #(#fields,)*
        }

        #cfg
        impl crate::Client {
            #[doc = #doc]
            pub async fn #fn_name(&self, #(#args: &str,)* body: #form) -> Result<ResponseValue<types::#response_ty>, ClockifyError> {
                let url = format!(#template, self.baseurl(), #(encode_path(#args)),*);
                let mut form = reqwest::multipart::Form::new();
                #(#appends)*
                let mut request = self
                    .client()
                    .request(reqwest::Method::#method, url)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .multipart(form)
                    .build()
                    .map_err(ClockifyError::Transport)?;
                let info = OperationInfo { operation_id: #op_name };
                ClientHooks::<Runtime>::pre::<()>(self, &mut request, &info).await?;
                let response = ClientHooks::<Runtime>::exec(self, request, &info).await.map_err(ClockifyError::Transport)?;
                match response.status().as_u16() {
                    #status => Ok(ResponseValue::<types::#response_ty>::from_response::<()>(response).await?),
                    _ => Err(progenitor_client::Error::<()>::UnexpectedResponse(response).into()),
                }
            }
        }
    })
}

pub fn generate(contract: &Contract, facts: &[OperationFacts]) -> Result<String> {
    let tags = TagFeatures::new(facts)?;
    let ops = facts.iter().filter(|f| f.is_multipart()).map(|f| operation(contract, f, &tags)).collect::<Result<Vec<_>>>()?;
    let tokens = quote! {
        use progenitor_client::{ClientHooks, ClientInfo, OperationInfo, ResponseValue, encode_path};

        use crate::error::ClockifyError;
        use crate::generated::sdk::types;
        use crate::runtime::Runtime;

        #(#ops)*
    };
    crate::render::format_tokens("multipart.rs", tokens)
}
