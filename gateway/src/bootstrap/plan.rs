//! Which operations a bootstrap reads, derived from the catalog, never from
//! a hand-written list of endpoints: GET operations scoped to a workspace that
//! page or return an array, whose scope the manifest declares. Operations
//! whose path needs another id are fanned out from the rows of the list that
//! provides it; the name says which (`projectId` → the `/projects` list),
//! except where a small reviewed table says otherwise. Everything else is
//! reported as skipped, with the reason.

use clockify_client::Scope;
use clockify_client::catalog::{Operation, ParamLocation, operations};

/// A list the bootstrap reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub operation: &'static Operation,
    /// Set when the path needs an id from another list's rows.
    pub parent: Option<ParentRef>,
    /// The largest page the operation accepts (the contract's maximum, else the default).
    pub page_size: u32,
    /// Query parameters the contract requires, with the value the bootstrap sends.
    pub fixed_query: &'static [(&'static str, &'static str)],
    /// The snapshot's name for the rows (`project`, `time_entry`, ...), shared
    /// with the webhook mirror so webhooks keep the same rows current.
    pub entity_type: String,
    /// The rows describe the parent's relation to them (a user's managers), so
    /// the same row under two parents is two snapshot rows: `parentId/rowId`.
    pub keyed_by_parent: bool,
    /// Query parameters the deployment's choices add (`start` of time entries).
    pub chosen_query: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentRef {
    /// The path parameter filled from each parent row's `id`.
    pub path_param: &'static str,
    /// The operation whose rows provide it.
    pub from_operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The manifest does not declare the scope the operation needs.
    ScopeNotDeclared(Scope),
    /// Required query parameters the bootstrap cannot choose (a date range, a type).
    NeedsQuery(Vec<&'static str>),
    /// A path parameter no planned list provides.
    NoListProvides(&'static str),
    /// Deprecated upstream; its replacement is read instead.
    Deprecated,
    /// Its entity type is not in BOOTSTRAP_INCLUDE.
    NotIncluded(String),
    /// Its entity type is in BOOTSTRAP_EXCLUDE.
    Excluded(String),
    /// The list that provides its parents is not read.
    ParentNotRead(&'static str),
}

/// What a deployment chose to read (BOOTSTRAP_INCLUDE, BOOTSTRAP_EXCLUDE,
/// BOOTSTRAP_TIME_ENTRIES_SINCE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// `start` of time-entry lists (ISO 8601), when the history is bounded.
    pub time_entries_start: Option<String>,
}

impl Plan {
    /// The plan with `choices` applied: lists of types not included or
    /// excluded, and those whose parent list is then not read, are skipped
    /// with the reason; time-entry lists get their `start`.
    pub fn with_choices(mut self, choices: &Choices) -> Plan {
        let reason = |ty: &str| {
            if !choices.include.is_empty() && !choices.include.iter().any(|t| t == ty) {
                Some(SkipReason::NotIncluded(ty.to_owned()))
            } else if choices.exclude.iter().any(|t| t == ty) {
                Some(SkipReason::Excluded(ty.to_owned()))
            } else {
                None
            }
        };
        let mut kept = Vec::new();
        for step in std::mem::take(&mut self.steps) {
            if let Some(why) = reason(&step.entity_type) {
                self.skipped.push(Skipped { operation: step.operation.id, reason: why });
            } else {
                kept.push(step);
            }
        }
        let read: Vec<&'static str> = kept.iter().filter(|s| s.parent.is_none()).map(|s| s.operation.id).collect();
        for mut step in kept {
            if let Some(parent) = step.parent.as_ref().filter(|p| !read.contains(&p.from_operation)) {
                self.skipped.push(Skipped { operation: step.operation.id, reason: SkipReason::ParentNotRead(parent.from_operation) });
                continue;
            }
            if let Some(start) = &choices.time_entries_start
                && step.entity_type == "time_entry"
                && step.operation.params.iter().any(|p| p.location == ParamLocation::Query && p.name == "start")
            {
                step.chosen_query.push(("start", start.clone()));
            }
            self.steps.push(step);
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub operation: &'static str,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Parents before their children.
    pub steps: Vec<Step>,
    pub skipped: Vec<Skipped>,
}

/// Path parameters whose name does not say which list provides them.
/// Reviewed by hand.
const PARENT_LISTS: &[(&str, &str)] = &[("policyId", "findPoliciesForWorkspace")];

/// Entity types the path does not say, or says wrongly (the last literal
/// segment of a balance path is `policy`). Reviewed by hand; a test checks
/// that one entity type never holds two different row schemas.
const ENTITY_TYPES: &[(&str, &str)] = &[
    ("getInProgressTimeEntries", "time_entry"),
    ("getCategories", "expense_category"),
    ("getPaymentsForInvoice", "invoice_payment"),
    ("findPoliciesForWorkspace", "time_off_policy"),
    ("getBalancesForPolicy", "balance"),
    ("getBalancesForUser", "balance"),
    ("getManagersOfUser", "user_manager"),
    ("getCustomFieldsOfProject", "project_custom_field"),
];

/// Lists of a parent's relations rather than its own entities.
const KEYED_BY_PARENT: &[&str] = &["getManagersOfUser", "getCustomFieldsOfProject"];

/// The snapshot's entity type of an operation's rows: the reviewed table,
/// else the last literal path segment, singular, in snake case
/// (`/approval-requests` → `approval_request`).
pub fn entity_type_of(op: &Operation) -> String {
    if let Some((_, t)) = ENTITY_TYPES.iter().find(|(id, _)| *id == op.id) {
        return (*t).to_owned();
    }
    let segment = op.path.rsplit('/').find(|s| !s.starts_with('{') && !s.is_empty()).unwrap_or(op.id);
    let singular = if let Some(stem) = segment.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = segment.strip_suffix("ses") {
        format!("{stem}se")
    } else {
        segment.strip_suffix('s').unwrap_or(segment).to_owned()
    };
    singular.replace('-', "_")
}

/// Required query parameters with a value that reads everything. Reviewed by hand.
const QUERY_DEFAULTS: &[(&str, &[(&str, &str)])] = &[("getUsersOfWorkspace", &[("include-roles", "true")])];

fn is_list(op: &Operation) -> bool {
    if op.pagination.is_some() {
        return true;
    }
    op.response
        .and_then(|r| r.schema)
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        .is_some_and(|s| s.get("type").and_then(|t| t.as_str()) == Some("array"))
}

fn paging_params(op: &Operation) -> Vec<&'static str> {
    op.pagination.map(|p| vec![p.page, p.size]).unwrap_or_default()
}

/// The top-level list whose path ends with the plural of the parameter's stem.
fn list_by_name(param: &str, candidates: &[&'static Operation]) -> Option<&'static str> {
    if let Some((_, op)) = PARENT_LISTS.iter().find(|(p, _)| *p == param) {
        return Some(op);
    }
    let stem = param.strip_suffix("Id")?;
    let segment = format!("/{stem}s");
    candidates
        .iter()
        .find(|op| op.path.ends_with(&segment) && op.params.iter().filter(|p| p.location == ParamLocation::Path).count() == 1)
        .map(|op| op.id)
}

/// The bootstrap plan for an add-on declaring `scopes`.
pub fn plan(scopes: &[Scope], default_page_size: u32) -> Plan {
    let mut out = Plan::default();
    let mut candidates: Vec<&'static Operation> = Vec::new();
    for op in operations() {
        if op.method != "GET" || !op.path.starts_with("/v1/workspaces/{workspaceId}/") || !is_list(op) {
            continue;
        }
        if op.deprecated {
            out.skipped.push(Skipped { operation: op.id, reason: SkipReason::Deprecated });
            continue;
        }
        if let Some(scope) = op.scope.filter(|s| !scopes.contains(s)) {
            out.skipped.push(Skipped { operation: op.id, reason: SkipReason::ScopeNotDeclared(scope) });
            continue;
        }
        let defaults = QUERY_DEFAULTS.iter().find(|(id, _)| *id == op.id).map(|(_, d)| *d).unwrap_or(&[]);
        let paging = paging_params(op);
        let missing: Vec<&'static str> = op
            .params
            .iter()
            .filter(|p| p.location == ParamLocation::Query && p.required)
            .map(|p| p.name)
            .filter(|n| !paging.contains(n) && !defaults.iter().any(|(d, _)| d == n))
            .collect();
        if !missing.is_empty() {
            out.skipped.push(Skipped { operation: op.id, reason: SkipReason::NeedsQuery(missing) });
            continue;
        }
        candidates.push(op);
    }
    let top: Vec<&'static Operation> =
        candidates.iter().copied().filter(|op| op.params.iter().filter(|p| p.location == ParamLocation::Path).count() == 1).collect();
    let step = |op: &'static Operation, parent| Step {
        operation: op,
        parent,
        page_size: op.pagination.and_then(|p| p.max_size).unwrap_or(default_page_size),
        fixed_query: QUERY_DEFAULTS.iter().find(|(id, _)| *id == op.id).map(|(_, d)| *d).unwrap_or(&[]),
        entity_type: entity_type_of(op),
        keyed_by_parent: KEYED_BY_PARENT.contains(&op.id),
        chosen_query: Vec::new(),
    };
    out.steps.extend(top.iter().map(|op| step(op, None)));
    for op in candidates.iter().copied().filter(|op| !top.contains(op)) {
        let needs: Vec<&'static str> =
            op.params.iter().filter(|p| p.location == ParamLocation::Path && p.name != "workspaceId").map(|p| p.name).collect();
        // One level of fan-out: every other path parameter must come from one top-level list.
        match needs.as_slice() {
            [param] => match list_by_name(param, &top) {
                Some(from) => out.steps.push(step(op, Some(ParentRef { path_param: param, from_operation: from }))),
                None => out.skipped.push(Skipped { operation: op.id, reason: SkipReason::NoListProvides(param) }),
            },
            _ => {
                let param = needs.iter().copied().find(|p| list_by_name(p, &top).is_none()).unwrap_or("?");
                out.skipped.push(Skipped { operation: op.id, reason: SkipReason::NoListProvides(param) });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    const DECLARED_SCOPES: &[Scope] = crate::addon::STOCK.declared_scopes;

    #[test]
    fn choices_skip_types_with_their_reason_and_bound_time_entries() {
        let p = plan(DECLARED_SCOPES, 1000).with_choices(&Choices {
            include: Vec::new(),
            exclude: vec!["tag".into(), "user".into()],
            time_entries_start: Some("2026-09-05T00:00:00Z".into()),
        });
        assert!(step(&p, "getTags").is_none());
        assert_eq!(skipped(&p, "getTags"), Some(&SkipReason::Excluded("tag".into())));
        // Time entries are read per user: no users, no time entries.
        assert_eq!(skipped(&p, "getTimeEntries"), Some(&SkipReason::ParentNotRead("getUsersOfWorkspace")));
        let p = plan(DECLARED_SCOPES, 1000)
            .with_choices(&Choices { include: vec![], exclude: vec![], time_entries_start: Some("2026-09-05T00:00:00Z".into()) });
        let entries = step(&p, "getTimeEntries").expect("read");
        assert_eq!(entries.chosen_query, vec![("start", "2026-09-05T00:00:00Z".to_owned())]);
        assert!(step(&p, "getProjects").expect("read").chosen_query.is_empty());
        let only = plan(DECLARED_SCOPES, 1000).with_choices(&Choices { include: vec!["project".into()], ..Choices::default() });
        assert!(only.steps.iter().all(|s| s.entity_type == "project"), "{:?}", only.steps.iter().map(|s| &s.entity_type).collect::<Vec<_>>());
        assert_eq!(skipped(&only, "getClients"), Some(&SkipReason::NotIncluded("client".into())));
    }

    fn step<'a>(p: &'a Plan, id: &str) -> Option<&'a Step> {
        p.steps.iter().find(|s| s.operation.id == id)
    }
    fn skipped<'a>(p: &'a Plan, id: &str) -> Option<&'a SkipReason> {
        p.skipped.iter().find(|s| s.operation == id).map(|s| &s.reason)
    }

    #[test]
    fn the_stock_scopes_read_the_workspace_lists_and_fan_out_children() {
        let p = plan(DECLARED_SCOPES, 1000);
        assert!(step(&p, "getProjects").is_some_and(|s| s.parent.is_none() && s.page_size == 1000));
        assert_eq!(
            step(&p, "getTasks").and_then(|s| s.parent.clone()),
            Some(ParentRef { path_param: "projectId", from_operation: "getProjects" })
        );
        assert_eq!(step(&p, "getTimeEntries").and_then(|s| s.parent.as_ref().map(|r| r.from_operation)), Some("getUsersOfWorkspace"));
        assert_eq!(step(&p, "getPaymentsForInvoice").and_then(|s| s.parent.as_ref().map(|r| r.from_operation)), Some("getInvoices"));
        assert_eq!(
            step(&p, "getBalancesForPolicy").and_then(|s| s.parent.as_ref().map(|r| r.from_operation)),
            Some("findPoliciesForWorkspace")
        );
        // The contract's maximum wins over the default.
        assert_eq!(step(&p, "findPoliciesForWorkspace").map(|s| s.page_size), Some(200));
        assert_eq!(step(&p, "getUsersOfWorkspace").map(|s| s.fixed_query), Some(&[("include-roles", "true")][..]));
        // Parents come before their children.
        let pos = |id| p.steps.iter().position(|s| s.operation.id == id).unwrap();
        assert!(pos("getProjects") < pos("getTasks"));
    }

    #[test]
    fn what_is_not_read_is_reported_with_its_reason() {
        let p = plan(DECLARED_SCOPES, 1000);
        assert_eq!(skipped(&p, "getAllAssignments"), Some(&SkipReason::NeedsQuery(vec!["start", "end"])));
        assert!(matches!(skipped(&p, "getDeletedEntityInfo"), Some(SkipReason::NeedsQuery(q)) if q.contains(&"type")));
        assert_eq!(skipped(&p, "getPtoBalancesForPolicy"), Some(&SkipReason::Deprecated));
        assert_eq!(skipped(&p, "getAddonWebhooks"), None, "not a list: a single envelope");
        // Every candidate is either planned or skipped, never both.
        for s in &p.steps {
            assert!(skipped(&p, s.operation.id).is_none(), "{}", s.operation.id);
            assert_eq!(s.operation.method, "GET");
        }
    }

    /// The item schema of an operation's rows, as the contract names it.
    fn row_schema(op: &Operation) -> String {
        let schema: serde_json::Value = op.response.and_then(|r| r.schema).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
        match (schema.get("items"), op.pagination.map(|p| p.shape)) {
            (Some(items), _) => items.to_string(),
            (None, Some(clockify_client::catalog::ListShape::Envelope { list, .. })) => format!("{schema}{list}"),
            _ => schema.to_string(),
        }
    }

    #[test]
    fn entity_types_match_the_webhook_mirror_and_never_mix_schemas() {
        let p = plan(DECLARED_SCOPES, 1000);
        let ty = |id| step(&p, id).map(|s| s.entity_type.as_str());
        assert_eq!(ty("getProjects"), Some("project"));
        assert_eq!(ty("getTasks"), Some("task"));
        assert_eq!(ty("getClients"), Some("client"));
        assert_eq!(ty("getTags"), Some("tag"));
        assert_eq!(ty("getTimeEntries"), Some("time_entry"));
        assert_eq!(ty("getUsersOfWorkspace"), Some("user"));
        assert_eq!(ty("getUserGroups"), Some("user_group"));
        assert_eq!(ty("getInvoices"), Some("invoice"));
        assert_eq!(ty("getExpenses"), Some("expense"));
        assert_eq!(ty("getApprovalRequests"), Some("approval_request"));
        assert_eq!(ty("getBalancesForUser"), Some("balance"));
        let mut by_type: std::collections::BTreeMap<&str, std::collections::BTreeSet<String>> = Default::default();
        for s in &p.steps {
            by_type.entry(s.entity_type.as_str()).or_default().insert(row_schema(s.operation));
        }
        for (t, schemas) in by_type {
            assert_eq!(schemas.len(), 1, "entity type {t} would hold rows of {schemas:?}");
        }
    }

    #[test]
    fn an_undeclared_scope_removes_the_list_and_its_children() {
        let scopes: Vec<Scope> = DECLARED_SCOPES.iter().copied().filter(|s| *s != Scope::ProjectRead).collect();
        let p = plan(&scopes, 500);
        assert_eq!(skipped(&p, "getProjects"), Some(&SkipReason::ScopeNotDeclared(Scope::ProjectRead)));
        assert_eq!(skipped(&p, "getTasks"), Some(&SkipReason::NoListProvides("projectId")));
        assert!(p.steps.iter().all(|s| s.operation.scope.is_none_or(|sc| scopes.contains(&sc))));
    }
}
