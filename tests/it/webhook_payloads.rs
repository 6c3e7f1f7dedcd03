//! Every one of the contract's events decodes to the payload type the
//! gateway's table gives it, from a body shaped by that type's schema; a body
//! that does not fit is kept raw, never rejected.

use clockify_client::WebhookEvent;
use clockify_gateway::events::{Change, WebhookPayload, decode};
use serde_json::json;

use crate::client_decoding::sample;
use crate::support::contract_json;

/// The schema each event's body is expected to follow (None: kept raw).
fn expected_schema(event: &WebhookEvent) -> Option<&'static str> {
    let name = event.as_str();
    Some(match name {
        _ if name.contains("TIME_OFF") => "TimeOffRequestDtoV1",
        "TIME_ENTRY_SPLIT"
        | "USERS_INVITED_TO_WORKSPACE"
        | "LIMITED_USERS_ADDED_TO_WORKSPACE"
        | "COST_RATE_UPDATED"
        | "BILLABLE_RATE_UPDATED" => return None,
        _ if name.contains("USER_GROUP") => "UserGroupDtoV1",
        _ if name.contains("PROJECT") => "ProjectDtoV1",
        _ if name.contains("TASK") => "TaskDtoV1",
        _ if name.contains("CLIENT") => "ClientDtoV1",
        _ if name.contains("TAG") => "TagDtoV1",
        _ if name.contains("TIME_ENTRY") || name.contains("TIMER") => "TimeEntryWithRatesDtoV1",
        _ if name.contains("INVOICE") => "InvoiceDtoV1",
        _ if name.contains("USER") => "UserDtoV1",
        _ if name.contains("APPROVAL") => "ApprovalRequestDtoV1",
        _ if name.contains("BALANCE") => "BalanceDtoV1",
        _ if name.contains("EXPENSE") => "ExpenseDtoV1",
        _ if name.contains("ASSIGNMENT") => "AssignmentDtoV1",
        other => panic!("the test has no expectation for {other}"),
    })
}

#[test]
fn every_event_decodes_to_its_payload_type() {
    let doc = contract_json();
    let mut typed = 0;
    for event in WebhookEvent::ALL {
        match expected_schema(&event) {
            Some(schema) => {
                let body = sample(&doc, &json!({ "$ref": format!("#/components/schemas/{schema}") }), 0);
                let d = decode(&event, &body);
                assert!(d.payload.is_typed(), "{event}: a {schema}-shaped body did not decode");
                let variant = format!("{:?}", d.payload);
                let stem = schema.trim_end_matches("DtoV1").trim_end_matches("WithRates");
                assert!(variant.starts_with(stem), "{event} decoded as {}", &variant[..variant.len().min(40)]);
                let name = event.as_str();
                let expected_change = if name.starts_with("NEW_")
                    || name.ends_with("_CREATED")
                    || name == "USER_JOINED_WORKSPACE"
                    || name == "TIME_OFF_REQUESTED"
                {
                    Change::Created
                } else if name.ends_with("_DELETED") || name == "USER_DELETED_FROM_WORKSPACE" {
                    Change::Deleted
                } else {
                    Change::Updated
                };
                assert_eq!(d.change, expected_change, "{event}");
                typed += 1;
            }
            None => assert!(matches!(decode(&event, &json!({ "a": 1 })).payload, WebhookPayload::Raw(_)), "{event}"),
        }
        // A body that fits nothing is kept, not rejected.
        assert!(matches!(decode(&event, &json!([1, 2])).payload, WebhookPayload::Raw(v) if v == json!([1, 2])));
    }
    assert_eq!(typed, 45, "45 of the 50 events have a typed payload");
    let unknown = decode(&WebhookEvent::Unknown("INVOICE_PAID".into()), &json!({ "id": 1 }));
    assert!(matches!(unknown.payload, WebhookPayload::Raw(v) if v == json!({ "id": 1 })));
    assert_eq!(unknown.change, Change::Other);
}

/// Records each delivery the handler sees: (event, typed payload?).
#[derive(Default)]
struct Seen(std::sync::Mutex<Vec<(String, String, bool)>>);

impl clockify_gateway::AddonHooks for Seen {
    fn on_webhook<'a>(
        &'a self,
        _ctx: &'a clockify_gateway::AddonContext,
        d: &'a clockify_gateway::WebhookDelivery,
    ) -> clockify_gateway::hooks::HandlerFuture<'a> {
        let variant = format!("{:?}", d.payload).split('(').next().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push((d.event.to_string(), variant, d.payload.is_typed()));
        Box::pin(async { Ok(()) })
    }
}

/// Each of the 50 events: a signed delivery over HTTP is accepted, decoded to
/// its type and reaches the handler exactly once. Manifest events carry
/// add-on tokens from INSTALLED; the others carry REST-style tokens
/// (`type: "access"`) stored as registration would store them.
#[tokio::test]
async fn every_event_is_accepted_decoded_and_handled_once_over_http() {
    use crate::gateway_support::{Backend, TestGateway, config_for};
    let doc = contract_json();
    let seen = std::sync::Arc::new(Seen::default());
    let gw = TestGateway::start_with_hooks(config_for(Backend::Sqlite).await, seen.clone()).await;
    let manifest_events: Vec<&str> = clockify_gateway::addon::STOCK.manifest_webhooks.iter().map(|e| e.as_str()).collect();
    let (_, manifest_tokens) = gw.install("ws1", "a1", &manifest_events).await;
    for (i, event) in WebhookEvent::ALL.iter().enumerate() {
        let token = match manifest_tokens.iter().find(|(e, _)| e == event.as_str()) {
            Some((_, t)) => t.clone(),
            None => {
                let t = gw.sign(&json!({ "iss": "clockify", "type": "access", "sub": "u1", "workspaceId": "ws1", "hook": i }));
                gw.state.installations.store_registered_webhook("ws1", event.as_str(), &format!("wh{i}"), &t).await.unwrap();
                t
            }
        };
        let mut body = match expected_schema(event) {
            Some(schema) => sample(&doc, &json!({ "$ref": format!("#/components/schemas/{schema}") }), 0),
            None => json!({ "note": "untyped" }),
        };
        body["workspaceId"] = json!("ws1");
        let r = gw.deliver(event.as_str(), &token, &body).await;
        assert_eq!(r.status(), 200, "{event}: {}", r.text().await.unwrap_or_default());
    }
    for _ in 0..400 {
        if seen.0.lock().unwrap().len() >= 50 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 50, "each event handled exactly once");
    for event in WebhookEvent::ALL {
        let (_, variant, typed) = seen.iter().find(|(e, _, _)| e == event.as_str()).unwrap_or_else(|| panic!("{event} not handled"));
        match expected_schema(&event) {
            Some(schema) => {
                assert!(typed, "{event} reached the handler untyped");
                assert!(schema.starts_with(variant.as_str()), "{event}: {variant} for {schema}");
            }
            None => assert!(!typed, "{event}"),
        }
    }
}
