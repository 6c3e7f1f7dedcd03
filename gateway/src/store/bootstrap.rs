//! `BootstrapStore`: the run of each workspace (queue row and lease in one),
//! its work items with their page progress, and the entity snapshot they
//! fill. Every page is stored with its item's progress in one transaction,
//! and only while the runner still holds the lease, so a runner that lost
//! its workspace (cancelled, restarted, taken over) cannot write over the
//! one that has it.

use sqlx::{Any, Transaction};

use super::{Backend, Database, StoreError, now_ms};

/// How a requested run treats earlier progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Continue unfinished items (failed ones are tried again); after a
    /// finished run, read everything again.
    Resume,
    /// Forget all progress and read everything again.
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Run {
    pub workspace_id: String,
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    pub state: String,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
    pub requests: i64,
    pub throttled: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Item {
    /// The operationId, or `operationId/parentId` for a fanned-out child.
    pub item: String,
    pub operation: String,
    pub parent_id: Option<String>,
    pub entity_type: String,
    /// `pending`, `done`, `truncated` or `failed`.
    pub state: String,
    pub next_page: i64,
    pub pages: i64,
    #[sqlx(rename = "row_count")]
    pub rows: i64,
    pub last_error: Option<String>,
}

/// A work item to create if it does not exist yet.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub item: String,
    pub operation: &'static str,
    pub parent_id: Option<String>,
    pub entity_type: String,
    pub first_page: i64,
}

/// A claimed run: the runner's proof of holding the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub workspace_id: String,
    pub owner: String,
}

/// One page's outcome for its item.
#[derive(Debug, Clone)]
pub struct PageWrite<'a> {
    pub item: &'a str,
    pub entity_type: &'a str,
    /// `(entity id, JSON)` of each row of the page.
    pub rows: &'a [(String, String)],
    pub next_page: i64,
    /// `pending` while more pages follow, else `done` or `truncated`.
    pub state: &'static str,
}

/// A stored entity.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Entity {
    #[sqlx(rename = "entity_id")]
    pub id: String,
    pub body: String,
    pub fetched_at: i64,
}

/// Rows per multi-row INSERT: well under SQLite's 32,766 bound variables.
const ROWS_PER_INSERT: usize = 500;

#[derive(Debug, Clone)]
pub struct BootstrapStore {
    db: Database,
}

