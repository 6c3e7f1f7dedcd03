//! The checks a flow passes before it is saved, each problem reported with
//! its JSON pointer into the flow document (as the explorer reports its
//! input's): events the add-on subscribes to; conditions that can be
//! evaluated; operations of the catalog whose scope the manifest declares;
//! templates that refer to something (an earlier step, a member the event's
//! payload or the earlier step's answer has, a setting the manifest declares,
//! the workspace); and
//! every value that has no template checked against the operation's schemas.

use std::collections::BTreeSet;

use clockify_client::WebhookEvent;
use clockify_client::catalog::OPERATIONS;
use serde_json::{Map, Value};

use super::conditions;
use super::model::{Condition, FlowDefinition, Op, Step};
use super::templates::{self, Alternative, ROOTS};
use crate::addon::AddonManifest;
use crate::error::Violation;
use crate::explorer::{self, validate::Input};

fn violation(pointer: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation { pointer: pointer.into(), message: message.into() }
}

/// The components schema an event's payload is (Clockify sends the REST
/// API's entity DTOs, see `crate::events`); `None` where no typed payload is known.
pub fn payload_schema(event: &WebhookEvent) -> Option<&'static str> {
    use WebhookEvent as E;
    Some(match event {
        E::NewProject | E::ProjectUpdated | E::ProjectDeleted => "ProjectDtoV1",
        E::NewTask | E::TaskUpdated | E::TaskDeleted => "TaskDtoV1",
        E::NewClient | E::ClientUpdated | E::ClientDeleted => "ClientDtoV1",
        E::NewTag | E::TagUpdated | E::TagDeleted => "TagDtoV1",
        E::NewTimerStarted
        | E::NewTimeEntry
        | E::TimerStopped
        | E::TimeEntryUpdated
        | E::TimeEntryRestored
        | E::TimeEntryDeleted => "TimeEntryWithRatesDtoV1",
        E::NewInvoice | E::InvoiceUpdated => "InvoiceDtoV1",
        E::UserJoinedWorkspace
        | E::UserDeletedFromWorkspace
        | E::UserDeactivatedOnWorkspace
        | E::UserActivatedOnWorkspace
        | E::UserEmailChanged
        | E::UserUpdated => "UserDtoV1",
        E::UserGroupCreated | E::UserGroupUpdated | E::UserGroupDeleted => "UserGroupDtoV1",
        E::NewApprovalRequest | E::ApprovalRequestStatusUpdated => "ApprovalRequestDtoV1",
        E::TimeOffRequested
        | E::TimeOffRequestApproved
        | E::TimeOffRequestRejected
        | E::TimeOffRequestWithdrawn
        | E::TimeOffRequestUpdated => "TimeOffRequestDtoV1",
        E::BalanceUpdated => "BalanceDtoV1",
        E::ExpenseCreated | E::ExpenseUpdated | E::ExpenseRestored | E::ExpenseDeleted => "ExpenseDtoV1",
        E::AssignmentCreated | E::AssignmentUpdated | E::AssignmentPublished | E::AssignmentDeleted => "AssignmentDtoV1",
        _ => return None,
    })
}

fn resolve(schema: &Value) -> &Value {
    let mut here = schema;
    for _ in 0..16 {
        match here.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(p) => match explorer::validate::contract().pointer(p) {
                Some(target) => here = target,
                None => break,
            },
            None => break,
        }
    }
    here
}

fn schema_name(schema: &Value) -> String {
    schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()).unwrap_or("the schema").to_owned()
}

