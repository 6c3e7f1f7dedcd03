//! `InstallationStore`: one row per workspace the add-on is installed on, and
//! the webhook tokens that belong to it. Every secret is sealed by
//! [`SecretBox`] before it is written.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::{Database, StoreError, now_ms};
use crate::crypto::SecretBox;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationStatus {
    Active,
    Inactive,
    Deleted,
}

impl InstallationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Deleted => "deleted",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "active" => Ok(Self::Active),
            "inactive" => Ok(Self::Inactive),
            "deleted" => Ok(Self::Deleted),
            other => Err(StoreError::Corrupt(format!("installation status `{other}`"))),
        }
    }
}

/// Where a lifecycle call's (workspace, addonId) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The workspace's installation, active or inactive.
    Live,
    /// An installation Clockify has deleted.
    Deleted,
    /// Neither: no installation, or another one than the live one.
    Unknown,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Deleted => "deleted",
            Self::Unknown => "unknown",
        }
    }
}

/// What INSTALLED brings, after verification.
#[derive(Debug, Clone)]
pub struct NewInstallation {
    pub workspace_id: String,
    pub addon_id: String,
    pub installation_token: String,
    pub backend_url: Option<String>,
    pub reports_url: Option<String>,
    pub pto_url: Option<String>,
    pub api_url: Option<String>,
    pub as_user: Option<String>,
    pub addon_user_id: Option<String>,
    /// `(event wire name, token)` of each manifest webhook.
    pub webhook_tokens: Vec<(String, String)>,
    /// Events to register through the REST API (`pending` until the job runs).
    pub rest_events: Vec<String>,
}

/// An installation as a delivery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryContext {
    pub status: InstallationStatus,
    pub addon_id: String,
    /// Event wire name → SHA-256 of its live token.
    pub token_hashes: HashMap<String, String>,
}

impl DeliveryContext {
    /// Folds one row of the installations / live tokens join into `out`:
    /// `first` gives the row's (status, add-on id) the first time its
    /// workspace is seen; each row adds its token (event, SHA-256), if any.
    pub(super) fn fold_row(
        out: &mut HashMap<String, DeliveryContext>,
        workspace_id: String,
        first: impl FnOnce() -> Result<(String, String), StoreError>,
        token: (Option<String>, Option<String>),
    ) -> Result<(), StoreError> {
        let ctx = match out.entry(workspace_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let (status, addon_id) = first()?;
                e.insert(DeliveryContext { status: InstallationStatus::parse(&status)?, addon_id, token_hashes: HashMap::new() })
            }
        };
        if let (Some(event), Some(hash)) = token {
            ctx.token_hashes.insert(event, hash);
        }
        Ok(())
    }
}

/// One pass of [`InstallationStore::reencrypt_batch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reencrypted {
    /// Moved to the current key by this batch.
    pub reencrypted: u64,
    /// Still under another key (beyond the batch, or unreadable).
    pub remaining: u64,
    /// Secrets no configured key opens, each with the reason (its key id).
    pub unreadable: Vec<String>,
}

/// An installation as stored, secrets excluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Installation {
    pub workspace_id: String,
    pub addon_id: String,
    pub status: InstallationStatus,
    pub backend_url: Option<String>,
    pub reports_url: Option<String>,
    pub pto_url: Option<String>,
    pub api_url: Option<String>,
    pub settings: Option<serde_json::Value>,
    pub installed_at: i64,
    pub updated_at: i64,
}

/// An `installations` row as read; `Installation` parses its status and
/// settings.
#[derive(sqlx::FromRow)]
struct InstallationRow {
    workspace_id: String,
    addon_id: String,
    status: String,
    backend_url: Option<String>,
    reports_url: Option<String>,
    pto_url: Option<String>,
    api_url: Option<String>,
    settings: Option<String>,
    installed_at: i64,
    updated_at: i64,
}

impl TryFrom<InstallationRow> for Installation {
    type Error = StoreError;

