//! Per-tag cargo features of `clockify-client`: one feature per tag of the
//! contract, `full` (every tag) as the default.
//!
//! An app that enables one tag compiles only that tag's operations (methods
//! on `Client`, their builders, stream and multipart helpers) and the schema
//! types reachable from them. Reachability is computed on progenitor's own
//! output: from each operation's method and builder through every type path
//! a type's definition and impls name, so inline types typify made up (enum
//! properties, parameter enums) are covered like the contract's schemas. A
//! type reached by several tags is compiled for any of them.
//!
//! The `[features]` table of `client/Cargo.toml` is generated here too, as a
//! region between marker comments (see `artifacts.rs`).

use std::collections::{BTreeMap, BTreeSet};

use heck::ToKebabCase;
use proc_macro2::TokenStream;
use quote::quote;
use syn::visit::Visit;

use crate::catalog::rust_name;
use crate::error::{CodegenError, Result};
use crate::facts::OperationFacts;

/// The feature that enables every tag; also the default.
pub const FULL: &str = "full";

pub const CARGO_TOML: &str = "client/Cargo.toml";
pub const TABLE_BEGIN: &str =
    "# @generated begin: per-tag features, written by `cargo xtask regen` from openapi.json's tags. Do not edit by hand.";
pub const TABLE_END: &str = "# @generated end";

/// The feature of a tag: its words in kebab case (`Time entry` -> `time-entry`,
/// `Balance (Deprecated)` -> `balance-deprecated`).
pub fn feature_name(tag: &str) -> String {
    tag.to_kebab_case()
}

/// Tags, their features and the operations of each.
#[derive(Debug, Clone)]
pub struct TagFeatures {
    /// operationId -> feature.
    by_operation: BTreeMap<String, String>,
    /// feature -> (tag, operations).
    by_feature: BTreeMap<String, (String, usize)>,
}

impl TagFeatures {
    pub fn new(facts: &[OperationFacts]) -> Result<Self> {
        let mut by_operation = BTreeMap::new();
        let mut by_feature: BTreeMap<String, (String, usize)> = BTreeMap::new();
        for f in facts {
            let feature = feature_name(&f.tag);
            let valid = !feature.is_empty()
                && feature.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !matches!(feature.as_str(), FULL | "default");
            if !valid {
                return Err(CodegenError::op(
                    &f.id,
                    format!("tag `{}` gives the cargo feature `{feature}`, which is empty, not ASCII or reserved", f.tag),
                ));
            }
            let entry = by_feature.entry(feature.clone()).or_insert_with(|| (f.tag.clone(), 0));
            if entry.0 != f.tag {
                return Err(CodegenError::op(&f.id, format!("tags `{}` and `{}` both give the cargo feature `{feature}`", entry.0, f.tag)));
            }
            entry.1 += 1;
            by_operation.insert(f.id.clone(), feature);
        }
        Ok(Self { by_operation, by_feature })
    }

    /// The feature of an operation of the facts this was built from.
    pub fn of_operation(&self, id: &str) -> Result<&str> {
        self.by_operation.get(id).map(String::as_str).ok_or_else(|| CodegenError::op(id, "has no tag feature"))
    }

    /// Every tag feature, sorted.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.by_feature.keys().map(String::as_str)
    }

    /// The `[features]` table of `client/Cargo.toml`, markers included.
    pub fn cargo_table(&self) -> String {
        let quoted: Vec<String> = self.features().map(|f| format!("\"{f}\"")).collect();
        let mut out = format!("{TABLE_BEGIN}\n[features]\ndefault = [\"{FULL}\"]\n# Every tag of the contract.\n{FULL} = [\n");
        for q in &quoted {
            out.push_str(&format!("    {q},\n"));
        }
        out.push_str("]\n");
        for (feature, (tag, count)) in &self.by_feature {
            let ops = if *count == 1 { "operation" } else { "operations" };
            out.push_str(&format!("# Tag `{tag}`: {count} {ops}.\n{feature} = []\n"));
        }
        out.push_str(TABLE_END);
        out.push('\n');
        out
    }
}