/// Why `members` cannot be read from a value of `schema`, if the schema
/// says so. Where the schema does not say (free-form objects, unions), any
/// member is accepted.
pub fn members_problem(schema: &Value, members: &[String], written: &str) -> Option<String> {
    let mut here = schema.clone();
    for (i, m) in members.iter().enumerate() {
        let name = schema_name(&here);
        let s = resolve(&here).clone();
        if s.get("allOf").is_some() || s.get("oneOf").is_some() || s.get("anyOf").is_some() {
            return None;
        }
        let ty = s.get("type").and_then(Value::as_str);
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            match props.get(m) {
                Some(p) => here = p.clone(),
                None if s.get("additionalProperties").is_some_and(|a| a != &Value::Bool(false)) => return None,
                None => {
                    let known: Vec<&str> = props.keys().map(String::as_str).collect();
                    return Some(format!("`{written}`: {name} has no member `{m}` (it has {})", known.join(", ")));
                }
            }
        } else if ty == Some("array") {
            if m.parse::<usize>().is_err() {
                return Some(format!("`{written}`: `{}` is a list; `{m}` is not an index", members[..i].join(".")));
            }
            here = s.get("items").cloned().unwrap_or(Value::Null);
        } else if let Some(t @ ("string" | "integer" | "number" | "boolean")) = ty {
            return Some(format!("`{written}`: `{}` is a {t}; it has no member `{m}`", members[..i].join(".")));
        } else {
            return None;
        }
    }
    None
}

/// The settings a template or condition may name, as the manifest declares them.
enum DeclaredSettings {
    /// The manifest has no settings.
    None,
    /// A custom settings page: its ids are the add-on's own, not known here.
    Page,
    /// A settings tree: these ids.
    Ids(Vec<String>),
}

impl DeclaredSettings {
    fn of(manifest: &AddonManifest) -> Self {
        let Ok(m) = serde_json::from_str::<Value>(manifest.manifest_json) else { return Self::Page };
        match m.get("settings") {
            None | Some(Value::Null) => Self::None,
            Some(Value::String(_)) => Self::Page,
            Some(tree) => {
                let mut ids = Vec::new();
                collect_setting_ids(tree, &mut ids);
                Self::Ids(ids)
            }
        }
    }
}

/// Tabs and groups have ids too; a setting is what also has a `type`.
fn collect_setting_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let (Some(Value::String(id)), Some(_)) = (o.get("id"), o.get("type")) {
                out.push(id.clone());
            }
            o.values().for_each(|v| collect_setting_ids(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_setting_ids(v, out)),
        _ => {}
    }
}

/// Which earlier steps a reference may name, and what they answer.
struct Scope<'a> {
    /// Earlier steps, in order.
    earlier: &'a [Step],
    /// All step ids of the flow (to tell "later" from "unknown").
    all: &'a [Step],
    events: &'a [WebhookEvent],
    settings: &'a DeclaredSettings,
}

/// Checks one reference (root and members); `written` is how it was written.
fn check_reference(segments: &[String], scope: &Scope<'_>, written: &str) -> Option<String> {
    let root = segments[0].as_str();
    let rest = &segments[1..];
    match root {
        "payload" => {
            for e in scope.events {
                if let Some(name) = payload_schema(e) {
                    let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
                    if let Some(p) = members_problem(&schema, rest, written) {
                        return Some(format!("{p} (the payload of {})", e.as_str()));
                    }
                }
            }
            None
        }
        "settings" if rest.is_empty() => Some(format!("`{written}`: name a setting, e.g. `settings.<id>`")),
        "settings" => match scope.settings {
            DeclaredSettings::Page => None,
            DeclaredSettings::Ids(ids) if ids.contains(&rest[0]) => None,
            DeclaredSettings::Ids(ids) => {
                Some(format!("`{written}`: the add-on's manifest declares no setting `{}` (it has {})", rest[0], ids.join(", ")))
            }
            DeclaredSettings::None => Some(format!("`{written}`: the add-on's manifest declares no settings (addon.toml `settings`)")),
        },
        "workspace" if rest.len() == 1 && rest[0] == "id" => None,
        "workspace" => Some(format!("`{written}`: the workspace has only `workspace.id`")),
        "steps" => {
            let Some(id) = rest.first() else { return Some(format!("`{written}`: name a step, e.g. `steps.<id>.body`")) };
            let Some(step) = scope.earlier.iter().find(|s| &s.id == id) else {
                return Some(if scope.all.iter().any(|s| &s.id == id) {
                    format!("`{written}`: step `{id}` does not run before this one; refer only to earlier steps")
                } else {
                    format!("`{written}`: the flow has no step `{id}`")
                });
            };
            match rest.get(1).map(String::as_str) {
                Some("status") if rest.len() == 2 => None,
                Some("body") => {
                    let op = explorer::by_id(&step.operation_id).ok()?;
                    let response = explorer::catalog_entry(op).response.as_ref()?;
                    match response.schema {
                        None => Some(format!("`{written}`: {} answers without a body", step.operation_id)),
                        Some(schema) => {
                            let schema: Value = serde_json::from_str(schema).ok()?;
                            members_problem(&schema, &rest[2..], written)
                        }
                    }
                }
                _ => Some(format!("`{written}`: a step's answer has `body` and `status`")),
            }
        }
        _ => Some(format!("`{written}` starts with `{root}`; a reference starts with one of {}", ROOTS.join(", "))),
    }
}

