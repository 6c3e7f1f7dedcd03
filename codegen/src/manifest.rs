//! `manifest.json` and the gateway's view of it (`gateway/src/generated/addon.rs`),
//! both from the add-on definition and the contract's webhook events.
//!
//! Supported versus subscribed: the contract's 50 events are all typed and
//! routable; the add-on subscribes to a chosen set. Events the manifest schema
//! allows are declared in the manifest (at most 10); the others are
//! registered through the REST API at install. Each subscribed event lands in
//! exactly one of the two lists.

use std::collections::BTreeSet;

use proc_macro2::{Ident, Span};
use quote::quote;
use serde_json::{Map, Value, json};

use crate::addon::{AddonDefinition, Settings};
use crate::contract::Contract;
use crate::error::{CodegenError, Result};

/// The manifest schema version written into `manifest.json`.
pub const SCHEMA_VERSION: &str = "1.4";

/// Stands in for the public URL in the committed file; the gateway serves the
/// manifest with `ADDON_BASE_URL` in its place (`.invalid` never resolves).
pub const BASE_URL_PLACEHOLDER: &str = "https://addon-base-url.invalid";

/// Webhooks one add-on may declare in its manifest (PLATFORM.md §3.1).
pub const MAX_MANIFEST_WEBHOOKS: usize = 10;

/// The events manifest schemas 1.3 and 1.4 allow (PLATFORM.md §3.5 A). A test
/// compares this table with both schema files.
pub const MANIFEST_EVENTS: [&str; 22] = [
    "NEW_PROJECT",
    "NEW_TASK",
    "NEW_CLIENT",
    "NEW_TAG",
    "NEW_TIMER_STARTED",
    "TIMER_STOPPED",
    "TIME_ENTRY_UPDATED",
    "TIME_ENTRY_DELETED",
    "NEW_TIME_ENTRY",
    "NEW_INVOICE",
    "INVOICE_UPDATED",
    "USER_JOINED_WORKSPACE",
    "USER_DELETED_FROM_WORKSPACE",
    "USER_DEACTIVATED_ON_WORKSPACE",
    "USER_ACTIVATED_ON_WORKSPACE",
    "NEW_APPROVAL_REQUEST",
    "APPROVAL_REQUEST_STATUS_UPDATED",
    "TIME_OFF_REQUESTED",
    "TIME_OFF_REQUEST_APPROVED",
    "TIME_OFF_REQUEST_REJECTED",
    "TIME_OFF_REQUEST_WITHDRAWN",
    "BALANCE_UPDATED",
];

/// Lifecycle hooks and the gateway routes that serve them.
pub const LIFECYCLE_ROUTES: [(&str, &str); 4] = [
    ("INSTALLED", "/lifecycle/installed"),
    ("DELETED", "/lifecycle/deleted"),
    ("SETTINGS_UPDATED", "/lifecycle/settings-updated"),
    ("STATUS_CHANGED", "/lifecycle/status-changed"),
];

/// The gateway route for deliveries of `event`.
pub fn webhook_path(event: &str) -> String {
    format!("/webhooks/{event}")
}

const PLANS: [&str; 5] = ["FREE", "BASIC", "STANDARD", "PRO", "ENTERPRISE"];
const COMPONENT_TYPES: [&str; 10] = [
    "sidebar",
    "widget",
    "timeoff.tab",
    "schedule.tab",
    "approvals.tab",
    "reports.tab",
    "activity.tab",
    "team.tab",
    "projects.tab",
    "invoices.action",
];
const ACCESS_LEVELS: [&str; 2] = ["ADMINS", "EVERYONE"];

/// The subscribed events, split by where they are declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    /// Declared in `manifest.json`; Clockify creates these webhooks itself.
    pub manifest: Vec<String>,
    /// Registered by the gateway through `POST /v1/workspaces/{id}/webhooks`.
    pub rest: Vec<String>,
}

