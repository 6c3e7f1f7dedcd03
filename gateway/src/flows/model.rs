//! The flow document: a trigger (events and a gate of conditions) and
//! ordered steps, each an operation of the catalog with templated inputs.
//! The same types are the admin routes' bodies (poem-openapi) and what is
//! stored (serde JSON), so what an operator saves is what runs.

use std::collections::BTreeMap;

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a gate's conditions combine.
#[derive(Enum, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Every condition holds (also when there are none).
    #[default]
    All,
    /// At least one condition holds.
    Any,
}

/// How a condition compares the value at its pointer.
#[derive(Enum, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal as JSON to `value`.
    Equals,
    /// Not equal as JSON to `value` (an absent value is not equal).
    NotEquals,
    /// Present and not null; with `value: false`, absent or null.
    Exists,
    /// Equal to one of the items of `value` (an array).
    In,
    /// A string (or number, as text) matching the regular expression `value`.
    Matches,
}

/// One comparison: the value at `pointer` (a JSON pointer into
/// `{payload, steps, settings, workspace}`, e.g. `/payload/projectId` or
/// `/steps/find_tag/body/0`) against `value`.
#[derive(Object, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct Condition {
    pub pointer: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// When a flow runs: one of `events` arrived and its conditions hold.
#[derive(Object, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Webhook event names, e.g. `NEW_TIME_ENTRY`; each must be one the add-on subscribes to.
    pub events: Vec<String>,
    #[oai(rename = "match", default)]
    #[serde(rename = "match", default)]
    pub match_: Match,
    #[oai(default)]
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// One call of a flow. Any string in `path`, `query` and `body` may hold
/// templates: `{{payload.projectId}}`, `{{steps.find_tag.body.0.id ??
/// steps.create_tag.body.id}}`, `{{settings.tagName}}`, `{{workspace.id}}`,
/// a quoted literal as the last alternative (`{{payload.note ?? 'none'}}`).
/// A string that is one whole template keeps the JSON type of its value.
#[derive(Object, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Unique within the flow: letters, digits, `_` and `-`; later steps refer to its answer as `steps.<id>`.
    pub id: String,
    /// An operation of the contract.
    pub operation_id: String,
    /// Path parameters; `workspaceId` is always the flow's own workspace.
    #[oai(default)]
    #[serde(default)]
    pub path: BTreeMap<String, Value>,
    #[oai(default)]
    #[serde(default)]
    pub query: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Run only when this holds; otherwise the step is skipped.
    #[oai(rename = "if")]
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// What an operator saves: a flow of their workspace.
#[derive(Object, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FlowDefinition {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    #[oai(default = "default_true")]
    #[serde(default = "default_true")]
    pub enabled: bool,
    pub trigger: Trigger,
    #[oai(validator(max_items = 50))]
    pub steps: Vec<Step>,
}

fn default_true() -> bool {
    true
}

/// The stored part of a flow: trigger and steps.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Definition {
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

/// A stored flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub enabled: bool,
    pub version: i64,
    pub definition: Definition,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How one run of a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded before the first step: the run has not finished (or its instance stopped).
    Running,
    Completed,
    Failed,
    /// The trigger's conditions did not hold: no step ran.
    Filtered,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Filtered => "filtered",
        }
    }
}

/// The resolved request of a step, as it was (or would be) sent; credentials
/// and secret-looking members redacted.
#[derive(Object, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct StepRequest {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// What one step did.
#[derive(Object, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase", skip_serializing_if_is_none)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub id: String,
    pub operation_id: String,
    /// `completed`, `failed`, `skipped` (its `if` did not hold) or, in a dry run, `resolved`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<StepRequest>,
    /// Clockify's answer status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_us: i64,
}
