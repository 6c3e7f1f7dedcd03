//! `WorkspaceCleanup`: what an uninstall forgets. After DELETED the `cleanup`
//! job deletes the workspace's deliveries, duplicate keys, entity snapshot,
//! bootstrap progress, explorer history, flows and their executions, settings, settled lifecycle events
//! and (already voided) secrets, in batches, so no statement holds the database for long.
//!
//! A reinstall may come before the job has finished. Each statement
//! therefore deletes a row only while the workspace's installation is still
//! deleted, or when the row was written no later than the last deletion of
//! the workspace: the new installation's rows stay.

use super::{Database, StoreError};

/// One table's rows of a workspace: how a batch of them is named, and the
/// column saying when each was written.
struct Table {
    name: &'static str,
    key: &'static str,
    written_at: &'static str,
}

const TABLES: [Table; 8] = [
    Table { name: "deliveries", key: "id", written_at: "received_at" },
    Table { name: "delivery_keys", key: "event, body_sha256", written_at: "received_at" },
    Table { name: "entities", key: "entity_type, entity_id", written_at: "fetched_at" },
    Table { name: "bootstrap_items", key: "item", written_at: "updated_at" },
    Table { name: "bootstrap_runs", key: "workspace_id", written_at: "updated_at" },
    Table { name: "explorer_calls", key: "id", written_at: "called_at" },
    Table { name: "flows", key: "id", written_at: "updated_at" },
    Table { name: "flow_executions", key: "id", written_at: "started_at" },
];

/// Rows of the deleted installation still to go; `$1` is the workspace,
/// `$2` its last deletion time.
const BELONGS_TO_DELETED: &str =
    "(EXISTS (SELECT 1 FROM installations i WHERE i.workspace_id = $1 AND i.status = 'deleted') OR {written_at} <= $2)";

#[derive(Debug, Clone)]
pub struct WorkspaceCleanup {
    db: Database,
}

impl WorkspaceCleanup {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// When the workspace's installation was last deleted (Unix ms).
    pub async fn deleted_at(&self, workspace_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT MAX(deleted_at) FROM deleted_installations WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(self.db.pool())
            .await?)
    }

    /// Deletes up to `batch` rows of each table, then the installation's
    /// settings and webhook rows; returns how many rows went. Call until it
    /// returns 0. Nothing is done for a workspace never deleted.
    pub async fn forget_batch(&self, workspace_id: &str, batch: i64) -> Result<u64, StoreError> {
        let Some(deleted_at) = self.deleted_at(workspace_id).await? else { return Ok(0) };
        let mut removed = 0;
        for t in &TABLES {
            let condition = BELONGS_TO_DELETED.replace("{written_at}", t.written_at);
            let sql = format!(
                "DELETE FROM {name} WHERE workspace_id = $1 AND ({key}) IN \
                 (SELECT {key} FROM {name} WHERE workspace_id = $1 AND {condition} LIMIT $3)",
                name = t.name,
                key = t.key,
            );
            removed += sqlx::query(&sql).bind(workspace_id).bind(deleted_at).bind(batch).execute(self.db.pool()).await?.rows_affected();
        }
        // Lifecycle events of deleted installations once their hook has run
        // (a DELETED still pending is kept until it has: the job's last pass
        // comes after the work in flight).
        removed += sqlx::query(
            "DELETE FROM lifecycle_events WHERE workspace_id = $1 AND state IN ('done', 'dead') \
             AND addon_id IN (SELECT addon_id FROM deleted_installations WHERE workspace_id = $1)",
        )
        .bind(workspace_id)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        // The secrets were voided at DELETED; the rows and the settings go now.
        removed += sqlx::query("DELETE FROM webhook_tokens WHERE workspace_id = $1 AND state = 'deleted'")
            .bind(workspace_id)
            .execute(self.db.pool())
            .await?
            .rows_affected();
        removed += sqlx::query(
            "UPDATE installations SET settings = NULL, installation_token = NULL, as_user = NULL, addon_user_id = NULL \
             WHERE workspace_id = $1 AND status = 'deleted' \
             AND (settings IS NOT NULL OR installation_token IS NOT NULL OR as_user IS NOT NULL OR addon_user_id IS NOT NULL)",
        )
        .bind(workspace_id)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(removed)
    }

    /// Rows a workspace still has in the tables an uninstall empties, by
    /// table; for tests and the operator.
    pub async fn remaining(&self, workspace_id: &str) -> Result<Vec<(&'static str, i64)>, StoreError> {
        let mut out = Vec::with_capacity(TABLES.len() + 1);
        for t in TABLES.iter().map(|t| t.name).chain(["webhook_tokens", "lifecycle_events"]) {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t} WHERE workspace_id = $1"))
                .bind(workspace_id)
                .fetch_one(self.db.pool())
                .await?;
            out.push((t, n));
        }
        Ok(out)
    }
}