fn check_condition(c: &Condition, pointer: &str, scope: &Scope<'_>, out: &mut Vec<Violation>) {
    let here = |m: &str| format!("{pointer}/{m}");
    if !c.pointer.starts_with('/') {
        out.push(violation(here("pointer"), "a JSON pointer starts with `/`, e.g. `/payload/projectId`"));
    } else {
        let segments: Vec<String> =
            c.pointer[1..].split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect::<Vec<_>>();
        if let Some(p) = check_reference(&segments, scope, &c.pointer) {
            out.push(violation(here("pointer"), p));
        }
    }
    match (c.op, c.value.as_ref()) {
        (Op::Equals | Op::NotEquals, None) => out.push(violation(here("value"), "required: the value to compare with")),
        (Op::In, Some(Value::Array(_))) => {}
        (Op::In, _) => out.push(violation(here("value"), "`in` takes a list of values")),
        (Op::Exists, None | Some(Value::Bool(_))) => {}
        (Op::Exists, Some(_)) => out.push(violation(here("value"), "`exists` takes true (the default) or false")),
        (Op::Matches, Some(Value::String(p))) => {
            if let Err(e) = conditions::regex(p) {
                out.push(violation(here("value"), format!("not a regular expression: {e}")));
            }
        }
        (Op::Matches, _) => out.push(violation(here("value"), "`matches` takes a regular expression")),
        _ => {}
    }
}

