//! `POST /webhooks/{event}`: deliveries for every event of the contract.
//!
//! Checks, in order, each with its own failure reason: the event the route
//! names, the address's budget of failed checks, a valid Clockify signature
//! of the kind the event's webhook has (token.rs), the event-type header,
//! the workspace's webhook rate bucket; only then is the body read (up to
//! 5 MB) and parsed, so a refused delivery costs no buffering and no JSON
//! parse. The writer then checks the installation, the signature being the
//! token stored for that installation and event, and the body's workspace
//! being the signature's. Only then is the delivery stored, and only once it
//! is stored does Clockify get its 200.

use std::sync::Arc;

use clockify_client::WebhookEvent;
use poem::Request;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use serde_json::Value;

use super::ingest::{IngestItem, IngestOutcome, Rejection, RequestChecks};
use crate::auth::schemes::WebhookSignature;
use crate::auth::token::{Expectation, TokenKind, TokenVerifier};
use crate::auth::verified::VerifiedTokens;
use crate::error::{ApiError, GatewayError};
use crate::http::body_limit::WEBHOOK_LIMIT;
use crate::http::rate_limit::FailedChecks;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::store::{NewDelivery, Recorded, sha256_hex};

/// A JSON request body not read yet: the route reads it once its headers
/// have passed, so an unsigned body is never buffered or parsed.
pub struct UnreadJson(poem::Body);

impl Payload for UnreadJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        <Json<Value> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("object")))
    }
}

impl ParsePayload for UnreadJson {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut poem::RequestBody) -> poem::Result<Self> {
        Ok(Self(body.take()?))
    }
}

// The second arm directly: the first names the macro unqualified.
poem_openapi::impl_apirequest_for_payload!(UnreadJson,);

impl UnreadJson {
    /// Reads at most `limit` bytes, which must be UTF-8 text (JSON's
    /// encoding); whether it is a JSON object is the caller's check.
    async fn read(self, limit: usize) -> Result<String, GatewayError> {
        let bytes = self.0.into_bytes_limit(limit).await.map_err(|e| match e {
            poem::error::ReadBodyError::PayloadTooLarge => GatewayError::PayloadTooLarge { limit },
            other => GatewayError::BadRequest(format!("cannot read the request body: {other}")),
        })?;
        String::from_utf8(bytes.into()).map_err(|e| GatewayError::BadRequest(crate::events::BodyError::NotJson(e.to_string()).to_string()))
    }
}

pub struct WebhookApi {
    pub verifier: Arc<TokenVerifier>,
    /// Signatures verified lately, not verified again.
    pub verified_tokens: Arc<VerifiedTokens>,
    /// The webhooks of the manifest (add-on tokens); the others are REST ones.
    pub manifest_webhooks: &'static [WebhookEvent],
    /// Failed checks per client address.
    pub failed_checks: Arc<RateLimiter>,
    /// Clockify's calls per workspace.
    pub webhook_limiter: Arc<RateLimiter>,
    pub metrics: Arc<Metrics>,
    /// Where verified deliveries go to be stored.
    pub inbox: super::Inbox,
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
    /// A refused delivery: counted, audited and, when it failed a check only
    /// a forger fails (signature, event header), charged to the address.
    fn reject(&self, failures: Option<&FailedChecks>, reason: &'static str, err: GatewayError) -> ApiError {
        self.metrics.auth_failure(reason);
        if let Some(f) = failures {
            f.charge();
        }
        tracing::warn!(target: "audit", event = "auth_failure", route = "webhook", reason, "webhook delivery rejected");
        err.into()
    }
}

