//! Real-shaped responses of at least one operation per tag decode through the
//! typed client. The bodies are built from the contract's own schemas
//! (every property filled), so a type that cannot hold what the contract
//! describes fails here.

use clockify_client::types;
use clockify_testkit::FakeClockify;
use serde_json::{Map, Value, json};

use crate::support::{client_for, contract_json};

/// A JSON value with every property of `schema` filled in.
pub fn sample(doc: &Value, schema: &Value, depth: usize) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        return sample(doc, &doc["components"]["schemas"][name], depth);
    }
    if let Some(first) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(|v| v.get(0)) {
        return sample(doc, first, depth);
    }
    if let Some(e) = schema.get("enum").and_then(|e| e.get(0)) {
        return e.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") | None if schema.get("properties").is_some() => {
            let mut out = Map::new();
            if depth < 4 {
                for (k, v) in schema["properties"].as_object().unwrap() {
                    out.insert(k.clone(), sample(doc, v, depth + 1));
                }
            }
            Value::Object(out)
        }
        Some("object") => json!({}),
        Some("array") if depth < 4 => json!([sample(doc, &schema["items"], depth + 1)]),
        Some("array") => json!([]),
        Some("integer") => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1).max(1)),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2024-01-02T03:04:05Z"),
            Some("date") => json!("2024-01-02"),
            _ => json!("5b715612b079875110791111"),
        },
        _ => json!({}),
    }
}

fn operation<'d>(doc: &'d Value, operation_id: &str) -> (&'d str, &'d str, &'d Value) {
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("operationId").and_then(Value::as_str) == Some(operation_id) {
                return (path, method, op);
            }
        }
    }
    panic!("{operation_id} not in the contract");
}

/// The path template, method and response body the contract describes for `operation_id`.
fn body_for(doc: &Value, operation_id: &str) -> (String, String, Value) {
    let (path, method, op) = operation(doc, operation_id);
    let (_, resp) = op["responses"].as_object().unwrap().iter().find(|(s, _)| s.starts_with('2')).unwrap();
    let schema = &resp["content"]["application/json"]["schema"];
    (path.to_string(), method.to_uppercase(), sample(doc, schema, 0))
}

/// A request body for `operation_id`, typed, built from its schema.
fn request_body<T: serde::de::DeserializeOwned>(doc: &Value, operation_id: &str) -> T {
    let (_, _, op) = operation(doc, operation_id);
    let v = sample(doc, &op["requestBody"]["content"]["application/json"]["schema"], 0);
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("sample body of {operation_id} ({v}) does not deserialize: {e}"))
}

macro_rules! decodes {
    ($fake:expr, $doc:expr, $group:literal, $id:literal, |$c:ident| $call:expr) => {{
        let (template, method, body) = body_for(&$doc, $id);
        let path = template.replace("{workspaceId}", "ws1").replace(|c: char| c == '{' || c == '}', "");
        let path = path
            .replace("policyId", "pol1")
            .replace("projectId", "prj1")
            .replace("addonId", "add1")
            .replace("/id", "/sr1")
            .replace("userId", "u1")
            .replace("assignmentId", "as1")
            .replace("requestId", "rq1");
        $fake.on($group, &method, &path, 200, body.clone());
        let $c = client_for(&$fake, None);
        let typed = $call.await.unwrap_or_else(|e| panic!("{} did not decode: {}", $id, clockify_client::ClockifyError::from(e)));
        let back = serde_json::to_value(typed.into_inner()).unwrap();
        assert!(back != Value::Null, "{} decoded to nothing", $id);
        1usize
    }};
}

