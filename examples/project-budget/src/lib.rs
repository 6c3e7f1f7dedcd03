//! Project budget: an add-on on `clockify-gateway` with a sidebar page.
//!
//! `GET /ui/budget` (the component Clockify loads with `auth_token`) serves
//! the page; its script (`/ui/budget/app.js`, our own asset: the gateway's
//! page CSP allows no inline script) calls `GET /ui/budget/data` with the
//! token in `X-Addon-Token`. The data route reads the gateway's entity
//! mirror (time entries and projects, kept current by the subscribed
//! webhooks), never Clockify, and the budget from the settings: an admin
//! (owner or workspace admin) sees everyone's hours, anyone else only their
//! own entries.

// Formatted by codegen, not rustfmt.
#[rustfmt::skip]
pub mod generated;

use std::collections::BTreeMap;

use clockify_gateway::{Application, ApplicationBuilder, Config, Contexts, User, VerifiedUser};
use poem_openapi::payload::{Html, Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

pub use generated::addon::{ADDON, Settings};

const PAGE_HTML: &str = include_str!("ui/budget.html");
const PAGE_JS: &str = include_str!("ui/budget.js");

/// The add-on on the gateway, ready to `build()`.
pub fn builder(config: Config) -> ApplicationBuilder<BudgetApi> {
    Application::builder(config).addon(&ADDON).routes(|contexts| BudgetApi { contexts })
}

/// The page and its back end.
pub struct BudgetApi {
    pub contexts: Contexts,
}

/// Hours of one project.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct ProjectHours {
    pub project_id: String,
    /// The mirrored project's name (its id when the project is not mirrored).
    pub name: String,
    pub hours: f64,
    /// Of the budget, in percent.
    pub used_percent: f64,
    pub over_budget: bool,
}

/// What the page shows.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename_all = "camelCase")]
pub struct BudgetReport {
    /// Hours per project, from the settings.
    pub budget_hours: f64,
    /// True for an admin: everyone's entries; false: the caller's own.
    pub everyone: bool,
    /// By project name.
    pub projects: Vec<ProjectHours>,
    /// Hours of entries without a project.
    pub unassigned_hours: f64,
}

#[derive(ApiResponse, Debug)]
pub enum PageResponse {
    #[oai(status = 200)]
    Html(Html<&'static str>),
}

#[derive(ApiResponse, Debug)]
pub enum ScriptResponse {
    #[oai(status = 200, content_type = "text/javascript; charset=utf-8")]
    Js(PlainText<&'static str>),
}

#[derive(ApiResponse, Debug)]
pub enum DataResponse {
    #[oai(status = 200)]
    Ok(Json<BudgetReport>),
    /// The workspace's mirror or settings cannot be read now.
    #[oai(status = 503)]
    Unavailable(PlainText<String>),
}

#[OpenApi]
impl BudgetApi {
    /// The sidebar page, as Clockify loads it (`auth_token` in the query).
    #[oai(path = "/ui/budget", method = "get")]
    async fn page(&self, _user: VerifiedUser) -> PageResponse {
        PageResponse::Html(Html(PAGE_HTML))
    }

    /// The page's script.
    #[oai(path = "/ui/budget/app.js", method = "get")]
    async fn script(&self) -> ScriptResponse {
        ScriptResponse::Js(PlainText(PAGE_JS))
    }