#[OpenApi(tag = "crate::tags::Tag::Webhooks")]
impl WebhookApi {
    /// Receives one delivery of `event` (a wire name such as `NEW_PROJECT`).
    #[oai(path = "/webhooks/:event", method = "post")]
    async fn deliver(
        &self,
        req: &Request,
        event: Path<String>,
        auth: WebhookSignature,
        #[oai(name = "Clockify-Webhook-Event-Type")] event_type: Header<Option<String>>,
        body: UnreadJson,
    ) -> Result<WebhookResponse, ApiError> {
        let event = WebhookEvent::from_wire(&event.0)
            .ok_or_else(|| ApiError::from(GatewayError::NotFound(format!("`{}` is not a webhook event", event.0))))?;
        let failures = FailedChecks::of(&self.failed_checks, &self.metrics, req);
        failures.enforce()?;
        let signature = auth.token();
        // Manifest webhooks carry add-on claims; REST-created ones may not (PLATFORM.md §3.4),
        // and are bound to their installation by the stored-token check below.
        let kind = if self.manifest_webhooks.contains(&event) { TokenKind::Webhook } else { TokenKind::RestWebhook };
        let claims = match self.verified_tokens.get(kind, signature) {
            Some(c) => c,
            None => {
                let c = self
                    .verifier
                    .verify(signature, &Expectation::of(kind))
                    .map_err(|r| self.reject(Some(&failures), r.reason(), GatewayError::Token(r)))?;
                self.verified_tokens.insert(kind, signature, c.clone());
                c
            }
        };
        if event_type.0.as_deref() != Some(event.as_str()) {
            return Err(self.reject(
                Some(&failures),
                "event_type",
                GatewayError::BadRequest(format!("Clockify-Webhook-Event-Type must be {event}")),
            ));
        }
        let Some(workspace_id) = claims.workspace_id.clone() else {
            return Err(self.reject(Some(&failures), "workspace", GatewayError::BadRequest("the signature names no workspace".into())));
        };
        self.webhook_limiter.enforce_workspace(&self.metrics, &workspace_id)?;
        let body = body.read(WEBHOOK_LIMIT).await.map_err(|e| {
            if matches!(e, GatewayError::PayloadTooLarge { .. }) {
                self.metrics.payload_too_large.inc();
                tracing::warn!(target: "audit", event = "payload_too_large", limit = WEBHOOK_LIMIT, "request body over the cap");
            }
            ApiError::from(e)
        })?;
        // Only the workspace is read; the body is stored as received.
        let named = crate::events::workspace_of_text(&body).map_err(|e| ApiError::from(GatewayError::BadRequest(e.to_string())))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let checks = RequestChecks {
            token_sha256: sha256_hex(signature),
            addon_claim: (kind == TokenKind::Webhook).then(|| claims.addon_id.clone().unwrap_or_default()),
            body_workspace_ok: named.is_none_or(|ws| ws == workspace_id),
        };
        let delivery = NewDelivery { workspace_id, event: event.as_str().to_owned(), body_sha256: sha256_hex(&body), body };
        let item = IngestItem { delivery, checks, reply };
        // Not stored means not acknowledged: 503, and Clockify tries again.
        let unavailable = |why: String| {
            tracing::error!(error = %why, "cannot store a delivery");
            ApiError::from(GatewayError::Unavailable)
        };
        self.inbox.ingest.send(item).await.map_err(|_| unavailable("the ingest writer is not running".into()))?;
        let outcome = answer.await.map_err(|_| unavailable("the ingest writer stopped".into()))?.map_err(unavailable)?;
        // Failures past this point can be Clockify's own (a webhook still
        // sending after an uninstall): not charged to the address.
        let status = match outcome {
            IngestOutcome::Rejected(Rejection::UnknownInstallation) => {
                return Err(self.reject(
                    None,
                    "unknown_installation",
                    GatewayError::Forbidden("no installation for this workspace".into()),
                ));
            }
            IngestOutcome::Rejected(Rejection::Addon) => {
                return Err(self.reject(None, "addon", GatewayError::Forbidden("the signature belongs to another installation".into())));
            }
            IngestOutcome::Rejected(Rejection::TokenMismatch) => {
                return Err(self.reject(
                    None,
                    "token_mismatch",
                    GatewayError::Forbidden(format!("the signature is not this installation's token for {event}")),
                ));
            }
            IngestOutcome::Rejected(Rejection::BodyWorkspace) => {
                return Err(self.reject(
                    None,
                    "body_workspace",
                    GatewayError::BadRequest("the body's workspaceId is not the signature's workspace".into()),
                ));
            }
            IngestOutcome::Ignored => "ignored",
            IngestOutcome::Stored(Recorded::New) => "accepted",
            IngestOutcome::Stored(Recorded::Duplicate) => "duplicate",
        };
        self.metrics.delivery(event.as_str(), status);
        Ok(ack(status))
    }
}
