//! What each webhook event carries: the reviewed table from event to payload
//! type and to the change it describes. An exhaustive `match` with no
//! wildcard arm, so an event added to `openapi.json` stops the build here
//! until someone decides what its payload is.
//!
//! Clockify documents no webhook bodies (PLATFORM.md §3.3); they are the
//! entity DTOs of the REST API. A body that does not fit its type is kept as
//! raw JSON and counted, never rejected.

use clockify_client::WebhookEvent;
use clockify_client::types;
use serde_json::Value;

/// The entity change an event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Deleted,
    /// Not a plain change of one entity (a split, a rate change, invitations, ...).
    Other,
}

/// A delivery's body, typed when its event's type is known and it fits.
#[derive(Debug, Clone)]
pub enum WebhookPayload {
    Project(Box<types::ProjectDtoV1>),
    Task(Box<types::TaskDtoV1>),
    Client(Box<types::ClientDtoV1>),
    Tag(Box<types::TagDtoV1>),
    TimeEntry(Box<types::TimeEntryWithRatesDtoV1>),
    User(Box<types::UserDtoV1>),
    UserGroup(Box<types::UserGroupDtoV1>),
    Invoice(Box<types::InvoiceDtoV1>),
    Expense(Box<types::ExpenseDtoV1>),
    ApprovalRequest(Box<types::ApprovalRequestDtoV1>),
    TimeOffRequest(Box<types::TimeOffRequestDtoV1>),
    Balance(Box<types::BalanceDtoV1>),
    Assignment(Box<types::AssignmentDtoV1>),
    /// No typed payload for this event (yet), or the body did not fit it.
    Raw(Value),
}

impl WebhookPayload {
    pub fn is_typed(&self) -> bool {
        !matches!(self, WebhookPayload::Raw(_))
    }
}

#[derive(Debug, Clone)]
pub struct Decoded {
    pub payload: WebhookPayload,
    pub change: Change,
}

/// A body to decode: parsed already, or the stored text (decoded straight
/// into its type, with no `Value` in between).
trait Body {
    fn typed<T: serde::de::DeserializeOwned>(&self) -> Option<T>;
    fn raw(&self) -> Value;
}

impl Body for Value {
    fn typed<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(self).ok()
    }

    fn raw(&self) -> Value {
        self.clone()
    }
}

impl Body for str {
    fn typed<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self).ok()
    }

    fn raw(&self) -> Value {
        serde_json::from_str(self).unwrap_or(Value::Null)
    }
}

fn typed<T: serde::de::DeserializeOwned, B: Body + ?Sized>(body: &B, wrap: fn(Box<T>) -> WebhookPayload) -> WebhookPayload {
    match body.typed::<T>() {
        Some(t) => wrap(Box::new(t)),
        None => WebhookPayload::Raw(body.raw()),
    }
}

/// Decodes `body` as what `event` carries.
pub fn decode(event: &WebhookEvent, body: &Value) -> Decoded {
    decode_body(event, body)
}

/// Decodes a stored body (JSON text) as what `event` carries; the same as
/// [`decode`] of its parsed value.
pub fn decode_text(event: &WebhookEvent, body: &str) -> Decoded {
    decode_body(event, body)
}

fn decode_body<B: Body + ?Sized>(event: &WebhookEvent, body: &B) -> Decoded {
    use Change::*;
    use WebhookEvent as E;
    use WebhookPayload as P;
    let (payload, change) = match event {
        E::NewProject => (typed(body, P::Project), Created),
        E::ProjectUpdated => (typed(body, P::Project), Updated),
        E::ProjectDeleted => (typed(body, P::Project), Deleted),
        E::NewTask => (typed(body, P::Task), Created),
        E::TaskUpdated => (typed(body, P::Task), Updated),
        E::TaskDeleted => (typed(body, P::Task), Deleted),
        E::NewClient => (typed(body, P::Client), Created),
        E::ClientUpdated => (typed(body, P::Client), Updated),
        E::ClientDeleted => (typed(body, P::Client), Deleted),
        E::NewTag => (typed(body, P::Tag), Created),
        E::TagUpdated => (typed(body, P::Tag), Updated),
        E::TagDeleted => (typed(body, P::Tag), Deleted),
        E::NewTimerStarted | E::NewTimeEntry => (typed(body, P::TimeEntry), Created),
        E::TimerStopped | E::TimeEntryUpdated | E::TimeEntryRestored => (typed(body, P::TimeEntry), Updated),
        E::TimeEntryDeleted => (typed(body, P::TimeEntry), Deleted),
        // A split turns one entry into two; its body shape is not documented.
        E::TimeEntrySplit => (P::Raw(body.raw()), Other),
        E::NewInvoice => (typed(body, P::Invoice), Created),
        E::InvoiceUpdated => (typed(body, P::Invoice), Updated),
        E::UserJoinedWorkspace => (typed(body, P::User), Created),
        E::UserDeletedFromWorkspace => (typed(body, P::User), Deleted),
        E::UserDeactivatedOnWorkspace | E::UserActivatedOnWorkspace | E::UserEmailChanged | E::UserUpdated => {
            (typed(body, P::User), Updated)
        }
        E::UsersInvitedToWorkspace | E::LimitedUsersAddedToWorkspace => (P::Raw(body.raw()), Other),
        E::UserGroupCreated => (typed(body, P::UserGroup), Created),
        E::UserGroupUpdated => (typed(body, P::UserGroup), Updated),
        E::UserGroupDeleted => (typed(body, P::UserGroup), Deleted),
        E::NewApprovalRequest => (typed(body, P::ApprovalRequest), Created),
        E::ApprovalRequestStatusUpdated => (typed(body, P::ApprovalRequest), Updated),
        E::TimeOffRequested => (typed(body, P::TimeOffRequest), Created),
        E::TimeOffRequestApproved | E::TimeOffRequestRejected | E::TimeOffRequestWithdrawn | E::TimeOffRequestUpdated => {
            (typed(body, P::TimeOffRequest), Updated)
        }
        E::BalanceUpdated => (typed(body, P::Balance), Updated),
        E::ExpenseCreated => (typed(body, P::Expense), Created),
        E::ExpenseUpdated | E::ExpenseRestored => (typed(body, P::Expense), Updated),
        E::ExpenseDeleted => (typed(body, P::Expense), Deleted),
        E::AssignmentCreated => (typed(body, P::Assignment), Created),
        E::AssignmentUpdated | E::AssignmentPublished => (typed(body, P::Assignment), Updated),
        E::AssignmentDeleted => (typed(body, P::Assignment), Deleted),
        E::CostRateUpdated | E::BillableRateUpdated => (P::Raw(body.raw()), Other),
        E::Unknown(_) => (P::Raw(body.raw()), Other),
    };
    Decoded { payload, change }
}

