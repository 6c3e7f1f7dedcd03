//! [`AddonDriver`]: plays Clockify against a running add-on over HTTP only,
//! with the test keys: lifecycle calls (INSTALLED, SETTINGS_UPDATED,
//! STATUS_CHANGED, DELETED), signed webhook deliveries and user tokens.
//!
//! It knows the gateway's wire contract (the lifecycle and webhook paths of
//! the generated manifest, the token claims of PLATFORM.md §2), not the
//! gateway's code, so an add-on crate can be tested end to end with it and
//! [`FakeClockify`](crate::FakeClockify) without depending on the gateway's
//! internals. The add-on must trust `testkit/keys/test-rsa-public.pem`.

use serde_json::{Value, json};

use crate::FakeClockify;
use crate::tokens::{TokenFactory, key};

/// One installation the driver made: its ids and the tokens Clockify gave it.
#[derive(Debug, Clone)]
pub struct Installed {
    pub workspace_id: String,
    pub addon_id: String,
    /// The installation token (`authToken` of INSTALLED): what the add-on
    /// sends as `X-Addon-Token` when it calls the API for the workspace.
    pub token: String,
    /// `(event, webhook token)` for every manifest webhook.
    pub webhooks: Vec<(String, String)>,
}

impl Installed {
    /// The webhook token of `event`.
    ///
    /// # Panics
    /// When the installation has no webhook for `event`.
    pub fn webhook_token(&self, event: &str) -> &str {
        self.webhooks.iter().find(|(e, _)| e == event).map(|(_, t)| t.as_str()).unwrap_or_else(|| panic!("no webhook for {event}"))
    }
}

/// Clockify, as far as an add-on at `base` can tell.
pub struct AddonDriver {
    base: String,
    key: String,
    http: reqwest::Client,
    signer: TokenFactory,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl AddonDriver {
    /// For the add-on listening at `base` (`http://127.0.0.1:<port>`) whose
    /// manifest key is `key`; signs with `testkit/keys/test-rsa-private.pem`.
    pub fn new(base: &str, key_of_addon: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key_of_addon.to_owned(),
            http: reqwest::Client::builder().no_proxy().build().expect("reqwest client"),
            signer: TokenFactory::new(&key("test-rsa-private.pem")),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.signer.sign(claims)
    }

    /// The claims every add-on token of `ws`/`addon` carries.
    pub fn claims(&self, ws: &str, addon: &str) -> Value {
        json!({ "iss": "clockify", "type": "addon", "sub": self.key, "workspaceId": ws, "addonId": addon })
    }

    /// An installation token whose URLs point at `fake`.
    pub fn installation_token(&self, ws: &str, addon: &str, fake: &FakeClockify) -> String {
        let mut c = self.claims(ws, addon);
        c["user"] = json!("owner1");
        c["backendUrl"] = json!(fake.core_url());
        c["reportsUrl"] = json!(fake.reports_url());
        c["ptoUrl"] = json!(fake.pto_url());
        self.sign(&c)
    }

    /// A user token (30 minutes) of `user` with `role` (`OWNER`,
    /// `WORKSPACE_ADMIN`, `TEAM_MANAGER`, ...), as a component gets it.
    pub fn user_token(&self, ws: &str, addon: &str, user: &str, role: &str) -> String {
        self.user_token_expiring(ws, addon, user, role, now_secs() as i64 + 1800)
    }

    /// A user token whose `exp` is `exp` (Unix seconds; in the past for an
    /// expired one).
    pub fn user_token_expiring(&self, ws: &str, addon: &str, user: &str, role: &str, exp: i64) -> String {
        let mut c = self.claims(ws, addon);
        c["user"] = json!(user);
        c["workspaceRole"] = json!(role);
        c["language"] = json!("EN");
        c["theme"] = json!("DEFAULT");
        c["backendUrl"] = json!("http://127.0.0.1:9/api");
        c["exp"] = json!(exp);
        self.sign(&c)
    }

    /// A lifecycle call signed as Clockify signs it.
    pub async fn lifecycle(&self, path: &str, ws: &str, addon: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("X-Addon-Lifecycle-Token", self.sign(&self.claims(ws, addon)))
            .json(body)
            .send()
            .await
            .expect("the lifecycle call reaches the add-on")
    }

    /// INSTALLED for `ws` with a webhook token per manifest event in
    /// `events`, the installation's URLs pointing at `fake`.
    ///
    /// # Panics
    /// Unless the add-on answers 200.
    pub async fn install(&self, ws: &str, addon: &str, fake: &FakeClockify, events: &[&str]) -> Installed {
        let token = self.installation_token(ws, addon, fake);
        let webhooks: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                let mut c = self.claims(ws, addon);
                c["purpose"] = json!(format!("webhook {e}"));
                (e.to_string(), self.sign(&c))
            })
            .collect();
        let body = json!({
            "addonId": addon,
            "authToken": token,
            "workspaceId": ws,
            "asUser": "owner1",
            "apiUrl": fake.core_url(),
            "addonUserId": "addon-user-1",
            "webhooks": webhooks.iter().map(|(e, t)| json!({ "path": format!("/webhooks/{e}"), "webhookType": "ADDON", "authToken": t })).collect::<Vec<_>>(),
        });
        let r = self.lifecycle("/lifecycle/installed", ws, addon, &body).await;
        let status = r.status();
        assert_eq!(status, 200, "INSTALLED: {}", r.text().await.unwrap_or_default());
        Installed { workspace_id: ws.to_owned(), addon_id: addon.to_owned(), token, webhooks }
    }

    /// SETTINGS_UPDATED with `settings` as `[{id, name, value}]`.
    pub async fn settings_updated(&self, installed: &Installed, settings: Value) -> reqwest::Response {
        let body = json!({ "workspaceId": installed.workspace_id, "addonId": installed.addon_id, "settings": settings });
        self.lifecycle("/lifecycle/settings-updated", &installed.workspace_id, &installed.addon_id, &body).await
    }

    /// STATUS_CHANGED to ACTIVE or INACTIVE.
    pub async fn status_changed(&self, installed: &Installed, active: bool) -> reqwest::Response {
        let body = json!({ "workspaceId": installed.workspace_id, "addonId": installed.addon_id,
            "status": if active { "ACTIVE" } else { "INACTIVE" } });
        self.lifecycle("/lifecycle/status-changed", &installed.workspace_id, &installed.addon_id, &body).await
    }

    /// DELETED: the add-on is uninstalled.
    pub async fn deleted(&self, installed: &Installed) -> reqwest::Response {
        let body = json!({ "workspaceId": installed.workspace_id, "addonId": installed.addon_id, "asUser": "owner1" });
        self.lifecycle("/lifecycle/deleted", &installed.workspace_id, &installed.addon_id, &body).await
    }

    /// One delivery of `event`, signed with the installation's webhook token.
    pub async fn deliver(&self, installed: &Installed, event: &str, body: &Value) -> reqwest::Response {
        self.deliver_signed(event, installed.webhook_token(event), body).await
    }

    /// One delivery of `event` signed with `token`.
    pub async fn deliver_signed(&self, event: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/webhooks/{event}")))
            .header("clockify-signature", token)
            .header("clockify-webhook-event-type", event)
            .json(body)
            .send()
            .await
            .expect("the delivery reaches the add-on")
    }
}
