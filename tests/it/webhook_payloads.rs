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
        "TIME_ENTRY_SPLIT" | "USERS_INVITED_TO_WORKSPACE" | "LIMITED_USERS_ADDED_TO_WORKSPACE" | "COST_RATE_UPDATED"
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
                let expected_change = if name.starts_with("NEW_") || name.ends_with("_CREATED") || name == "USER_JOINED_WORKSPACE" || name == "TIME_OFF_REQUESTED" {
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
