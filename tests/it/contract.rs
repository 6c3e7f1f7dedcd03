//! The contract and everything generated from it stay in step.

use std::collections::BTreeSet;
use std::path::Path;

use clockify_client::{WebhookEvent, catalog};
use clockify_codegen::{Contract, check_committed, generate, normalize};
use serde_json::{Value, json};

use crate::support::{addon, contract_json, root, upstream_spec};

#[test]
fn committed_artifacts_are_fresh() {
    let contract = Contract::load(&root().join("openapi.json")).expect("openapi.json loads");
    let artifacts = generate(&contract, &addon()).expect("openapi.json generates");
    let stale = check_committed(&root(), &artifacts);
    assert!(stale.is_empty(), "stale generated files {stale:?}: run `cargo xtask regen` and commit the result");
}

#[test]
fn committed_example_addons_are_fresh() {
    let contract = Contract::load(&root().join("openapi.json")).expect("openapi.json loads");
    let examples = clockify_codegen::examples::generate_examples(&contract, &root(), &addon()).expect("the examples' addon.toml generate");
    assert!(
        examples.len() >= 4,
        "both examples have a manifest.json and an addon.rs: {:?}",
        examples.iter().map(|a| &a.path).collect::<Vec<_>>()
    );
    let stale = clockify_codegen::examples::stale_examples(&root(), &examples);
    assert!(stale.is_empty(), "stale example files {stale:?}: run `cargo xtask regen` and commit the result");
}

#[test]
fn regen_from_upstream_reproduces_openapi_json_byte_for_byte() {
    let upstream = Contract::load(&upstream_spec()).expect("upstream loads");
    let (normalized, applied) = normalize(&upstream).expect("upstream normalizes");
    let committed = std::fs::read_to_string(root().join("openapi.json")).expect("openapi.json");
    assert!(
        normalized.to_json() == committed,
        "openapi.json differs from the normalized upstream spec: run `cargo xtask regen --from ../shared/clockify/openapi.upstream.json`"
    );
    // Every patch is reported, and the ones this spec needs did change something.
    let places = |name: &str| applied.iter().find(|p| p.name == name).map(|p| p.places);
    assert_eq!(places("wildcard-json-responses").unwrap() + places("wildcard-binary-responses").unwrap(), 17);
    assert_eq!(places("pto-server-localhost"), Some(8));
    assert_eq!(places("drop-required-without-property"), Some(1));
    assert_eq!(places("drop-write-only-case-twins"), Some(1));
    assert_eq!(places("enum-objects-to-string-enums"), Some(12));
    // 4 operations, 9 schemas and the tag Add-on.
    assert_eq!(places("addon-endpoints"), Some(14));
}

fn operation_ids(doc: &Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(&method.as_str()) {
                ids.insert(op["operationId"].as_str().unwrap().to_owned());
            }
        }
    }
    ids
}

#[test]
fn catalog_holds_every_operation_of_the_contract() {
    let doc = contract_json();
    let in_contract = operation_ids(&doc);
    let in_catalog: BTreeSet<String> = catalog::operations().iter().map(|o| o.id.to_owned()).collect();
    assert_eq!(in_catalog, in_contract);
    for op in catalog::operations() {
        assert_eq!(catalog::by_rust_name(op.rust_name).map(|o| o.id), Some(op.id));
        let item = &doc["paths"][op.path][op.method.to_lowercase()];
        assert_eq!(item["operationId"], op.id, "{} {} is where the catalog says", op.method, op.path);
    }
}

#[test]
fn catalog_routes_groups_to_their_hosts() {
    use catalog::HostGroup::*;
    let host = |id: &str| catalog::by_id(id).unwrap().host;
    assert_eq!(host("getProjects"), Core);
    assert_eq!(host("generateDetailedReport"), Reports);
    assert_eq!(host("getPtoBalancesForUser"), Pto);
    let count = |g| catalog::operations().iter().filter(|o| o.host == g).count();
    // Counted from openapi.json: 10 operations on 8 reports paths, 14 on the 8 deprecated PTO paths;
    // core counts the 4 /addon/... operations of the addon-endpoints patch.
    assert_eq!((count(Core), count(Reports), count(Pto)), (150, 10, 14));
    assert_eq!(host("getAddonSettings"), Core);
}

#[test]
fn webhook_event_enum_holds_every_event_of_the_contract() {
    let doc = contract_json();
    let events: Vec<String> = doc["components"]["schemas"]["CreateWebhookRequestV1"]["properties"]["webhookEvent"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let generated: Vec<String> = WebhookEvent::ALL.iter().map(|e| e.as_str().to_owned()).collect();
    assert_eq!(generated, events);
    assert_eq!(WebhookEvent::COUNT, events.len());
}

#[test]
fn webhook_event_wire_names_round_trip() {
    for e in WebhookEvent::ALL {
        let parsed: WebhookEvent = e.as_str().parse().unwrap();
        assert_eq!(parsed, e);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<WebhookEvent>(&json).unwrap(), e);
        assert!(e.is_known());
    }
    let unknown: WebhookEvent = "SOMETHING_NEW".parse().unwrap();
    assert_eq!(unknown, WebhookEvent::Unknown("SOMETHING_NEW".into()));
    assert_eq!(unknown.to_string(), "SOMETHING_NEW", "unknown names are kept, not dropped");
    assert!(!unknown.is_known());
}