fn valid_step_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_step(
    i: usize,
    step: &Step,
    flow: &FlowDefinition,
    events: &[WebhookEvent],
    manifest: &AddonManifest,
    settings: &DeclaredSettings,
    out: &mut Vec<Violation>,
) {
    let at = format!("/steps/{i}");
    if !valid_step_id(&step.id) {
        out.push(violation(format!("{at}/id"), "a step id is 1 to 64 letters, digits, `_` or `-`"));
    } else if flow.steps[..i].iter().any(|s| s.id == step.id) {
        out.push(violation(format!("{at}/id"), format!("another step is already `{}`", step.id)));
    }
    let scope = Scope { earlier: &flow.steps[..i], all: &flow.steps, events, settings };
    if let Some(c) = &step.condition {
        check_condition(c, &format!("{at}/if"), &scope, out);
    }
    // Templates: every reference refers to something.
    let mut found = Vec::new();
    for (name, v) in &step.path {
        templates::expressions_in(v, &format!("/path/{}", templates::escape(name)), &mut found);
    }
    for (name, v) in &step.query {
        templates::expressions_in(v, &format!("/query/{}", templates::escape(name)), &mut found);
    }
    if let Some(b) = &step.body {
        templates::expressions_in(b, "/body", &mut found);
    }
    for (pointer, expr) in &found {
        match expr {
            Err(e) => out.push(violation(format!("{at}{pointer}"), e.clone())),
            Ok(e) => {
                for alt in &e.alternatives {
                    if let Alternative::Reference(segments) = alt
                        && let Some(p) = check_reference(segments, &scope, &segments.join("."))
                    {
                        out.push(violation(format!("{at}{pointer}"), p));
                    }
                }
            }
        }
    }
    // The operation, its scope, then its schemas.
    let op = match explorer::by_id(&step.operation_id) {
        Ok(op) => op,
        Err(e) => return out.push(violation(format!("{at}/operationId"), e.to_string())),
    };
    let entry = explorer::catalog_entry(op);
    if entry.body.is_some_and(|b| b.content_type != "application/json") {
        return out.push(violation(format!("{at}/operationId"), format!("{} takes a {} body; flows send JSON bodies only", entry.id, entry.body.map_or("", |b| b.content_type))));
    }
    if let Some(scope) = entry.scope
        && !manifest.declared_scopes.contains(&scope)
    {
        out.push(violation(
            format!("{at}/operationId"),
            format!("{} needs the scope {}, which the add-on's manifest does not declare", entry.id, scope.as_str()),
        ));
    }
    let mut path: Map<String, Value> = step.path.clone().into_iter().collect();
    if path.remove("workspaceId").is_some() {
        out.push(violation(format!("{at}/path/workspaceId"), "workspaceId is always the flow's own workspace; leave it out"));
    }
    let input = Input { path, query: step.query.clone().into_iter().collect(), body: step.body.clone() };
    // Where a template stands, the value is known only at run time.
    let templated: BTreeSet<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
    let unknown_now = |pointer: &str| templated.iter().any(|t| pointer == *t || pointer.starts_with(&format!("{t}/")));
    match explorer::validate::validate(entry_index(entry.id), input, "flow-workspace") {
        Ok(_) => {}
        Err(explorer::Invalid::Violations(v)) => {
            out.extend(v.into_iter().filter(|v| !unknown_now(&v.pointer)).map(|v| violation(format!("{at}{}", v.pointer), v.message)))
        }
        Err(explorer::Invalid::Internal(m)) => out.push(violation(format!("{at}/operationId"), m)),
    }
}

fn entry_index(id: &str) -> usize {
    OPERATIONS.iter().position(|o| o.id == id).unwrap_or_default()
}

