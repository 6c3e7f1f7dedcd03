//! `POST /webhooks/{event}`: deliveries for every event of the contract.
//!
//! Checks, in order, each with its own failure reason: body size (the body
//! middleware), a valid Clockify signature for a known installation, the
//! event-type header, the signature being the token stored for that
//! installation and event, and the body's workspace being the signature's.
//! Only then is the delivery stored, and only once it is stored does
//! Clockify get its 200.

use clockify_client::WebhookEvent;
use poem_openapi::param::{Header, Path};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use serde_json::Value;

use super::lifecycle::ClockifySignature;
use crate::error::{ApiError, GatewayError};
use crate::generated::addon::MANIFEST_WEBHOOKS;
use crate::state::AppState;
use crate::store::{NewDelivery, Recorded, sha256_hex};
use crate::worker::{IngestItem, IngestOutcome, Rejection, RequestChecks};
use crate::token::{Expect, Expectation};

pub struct WebhookApi {
    pub state: AppState,
}

/// What happened to a delivery.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAck {
    /// `accepted` (stored), `duplicate` (already stored) or `ignored`
    /// (the installation is inactive).
    pub status: String,
}

#[derive(ApiResponse, Debug)]
pub enum WebhookResponse {
    /// Verified and durably stored (or already stored, or deliberately ignored).
    #[oai(status = 200)]
    Ok(Json<DeliveryAck>),
}

fn ack(status: &str) -> WebhookResponse {
    WebhookResponse::Ok(Json(DeliveryAck { status: status.to_owned() }))
}

impl WebhookApi {
    fn reject(&self, reason: &'static str, err: GatewayError) -> ApiError {
        self.state.metrics.auth_failure(reason);
        tracing::warn!(target: "audit", event = "auth_failure", route = "webhook", reason, "webhook delivery rejected");
        err.into()
    }
}

#[OpenApi(tag = "super::Tag::Webhooks")]
impl WebhookApi {
    /// Receives one delivery of `event` (a wire name such as `NEW_PROJECT`).
    #[oai(path = "/webhooks/:event", method = "post")]
    async fn deliver(
        &self,
        event: Path<String>,
        auth: ClockifySignature,
        #[oai(name = "Clockify-Webhook-Event-Type")] event_type: Header<Option<String>>,
        body: Json<Value>,
    ) -> Result<WebhookResponse, ApiError> {
        let event = WebhookEvent::from_wire(&event.0)
            .ok_or_else(|| ApiError::from(GatewayError::NotFound(format!("`{}` is not a webhook event", event.0))))?;
        let signature = auth.token();
        // Manifest webhooks carry add-on claims; REST-created ones may not (PLATFORM.md §3.4),
        // and are bound to their installation by the stored-token check below.
        let kind = if MANIFEST_WEBHOOKS.contains(&event) { Expect::AddonToken } else { Expect::AnyClockifyToken };
        let claims = match self.state.verified_tokens.get(signature) {
            Some(c) => c,
            None => {
                let c = self
                    .state
                    .verifier
                    .verify(signature, &Expectation { kind, workspace_id: None, addon_id: None })
                    .map_err(|r| self.reject(r.reason(), GatewayError::Token(r)))?;
                self.state.verified_tokens.insert(signature, c.clone());
                c
            }
        };
        let Some(workspace_id) = claims.workspace_id.clone() else {
            return Err(self.reject("workspace", GatewayError::BadRequest("the signature names no workspace".into())));
        };
        self.state.limiter.enforce_workspace(&self.state, &workspace_id)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let checks = RequestChecks {
            token_sha256: sha256_hex(signature),
            addon_claim: (kind == Expect::AddonToken).then(|| claims.addon_id.clone().unwrap_or_default()),
            header_ok: event_type.0.as_deref() == Some(event.as_str()),
            body_workspace_ok: crate::events::body_workspace(&body.0).is_none_or(|ws| ws == workspace_id),
        };
        let body = body.0.to_string();
        let delivery = NewDelivery { workspace_id, event: event.as_str().to_owned(), body_sha256: sha256_hex(&body), body };
        let item = IngestItem { delivery, checks, reply };
        // Not stored means not acknowledged: 503, and Clockify tries again.
        let unavailable = |why: String| {
            tracing::error!(error = %why, "cannot store a delivery");
            ApiError::from(GatewayError::Unavailable)
        };
        self.state.ingest.send(item).await.map_err(|_| unavailable("the ingest writer is not running".into()))?;
        let outcome = answer.await.map_err(|_| unavailable("the ingest writer stopped".into()))?.map_err(unavailable)?;
        let status = match outcome {
            IngestOutcome::Rejected(Rejection::UnknownInstallation) => {
                return Err(self.reject("unknown_installation", GatewayError::Forbidden("no installation for this workspace".into())));
            }
            IngestOutcome::Rejected(Rejection::Addon) => {
                return Err(self.reject("addon", GatewayError::Forbidden("the signature belongs to another installation".into())));
            }
            IngestOutcome::Rejected(Rejection::EventType) => {
                return Err(self.reject("event_type", GatewayError::BadRequest(format!("Clockify-Webhook-Event-Type must be {event}"))));
            }
            IngestOutcome::Rejected(Rejection::TokenMismatch) => {
                return Err(self.reject(
                    "token_mismatch",
                    GatewayError::Forbidden(format!("the signature is not this installation's token for {event}")),
                ));
            }
            IngestOutcome::Rejected(Rejection::BodyWorkspace) => {
                return Err(self.reject(
                    "body_workspace",
                    GatewayError::BadRequest("the body's workspaceId is not the signature's workspace".into()),
                ));
            }
            IngestOutcome::Ignored => "ignored",
            IngestOutcome::Stored(Recorded::New) => "accepted",
            IngestOutcome::Stored(Recorded::Duplicate) => "duplicate",
        };
        self.state.metrics.delivery(event.as_str(), status);
        Ok(ack(status))
    }
}
