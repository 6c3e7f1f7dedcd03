//! Time entry guard: an add-on on `clockify-gateway`.
//!
//! On `NEW_TIME_ENTRY` and `TIME_ENTRY_UPDATED` it adds a tag (found by
//! name, created when missing) to an entry that has no project, or whose
//! description matches a pattern, through the installation's typed client
//! (`ctx.client()`: the installation token, the manifest's scopes, the
//! workspace's shared 50 requests per second).
//!
//! - **Once per delivery, even when replayed:** before writing it reads the
//!   entry as Clockify holds it now and writes only when the tag is missing,
//!   so a replayed or re-sent delivery, and the `TIME_ENTRY_UPDATED` its own
//!   write causes, write nothing.
//! - **Settings without a restart:** `ctx.settings::<Settings>()` is read
//!   for every delivery; `Settings` is generated from `addon.toml`.

// Formatted by codegen, not rustfmt.
#[rustfmt::skip]
pub mod generated;

use clockify_gateway::clockify_client::types::{TagRequest, TimeEntryWithRatesDtoV1, UpdateTimeEntryRequest};
use clockify_gateway::clockify_client::{Client, WebhookEvent};
use clockify_gateway::{
    AddonContext, AddonHooks, Application, ApplicationBuilder, Config, HandlerError, HandlerFuture, WebhookDelivery, WebhookPayload,
};

pub use generated::addon::{ADDON, Settings};

/// The add-on on the gateway, ready to `build()`.
pub fn builder(config: Config) -> ApplicationBuilder {
    Application::builder(config).addon(&ADDON).hooks(Guard)
}

/// The webhook hook.
#[derive(Debug, Default, Clone, Copy)]
pub struct Guard;

/// Why an entry needs the tag, if it does.
pub fn reason(settings: &Settings, entry: &TimeEntryWithRatesDtoV1) -> Option<&'static str> {
    if settings.tag_missing_project && entry.project_id.as_deref().is_none_or(str::is_empty) {
        return Some("no project");
    }
    if settings.description_rule_on && !settings.description_pattern.is_empty() {
        match regex::Regex::new(&settings.description_pattern) {
            Ok(re) if re.is_match(entry.description.as_deref().unwrap_or_default()) => return Some("description matches the pattern"),
            Ok(_) => {}
            // A bad pattern is the admin's to fix; retrying would not help.
            Err(e) => {
                tracing::warn!(pattern = %settings.description_pattern, error = %e, "the description pattern is not a valid regex; rule skipped")
            }
        }
    }
    None
}

impl AddonHooks for Guard {
    fn on_webhook<'a>(&'a self, ctx: &'a AddonContext, delivery: &'a WebhookDelivery) -> HandlerFuture<'a> {
        Box::pin(async move {
            if !matches!(delivery.event, WebhookEvent::NewTimeEntry | WebhookEvent::TimeEntryUpdated) {
                return Ok(());
            }
            let WebhookPayload::TimeEntry(entry) = &delivery.payload else { return Ok(()) };
            let Some(entry_id) = entry.id.as_deref() else { return Ok(()) };
            let settings: Settings = ctx.settings().await?;
            if reason(&settings, entry).is_none() || settings.tag_name.trim().is_empty() {
                return Ok(());
            }
            let client = ctx.client().await?;
            let ws = ctx.workspace_id();
            let tag_id = tag_id(&client, ws, settings.tag_name.trim()).await?;
            if entry.tag_ids.contains(&tag_id) {
                return Ok(());
            }
            // The entry as Clockify holds it now: a replayed delivery, or one
            // whose entry was changed since, is judged on the current state.
            let current = client.get_time_entry().workspace_id(ws).id(entry_id).send().await?.into_inner();
            let Some(why) = reason(&settings, &current) else { return Ok(()) };
            if current.tag_ids.contains(&tag_id) {
                return Ok(());
            }
            let interval = current.time_interval.as_ref();
            let start = interval.and_then(|i| i.start).ok_or_else(|| HandlerError::new(format!("time entry {entry_id} has no start")))?;
            let mut tag_ids = current.tag_ids.clone();
            tag_ids.push(tag_id.clone());
            let description = match current.description.clone() {
                Some(d) => Some(d.try_into().map_err(|e| HandlerError::new(format!("time entry {entry_id}: description: {e}")))?),
                None => None,
            };
            let update = UpdateTimeEntryRequest {
                billable: current.billable,
                custom_fields: Vec::new(),
                description,
                end: interval.and_then(|i| i.end),
                project_id: current.project_id.clone(),
                start,
                tag_ids,
                task_id: current.task_id.clone(),
                type_: None,
            };
            client.update_time_entry().workspace_id(ws).id(entry_id).body(update).send().await?;
            tracing::info!(workspace_id = %ws, time_entry = %entry_id, tag = %settings.tag_name, reason = why, "tagged");
            Ok(())
        })
    }
}

/// The id of the tag named `name` (case-insensitive, as Clockify compares
/// tag names), created when the workspace has none.
async fn tag_id(client: &Client, ws: &str, name: &str) -> Result<String, HandlerError> {
    let found = client.get_tags().workspace_id(ws).name(name).strict_name_search(true).send().await?.into_inner();
    if let Some(id) = found.into_iter().find(|t| t.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name))).and_then(|t| t.id) {
        return Ok(id);
    }
    let body = TagRequest { name: Some(name.try_into().map_err(|e| HandlerError::new(format!("tag name {name:?}: {e}")))?) };
    let created = client.create_new_tag().workspace_id(ws).body(body).send().await?.into_inner();
    created.id.ok_or_else(|| HandlerError::new("Clockify created the tag without an id"))
}
