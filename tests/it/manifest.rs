//! `manifest.json`: generated from addon.toml and the contract, valid against
//! the official schemas, and in step with the event and scope enums.

use std::collections::BTreeSet;

use clockify_client::{Scope, WebhookEvent};
use clockify_codegen::manifest::{self, MANIFEST_EVENTS, validate_against_schema};
use clockify_codegen::{AddonDefinition, Contract, generate};
use serde_json::{Value, json};

use crate::support::{addon, manifest_schema, root};

fn committed_manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("manifest.json")).expect("manifest.json")).unwrap()
}

fn contract() -> Contract {
    Contract::load(&root().join("openapi.json")).unwrap()
}

#[test]
fn the_committed_manifest_satisfies_schemas_1_4_and_1_3() {
    let m = committed_manifest();
    for v in ["1.4", "1.3"] {
        if let Err(errors) = validate_against_schema(&m, &manifest_schema(v)) {
            panic!("manifest.json fails schema {v}:\n{}", errors.join("\n"));
        }
    }
    assert_eq!(m["schemaVersion"], json!("1.4"));
    assert!(m.get("$schema").is_none(), "Clockify rejects a $schema key");
}

#[test]
fn broken_manifests_are_rejected_naming_the_field() {
    let schema = manifest_schema("1.4");
    type Case = (&'static str, fn(&mut Value), &'static str);
    let cases: [Case; 4] = [
        (
            "missing key",
            |m| {
                m.as_object_mut().unwrap().remove("key");
            },
            "key",
        ),
        ("unknown event", |m| m["webhooks"][0]["event"] = json!("PROJECT_EXPLODED"), "/webhooks/0/event"),
        ("unknown scope", |m| m["scopes"][1] = json!("EVERYTHING_WRITE"), "/scopes/1"),
        ("a 1.2-only event", |m| m["webhooks"][0]["event"] = json!("PROJECT_UPDATED"), "/webhooks/0/event"),
    ];
    for (what, breakit, field) in cases {
        let mut m = committed_manifest();
        breakit(&mut m);
        let errors = validate_against_schema(&m, &schema).expect_err(what);
        assert!(errors.iter().any(|e| e.contains(field)), "{what}: no error names {field}: {errors:?}");
    }
}