#[tokio::test]
async fn one_operation_per_tag_decodes() {
    let doc = contract_json();
    let fake = FakeClockify::start().await;
    let mut tags = 0;
    tags += decodes!(fake, doc, "api", "getApprovalRequests", |c| c.get_approval_requests().workspace_id("ws1").send());
    tags +=
        decodes!(fake, doc, "api", "getBalancesForPolicy", |c| c.get_balances_for_policy().workspace_id("ws1").policy_id("pol1").send());
    tags += decodes!(fake, doc, "pto", "getPtoBalancesForPolicy", |c| c
        .get_pto_balances_for_policy()
        .workspace_id("ws1")
        .policy_id("pol1")
        .send());
    tags += decodes!(fake, doc, "api", "getClients", |c| c.get_clients().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "ofWorkspace", |c| c.of_workspace().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getExpenses", |c| c.get_expenses().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getUserGroups", |c| c.get_user_groups().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getHolidays", |c| c.get_holidays().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getInvoices", |c| c.get_invoices().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "findPoliciesForWorkspace", |c| c.find_policies_for_workspace().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "pto", "findPtoPoliciesForWorkspace", |c| c.find_pto_policies_for_workspace().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getProjects", |c| c.get_projects().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "reports", "getSharedReportsV1", |c| c.get_shared_reports_v1().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getTags", |c| c.get_tags().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getTasks", |c| c.get_tasks().workspace_id("ws1").project_id("prj1").send());
    tags += decodes!(fake, doc, "api", "getInProgressTimeEntries", |c| c.get_in_progress_time_entries().workspace_id("ws1").send());
    tags += decodes!(fake, doc, "api", "getLoggedUser", |c| c.get_logged_user().send());
    tags += decodes!(fake, doc, "api", "getAddonWebhooks", |c| c.get_addon_webhooks().workspace_id("ws1").addon_id("add1").send());
    tags += decodes!(fake, doc, "api", "getWorkspacesOfUser", |c| c.get_workspaces_of_user().send());
    tags += decodes!(fake, doc, "api", "getAllAssignments", |c| c
        .get_all_assignments()
        .workspace_id("ws1")
        .start("2024-01-01T00:00:00Z")
        .end("2024-01-31T00:00:00Z")
        .send());
    tags += decodes!(fake, doc, "api", "getCreatedEntityInfo", |c| c
        .get_created_entity_info()
        .workspace_id("ws1")
        .type_(vec!["PROJECT".to_string()])
        .send());
    tags += decodes!(fake, doc, "reports", "generateDetailedReportV1", |c| c
        .generate_detailed_report_v1()
        .workspace_id("ws1")
        .body(request_body::<types::ExpenseReportFilterV1>(&doc, "generateDetailedReportV1"))
        .send());
    tags += decodes!(fake, doc, "reports", "generateDetailedReport", |c| c
        .generate_detailed_report()
        .workspace_id("ws1")
        .body(request_body::<types::DetailedReportFilterV1>(&doc, "generateDetailedReport"))
        .send());
    tags += decodes!(fake, doc, "reports", "generateAttendanceReport", |c| c
        .generate_attendance_report()
        .workspace_id("ws1")
        .body(request_body::<types::AttendanceReportFilterV1>(&doc, "generateAttendanceReport"))
        .send());
    tags += decodes!(fake, doc, "api", "getProjectTotals", |c| c
        .get_project_totals()
        .workspace_id("ws1")
        .start("2024-01-01T00:00:00Z")
        .end("2024-01-31T00:00:00Z")
        .send());
    tags += decodes!(fake, doc, "api", "getTimeOffRequest", |c| c
        .get_time_off_request()
        .workspace_id("ws1")
        .body(request_body::<types::GetTimeOffRequestsV1Request>(&doc, "getTimeOffRequest"))
        .send());
    tags += decodes!(fake, doc, "pto", "getPtoTimeOffRequests", |c| c
        .get_pto_time_off_requests()
        .workspace_id("ws1")
        .body(request_body::<types::PtoGetTimeOffRequestsV1Request>(&doc, "getPtoTimeOffRequests"))
        .send());
    tags += decodes!(fake, doc, "api", "removeMember", |c| c.remove_member().workspace_id("ws1").user_id("u1").send());
    // The settings tree nests deeper than `sample` fills; client_addon.rs decodes it.
    tags += decodes!(fake, doc, "api", "getAddonUser", |c| c.get_addon_user().workspace_id("ws1").send());
    // Every tag of the contract is covered, counted from the contract itself.
    let mut all_tags: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op.get("tags")?.get(0)?.as_str())
        .collect();
    all_tags.sort();
    all_tags.dedup();
    assert_eq!(tags, all_tags.len(), "one decoding case per tag: {all_tags:?}");
}
