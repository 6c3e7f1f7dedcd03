//! `FlowStore`: each workspace's flows and their executions. Every read
//! and write names the workspace, so one workspace's flow is never another's.

use super::{Database, StoreError, now_ms};

/// A `flows` row; `definition` is the trigger and steps as JSON.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FlowRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub enabled: i64,
    pub definition: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A `flow_executions` row; `steps` is JSON.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: String,
    pub workspace_id: String,
    pub flow_id: String,
    pub flow_version: i64,
    pub flow_name: String,
    pub delivery_id: String,
    pub event: String,
    pub run_key: String,
    pub outcome: String,
    pub steps: String,
    pub error: Option<String>,
    pub started_at: i64,
    pub duration_us: i64,
}

/// A stored delivery as a flow reads it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredDelivery {
    pub id: String,
    pub workspace_id: String,
    pub event: String,
    pub body: String,
    pub received_at: i64,
}

#[derive(Debug, Clone)]
pub struct FlowStore {
    db: Database,
}

const FLOW_COLUMNS: &str = "id, workspace_id, name, enabled, definition, version, created_at, updated_at";
const EXECUTION_COLUMNS: &str =
    "id, workspace_id, flow_id, flow_version, flow_name, delivery_id, event, run_key, outcome, steps, error, started_at, duration_us";

impl FlowStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn create(&self, workspace_id: &str, name: &str, enabled: bool, definition: &str) -> Result<FlowRow, StoreError> {
        let now = now_ms();
        let row = FlowRow {
            id: uuid::Uuid::now_v7().to_string(),
            workspace_id: workspace_id.to_owned(),
            name: name.to_owned(),
            enabled: i64::from(enabled),
            definition: definition.to_owned(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(&format!("INSERT INTO flows ({FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&row.id)
            .bind(&row.workspace_id)
            .bind(&row.name)
            .bind(row.enabled)
            .bind(&row.definition)
            .bind(row.version)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(self.db.pool())
            .await?;
        Ok(row)
    }

    /// Replaces a flow's name, state and definition; its version grows by one.
    pub async fn update(
        &self,
        workspace_id: &str,
        id: &str,
        name: &str,
        enabled: bool,
        definition: &str,
    ) -> Result<Option<FlowRow>, StoreError> {
        sqlx::query(
            "UPDATE flows SET name = $3, enabled = $4, definition = $5, version = version + 1, updated_at = $6 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(id)
        .bind(name)
        .bind(i64::from(enabled))
        .bind(definition)
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        self.get(workspace_id, id).await
    }

    pub async fn set_enabled(&self, workspace_id: &str, id: &str, enabled: bool) -> Result<Option<FlowRow>, StoreError> {
        sqlx::query("UPDATE flows SET enabled = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .bind(i64::from(enabled))
            .bind(now_ms())
            .execute(self.db.pool())
            .await?;
        self.get(workspace_id, id).await
    }

    /// Deletes a flow (its executions stay until retention); false when it was not there.
    pub async fn delete(&self, workspace_id: &str, id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM flows WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    pub async fn get(&self, workspace_id: &str, id: &str) -> Result<Option<FlowRow>, StoreError> {
        Ok(sqlx::query_as::<_, FlowRow>(&format!("SELECT {FLOW_COLUMNS} FROM flows WHERE workspace_id = $1 AND id = $2"))
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?)
    }

    /// The workspace's flows, oldest first; only the enabled ones with `enabled_only`.
    pub async fn list(&self, workspace_id: &str, enabled_only: bool) -> Result<Vec<FlowRow>, StoreError> {
        let sql = if enabled_only {
            format!("SELECT {FLOW_COLUMNS} FROM flows WHERE workspace_id = $1 AND enabled = 1 ORDER BY created_at, id")
        } else {
            format!("SELECT {FLOW_COLUMNS} FROM flows WHERE workspace_id = $1 ORDER BY created_at, id")
        };
        Ok(sqlx::query_as::<_, FlowRow>(&sql).bind(workspace_id).fetch_all(self.db.pool()).await?)
    }

    /// A stored delivery of the workspace.
    pub async fn delivery(&self, workspace_id: &str, id: &str) -> Result<Option<StoredDelivery>, StoreError> {
        Ok(sqlx::query_as::<_, StoredDelivery>(
            "SELECT id, workspace_id, event, body, received_at FROM deliveries WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?)
    }

    /// Records an execution unless one with the same flow, delivery and
    /// run key exists; returns whether it was recorded (false: the flow
    /// already ran, or is running, for this delivery).
    pub async fn start_execution(&self, e: &ExecutionRow) -> Result<bool, StoreError> {
        Ok(self.record_executions(std::slice::from_ref(e)).await? > 0)
    }

    /// Records finished executions (filtered ones) in one statement per 50,
    /// skipping those whose flow, delivery and run key are already there;
    /// returns how many were recorded.
    pub async fn record_executions(&self, rows: &[ExecutionRow]) -> Result<u64, StoreError> {
        let mut recorded = 0;
        for chunk in rows.chunks(50) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p: Vec<String> = (1..=13).map(|c| format!("${}", r * 13 + c)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO flow_executions ({EXECUTION_COLUMNS}) VALUES {} ON CONFLICT (flow_id, delivery_id, run_key) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(&e.id)
                    .bind(&e.workspace_id)
                    .bind(&e.flow_id)
                    .bind(e.flow_version)
                    .bind(&e.flow_name)
                    .bind(&e.delivery_id)
                    .bind(&e.event)
                    .bind(&e.run_key)
                    .bind(&e.outcome)
                    .bind(&e.steps)
                    .bind(&e.error)
                    .bind(e.started_at)
                    .bind(e.duration_us);
            }
            recorded += q.execute(self.db.pool()).await?.rows_affected();
        }
        Ok(recorded)
    }

    pub async fn finish_execution(
        &self,
        id: &str,
        outcome: &str,
        steps: &str,
        error: Option<&str>,
        duration_us: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE flow_executions SET outcome = $2, steps = $3, error = $4, duration_us = $5 WHERE id = $1")
            .bind(id)
            .bind(outcome)
            .bind(steps)
            .bind(error)
            .bind(duration_us)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The workspace's executions, newest first, optionally of one flow
    /// or delivery, before a `(started_at, id)` cursor.
    pub async fn executions(
        &self,
        workspace_id: &str,
        flow_id: Option<&str>,
        delivery_id: Option<&str>,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<ExecutionRow>, StoreError> {
        let (at, id) = before.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query_as::<_, ExecutionRow>(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM flow_executions WHERE workspace_id = $1 \
             AND ($2 = '' OR flow_id = $2) AND ($3 = '' OR delivery_id = $3) \
             AND (started_at < $4 OR (started_at = $4 AND $5 <> '' AND id < $5)) \
             ORDER BY started_at DESC, id DESC LIMIT $6"
        ))
        .bind(workspace_id)
        .bind(flow_id.unwrap_or(""))
        .bind(delivery_id.unwrap_or(""))
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        Ok(rows)
    }

    /// Deletes up to `batch` executions started before `older_than_ms`; returns how many went.
    pub async fn purge_executions(&self, older_than_ms: i64, batch: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM flow_executions WHERE id IN (SELECT id FROM flow_executions WHERE started_at < $1 LIMIT $2)",
        )
        .bind(older_than_ms)
        .bind(batch)
        .execute(self.db.pool())
        .await?
        .rows_affected())
    }
}