fn bad(field: &str, problem: impl std::fmt::Display) -> CodegenError {
    CodegenError::Other(format!("{}: `{field}`: {problem}", crate::addon::ADDON_FILE))
}

/// Checks the definition against the contract and splits its events.
pub fn subscriptions(contract: &Contract, addon: &AddonDefinition) -> Result<Subscriptions> {
    let known = contract.webhook_events()?;
    let mut seen = BTreeSet::new();
    let (mut manifest, mut rest) = (Vec::new(), Vec::new());
    for event in &addon.subscribe {
        if !known.iter().any(|k| k == event) {
            return Err(bad("subscribe", format!("`{event}` is not an event of openapi.json's webhook event enum")));
        }
        if !seen.insert(event.as_str()) {
            return Err(bad("subscribe", format!("`{event}` is listed twice")));
        }
        if MANIFEST_EVENTS.contains(&event.as_str()) {
            manifest.push(event.clone());
        } else {
            rest.push(event.clone());
        }
    }
    if manifest.len() > MAX_MANIFEST_WEBHOOKS {
        return Err(bad(
            "subscribe",
            format!(
                "{} events would be declared in the manifest ({}), but an add-on may declare at most {MAX_MANIFEST_WEBHOOKS}; \
                 drop some of them",
                manifest.len(),
                manifest.join(", ")
            ),
        ));
    }
    Ok(Subscriptions { manifest, rest })
}

fn validate_definition(addon: &AddonDefinition) -> Result<()> {
    let len = |s: &str| s.chars().count();
    if !(2..=50).contains(&len(&addon.key)) {
        return Err(bad("key", format!("must be 2 to 50 characters, is {}", len(&addon.key))));
    }
    if !(1..=50).contains(&len(&addon.name)) {
        return Err(bad("name", format!("must be 1 to 50 characters, is {}", len(&addon.name))));
    }
    if !PLANS.contains(&addon.minimal_subscription_plan.as_str()) {
        return Err(bad("minimal_subscription_plan", format!("`{}` is not one of {}", addon.minimal_subscription_plan, PLANS.join(", "))));
    }
    let mut scopes = BTreeSet::new();
    for s in &addon.scopes {
        if !crate::scopes::SCOPES.contains(&s.as_str()) {
            return Err(bad("scopes", format!("`{s}` is not a manifest scope")));
        }
        if !scopes.insert(s) {
            return Err(bad("scopes", format!("`{s}` is listed twice")));
        }
    }
    for (i, c) in addon.components.iter().enumerate() {
        let field = format!("components[{i}]");
        if !COMPONENT_TYPES.contains(&c.kind.as_str()) {
            return Err(bad(&field, format!("type `{}` is not one of {}", c.kind, COMPONENT_TYPES.join(", "))));
        }
        if !ACCESS_LEVELS.contains(&c.access_level.as_str()) {
            return Err(bad(&field, format!("access_level `{}` is not ADMINS or EVERYONE", c.access_level)));
        }
        if !c.path.starts_with('/') || c.label.is_empty() {
            return Err(bad(&field, "needs a label and a path starting with `/`"));
        }
    }
    if let Some(p) = &addon.icon_path
        && !p.starts_with('/')
    {
        return Err(bad("icon_path", "must start with `/`"));
    }
    crate::settings::fields(addon)?;
    Ok(())
}