/// What the ingest reads of a delivery's body before storing it as
/// received: that it is one JSON object (the whole text is checked), and
/// the workspace it names, borrowed from the text. Nothing else of it is
/// built. The workspace is the parsed object's `workspaceId` when that is a
/// string, as `body.get("workspaceId").and_then(Value::as_str)` reads it.
pub fn workspace_of_text(text: &str) -> Result<Option<std::borrow::Cow<'_, str>>, BodyError> {
    match serde_json::from_str::<text::ObjectFacts>(text) {
        Ok(facts) => Ok(facts.workspace_id),
        Err(e) if e.classify() == serde_json::error::Category::Data => Err(BodyError::NotAnObject),
        Err(e) => Err(BodyError::NotJson(e.to_string())),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("the body is not JSON: {0}")]
    NotJson(String),
}

/// Visitors that read a JSON object's `workspaceId` and skip the rest
/// without building it.
mod text {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    pub struct ObjectFacts<'a> {
        pub workspace_id: Option<Cow<'a, str>>,
    }

    impl<'de> Deserialize<'de> for ObjectFacts<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Object;
            impl<'de> Visitor<'de> for Object {
                type Value = ObjectFacts<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut workspace_id = None;
                    while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                        if key == "workspaceId" {
                            // The last one counts, as in a parsed object.
                            workspace_id = map.next_value::<StringOrNot<'de>>()?.0;
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    Ok(ObjectFacts { workspace_id })
                }
            }
            d.deserialize_map(Object)
        }
    }

    /// A string, borrowed when it has no escapes.
    struct Text<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Text<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(StrVisitor).map(Text)
        }
    }

    struct StrVisitor;

    impl<'de> Visitor<'de> for StrVisitor {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }

    /// Any JSON value: a string is kept, anything else skipped (`None`).
    struct StringOrNot<'a>(Option<Cow<'a, str>>);

    impl<'de> Deserialize<'de> for StringOrNot<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Any;
            impl<'de> Visitor<'de> for Any {
                type Value = Option<Cow<'de, str>>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(Some(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(Some(Cow::Owned(v.to_owned())))
                }
                fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                    Ok(Some(Cow::Owned(v)))
                }
                fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_unit<E>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_none<E>(self) -> Result<Self::Value, E> {
                    Ok(None)
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(None)
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(None)
                }
            }
            d.deserialize_any(Any).map(StringOrNot)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why the dedup key (the hash of the bytes received) matches the one
    /// earlier versions stored (the hash of the body re-serialized): for
    /// compact JSON such as Clockify sends, both are the same bytes.
    #[test]
    fn compact_json_survives_a_parse_and_reserialization_unchanged() {
        let compact = r#"{"id":"65f1","description":"Réunion \"Q4\"\nnotes","tagIds":["a","b"],"billable":true,"hourlyRate":{"amount":9500,"currency":"EUR"},"ratio":1.5,"kioskId":null,"zeta":1,"alpha":2}"#;
        assert_eq!(serde_json::from_str::<Value>(compact).expect("JSON").to_string(), compact);
    }

    #[test]
    fn a_time_entry_with_custom_field_values_of_every_shape_is_typed() {
        // Clockify sends a custom field's value as its type has it.
        let body = serde_json::json!({
            "id": "te1", "workspaceId": "ws1", "tagIds": ["t1"],
            "timeInterval": { "start": "2026-12-04T08:30:00Z", "end": "2026-12-04T10:15:00Z", "duration": "PT1H45M" },
            "customFieldValues": [
                { "customFieldId": "c1", "value": "INV-118", "type": "TXT" },
                { "customFieldId": "c2", "value": 42, "type": "NUMBER" },
                { "customFieldId": "c3", "value": ["a", "b"], "type": "DROPDOWN_MULTIPLE" },
                { "customFieldId": "c4", "value": null, "type": "LINK" }
            ]
        });
        let decoded = decode(&WebhookEvent::NewTimeEntry, &body);
        let WebhookPayload::TimeEntry(entry) = decoded.payload else { panic!("not typed: {:?}", decoded.payload) };
        assert_eq!(entry.custom_field_values[0].value, Some(serde_json::json!("INV-118")));
        assert_eq!(entry.custom_field_values[2].value, Some(serde_json::json!(["a", "b"])));
        assert_eq!(decoded.change, Change::Created);
    }
}