/// Queues a run for `workspace_id` in a caller's transaction (INSTALLED).
pub(super) async fn queue_in(tx: &mut Transaction<'_, Any>, workspace_id: &str, mode: RunMode) -> Result<(), StoreError> {
    let now = now_ms();
    let previous: Option<String> =
        sqlx::query_scalar("SELECT state FROM bootstrap_runs WHERE workspace_id = $1").bind(workspace_id).fetch_optional(&mut **tx).await?;
    let fresh = mode == RunMode::Restart || previous.as_deref().is_none_or(|s| s == "done");
    if fresh {
        sqlx::query("DELETE FROM bootstrap_items WHERE workspace_id = $1").bind(workspace_id).execute(&mut **tx).await?;
    } else {
        sqlx::query(
            "UPDATE bootstrap_items SET state = 'pending', last_error = NULL, updated_at = $2 WHERE workspace_id = $1 AND state = 'failed'",
        )
        .bind(workspace_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    // A running run keeps running on resume; on restart its runner loses the
    // lease at its next renewal and the queued run starts over.
    let keep_running = mode == RunMode::Resume && previous.as_deref() == Some("running");
    if keep_running {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO bootstrap_runs (workspace_id, state, owner, locked_until, started_at, finished_at, updated_at, requests, throttled, last_error) \
         VALUES ($1, 'queued', NULL, NULL, NULL, NULL, $2, 0, 0, NULL) \
         ON CONFLICT (workspace_id) DO UPDATE SET state = 'queued', owner = NULL, locked_until = NULL, finished_at = NULL, \
           updated_at = excluded.updated_at, last_error = NULL, \
           started_at = CASE WHEN $3 = 1 THEN NULL ELSE bootstrap_runs.started_at END, \
           requests = CASE WHEN $3 = 1 THEN 0 ELSE bootstrap_runs.requests END, \
           throttled = CASE WHEN $3 = 1 THEN 0 ELSE bootstrap_runs.throttled END",
    )
    .bind(workspace_id)
    .bind(now)
    .bind(i64::from(fresh))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Cancels a queued or running run in a caller's transaction (DELETED).
pub(super) async fn cancel_in(tx: &mut Transaction<'_, Any>, workspace_id: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE bootstrap_runs SET state = 'cancelled', owner = NULL, locked_until = NULL, finished_at = $2, updated_at = $2 \
         WHERE workspace_id = $1 AND state IN ('queued', 'running')",
    )
    .bind(workspace_id)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// The condition that the caller still holds the workspace's lease.
const HOLDS_LEASE: &str = "EXISTS (SELECT 1 FROM bootstrap_runs r WHERE r.workspace_id = $1 AND r.owner = $2 AND r.state = 'running')";

impl BootstrapStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Queues a run (`POST /bootstrap/{workspaceId}`).
    pub async fn queue(&self, workspace_id: &str, mode: RunMode) -> Result<(), StoreError> {
        let mut tx = self.db.pool().begin().await?;
        // A write first, so SQLite takes the write lock now rather than
        // failing to upgrade from the read below.
        sqlx::query("UPDATE bootstrap_runs SET updated_at = updated_at WHERE workspace_id = $1")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        queue_in(&mut tx, workspace_id, mode).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stops a queued or running run; its runner notices at its next lease
    /// renewal. Progress is kept, so a later resume continues. Returns
    /// whether there was anything to stop.
    pub async fn cancel(&self, workspace_id: &str) -> Result<bool, StoreError> {
        let mut tx = self.db.pool().begin().await?;
        let n = cancel_in(&mut tx, workspace_id).await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Leases the oldest queued run, or a running one whose lease expired
    /// (its instance died). PostgreSQL skips rows another instance is
    /// claiming (`FOR UPDATE SKIP LOCKED`); SQLite has one writer at a time,
    /// so the conditional update is already exclusive there.
    pub async fn claim(&self, lease_ms: i64) -> Result<Option<Lease>, StoreError> {
        let now = now_ms();
        let owner = uuid::Uuid::new_v4().to_string();
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let due = "(state = 'queued' OR (state = 'running' AND locked_until < $1))";
        let sql = format!(
            "UPDATE bootstrap_runs SET state = 'running', owner = $2, locked_until = $3, updated_at = $1, \
               started_at = COALESCE(started_at, $1) \
             WHERE workspace_id = (SELECT workspace_id FROM bootstrap_runs WHERE {due} ORDER BY updated_at LIMIT 1{lock}) \
               AND {due} \
             RETURNING workspace_id"
        );
        let ws: Option<String> =
            sqlx::query_scalar(&sql).bind(now).bind(&owner).bind(now + lease_ms).fetch_optional(self.db.pool()).await?;
        Ok(ws.map(|workspace_id| Lease { workspace_id, owner }))
    }

    /// Extends the lease; `false` when it is no longer this runner's.
    pub async fn renew(&self, lease: &Lease, lease_ms: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("UPDATE bootstrap_runs SET locked_until = $3 WHERE workspace_id = $1 AND owner = $2 AND state = 'running'")
            .bind(&lease.workspace_id)
            .bind(&lease.owner)
            .bind(now_ms() + lease_ms)
            .execute(self.db.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Ends the run with `state` (`done` or `failed`) if still held.
    pub async fn finish(&self, lease: &Lease, state: &str, error: Option<&str>) -> Result<(), StoreError> {
        let now = now_ms();
        sqlx::query(
            "UPDATE bootstrap_runs SET state = $3, owner = NULL, locked_until = NULL, finished_at = $4, updated_at = $4, last_error = $5 \
             WHERE workspace_id = $1 AND owner = $2 AND state = 'running'",
        )
        .bind(&lease.workspace_id)
        .bind(&lease.owner)
        .bind(state)
        .bind(now)
        .bind(error.map(|e| e.chars().take(1000).collect::<String>()))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Creates the items that do not exist yet; existing ones keep their progress.
    pub async fn seed(&self, lease: &Lease, items: &[NewItem]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        if !holds_lease(&mut tx, lease).await? {
            return Ok(());
        }
        for chunk in items.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO bootstrap_items (workspace_id, item, operation, parent_id, entity_type, state, next_page, pages, row_count, last_error, updated_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = 2 + i * 5;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("($1, ${}, ${}, ${}, ${}, 'pending', ${}, 0, 0, NULL, {now})", b, b + 1, b + 2, b + 3, b + 4));
            }
            sql.push_str(" ON CONFLICT (workspace_id, item) DO NOTHING");
            let mut q = sqlx::query(&sql).bind(&lease.workspace_id);
            for it in chunk {
                q = q.bind(&it.item).bind(it.operation).bind(&it.parent_id).bind(&it.entity_type).bind(it.first_page);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Items of the workspace, in creation order of their operations' plan.
    pub async fn items(&self, workspace_id: &str) -> Result<Vec<Item>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT item, operation, parent_id, entity_type, state, next_page, pages, row_count, last_error \
             FROM bootstrap_items WHERE workspace_id = $1 ORDER BY item",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?)
    }

    pub async fn run(&self, workspace_id: &str) -> Result<Option<Run>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT workspace_id, state, started_at, finished_at, updated_at, requests, throttled, last_error \
             FROM bootstrap_runs WHERE workspace_id = $1",
        )
        .bind(workspace_id)
        .fetch_optional(self.db.pool())
        .await?)
    }

    /// Stores one page: its entities upserted and its item's progress, in
    /// one transaction. `false` (and nothing written) when the lease is gone.
    pub async fn record_page(&self, lease: &Lease, page: &PageWrite<'_>) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        if !holds_lease(&mut tx, lease).await? {
            return Ok(false);
        }
        for chunk in page.rows.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from("INSERT INTO entities (workspace_id, entity_type, entity_id, body, fetched_at) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("($1, $2, ${}, ${}, {now})", 3 + 2 * i, 4 + 2 * i));
            }
            sql.push_str(
                " ON CONFLICT (workspace_id, entity_type, entity_id) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
            );
            let mut q = sqlx::query(&sql).bind(&lease.workspace_id).bind(page.entity_type);
            for (id, body) in chunk {
                q = q.bind(id).bind(body);
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query(
            "UPDATE bootstrap_items SET state = $3, next_page = $4, pages = pages + 1, row_count = row_count + $5, last_error = NULL, updated_at = $6 \
             WHERE workspace_id = $1 AND item = $2",
        )
        .bind(&lease.workspace_id)
        .bind(page.item)
        .bind(page.state)
        .bind(page.next_page)
        .bind(page.rows.len() as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends an item without a page (`failed`, or `done` when the parent
    /// entity is gone), or records a transient error on a pending one.
    pub async fn item_state(&self, lease: &Lease, item: &str, state: &str, error: Option<&str>) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE bootstrap_items SET state = $3, last_error = $4, updated_at = $5 WHERE workspace_id = $1 AND item = $6 AND {}",
            HOLDS_LEASE
        );
        sqlx::query(&sql)
            .bind(&lease.workspace_id)
            .bind(&lease.owner)
            .bind(state)
            .bind(error.map(|e| e.chars().take(1000).collect::<String>()))
            .bind(now_ms())
            .bind(item)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Gives the run back to the queue (after a database error), so this or
    /// another instance resumes it.
    pub async fn requeue(&self, lease: &Lease, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE bootstrap_runs SET state = 'queued', owner = NULL, locked_until = NULL, updated_at = $3, last_error = $4 \
             WHERE workspace_id = $1 AND owner = $2 AND state = 'running'",
        )
        .bind(&lease.workspace_id)
        .bind(&lease.owner)
        .bind(now_ms())
        .bind(error.chars().take(1000).collect::<String>())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Adds to the run's request and 429 counters.
    pub async fn count_requests(&self, workspace_id: &str, requests: i64, throttled: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE bootstrap_runs SET requests = requests + $2, throttled = throttled + $3 WHERE workspace_id = $1")
            .bind(workspace_id)
            .bind(requests)
            .bind(throttled)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Ids of a workspace's entities of one type (a child list's parents).
    pub async fn entity_ids(&self, workspace_id: &str, entity_type: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT entity_id FROM entities WHERE workspace_id = $1 AND entity_type = $2 ORDER BY entity_id")
            .bind(workspace_id)
            .bind(entity_type)
            .fetch_all(self.db.pool())
            .await?)
    }

    /// A page of the snapshot, by entity id after `after`.
    pub async fn entities(
        &self,
        workspace_id: &str,
        entity_type: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Entity>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT entity_id, body, fetched_at FROM entities \
             WHERE workspace_id = $1 AND entity_type = $2 AND entity_id > $3 ORDER BY entity_id LIMIT $4",
        )
        .bind(workspace_id)
        .bind(entity_type)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?)
    }

    /// Entities of the workspace per type, for the status view.
    pub async fn entity_counts(&self, workspace_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT entity_type, COUNT(*) AS n FROM entities WHERE workspace_id = $1 GROUP BY entity_type ORDER BY entity_type",
        )
        .bind(workspace_id)
        .fetch_all(self.db.pool())
        .await?)
    }
}

/// Confirms the lease and, by writing, takes the write lock first: SQLite
/// then never has to upgrade a read transaction (which fails with "database
/// is locked" instead of waiting), and PostgreSQL holds the run's row, so a
/// concurrent cancel or take-over waits for this commit.
async fn holds_lease(tx: &mut Transaction<'_, Any>, lease: &Lease) -> Result<bool, StoreError> {
    let n = sqlx::query("UPDATE bootstrap_runs SET updated_at = $3 WHERE workspace_id = $1 AND owner = $2 AND state = 'running'")
        .bind(&lease.workspace_id)
        .bind(&lease.owner)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}