/// The manifest as a JSON value (schema 1.4, no `$schema` key).
pub fn manifest(contract: &Contract, addon: &AddonDefinition) -> Result<Value> {
    validate_definition(addon)?;
    let subs = subscriptions(contract, addon)?;
    let mut m = Map::new();
    m.insert("schemaVersion".into(), json!(SCHEMA_VERSION));
    m.insert("key".into(), json!(addon.key));
    m.insert("name".into(), json!(addon.name));
    if let Some(d) = &addon.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("baseUrl".into(), json!(BASE_URL_PLACEHOLDER));
    if let Some(icon) = &addon.icon_path {
        m.insert("iconPath".into(), json!(icon));
    }
    m.insert("minimalSubscriptionPlan".into(), json!(addon.minimal_subscription_plan));
    m.insert("scopes".into(), json!(addon.scopes));
    if !addon.components.is_empty() {
        let components: Vec<Value> = addon
            .components
            .iter()
            .map(|c| {
                let mut o = Map::new();
                o.insert("type".into(), json!(c.kind));
                o.insert("label".into(), json!(c.label));
                o.insert("accessLevel".into(), json!(c.access_level));
                o.insert("path".into(), json!(c.path));
                if let Some(i) = &c.icon_path {
                    o.insert("iconPath".into(), json!(i));
                }
                if let Some(w) = c.width {
                    o.insert("width".into(), json!(w));
                }
                if let Some(h) = c.height {
                    o.insert("height".into(), json!(h));
                }
                if let Some(opts) = &c.options {
                    o.insert("options".into(), opts.clone());
                }
                Value::Object(o)
            })
            .collect();
        m.insert("components".into(), Value::Array(components));
    }
    match &addon.settings {
        Some(Settings::Custom(path)) => {
            m.insert("settings".into(), json!(path));
        }
        Some(Settings::Structured { tabs }) => {
            m.insert("settings".into(), json!({ "tabs": tabs }));
        }
        None => {}
    }
    let lifecycle: Vec<Value> = LIFECYCLE_ROUTES.iter().map(|(t, p)| json!({ "type": t, "path": p })).collect();
    m.insert("lifecycle".into(), Value::Array(lifecycle));
    let webhooks: Vec<Value> = subs.manifest.iter().map(|e| json!({ "event": e, "path": webhook_path(e) })).collect();
    m.insert("webhooks".into(), Value::Array(webhooks));
    Ok(Value::Object(m))
}