#[test]
fn the_manifest_event_table_is_exactly_what_schemas_1_3_and_1_4_allow() {
    let ours: BTreeSet<&str> = MANIFEST_EVENTS.iter().copied().collect();
    for v in ["1.3", "1.4"] {
        let schema = manifest_schema(v);
        let theirs: BTreeSet<&str> = schema["definitions"]["webhook"]["properties"]["event"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("schema {v} has no webhook event enum where expected"))
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(ours, theirs, "schema {v}");
        let scopes: BTreeSet<&str> =
            schema["definitions"]["scope"]["enum"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
        let ours: BTreeSet<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(ours, scopes, "scopes of schema {v}");
    }
}

#[test]
fn every_subscribed_event_is_in_exactly_one_list() {
    let def = addon();
    let subs = manifest::subscriptions(&contract(), &def).unwrap();
    for e in &def.subscribe {
        let in_manifest = subs.manifest.contains(e);
        let in_rest = subs.rest.contains(e);
        assert!(in_manifest != in_rest, "{e}: manifest {in_manifest}, REST {in_rest}");
        assert_eq!(in_manifest, MANIFEST_EVENTS.contains(&e.as_str()), "{e} is declared where its schema allows");
    }
    assert_eq!(subs.manifest.len() + subs.rest.len(), def.subscribe.len());
    // The gateway's generated lists are the same split, as enum variants.
    let names = |l: &[WebhookEvent]| l.iter().map(|e| e.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(clockify_gateway::addon::STOCK.manifest_webhooks), subs.manifest);
    assert_eq!(names(clockify_gateway::addon::STOCK.rest_webhooks), subs.rest);
    let declared: Vec<String> =
        committed_manifest()["webhooks"].as_array().unwrap().iter().map(|w| w["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(declared, subs.manifest);
}

#[test]
fn more_than_ten_manifest_events_fail_with_a_clear_message() {
    let def = AddonDefinition { subscribe: MANIFEST_EVENTS.iter().take(11).map(|s| s.to_string()).collect(), ..AddonDefinition::default() };
    let err = generate(&contract(), &def).unwrap_err().to_string();
    assert!(err.contains("addon.toml") && err.contains("subscribe") && err.contains("at most 10"), "{err}");
}

#[test]
fn definition_mistakes_name_the_field() {
    let c = contract();
    type Case = (fn(&mut AddonDefinition), &'static str);
    let cases: [Case; 5] = [
        (|d| d.subscribe.push("PROJECT_EXPLODED".into()), "PROJECT_EXPLODED"),
        (|d| d.scopes.push("EVERYTHING_WRITE".into()), "`scopes`"),
        (|d| d.key = "x".into(), "`key`"),
        (|d| d.minimal_subscription_plan = "GOLD".into(), "`minimal_subscription_plan`"),
        (|d| d.subscribe.push("NEW_PROJECT".into()), "listed twice"),
    ];
    for (breakit, expected) in cases {
        let mut d = AddonDefinition::default();
        breakit(&mut d);
        let err = generate(&c, &d).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected} in: {err}");
    }
    let err = AddonDefinition::parse("nmae = \"typo\"").unwrap_err();
    assert!(err.contains("nmae"), "unknown fields are refused by name: {err}");
}

#[test]
fn a_new_event_in_the_contract_reaches_the_enum_and_the_rest_list() {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(root().join("openapi.json")).unwrap()).unwrap();
    doc["components"]["schemas"]["CreateWebhookRequestV1"]["properties"]["webhookEvent"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("INVOICE_PAID"));
    let c = Contract { doc };
    let mut def = addon();
    def.subscribe.push("INVOICE_PAID".into());
    let artifacts = generate(&c, &def).expect("generates");
    let file = |suffix: &str| &artifacts.iter().find(|a| a.path.ends_with(suffix)).unwrap().contents;
    assert!(file("events.rs").contains("InvoicePaid"));
    assert!(file("gateway/src/generated/addon.rs").contains("WebhookEvent::InvoicePaid"), "the REST list gains it");
    let m: Value = serde_json::from_str(file("manifest.json")).unwrap();
    assert!(!m.to_string().contains("INVOICE_PAID"), "the manifest schema does not allow it, so it is not declared");
}

#[test]
fn the_committed_definition_is_the_stock_one_and_regen_is_byte_stable() {
    // README promises that an empty addon.toml gives the same add-on.
    assert_eq!(addon(), AddonDefinition::default());
    let a = manifest::manifest_file(&contract(), &addon()).unwrap();
    let b = manifest::manifest_file(&contract(), &addon()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a, std::fs::read_to_string(root().join("manifest.json")).unwrap());
}

#[test]
fn event_wire_names_round_trip_and_unknown_names_are_kept() {
    for e in WebhookEvent::ALL {
        let parsed: WebhookEvent = e.as_str().parse().unwrap();
        assert_eq!(parsed, e);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(serde_json::from_value::<WebhookEvent>(json).unwrap(), e);
    }
    let unknown: WebhookEvent = "INVOICE_PAID".parse().unwrap();
    assert_eq!(unknown, WebhookEvent::Unknown("INVOICE_PAID".into()));
    assert!(!unknown.is_known());
    assert_eq!(unknown.to_string(), "INVOICE_PAID", "reported under its own name, not dropped");
}

#[test]
fn the_embedded_clockify_key_is_the_published_one() {
    let pem = std::fs::read_to_string(root().join("../shared/clockify/clockify-public-key.pem")).expect("../shared key");
    let published = clockify_codegen::clockify_key::der_of_pem(&pem).unwrap();
    let embedded = clockify_codegen::clockify_key::der_of_pem(&clockify_addon_auth::clockify_public_key_pem()).unwrap();
    assert_eq!(embedded, published, "run `cargo xtask regen --from ../shared/clockify/openapi.upstream.json`");
    let generated = clockify_codegen::clockify_key::generate(&pem).unwrap();
    assert_eq!(generated, std::fs::read_to_string(root().join(clockify_codegen::clockify_key::ARTIFACT)).unwrap());
}

#[test]
fn the_example_manifests_satisfy_schemas_1_4_and_1_3_with_keys_of_their_own() {
    let dirs = clockify_codegen::examples::example_dirs(&root()).expect("examples/");
    assert!(dirs.len() >= 2, "{dirs:?}");
    let mut keys = BTreeSet::from([committed_manifest()["key"].as_str().expect("key").to_owned()]);
    for dir in dirs {
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(root().join(&dir).join("manifest.json")).expect("manifest.json")).unwrap();
        for v in ["1.4", "1.3"] {
            if let Err(errors) = validate_against_schema(&m, &manifest_schema(v)) {
                panic!("{dir}/manifest.json fails schema {v}:\n{}", errors.join("\n"));
            }
        }
        assert!(keys.insert(m["key"].as_str().expect("key").to_owned()), "{dir}: its key is taken");
    }
}