/// The Rust type names of the schemas `schema` names through `$ref`s.
pub fn schema_refs(schema: &serde_json::Value) -> Vec<String> {
    match schema {
        serde_json::Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), crate::typenames::type_of_ref(schema)) {
                ("$ref", Some(name)) => vec![name],
                _ => schema_refs(v),
            })
            .collect(),
        serde_json::Value::Array(list) => list.iter().flat_map(schema_refs).collect(),
        _ => Vec::new(),
    }
}

/// `#[cfg(...)]` enabling an item for any of `features`.
pub fn cfg(features: &BTreeSet<String>) -> TokenStream {
    match features.len() {
        1 => {
            let f = features.iter().next().map(String::as_str).unwrap_or_default();
            quote!(#[cfg(feature = #f)])
        }
        _ => {
            let fs = features.iter();
            quote!(#[cfg(any(#(feature = #fs),*))])
        }
    }
}

fn cfg_attr(features: &BTreeSet<String>) -> syn::Attribute {
    let tokens = cfg(features);
    syn::parse_quote!(#tokens)
}

/// The features a `#[cfg(...)]` attribute written by [`cfg`] names, if it is one.
pub fn features_of_cfg(attrs: &[syn::Attribute]) -> Option<BTreeSet<String>> {
    let attr = attrs.iter().find(|a| a.path().is_ident("cfg"))?;
    let text = attr.meta.require_list().ok()?.tokens.to_string();
    let features: BTreeSet<String> = text.split("feature").skip(1).filter_map(|part| part.split('"').nth(1).map(str::to_owned)).collect();
    Some(features)
}

/// Type names a piece of generated code names, among `known`: paths like
/// `Foo`, `types::Foo`, `super::Foo`, `types::builder::Foo`, also inside
/// generic arguments. A path through `Self` or `std` names none.
struct TypeRefs<'a> {
    known: &'a BTreeSet<String>,
    found: BTreeSet<String>,
}

impl<'ast> Visit<'ast> for TypeRefs<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let first = path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .find(|s| !matches!(s.as_str(), "super" | "self" | "crate" | "types" | "builder"));
        if let Some(name) = first
            && self.known.contains(&name)
        {
            self.found.insert(name);
        }
        syn::visit::visit_path(self, path);
    }
}

fn refs_of<'a, T: ?Sized>(known: &BTreeSet<String>, node: &'a T, visit: impl FnOnce(&mut TypeRefs<'_>, &'a T)) -> BTreeSet<String> {
    let mut v = TypeRefs { known, found: BTreeSet::new() };
    visit(&mut v, node);
    v.found
}

fn last_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(r) => last_ident(&r.elem),
        _ => None,
    }
}

/// The type an impl belongs to: its self type when that is one of ours, else
/// the first of ours its trait names (`impl From<Foo> for String`).
fn impl_owner(imp: &syn::ItemImpl, known: &BTreeSet<String>) -> Option<String> {
    if let Some(name) = last_ident(&imp.self_ty).filter(|n| known.contains(n)) {
        return Some(name);
    }
    let (_, trait_path, _) = imp.trait_.as_ref()?;
    refs_of(known, trait_path, |v, p| v.visit_path(p)).into_iter().next()
}

fn module_items<'a>(items: &'a mut [syn::Item], name: &str) -> Option<&'a mut Vec<syn::Item>> {
    items.iter_mut().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == name => m.content.as_mut().map(|(_, items)| items),
        _ => None,
    })
}

fn is_client(ty: &syn::Type) -> bool {
    last_ident(ty).as_deref() == Some("Client")
}