fn contract_with(edit: impl FnOnce(&mut Value)) -> Contract {
    let mut doc = contract_json();
    edit(&mut doc);
    Contract { doc }
}

#[test]
fn a_new_event_in_the_contract_becomes_a_variant() {
    let contract = contract_with(|doc| {
        doc["components"]["schemas"]["CreateWebhookRequestV1"]["properties"]["webhookEvent"]["enum"]
            .as_array_mut()
            .unwrap()
            .push(json!("INVOICE_PAID"));
    });
    let artifacts = generate(&contract, &addon()).expect("generates");
    let events = artifacts.iter().find(|a| a.path.ends_with("events.rs")).unwrap();
    assert!(events.contents.contains("InvoicePaid"), "variant generated");
    assert!(events.contents.contains("\"INVOICE_PAID\""), "wire name generated");
    let stale = check_committed(&root(), &artifacts);
    assert!(stale.iter().any(|s| s.ends_with("events.rs")), "the committed enum is now stale: {stale:?}");
}

fn generation_error(contract: &Contract) -> String {
    match generate(contract, &addon()) {
        Ok(_) => panic!("the contract must not generate"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn an_unsupported_media_type_names_the_operation() {
    let c = contract_with(|doc| {
        let op = &mut doc["paths"]["/v1/workspaces/{workspaceId}/projects"]["get"];
        let schema = op["responses"]["200"]["content"]["application/json"].take();
        op["responses"]["200"]["content"] = json!({ "text/csv": schema });
    });
    let err = generation_error(&c);
    assert!(err.contains("getProjects") && err.contains("text/csv"), "{err}");
}

#[test]
fn colliding_properties_name_the_schema() {
    let c = contract_with(|doc| {
        doc["components"]["schemas"]["ProjectDtoV1"]["properties"]["NAME"] = json!({ "type": "string" });
    });
    let err = generation_error(&c);
    assert!(err.contains("ProjectDtoV1") && err.contains("NAME"), "{err}");
}

#[test]
fn several_success_types_and_unknown_servers_are_errors_not_panics() {
    let c = contract_with(|doc| {
        let item = &mut doc["paths"]["/v1/workspaces/{workspaceId}/tags"];
        item["servers"] = json!([{ "url": "https://elsewhere.example" }]);
        item["get"]["responses"]["201"] =
            json!({ "description": "", "content": { "application/json": { "schema": { "type": "string" } } } });
    });
    let err = generation_error(&c);
    assert!(err.contains("getTags") && err.contains("several success response types"), "{err}");
    assert!(err.contains("elsewhere.example"), "{err}");
}

#[test]
fn an_ambiguous_paginated_envelope_names_the_operation() {
    let c = contract_with(|doc| {
        doc["components"]["schemas"]["InvoicesListDtoV1"]["properties"]["credits"] =
            json!({ "type": "array", "items": { "type": "string" } });
    });
    let err = generation_error(&c);
    assert!(err.contains("getInvoices") && err.contains("ENVELOPES"), "{err}");
}

#[test]
fn a_removed_operation_leaves_the_catalog() {
    let c = contract_with(|doc| {
        doc["paths"]["/v1/workspaces/{workspaceId}/tags"].as_object_mut().unwrap().remove("get");
    });
    let artifacts = generate(&c, &addon()).expect("generates");
    let catalog = artifacts.iter().find(|a| a.path.ends_with("catalog.rs")).unwrap();
    assert!(!catalog.contents.contains("\"getTags\""));
    let sdk = artifacts.iter().find(|a| a.path.ends_with("sdk.rs")).unwrap();
    assert!(!sdk.contents.contains("pub fn get_tags("));
}

#[test]
fn normalization_is_deterministic() {
    let upstream = Contract::load(Path::new(&upstream_spec())).unwrap();
    let (a, _) = normalize(&upstream).unwrap();
    let (b, _) = normalize(&upstream).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    let once = generate(&a, &addon()).unwrap();
    let twice = generate(&b, &addon()).unwrap();
    assert_eq!(once, twice);
}

#[test]
fn a_reflected_enum_object_is_an_error_not_an_empty_enum() {
    let c = contract_with(|doc| {
        doc["components"]["schemas"]["Odd"] = json!({
            "type": "object",
            "oneOf": [{ "type": "string", "enum": ["A", "B"] }],
            "properties": { "value": { "type": "string" } }
        });
    });
    let err = generation_error(&c);
    assert!(err.contains("`Odd`") && err.contains("reflected Java enum"), "{err}");
}