/// The committed text of `manifest.json`.
pub fn manifest_file(contract: &Contract, addon: &AddonDefinition) -> Result<String> {
    let value = manifest(contract, addon)?;
    let mut text = serde_json::to_string_pretty(&value).map_err(|e| CodegenError::Other(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// Where a generated add-on module lives: which crate names the
/// `AddonManifest` type, and where `manifest.json` is relative to the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleTarget {
    /// `crate` inside the gateway, `clockify_gateway` in an add-on crate.
    pub gateway_crate: &'static str,
    /// The `include_str!` path of the add-on's `manifest.json`.
    pub manifest_include: &'static str,
}

/// The stock gateway's own module, `gateway/src/generated/addon.rs`.
pub const GATEWAY_MODULE: ModuleTarget = ModuleTarget { gateway_crate: "crate", manifest_include: "../../../manifest.json" };

/// The paths the add-on serves pages at: its components and its custom
/// settings page.
pub fn page_paths(addon: &AddonDefinition) -> Vec<String> {
    let mut paths: Vec<String> = addon.components.iter().map(|c| c.path.clone()).collect();
    if let Some(Settings::Custom(path)) = &addon.settings {
        paths.push(path.clone());
    }
    paths.sort();
    paths.dedup();
    paths
}

/// A generated add-on module: `ADDON`, the add-on's `AddonManifest` (the
/// subscription lists as `WebhookEvent` variants and the scopes as `Scope`
/// variants, so an event or scope the client's enums lack does not compile).
pub fn gateway_module(contract: &Contract, addon: &AddonDefinition, target: ModuleTarget) -> Result<String> {
    validate_definition(addon)?;
    let subs = subscriptions(contract, addon)?;
    let events =
        |list: &[String]| -> Vec<Ident> { list.iter().map(|e| Ident::new(&crate::events::variant_name(e), Span::call_site())).collect() };
    let manifest_events = events(&subs.manifest);
    let rest_events = events(&subs.rest);
    let scopes: Vec<Ident> = addon.scopes.iter().map(|s| Ident::new(&crate::scopes::variant_name(s), Span::call_site())).collect();
    let key = &addon.key;
    let include = target.manifest_include;
    let pages = page_paths(addon);
    let krate: proc_macro2::TokenStream =
        target.gateway_crate.parse().map_err(|e| CodegenError::Other(format!("gateway crate path {}: {e}", target.gateway_crate)))?;
    let (module, client) = if target.gateway_crate == "crate" {
        (quote!(#krate::addon), quote!(clockify_client))
    } else {
        (quote!(#krate), quote!(#krate::clockify_client))
    };
    let settings = crate::settings::settings_tokens(addon)?;
    let tokens = quote! {
        use #client::{Scope, WebhookEvent};
        use #module::AddonManifest;

        /// The add-on as `addon.toml` and `manifest.json` declare it.
        pub const ADDON: AddonManifest = AddonManifest {
            key: #key,
            manifest_json: include_str!(#include),
            manifest_webhooks: &[#(WebhookEvent::#manifest_events,)*],
            rest_webhooks: &[#(WebhookEvent::#rest_events,)*],
            declared_scopes: &[#(Scope::#scopes,)*],
            pages: &[#(#pages,)*],
        };

        #settings
    };
    crate::render::format_tokens("addon.rs", tokens)
}

/// Validates `manifest` against a manifest JSON Schema (draft-04); every
/// violation as `<JSON pointer>: <message>`.
pub fn validate_against_schema(manifest: &Value, schema: &Value) -> std::result::Result<(), Vec<String>> {
    let validator = jsonschema::draft4::new(schema).map_err(|e| vec![format!("the schema itself is invalid: {e}")])?;
    let errors: Vec<String> = validator
        .iter_errors(manifest)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { at.as_str() })
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn committed_contract() -> Contract {
        Contract::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json")).expect("openapi.json loads")
    }

    /// An add-on with a sidebar and a settings page of its own.
    const WITH_SETTINGS_PAGE: &str = r#"
key = "settings-page-addon"
name = "Settings page"
scopes = ["TIME_ENTRY_READ"]
subscribe = ["NEW_TIME_ENTRY"]
settings = "/ui/settings"

[[components]]
type = "sidebar"
label = "Report"
access_level = "ADMINS"
path = "/ui/report"
"#;

    #[test]
    fn a_custom_settings_page_is_the_manifest_settings_path_and_one_of_the_pages() {
        let contract = committed_contract();
        let def = AddonDefinition::parse(WITH_SETTINGS_PAGE).expect("addon.toml parses");
        assert_eq!(def.settings, Some(Settings::Custom("/ui/settings".into())), "the string form is a custom page");

        let m = manifest(&contract, &def).expect("a valid definition");
        assert_eq!(m["settings"], json!("/ui/settings"), "the manifest's `settings` is the page's path: {m:#}");
        assert_eq!(m["components"][0]["path"], json!("/ui/report"));
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/clockify/manifest-schema-1.4.json");
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(&schema)
                .unwrap_or_else(|e| panic!("{}: {e} (the tests need ../shared beside the repository)", schema.display())),
        )
        .expect("the schema is JSON");
        if let Err(errors) = validate_against_schema(&m, &schema) {
            panic!("a custom settings page fails schema 1.4:\n{}", errors.join("\n"));
        }

        // The gateway refuses to start unless a route serves every page.
        assert_eq!(page_paths(&def), ["/ui/report", "/ui/settings"]);
        let target = ModuleTarget { gateway_crate: "clockify_gateway", manifest_include: "../../manifest.json" };
        let module = gateway_module(&contract, &def, target).expect("generates");
        let pages = module.split("pages: ").nth(1).and_then(|rest| rest.split(';').next()).unwrap_or_default();
        assert!(pages.contains("\"/ui/report\"") && pages.contains("\"/ui/settings\""), "pages: {pages}\n{module}");

        // Without it, the component is the only page.
        let without = AddonDefinition { settings: None, ..def };
        assert_eq!(page_paths(&without), ["/ui/report"]);
        assert!(manifest(&contract, &without).expect("valid").get("settings").is_none());
    }
}