    fn try_from(r: InstallationRow) -> Result<Self, StoreError> {
        Ok(Installation {
            workspace_id: r.workspace_id,
            addon_id: r.addon_id,
            status: InstallationStatus::parse(&r.status)?,
            backend_url: r.backend_url,
            reports_url: r.reports_url,
            pto_url: r.pto_url,
            api_url: r.api_url,
            settings: r
                .settings
                .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("settings: {e}"))))
                .transpose()?,
            installed_at: r.installed_at,
            updated_at: r.updated_at,
        })
    }
}

/// One row of the installations / live tokens join (`delivery_contexts`).
#[derive(sqlx::FromRow)]
struct ContextRow {
    workspace_id: String,
    status: String,
    addon_id: String,
    event: Option<String>,
    token_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WebhookTokenRow {
    pub event: String,
    pub source: String,
    pub webhook_id: Option<String>,
    pub state: String,
    pub failure: Option<String>,
    pub token_sha256: Option<String>,
}

/// Lower-case hex SHA-256: token fingerprints and delivery body keys.
pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone)]
pub struct InstallationStore {
    db: Database,
    secrets: SecretBox,
}

impl InstallationStore {
    pub fn new(db: Database, secrets: SecretBox) -> Self {
        Self { db, secrets }
    }

    /// The id of the key secrets are sealed with now.
    pub fn key_id(&self) -> String {
        self.secrets.key_id()
    }

    /// Re-encrypts up to `limit` secrets not sealed with the current key
    /// (installation tokens, then webhook tokens). Each row is replaced only
    /// if it still holds what was read, so a token written meanwhile (a
    /// reinstall) is never overwritten with an older one.
    pub async fn reencrypt_batch(&self, limit: usize) -> Result<Reencrypted, StoreError> {
        let mut done = Reencrypted::default();
        let installations: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT workspace_id, installation_token FROM installations WHERE installation_token IS NOT NULL ORDER BY workspace_id")
                .fetch_all(self.db.pool())
                .await?;
        let webhooks: Vec<(String, String, Vec<u8>)> =
            sqlx::query_as("SELECT workspace_id, event, token FROM webhook_tokens WHERE token IS NOT NULL ORDER BY workspace_id, event")
                .fetch_all(self.db.pool())
                .await?;
        let stale = installations
            .into_iter()
            .filter(|(_, s)| !self.secrets.is_current(s))
            .map(|(ws, sealed)| (ws, None, sealed))
            .chain(webhooks.into_iter().filter(|(_, _, s)| !self.secrets.is_current(s)).map(|(ws, e, sealed)| (ws, Some(e), sealed)));
        for (ws, event, sealed) in stale {
            let purpose = event.as_ref().map_or_else(|| "installation".to_owned(), |e| format!("webhook:{e}"));
            if done.reencrypted >= limit as u64 {
                done.remaining += 1;
                continue;
            }
            let plain = match self.secrets.open(&sealed, &ws, &purpose) {
                Ok(p) => p,
                Err(e) => {
                    done.remaining += 1;
                    done.unreadable.push(format!("{purpose} of workspace {ws}: {e}"));
                    continue;
                }
            };
            let fresh = self.secrets.seal(&plain, &ws, &purpose)?;
            let replaced = match &event {
                None => sqlx::query("UPDATE installations SET installation_token = $1 WHERE workspace_id = $2 AND installation_token = $3")
                    .bind(fresh)
                    .bind(&ws)
                    .bind(&sealed),
                Some(e) => sqlx::query("UPDATE webhook_tokens SET token = $1 WHERE workspace_id = $2 AND event = $3 AND token = $4")
                    .bind(fresh)
                    .bind(&ws)
                    .bind(e)
                    .bind(&sealed),
            }
            .execute(self.db.pool())
            .await?
            .rows_affected();
            // 0: the row changed since it was read (sealed with the current key by then).
            done.reencrypted += replaced;
        }
        Ok(done)
    }