    /// Tracked hours per project against the budget (`X-Addon-Token`: the
    /// user token the page got).
    #[oai(path = "/ui/budget/data", method = "get")]
    async fn data(&self, user: VerifiedUser) -> DataResponse {
        match report(&self.contexts, &user).await {
            Ok(r) => DataResponse::Ok(Json(r)),
            Err(e) => {
                tracing::warn!(workspace_id = %user.workspace_id, error = %e, "budget report failed");
                DataResponse::Unavailable(PlainText(e.to_string()))
            }
        }
    }
}

/// The report for `user`, from the workspace's mirror and settings.
pub async fn report(contexts: &Contexts, user: &User) -> Result<BudgetReport, clockify_gateway::ContextError> {
    let ctx = contexts.for_user(user);
    let settings: Settings = ctx.settings().await?;
    let everyone = user.is_admin();
    let names: BTreeMap<String, String> = ctx
        .mirror()
        .list::<Value>("project")
        .await?
        .into_iter()
        .filter_map(|p| Some((p.get("id")?.as_str()?.to_owned(), p.get("name")?.as_str()?.to_owned())))
        .collect();
    let mut hours: BTreeMap<String, f64> = BTreeMap::new();
    let mut unassigned = 0.0;
    for entry in ctx.mirror().list::<Value>("time_entry").await? {
        if !everyone && entry.get("userId").and_then(Value::as_str) != Some(user.id.as_str()) {
            continue;
        }
        let h = entry_hours(&entry);
        match entry.get("projectId").and_then(Value::as_str).filter(|p| !p.is_empty()) {
            Some(p) => *hours.entry(p.to_owned()).or_default() += h,
            None => unassigned += h,
        }
    }
    let budget = settings.budget_hours;
    let mut projects: Vec<ProjectHours> = hours
        .into_iter()
        .map(|(id, h)| ProjectHours {
            name: names.get(&id).cloned().unwrap_or_else(|| id.clone()),
            project_id: id,
            hours: round2(h),
            used_percent: if budget > 0.0 { round2(100.0 * h / budget) } else { 0.0 },
            over_budget: budget > 0.0 && h > budget,
        })
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.project_id.cmp(&b.project_id)));
    Ok(BudgetReport { budget_hours: budget, everyone, projects, unassigned_hours: round2(unassigned) })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Hours of a time entry: `timeInterval.duration` (ISO 8601, `PT1H30M`),
/// else its end minus its start; a running timer counts nothing yet.
pub fn entry_hours(entry: &Value) -> f64 {
    let interval = entry.get("timeInterval");
    if let Some(secs) = interval.and_then(|i| i.get("duration")).and_then(Value::as_str).and_then(iso_duration_seconds) {
        return secs / 3600.0;
    }
    let at = |k: &str| interval.and_then(|i| i.get(k)).and_then(Value::as_str).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    match (at("start"), at("end")) {
        (Some(s), Some(e)) if e > s => (e - s).num_seconds() as f64 / 3600.0,
        _ => 0.0,
    }
}

/// Seconds of an ISO 8601 duration of days, hours, minutes and seconds
/// (`P1DT2H30M15.5S`); `None` for anything else.
pub fn iso_duration_seconds(text: &str) -> Option<f64> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0.0;
    let mut parts = 0;
    for (part, units) in [(date, &[('D', 86400.0)][..]), (time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)][..])] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, factor) = units.iter().find(|(u, _)| *u == c)?;
            total += number.parse::<f64>().ok()? * factor;
            number.clear();
            parts += 1;
        }
        if !number.is_empty() {
            return None;
        }
    }
    (parts > 0).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_are_read_from_iso_8601_or_the_interval() {
        assert_eq!(iso_duration_seconds("PT1H30M"), Some(5400.0));
        assert_eq!(iso_duration_seconds("P1DT15S"), Some(86415.0));
        assert_eq!(iso_duration_seconds("PT0.5S"), Some(0.5));
        assert_eq!(iso_duration_seconds("PT"), None);
        assert_eq!(iso_duration_seconds("1H"), None);
        assert_eq!(iso_duration_seconds("PT1X"), None);
        let e = json!({ "timeInterval": { "start": "2025-01-01T09:00:00Z", "end": "2025-01-01T11:45:00Z" } });
        assert_eq!(entry_hours(&e), 2.75);
        assert_eq!(entry_hours(&json!({ "timeInterval": { "start": "2025-01-01T09:00:00Z" } })), 0.0, "running");
    }
}