/// Adds the feature gates to progenitor's output: every operation's method
/// and builder by its tag, every type by the tags of the operations that
/// reach it. `extra_roots` are types operations generated elsewhere use
/// (the multipart responses). Returns each type's features; a type no
/// operation reaches is left ungated (and so absent from the map).
pub fn gate_sdk(
    file: &mut syn::File,
    facts: &[OperationFacts],
    tags: &TagFeatures,
    extra_roots: &[(String, String)],
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let unexpected = |what: String| CodegenError::Other(format!("sdk.rs: {what}; codegen/src/features.rs does not know how to gate it"));
    let methods: BTreeMap<String, &OperationFacts> = facts.iter().filter(|f| !f.is_multipart()).map(|f| (rust_name(&f.id), f)).collect();

    // The types and what each names (its definition, its builder, its impls).
    let types = module_items(&mut file.items, "types").ok_or_else(|| unexpected("no `mod types`".into()))?;
    let known: BTreeSet<String> = types
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            syn::Item::Enum(e) => Some(e.ident.to_string()),
            syn::Item::Type(t) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut owner_edges = |owner: String, refs: BTreeSet<String>| edges.entry(owner).or_default().extend(refs);
    for item in types.iter() {
        match item {
            syn::Item::Struct(s) => owner_edges(s.ident.to_string(), refs_of(&known, s, |v, n| v.visit_item_struct(n))),
            syn::Item::Enum(e) => owner_edges(e.ident.to_string(), refs_of(&known, e, |v, n| v.visit_item_enum(n))),
            syn::Item::Type(t) => owner_edges(t.ident.to_string(), refs_of(&known, t, |v, n| v.visit_item_type(n))),
            syn::Item::Impl(imp) => {
                let owner = impl_owner(imp, &known).ok_or_else(|| unexpected("an impl in `mod types` for none of its types".into()))?;
                owner_edges(owner, refs_of(&known, imp, |v, n| v.visit_item_impl(n)));
            }
            syn::Item::Mod(m) if m.ident == "builder" => {
                for inner in m.content.iter().flat_map(|(_, items)| items) {
                    let (owner, refs) = match inner {
                        syn::Item::Struct(s) => (Some(s.ident.to_string()), refs_of(&known, s, |v, n| v.visit_item_struct(n))),
                        syn::Item::Impl(imp) => (impl_owner(imp, &known), refs_of(&known, imp, |v, n| v.visit_item_impl(n))),
                        _ => continue,
                    };
                    let owner = owner
                        .filter(|o| known.contains(o))
                        .ok_or_else(|| unexpected("an item in `mod types::builder` for none of the types".into()))?;
                    owner_edges(owner, refs);
                }
            }
            _ => {}
        }
    }

    // The operations: their methods on `Client` name their builders.
    let mut builder_of: BTreeMap<String, String> = BTreeMap::new();
    let mut roots: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in file.items.iter_mut() {
        let syn::Item::Impl(imp) = item else { continue };
        if !is_client(&imp.self_ty) || imp.trait_.is_some() {
            continue;
        }
        for member in imp.items.iter_mut() {
            let syn::ImplItem::Fn(f) = member else { continue };
            let Some(op) = methods.get(&f.sig.ident.to_string()) else { continue };
            let feature = tags.of_operation(&op.id)?.to_owned();
            let syn::ReturnType::Type(_, ret) = &f.sig.output else {
                return Err(unexpected(format!("method `{}` returns no builder", f.sig.ident)));
            };
            let builder = last_ident(ret).ok_or_else(|| unexpected(format!("method `{}` returns no builder", f.sig.ident)))?;
            roots.entry(op.id.clone()).or_default().extend(refs_of(&known, &f.sig, |v, n| v.visit_signature(n)));
            builder_of.insert(builder, op.id.clone());
            f.attrs.push(cfg_attr(&BTreeSet::from([feature])));
        }
    }
    let generated: BTreeSet<&String> = builder_of.values().collect();
    if let Some(missing) = methods.values().find(|f| !generated.contains(&f.id)) {
        return Err(unexpected(format!("no method on `Client` for `{}`", missing.id)));
    }
    let builders = module_items(&mut file.items, "builder").ok_or_else(|| unexpected("no `mod builder`".into()))?;
    for item in builders.iter_mut() {
        let (name, attrs, refs) = match item {
            syn::Item::Struct(s) => {
                let refs = refs_of(&known, &*s, |v, n| v.visit_item_struct(n));
                (s.ident.to_string(), &mut s.attrs, refs)
            }
            syn::Item::Impl(imp) => {
                let name = last_ident(&imp.self_ty).unwrap_or_default();
                let refs = refs_of(&known, &*imp, |v, n| v.visit_item_impl(n));
                (name, &mut imp.attrs, refs)
            }
            syn::Item::Use(_) => continue,
            _ => return Err(unexpected("an item in `mod builder` that is neither a builder nor its impl".into())),
        };
        let op = builder_of.get(&name).ok_or_else(|| unexpected(format!("builder `{name}` of no operation")))?;
        roots.entry(op.clone()).or_default().extend(refs);
        attrs.push(cfg_attr(&BTreeSet::from([tags.of_operation(op)?.to_owned()])));
    }
    for (op, ty) in extra_roots {
        roots.entry(op.clone()).or_default().insert(ty.clone());
    }

    // Each operation's feature goes to every type it reaches.
    let mut gates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (op, start) in &roots {
        let feature = tags.of_operation(op)?;
        let mut stack: Vec<&String> = start.iter().collect();
        let mut seen: BTreeSet<&String> = BTreeSet::new();
        while let Some(ty) = stack.pop() {
            if !seen.insert(ty) {
                continue;
            }
            gates.entry(ty.clone()).or_default().insert(feature.to_owned());
            stack.extend(edges.get(ty).into_iter().flatten());
        }
    }

    // Gate the types, their builders and impls, and the serde defaults that name them.
    let types = module_items(&mut file.items, "types").ok_or_else(|| unexpected("no `mod types`".into()))?;
    let gate = |attrs: &mut Vec<syn::Attribute>, owner: Option<String>| {
        if let Some(features) = owner.and_then(|o| gates.get(&o)) {
            attrs.push(cfg_attr(features));
        }
    };
    for item in types.iter_mut() {
        match item {
            syn::Item::Struct(s) => gate(&mut s.attrs, Some(s.ident.to_string())),
            syn::Item::Enum(e) => gate(&mut e.attrs, Some(e.ident.to_string())),
            syn::Item::Type(t) => gate(&mut t.attrs, Some(t.ident.to_string())),
            syn::Item::Impl(imp) => {
                let owner = impl_owner(imp, &known);
                gate(&mut imp.attrs, owner);
            }
            syn::Item::Mod(m) if m.ident == "builder" => {
                for inner in m.content.iter_mut().flat_map(|(_, items)| items) {
                    match inner {
                        syn::Item::Struct(s) => gate(&mut s.attrs, Some(s.ident.to_string())),
                        syn::Item::Impl(imp) => {
                            let owner = impl_owner(imp, &known);
                            gate(&mut imp.attrs, owner);
                        }
                        _ => {}
                    }
                }
            }
            syn::Item::Mod(m) if m.ident == "defaults" => {
                for inner in m.content.iter_mut().flat_map(|(_, items)| items) {
                    let syn::Item::Fn(f) = inner else { continue };
                    // A default is used by the types whose field has the type it
                    // returns, so it exists whenever all the types it names do.
                    let conditions: BTreeSet<&BTreeSet<String>> =
                        refs_of(&known, &*f, |v, n| v.visit_item_fn(n)).iter().filter_map(|t| gates.get(t)).collect();
                    match conditions.len() {
                        0 => {}
                        1 => f.attrs.extend(conditions.into_iter().map(cfg_attr)),
                        _ => {
                            let each = conditions.into_iter().map(|features| {
                                let fs = features.iter();
                                quote!(any(#(feature = #fs),*))
                            });
                            f.attrs.push(syn::parse_quote!(#[cfg(all(#(#each),*))]));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(gates)
}

#[cfg(test)]
mod tests {
    use heck::ToUpperCamelCase;
    use serde_json::Value;

    use super::*;
    use crate::contract::{Contract, ref_name};

    fn committed() -> (Contract, Vec<OperationFacts>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let contract = Contract::load(&root.join("openapi.json")).expect("openapi.json loads");
        let facts = crate::facts::collect(&contract).expect("facts");
        (contract, facts)
    }

    fn refs_in(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    match (k.as_str(), x.as_str().and_then(ref_name)) {
                        ("$ref", Some(name)) => {
                            out.insert(name.to_owned());
                        }
                        _ => refs_in(x, out),
                    }
                }
            }
            Value::Array(list) => list.iter().for_each(|x| refs_in(x, out)),
            _ => {}
        }
    }

    /// Schema name -> the features of the operations whose parameters, body
    /// or responses reach it through `$ref`s: computed from the contract
    /// alone, independently of the generated code.
    fn reachable_by_refs(contract: &Contract) -> BTreeMap<String, BTreeSet<String>> {
        let schemas = contract.schemas().expect("schemas");
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for op in contract.operations() {
            let mut stack = BTreeSet::new();
            refs_in(op.op, &mut stack);
            refs_in(op.path_item.get("parameters").unwrap_or(&Value::Null), &mut stack);
            let mut stack: Vec<String> = stack.into_iter().collect();
            let mut seen = BTreeSet::new();
            while let Some(name) = stack.pop() {
                if !seen.insert(name.clone()) {
                    continue;
                }
                let mut next = BTreeSet::new();
                refs_in(schemas.get(&name).unwrap_or(&Value::Null), &mut next);
                stack.extend(next);
                out.entry(name).or_default().insert(feature_name(op.tag()));
            }
        }
        out
    }

    fn items_of<'a>(items: &'a [syn::Item], module: &str) -> &'a [syn::Item] {
        items
            .iter()
            .find_map(|i| match i {
                syn::Item::Mod(m) if m.ident == module => m.content.as_ref().map(|(_, items)| items.as_slice()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no mod {module}"))
    }

    fn one(feature: &str) -> Option<BTreeSet<String>> {
        Some(BTreeSet::from([feature.to_owned()]))
    }

    #[test]
    fn every_operation_is_gated_by_its_tag_and_every_type_by_the_tags_that_reach_it() {
        let (contract, facts) = committed();
        let by_method: BTreeMap<String, &OperationFacts> = facts.iter().map(|f| (rust_name(&f.id), f)).collect();
        let by_builder: BTreeMap<String, &OperationFacts> = facts.iter().map(|f| (f.id.to_upper_camel_case(), f)).collect();
        let sdk: syn::File = syn::parse_str(&crate::sdk::generate(&contract, &facts).expect("sdk")).expect("sdk parses");

        // Operations: the method on `Client`, its builder and the builder's impl.
        let mut methods = 0;
        for item in &sdk.items {
            let syn::Item::Impl(imp) = item else { continue };
            for member in &imp.items {
                let syn::ImplItem::Fn(f) = member else { continue };
                if let Some(op) = by_method.get(&f.sig.ident.to_string()) {
                    methods += 1;
                    assert_eq!(features_of_cfg(&f.attrs), one(&feature_name(&op.tag)), "Client::{}", f.sig.ident);
                }
            }
        }
        assert_eq!(methods, facts.iter().filter(|f| !f.is_multipart()).count());
        for item in items_of(&sdk.items, "builder") {
            let (name, attrs) = match item {
                syn::Item::Struct(s) => (s.ident.to_string(), &s.attrs),
                syn::Item::Impl(imp) => (last_ident(&imp.self_ty).unwrap_or_default(), &imp.attrs),
                _ => continue,
            };
            let op = by_builder.get(&name).unwrap_or_else(|| panic!("builder {name} of no operation"));
            assert_eq!(features_of_cfg(attrs), one(&feature_name(&op.tag)), "builder::{name}");
        }

        // Types: each schema of the contract by exactly the tags whose
        // operations reach it through `$ref`s; every other type (typify's
        // inline enums and the like) by some tag; every impl like its type.
        let expected: BTreeMap<String, BTreeSet<String>> =
            reachable_by_refs(&contract).into_iter().map(|(name, fs)| (name.to_upper_camel_case(), fs)).collect();
        let types = items_of(&sdk.items, "types");
        let mut gates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for item in types {
            let (name, attrs) = match item {
                syn::Item::Struct(s) => (s.ident.to_string(), &s.attrs),
                syn::Item::Enum(e) => (e.ident.to_string(), &e.attrs),
                syn::Item::Type(t) => (t.ident.to_string(), &t.attrs),
                _ => continue,
            };
            let features = features_of_cfg(attrs).unwrap_or_else(|| panic!("types::{name} is not gated"));
            assert!(!features.is_empty() && features.iter().all(|f| f.as_str() != FULL), "types::{name}: {features:?}");
            if let Some(want) = expected.get(&name) {
                assert_eq!(&features, want, "types::{name} is gated by other tags than those whose operations reach it");
            }
            gates.insert(name, features);
        }
        assert!(expected.keys().all(|name| gates.contains_key(name)), "every schema is a gated type");
        let known: BTreeSet<String> = gates.keys().cloned().collect();
        let nested = items_of(types, "builder");
        let impls = types.iter().filter(|i| matches!(i, syn::Item::Impl(_)));
        for item in impls.chain(nested) {
            let (owner, attrs) = match item {
                syn::Item::Impl(imp) => (impl_owner(imp, &known), &imp.attrs),
                syn::Item::Struct(s) => (Some(s.ident.to_string()), &s.attrs),
                _ => continue,
            };
            let owner = owner.expect("an impl of one of the types");
            assert_eq!(features_of_cfg(attrs).as_ref(), gates.get(&owner), "an item of types::{owner}");
        }

        // The stream and multipart helpers, like their operations.
        let streams: syn::File = syn::parse_str(&crate::streams::generate(&contract, &facts).expect("streams")).expect("parses");
        let mut stream_impls = 0;
        for item in &streams.items {
            let syn::Item::Impl(imp) = item else { continue };
            let name = last_ident(&imp.self_ty).unwrap_or_default();
            let op = by_builder.get(&name).unwrap_or_else(|| panic!("stream of no operation: {name}"));
            assert_eq!(features_of_cfg(&imp.attrs), one(&feature_name(&op.tag)), "stream of {name}");
            stream_impls += 1;
        }
        let paginated = facts
            .iter()
            .filter(|f| !f.is_multipart() && f.pagination.as_ref().is_some_and(|p| p.shape != crate::facts::ListShape::Report))
            .count();
        assert_eq!(stream_impls, paginated, "a stream helper per paginated list");
        let multipart: syn::File = syn::parse_str(&crate::multipart::generate(&contract, &facts).expect("multipart")).expect("parses");
        let mut multipart_items = 0;
        for item in &multipart.items {
            let (op, attrs) = match item {
                syn::Item::Struct(s) => (s.ident.to_string().strip_suffix("Form").map(str::to_owned), &s.attrs),
                syn::Item::Impl(imp) => match imp.items.first() {
                    Some(syn::ImplItem::Fn(f)) => (by_method.get(&f.sig.ident.to_string()).map(|f| f.id.to_upper_camel_case()), &imp.attrs),
                    _ => continue,
                },
                _ => continue,
            };
            let op = op.and_then(|o| by_builder.get(&o)).expect("a multipart item of an operation");
            assert_eq!(features_of_cfg(attrs), one(&feature_name(&op.tag)), "multipart {}", op.id);
            multipart_items += 1;
        }
        assert_eq!(multipart_items, 2 * facts.iter().filter(|f| f.is_multipart()).count());
    }

    #[test]
    fn the_cargo_table_has_a_feature_per_tag_and_full_holds_them_all() {
        let (_, facts) = committed();
        let table = TagFeatures::new(&facts).expect("features").cargo_table();
        let parsed: toml::Table = toml::from_str(&table).expect("the table is TOML");
        let features = parsed["features"].as_table().expect("[features]");
        let tags: BTreeSet<String> = facts.iter().map(|f| feature_name(&f.tag)).collect();
        let full: BTreeSet<String> =
            features[FULL].as_array().expect("full").iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        assert_eq!(full, tags);
        assert_eq!(features["default"].as_array().map(Vec::len), Some(1));
        for tag in &tags {
            assert_eq!(features[tag.as_str()].as_array().map(Vec::len), Some(0), "{tag}");
        }
        assert_eq!(features.len(), tags.len() + 2);
    }

    #[test]
    fn feature_names_are_kebab_case_words_of_the_tag() {
        assert_eq!(feature_name("Project"), "project");
        assert_eq!(feature_name("Time entry"), "time-entry");
        assert_eq!(feature_name("Time Entry Report"), "time-entry-report");
        assert_eq!(feature_name("Balance (Deprecated)"), "balance-deprecated");
        assert_eq!(feature_name("Entity changes (Experimental)"), "entity-changes-experimental");
    }
}