    /// Inserts or replaces the installation of a workspace, with its tokens,
    /// and queues a bootstrap, all in one transaction. A repeat (or two
    /// concurrent INSTALLED) leaves one row.
    pub async fn upsert_installed(&self, i: &NewInstallation) -> Result<(), StoreError> {
        let now = now_ms();
        let sealed = self.secrets.seal(&i.installation_token, &i.workspace_id, "installation")?;
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO installations (workspace_id, addon_id, status, installation_token, backend_url, reports_url, \
             pto_url, api_url, as_user, addon_user_id, settings, installed_at, updated_at) \
             VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, $9, NULL, $10, $10) \
             ON CONFLICT (workspace_id) DO UPDATE SET addon_id = excluded.addon_id, status = 'active', \
             installation_token = excluded.installation_token, backend_url = excluded.backend_url, \
             reports_url = excluded.reports_url, pto_url = excluded.pto_url, api_url = excluded.api_url, \
             as_user = excluded.as_user, addon_user_id = excluded.addon_user_id, updated_at = excluded.updated_at",
        )
        .bind(&i.workspace_id)
        .bind(&i.addon_id)
        .bind(sealed)
        .bind(&i.backend_url)
        .bind(&i.reports_url)
        .bind(&i.pto_url)
        .bind(&i.api_url)
        .bind(&i.as_user)
        .bind(&i.addon_user_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // A reinstall brings new manifest webhook tokens; the old ones are void.
        sqlx::query("DELETE FROM webhook_tokens WHERE workspace_id = $1 AND source = 'manifest'")
            .bind(&i.workspace_id)
            .execute(&mut *tx)
            .await?;
        for (event, token) in &i.webhook_tokens {
            let purpose = format!("webhook:{event}");
            let sealed = self.secrets.seal(token, &i.workspace_id, &purpose)?;
            sqlx::query(
                "INSERT INTO webhook_tokens (workspace_id, event, source, webhook_id, token, token_sha256, state, failure, updated_at) \
                 VALUES ($1, $2, 'manifest', NULL, $3, $4, 'active', NULL, $5) \
                 ON CONFLICT (workspace_id, event) DO UPDATE SET source = 'manifest', webhook_id = NULL, \
                 token = excluded.token, token_sha256 = excluded.token_sha256, state = 'active', failure = NULL, \
                 updated_at = excluded.updated_at",
            )
            .bind(&i.workspace_id)
            .bind(event)
            .bind(sealed)
            .bind(sha256_hex(token))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        // REST webhooks already registered (a reinstall) stay; missing or
        // failed ones are (re)queued for registration.
        for event in &i.rest_events {
            sqlx::query(
                "INSERT INTO webhook_tokens (workspace_id, event, source, webhook_id, token, token_sha256, state, failure, updated_at) \
                 VALUES ($1, $2, 'rest', NULL, NULL, NULL, 'pending', NULL, $3) \
                 ON CONFLICT (workspace_id, event) DO UPDATE SET state = 'pending', failure = NULL, updated_at = excluded.updated_at \
                 WHERE webhook_tokens.state <> 'active'",
            )
            .bind(&i.workspace_id)
            .bind(event)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        if !i.rest_events.is_empty() {
            super::jobs::enqueue_in(&mut tx, "register_webhooks", &i.workspace_id).await?;
        }
        super::bootstrap::queue_in(&mut tx, &i.workspace_id, super::RunMode::Resume).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Events whose REST registration is still to be done.
    pub async fn pending_registrations(&self, workspace_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT event FROM webhook_tokens WHERE workspace_id = $1 AND source = 'rest' AND state = 'pending' ORDER BY event",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Records why an event could not be registered (e.g. the platform's webhook limit).
    pub async fn registration_failed(&self, workspace_id: &str, event: &str, reason: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE webhook_tokens SET state = 'failed', failure = $3, updated_at = $4 WHERE workspace_id = $1 AND event = $2")
            .bind(workspace_id)
            .bind(event)
            .bind(reason.chars().take(500).collect::<String>())
            .bind(now_ms())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Puts REST webhooks back to `pending` (failed ones, or ones Clockify no
    /// longer has).
    pub async fn requeue_registrations(&self, workspace_id: &str, events: &[String]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.pool().begin().await?;
        for event in events {
            sqlx::query(
                "UPDATE webhook_tokens SET state = 'pending', failure = NULL, updated_at = $3 \
                 WHERE workspace_id = $1 AND event = $2 AND source = 'rest'",
            )
            .bind(workspace_id)
            .bind(event)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Leaves the pending registrations to the background job.
    pub async fn queue_registration_job(&self, workspace_id: &str) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        super::jobs::enqueue_in(&mut tx, "register_webhooks", workspace_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `(event, webhook id)` of every webhook registered through REST.
    pub async fn registered_webhooks(&self, workspace_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT event, webhook_id FROM webhook_tokens WHERE workspace_id = $1 AND source = 'rest' AND webhook_id IS NOT NULL",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Where `addon_id` stands on `workspace_id`: the live installation, a
    /// deleted one, or neither.
    pub async fn standing(&self, workspace_id: &str, addon_id: &str) -> Result<Standing, StoreError> {
        let (status, deleted): (Option<String>, i64) = sqlx::query_as(
            "SELECT (SELECT status FROM installations WHERE workspace_id = $1 AND addon_id = $2) AS status, \
             (SELECT COUNT(*) FROM deleted_installations WHERE workspace_id = $1 AND addon_id = $2) AS deleted",
        )
        .bind(workspace_id)
        .bind(addon_id)
        .fetch_one(self.db.pool())
        .await?;
        Ok(match status.as_deref() {
            _ if deleted > 0 => Standing::Deleted,
            Some("active" | "inactive") => Standing::Live,
            _ => Standing::Unknown,
        })
    }

    /// Whether the workspace has a live (active or inactive) installation.
    pub async fn is_live(&self, workspace_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM installations WHERE workspace_id = $1 AND status <> 'deleted'")
            .bind(workspace_id)
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }

    /// Marks the live installation `addon_id` deleted, records the pair as
    /// deleted for good, drops every secret it had and queues the clean-up,
    /// in one transaction. Returns false (and changes nothing) when
    /// `addon_id` is not the workspace's live installation.
    pub async fn mark_deleted(&self, workspace_id: &str, addon_id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE installations SET status = 'deleted', installation_token = NULL, updated_at = $3 \
             WHERE workspace_id = $1 AND addon_id = $2 AND status <> 'deleted'",
        )
        .bind(workspace_id)
        .bind(addon_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO deleted_installations (workspace_id, addon_id, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (workspace_id, addon_id) DO NOTHING")
            .bind(workspace_id)
            .bind(addon_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE webhook_tokens SET token = NULL, token_sha256 = NULL, state = 'deleted', updated_at = $2 WHERE workspace_id = $1",
        )
        .bind(workspace_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        super::jobs::enqueue_in(&mut tx, "cleanup", workspace_id).await?;
        super::bootstrap::cancel_in(&mut tx, workspace_id).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Returns false when there is no live installation with these ids.
    pub async fn set_status(&self, workspace_id: &str, addon_id: &str, status: InstallationStatus) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE installations SET status = $3, updated_at = $4 \
             WHERE workspace_id = $1 AND addon_id = $2 AND status <> 'deleted'",
        )
        .bind(workspace_id)
        .bind(addon_id)
        .bind(status.as_str())
        .bind(now_ms())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub async fn set_settings(&self, workspace_id: &str, addon_id: &str, settings: &serde_json::Value) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE installations SET settings = $3, updated_at = $4 \
             WHERE workspace_id = $1 AND addon_id = $2 AND status <> 'deleted'",
        )
        .bind(workspace_id)
        .bind(addon_id)
        .bind(settings.to_string())
        .bind(now_ms())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub async fn get(&self, workspace_id: &str) -> Result<Option<Installation>, StoreError> {
        let row = sqlx::query_as::<_, InstallationRow>(
            "SELECT workspace_id, addon_id, status, backend_url, reports_url, pto_url, api_url, settings, installed_at, updated_at \
             FROM installations WHERE workspace_id = $1",
        )
        .bind(workspace_id)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(Installation::try_from).transpose()
    }

    /// The installation token, decrypted (for calls on the workspace's behalf).
    pub async fn installation_token(&self, workspace_id: &str) -> Result<Option<String>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT installation_token FROM installations WHERE workspace_id = $1 AND status <> 'deleted'")
                .bind(workspace_id)
                .fetch_optional(self.db.pool())
                .await?;
        match sealed.flatten() {
            Some(bytes) => Ok(Some(self.secrets.open(&bytes, workspace_id, "installation")?)),
            None => Ok(None),
        }
    }

    /// The stored token of one webhook, decrypted.
    pub async fn webhook_token(&self, workspace_id: &str, event: &str) -> Result<Option<String>, StoreError> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT token FROM webhook_tokens WHERE workspace_id = $1 AND event = $2 AND state = 'active'")
                .bind(workspace_id)
                .bind(event)
                .fetch_optional(self.db.pool())
                .await?;
        match sealed.flatten() {
            Some(bytes) => Ok(Some(self.secrets.open(&bytes, workspace_id, &format!("webhook:{event}"))?)),
            None => Ok(None),
        }
    }

    /// Stores a webhook the gateway registered through the REST API, with its
    /// id and token (sealed); replaces an earlier registration of the event.
    pub async fn store_registered_webhook(&self, workspace_id: &str, event: &str, webhook_id: &str, token: &str) -> Result<(), StoreError> {
        let sealed = self.secrets.seal(token, workspace_id, &format!("webhook:{event}"))?;
        sqlx::query(
            "INSERT INTO webhook_tokens (workspace_id, event, source, webhook_id, token, token_sha256, state, failure, updated_at) \
             VALUES ($1, $2, 'rest', $3, $4, $5, 'active', NULL, $6) \
             ON CONFLICT (workspace_id, event) DO UPDATE SET source = 'rest', webhook_id = excluded.webhook_id, \
             token = excluded.token, token_sha256 = excluded.token_sha256, state = 'active', failure = NULL, \
             updated_at = excluded.updated_at",
        )
        .bind(workspace_id)
        .bind(event)
        .bind(webhook_id)
        .bind(sealed)
        .bind(sha256_hex(token))
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// What deliveries need to know about their installations, for many
    /// workspaces in one round trip: status, add-on id, live token hashes.
    /// On the caller's connection: the PostgreSQL ingest writes its batch
    /// on the same one (SQLite's ingest reads the same through rusqlite on
    /// its writer thread, `deliveries_sqlite::delivery_contexts`).
    pub async fn delivery_contexts(
        conn: &mut sqlx::AnyConnection,
        workspace_ids: &[&str],
    ) -> Result<HashMap<String, DeliveryContext>, StoreError> {
        let mut out: HashMap<String, DeliveryContext> = HashMap::new();
        if workspace_ids.is_empty() {
            return Ok(out);
        }
        let placeholders: Vec<String> = (1..=workspace_ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT i.workspace_id, i.status, i.addon_id, w.event, w.token_sha256 FROM installations i \
             LEFT JOIN webhook_tokens w ON w.workspace_id = i.workspace_id AND w.state = 'active' \
             WHERE i.workspace_id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, ContextRow>(&sql);
        for ws in workspace_ids {
            q = q.bind(*ws);
        }
        for r in q.fetch_all(&mut *conn).await? {
            DeliveryContext::fold_row(&mut out, r.workspace_id, || Ok((r.status, r.addon_id)), (r.event, r.token_sha256))?;
        }
        Ok(out)
    }

    pub async fn webhook_tokens(&self, workspace_id: &str) -> Result<Vec<WebhookTokenRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT event, source, webhook_id, state, failure, token_sha256 FROM webhook_tokens \
             WHERE workspace_id = $1 ORDER BY event",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Raw sealed bytes of every secret column, for tests proving nothing is stored in clear.
    pub async fn sealed_secrets(&self, workspace_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        let a: Vec<Option<Vec<u8>>> = sqlx::query_scalar("SELECT installation_token FROM installations WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_all(self.db.pool())
            .await?;
        let b: Vec<Option<Vec<u8>>> = sqlx::query_scalar("SELECT token FROM webhook_tokens WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_all(self.db.pool())
            .await?;
        out.extend(a.into_iter().chain(b).flatten());
        Ok(out)
    }
}
