//! A synthetic workspace for bootstrap tests and the bootstrap benchmark:
//! every list the plan reads, served by the fake Clockify, with the row
//! counts a profile gives, and the fewest requests that can read it.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use clockify_client::catalog::{HostGroup, ListShape};
use clockify_gateway::bootstrap::{Step, plan};
use clockify_testkit::{FakeClockify, PageStyle, Shape};
use serde_json::{Value, json};

/// One list the fake serves.
pub struct List {
    pub step: Step,
    /// Full path at the fake, group prefix included.
    pub full_path: String,
    pub rows: usize,
    pub last_page_header: bool,
    pub parent_id: Option<String>,
}

impl List {
    pub fn paged(&self) -> bool {
        self.step.operation.pagination.is_some()
    }

    pub fn has_total(&self) -> bool {
        matches!(self.step.operation.pagination.map(|p| p.shape), Some(ListShape::Envelope { total: Some(_), .. }))
    }

    /// The fewest requests that can read this list: one per page, plus one
    /// empty page after a full last page unless a total or `Last-Page` says
    /// it was the last.
    pub fn min_requests(&self) -> usize {
        let size = self.step.page_size as usize;
        if !self.paged() || self.rows == 0 {
            return 1;
        }
        let full = self.rows / size;
        if !self.rows.is_multiple_of(size) {
            full + 1
        } else if self.has_total() || self.last_page_header {
            full
        } else {
            full + 1
        }
    }
}

pub struct Workspace {
    pub ws: String,
    pub lists: Vec<List>,
}

fn group_of(h: HostGroup) -> &'static str {
    match h {
        HostGroup::Core => "api",
        HostGroup::Reports => "reports",
        HostGroup::Pto => "pto",
    }
}

fn row(step: &Step, id: &str) -> Value {
    match step.entity_type.as_str() {
        // Approval requests carry their id one level down.
        "approval_request" => json!({ "approvalRequest": { "id": id, "status": "PENDING" }, "trackedTime": "PT1H" }),
        _ => json!({ "id": id, "name": format!("{} {id}", step.entity_type) }),
    }
}

/// Rows per top-level list (chosen to give several pages, exact multiples
/// with and without a total or header, and empty lists), and per child list
/// a count from the parent's index.
fn top_rows(op: &str, size: usize) -> usize {
    match op {
        "getProjects" => 2 * size + 7,
        "getClients" => 3 * size, // exact multiple, `Last-Page` header: no extra request
        "getTags" => 2 * size,    // exact multiple, no header: one empty page
        "getUsersOfWorkspace" => 12,
        "getInvoices" => size, // envelope with a total
        "findPoliciesForWorkspace" => 5,
        "getExpenses" => size + 3,
        "getCategories" => 0,
        "getApprovalRequests" => 40,
        "getUserGroups" => 9,
        "getInProgressTimeEntries" => 2,
        _ => 3,
    }
}

fn child_rows(op: &str, parent_index: usize, size: usize) -> usize {
    match op {
        "getTasks" => (parent_index * 7) % (size + 20),
        "getTimeEntries" => parent_index * size / 4,
        "getManagersOfUser" => parent_index % 3,
        _ => parent_index % 4,
    }
}

fn page_style(step: &Step) -> PageStyle {
    match step.operation.pagination.map(|p| p.size) {
        Some("pageSize") => PageStyle::PageSizeCamel,
        Some("limit") => PageStyle::Limit,
        Some("size") => PageStyle::Size,
        _ => PageStyle::PageSize,
    }
}

fn shape(step: &Step) -> Shape {
    match step.operation.pagination.map(|p| p.shape) {
        Some(ListShape::Envelope { list, total }) => Shape::envelope(list, total),
        _ => Shape::Array,
    }
}

/// Row counts of a synthetic workspace: `(operation, parent index, page size)`
/// to the number of rows (the parent index is `None` for top-level lists).
pub type Profile = fn(&str, Option<usize>, usize) -> usize;

/// The test profile: several pages, exact multiples with and without a
/// total or header, empty lists, parents with many and no children.
pub fn test_profile(op: &str, parent: Option<usize>, size: usize) -> usize {
    match parent {
        None => top_rows(op, size),
        Some(i) => child_rows(op, i, size),
    }
}

/// Serves the whole plan for `ws` on `fake` with the test profile.
pub fn serve_workspace(fake: &FakeClockify, ws: &str, default_size: u32) -> Workspace {
    serve_profile(fake, ws, default_size, test_profile)
}

/// Serves the whole plan for `ws` on `fake` with `profile`'s row counts.
pub fn serve_profile(fake: &FakeClockify, ws: &str, default_size: u32, profile: Profile) -> Workspace {
    let p = plan(clockify_gateway::addon::STOCK.declared_scopes, default_size);
    let mut lists = Vec::new();
    let mut parent_ids: HashMap<&str, Vec<String>> = HashMap::new();
    let serve = |step: &Step, path: String, rows: Vec<Value>, parent_id: Option<&str>, lists: &mut Vec<List>| {
        let group = group_of(step.operation.host);
        let last_page_header = step.operation.id == "getClients";
        let n = rows.len();
        if step.operation.pagination.is_some() {
            fake.paginated(group, &path, page_style(step), shape(step), rows, last_page_header);
        } else {
            fake.on(group, "GET", &path, 200, Value::Array(rows));
        }
        lists.push(List {
            step: step.clone(),
            full_path: format!("/{group}{path}"),
            rows: n,
            last_page_header,
            parent_id: parent_id.map(str::to_owned),
        });
    };
    for step in p.steps.iter().filter(|s| s.parent.is_none()) {
        let size = step.page_size as usize;
        let ids: Vec<String> = (0..profile(step.operation.id, None, size)).map(|i| format!("{ws}-{}-{i}", step.operation.id)).collect();
        let rows = ids.iter().map(|id| row(step, id)).collect();
        let path = step.operation.path.replace("{workspaceId}", ws);
        serve(step, path, rows, None, &mut lists);
        parent_ids.insert(step.operation.id, ids);
    }
    for step in p.steps.iter().filter(|s| s.parent.is_some()) {
        let parent = step.parent.clone().expect("child");
        let size = step.page_size as usize;
        for (i, pid) in parent_ids.get(parent.from_operation).cloned().unwrap_or_default().iter().enumerate() {
            let rows =
                (0..profile(step.operation.id, Some(i), size)).map(|k| row(step, &format!("{pid}-{}-{k}", step.operation.id))).collect();
            let path = step.operation.path.replace("{workspaceId}", ws).replace(&format!("{{{}}}", parent.path_param), pid);
            serve(step, path, rows, Some(pid), &mut lists);
        }
    }
    Workspace { ws: ws.to_owned(), lists }
}

impl Workspace {
    pub fn min_requests(&self) -> usize {
        self.lists.iter().map(List::min_requests).sum()
    }

    pub fn rows_by_entity_type(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for l in &self.lists {
            *out.entry(l.step.entity_type.clone()).or_default() += l.rows;
        }
        out.retain(|_, n| *n > 0);
        out
    }
}