/// Every problem of `flow` for an add-on with `manifest`; empty when it may be saved.
pub fn check(flow: &FlowDefinition, manifest: &AddonManifest) -> Vec<Violation> {
    let mut out = Vec::new();
    if flow.name.trim().is_empty() {
        out.push(violation("/name", "a flow needs a name"));
    }
    let mut events = Vec::new();
    if flow.trigger.events.is_empty() {
        out.push(violation("/trigger/events", "name at least one webhook event"));
    }
    for (i, name) in flow.trigger.events.iter().enumerate() {
        match WebhookEvent::from_wire(name) {
            Some(e) if manifest.manifest_webhooks.contains(&e) || manifest.rest_webhooks.contains(&e) => events.push(e),
            Some(_) => out.push(violation(
                format!("/trigger/events/{i}"),
                format!("the add-on does not subscribe to {name} (addon.toml `subscribe`), so it never arrives"),
            )),
            None => out.push(violation(format!("/trigger/events/{i}"), format!("`{name}` is not a webhook event of the contract"))),
        }
    }
    let settings = DeclaredSettings::of(manifest);
    let scope = Scope { earlier: &[], all: &flow.steps, events: &events, settings: &settings };
    for (i, c) in flow.trigger.conditions.iter().enumerate() {
        check_condition(c, &format!("/trigger/conditions/{i}"), &scope, &mut out);
    }
    if flow.steps.is_empty() {
        out.push(violation("/steps", "a flow needs at least one step"));
    }
    for (i, step) in flow.steps.iter().enumerate() {
        check_step(i, step, flow, &events, manifest, &settings, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{WebhookPayload, decode};

    /// The payload schemas agree with the inbox's event table: an event
    /// whose (empty) body decodes to a typed payload has that type's schema.
    #[test]
    fn every_typed_event_has_its_payloads_schema() {
        for event in WebhookEvent::ALL {
            let decoded = decode(&event, &serde_json::json!({}));
            let want = match decoded.payload {
                WebhookPayload::Project(_) => Some("ProjectDtoV1"),
                WebhookPayload::Task(_) => Some("TaskDtoV1"),
                WebhookPayload::Client(_) => Some("ClientDtoV1"),
                WebhookPayload::Tag(_) => Some("TagDtoV1"),
                WebhookPayload::TimeEntry(_) => Some("TimeEntryWithRatesDtoV1"),
                WebhookPayload::User(_) => Some("UserDtoV1"),
                WebhookPayload::UserGroup(_) => Some("UserGroupDtoV1"),
                WebhookPayload::Invoice(_) => Some("InvoiceDtoV1"),
                WebhookPayload::Expense(_) => Some("ExpenseDtoV1"),
                WebhookPayload::ApprovalRequest(_) => Some("ApprovalRequestDtoV1"),
                WebhookPayload::TimeOffRequest(_) => Some("TimeOffRequestDtoV1"),
                WebhookPayload::Balance(_) => Some("BalanceDtoV1"),
                WebhookPayload::Assignment(_) => Some("AssignmentDtoV1"),
                WebhookPayload::Raw(_) => None,
            };
            if want.is_some() {
                assert_eq!(payload_schema(&event), want, "{}", event.as_str());
            }
        }
    }

    #[test]
    fn members_are_followed_through_refs_and_lists() {
        let tags = serde_json::json!({ "type": "array", "items": { "$ref": "#/components/schemas/TagDtoV1" } });
        let m = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(members_problem(&tags, &m("0.id"), "x"), None);
        assert!(members_problem(&tags, &m("0.nme"), "x").is_some_and(|p| p.contains("TagDtoV1 has no member `nme`")));
        assert!(members_problem(&tags, &m("id"), "x").is_some_and(|p| p.contains("not an index")));
        assert!(members_problem(&tags, &m("0.id.x"), "x").is_some_and(|p| p.contains("is a string")));
    }

    /// A setting is named as the manifest declares it: one of its tree's
    /// ids, any id behind a custom settings page, none without settings.
    #[test]
    fn settings_are_checked_against_the_manifests_ids() {
        let flow: FlowDefinition = serde_json::from_value(serde_json::json!({
            "name": "f",
            "trigger": { "events": ["NEW_TAG"], "conditions": [{ "pointer": "/settings/tagNam", "op": "exists" }] },
            "steps": [{ "id": "s", "operationId": "createNewTag", "body": { "name": "{{settings.tagName}}" } }]
        }))
        .expect("a flow document");
        let with = |settings: serde_json::Value| -> Vec<Violation> {
            let json = serde_json::json!({ "key": "k", "settings": settings }).to_string();
            let manifest = AddonManifest {
                manifest_json: Box::leak(json.into_boxed_str()),
                manifest_webhooks: &[WebhookEvent::NewTag],
                declared_scopes: &[clockify_client::Scope::TagWrite],
                ..*crate::addon::STOCK
            };
            check(&flow, &manifest)
        };
        let tree = serde_json::json!({ "tabs": [{ "id": "t", "name": "T", "settings": [{ "id": "tagName", "name": "Tag", "type": "TXT", "value": "x" }],
            "groups": [{ "id": "g", "title": "G", "settings": [{ "id": "other", "name": "O", "type": "CHECKBOX", "value": true }] }] }] });
        let problems = with(tree);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].pointer, "/trigger/conditions/0/pointer");
        assert!(problems[0].message.contains("declares no setting `tagNam` (it has tagName, other)"), "{}", problems[0].message);
        assert!(with(serde_json::json!("/settings-page")).is_empty(), "a custom page's ids are the add-on's own");
        let none = with(serde_json::Value::Null);
        assert_eq!(none.iter().map(|v| v.pointer.as_str()).collect::<Vec<_>>(), ["/trigger/conditions/0/pointer", "/steps/0/body/name"]);
        assert!(none.iter().all(|v| v.message.contains("declares no settings")), "{none:?}");
    }
}
