//! `DeliveryStore`: the webhook inbox and delivery log.
//!
//! `ingest` writes verified deliveries (and their duplicate keys) before the
//! answer goes back to Clockify, many requests sharing one commit, and can
//! lease the new ones to the accepting instance at once. The worker
//! `claim`s the other due deliveries under a lease (safe across instances:
//! on PostgreSQL the claiming UPDATE re-checks that the row is still due
//! and unleased, on SQLite it runs under the database's one write lock, so
//! only one claimer wins a row), and `complete`s them, applying the mirror
//! change in the same transaction, or `fail`s them into a retry or the
//! dead-letter state.

use std::collections::HashMap;

use super::deliveries_sqlite as sqlite;
use super::installations::{DeliveryContext, InstallationStore};
use super::{Database, StoreError, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
}

/// A verified delivery to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub workspace_id: String,
    pub event: String,
    pub body: String,
    /// The duplicate key's hash, computed by the request (off the writer).
    pub body_sha256: String,
}

/// A delivery claimed for handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub id: String,
    pub workspace_id: String,
    pub event: String,
    pub body: String,
    /// 1 on the first attempt.
    pub attempt: i64,
    pub received_at: i64,
    /// When the lease ends and another worker may take the delivery.
    pub leased_until: i64,
}

/// A delivery as the claiming UPDATE returns it; the lease's end is the
/// claimer's.
#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: String,
    workspace_id: String,
    event: String,
    body: String,
    attempts: i64,
    received_at: i64,
}

/// What one ingest stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// For each delivery of the batch, in order.
    pub recorded: Vec<Recorded>,
    /// The new deliveries, leased to this instance at insert when the
    /// ingest was given a lease: its inbox handles them without a claim.
    pub leased: Vec<ClaimedDelivery>,
}

/// A change to the entity mirror, applied with the delivery's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorChange {
    Upsert { entity_type: &'static str, entity_id: String, body: String },
    Delete { entity_type: &'static str, entity_id: String },
}

/// The last change of one entity in a batch; `body: None` deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EntityChange {
    pub workspace_id: String,
    pub entity_type: &'static str,
    pub entity_id: String,
    pub body: Option<String>,
}

/// Upserts and deletes overwrite: only each entity's last change in the
/// batch (they are in arrival order) needs to reach the table.
fn last_changes(done: &[(ClaimedDelivery, Option<MirrorChange>)]) -> Vec<EntityChange> {
    let mut last: Vec<EntityChange> = Vec::new();
    for (d, mirror) in done {
        let change = match mirror {
            Some(MirrorChange::Upsert { entity_type, entity_id, body }) => {
                EntityChange { workspace_id: d.workspace_id.clone(), entity_type, entity_id: entity_id.clone(), body: Some(body.clone()) }
            }
            Some(MirrorChange::Delete { entity_type, entity_id }) => {
                EntityChange { workspace_id: d.workspace_id.clone(), entity_type, entity_id: entity_id.clone(), body: None }
            }
            None => continue,
        };
        last.retain(|c| (&c.workspace_id, c.entity_type, &c.entity_id) != (&change.workspace_id, change.entity_type, &change.entity_id));
        last.push(change);
    }
    last
}

/// Ids for a batch's deliveries, made before the write so both backends
/// store and hand over the same ones. Version 7: they sort by arrival.
fn new_ids(batch: &[NewDelivery]) -> Vec<String> {
    batch.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect()
}

/// The ingest's answer: `recorded` per delivery, and the new ones as
/// claimed deliveries when they were stored leased.
fn stored(batch: Vec<NewDelivery>, ids: Vec<String>, recorded: Vec<Recorded>, now: i64, lease_until: Option<i64>) -> Stored {
    let leased = match lease_until {
        None => Vec::new(),
        Some(leased_until) => batch
            .into_iter()
            .zip(ids)
            .zip(&recorded)
            .filter(|(_, r)| **r == Recorded::New)
            .map(|((d, id), _)| ClaimedDelivery {
                id,
                workspace_id: d.workspace_id,
                event: d.event,
                body: d.body,
                attempt: 1,
                received_at: now,
                leased_until,
            })
            .collect(),
    };
    Stored { recorded, leased }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub pending: i64,
    pub done: i64,
    pub dead: i64,
}

/// Ingest batches written at once on PostgreSQL (one waits for its WAL
/// flush while the next is written); SQLite has one writer.
pub const POSTGRES_INGEST_BATCHES: usize = 2;

/// The inbox's statements (ingest, claim, complete, release, fail) run on
/// the writer thread on SQLite (`deliveries_sqlite`); on PostgreSQL a
/// batch is one statement (the batch as one JSON parameter) on a kept
/// connection (`kept_connections`), since there round trips are what
/// costs. The rest (purge, counts, entity reads) goes through the pool.
#[derive(Debug, Clone)]
pub struct DeliveryStore {
    db: Database,
}

impl DeliveryStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// One group commit of the webhook ingest: reads the installations of
    /// `workspaces`, lets `decide` choose what to store (the checks that
    /// need the database), stores that, and says for each whether it was
    /// new or a duplicate. With `lease_ms`, new deliveries are stored
    /// already leased to the caller (as if claimed, first attempt) and come
    /// back in `Stored::leased`: the inbox of the instance that accepted
    /// them handles them without a claim, which on PostgreSQL saves a
    /// statement, a commit and a row version per delivery. On SQLite all of
    /// it is one job for the writer. The outer error means nothing could be
    /// decided; the inner one that what was decided could not be stored
    /// (and none of it was).
    pub async fn ingest<D, F>(
        &self,
        workspaces: Vec<String>,
        lease_ms: Option<i64>,
        decide: F,
    ) -> Result<(D, Result<Stored, StoreError>), StoreError>
    where
        D: Send + 'static,
        F: FnOnce(&HashMap<String, DeliveryContext>) -> (D, Vec<NewDelivery>) + Send + 'static,
    {
        let now = now_ms();
        let lease_until = lease_ms.map(|ms| now + ms);
        match self.db.sqlite_writer() {
            Some(writer) => {
                writer
                    .run(move |conn| {
                        let contexts = sqlite::delivery_contexts(conn, &workspaces)?;
                        let (decided, batch) = decide(&contexts);
                        let ids = new_ids(&batch);
                        let stored = match batch.is_empty() {
                            true => Ok(Stored::default()),
                            false => {
                                sqlite::record_batch(conn, &batch, &ids, now, lease_until).map(|r| stored(batch, ids, r, now, lease_until))
                            }
                        };
                        Ok((decided, stored))
                    })
                    .await
            }
            None => {
                // One connection for the read and the write, kept for the
                // next batch: the pool pings on every acquire and release.
                let kept = self.db.ingest_connections();
                let mut conn = kept.take().await?;
                let refs: Vec<&str> = workspaces.iter().map(String::as_str).collect();
                let contexts = InstallationStore::delivery_contexts(&mut conn, &refs).await?;
                let (decided, batch) = decide(&contexts);
                let ids = new_ids(&batch);
                let recorded = Self::record_batch_postgres(&mut conn, &batch, &ids, now, lease_until).await;
                if recorded.is_ok() {
                    kept.keep(conn);
                }
                Ok((decided, recorded.map(|r| stored(batch, ids, r, now, lease_until))))
            }
        }
    }

    /// Stores a batch with one statement (so one round trip and one
    /// commit): the batch travels as one JSON parameter, so the statement's
    /// text does not depend on the batch's size and stays prepared. A key
    /// already stored within the window, or earlier in the same batch, is a
    /// duplicate.
    async fn record_batch_postgres(
        conn: &mut sqlx::AnyConnection,
        batch: &[NewDelivery],
        ids: &[String],
        now: i64,
        lease_until: Option<i64>,
    ) -> Result<Vec<Recorded>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<serde_json::Value> = batch
            .iter()
            .zip(ids)
            .enumerate()
            .map(|(n, (d, id))| {
                serde_json::json!({ "n": n, "id": id, "workspace_id": d.workspace_id, "event": d.event,
                                    "body_sha256": d.body_sha256, "body": d.body })
            })
            .collect();
        let stored: Vec<String> = sqlx::query_scalar(
            "WITH batch AS ( \
                 SELECT * FROM json_to_recordset($1::json) \
                   AS b(n bigint, id text, workspace_id text, event text, body_sha256 text, body text)), \
             firsts AS ( \
                 SELECT DISTINCT ON (workspace_id, event, body_sha256) * FROM batch \
                 ORDER BY workspace_id, event, body_sha256, n), \
             keys AS ( \
                 INSERT INTO delivery_keys (workspace_id, event, body_sha256, received_at) \
                 SELECT workspace_id, event, body_sha256, $2 FROM firsts \
                 ON CONFLICT (workspace_id, event, body_sha256) DO NOTHING \
                 RETURNING workspace_id, event, body_sha256), \
             stored AS ( \
                 INSERT INTO deliveries (id, workspace_id, event, body_sha256, body, state, attempts, next_attempt_at, \
                                         locked_until, last_error, received_at, handled_at) \
                 SELECT f.id, f.workspace_id, f.event, f.body_sha256, f.body, \
                        CASE WHEN $3::bigint IS NULL THEN 'received' ELSE 'running' END, \
                        CASE WHEN $3::bigint IS NULL THEN 0 ELSE 1 END, COALESCE($3::bigint, $2), $3::bigint, NULL, $2, NULL \
                 FROM firsts f JOIN keys k \
                   ON k.workspace_id = f.workspace_id AND k.event = f.event AND k.body_sha256 = f.body_sha256 \
                 RETURNING id) \
             SELECT id FROM stored",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(now)
        .bind(lease_until)
        .fetch_all(&mut *conn)
        .await?;
        let stored: std::collections::HashSet<String> = stored.into_iter().collect();
        Ok(ids.iter().map(|id| if stored.contains(id) { Recorded::New } else { Recorded::Duplicate }).collect())
    }

    /// A PostgreSQL connection for the inbox's own bookkeeping (claims,
    /// completions, failures, releases), each one statement committed on
    /// its own, without waiting for its WAL flush and planned for its
    /// values (see `BOOKKEEPING_SETTINGS` in `store`).
    async fn bookkeeping(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.db.bookkeeping_connections().take().await?)
    }

    /// Keeps a bookkeeping connection whose statement went through, for
    /// the next one (as the ingest does).
    fn bookkeeping_done(&self, conn: sqlx::pool::PoolConnection<sqlx::Any>) {
        self.db.bookkeeping_connections().keep(conn);
    }

    /// Leases up to `limit` of the oldest due deliveries for `lease_ms`.
    /// On PostgreSQL, an UPDATE that waited for a row lock re-checks only
    /// its own WHERE against the row it then finds, not the subquery's; so
    /// the WHERE repeats every condition (a row completed meanwhile is no
    /// longer due).
    pub async fn claim(&self, limit: i64, lease_ms: i64) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = now_ms();
        let mut claimed = match self.db.sqlite_writer() {
            Some(writer) => writer.run(move |conn| sqlite::claim(conn, limit, now, lease_ms)).await?,
            None => {
                let mut conn = self.bookkeeping().await?;
                let rows = sqlx::query_as::<_, ClaimedRow>(
                    "UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_until = $2 \
                     WHERE id IN (SELECT id FROM deliveries \
                                  WHERE state IN ('received', 'retrying', 'running') AND next_attempt_at <= $1 \
                                    AND (locked_until IS NULL OR locked_until < $1) \
                                  ORDER BY next_attempt_at LIMIT $3) \
                       AND state IN ('received', 'retrying', 'running') AND next_attempt_at <= $1 \
                       AND (locked_until IS NULL OR locked_until < $1) \
                     RETURNING id, workspace_id, event, body, attempts, received_at",
                )
                .bind(now)
                .bind(now + lease_ms)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
                self.bookkeeping_done(conn);
                rows.into_iter()
                    .map(|r| ClaimedDelivery {
                        id: r.id,
                        workspace_id: r.workspace_id,
                        event: r.event,
                        body: r.body,
                        attempt: r.attempts,
                        received_at: r.received_at,
                        leased_until: now + lease_ms,
                    })
                    .collect::<Vec<_>>()
            }
        };
        claimed.sort_by_key(|c| c.received_at);
        Ok(claimed)
    }

    /// Marks deliveries handled and applies their mirror changes, all in one
    /// transaction (one commit for a whole batch).
    pub async fn complete(&self, done: &[(ClaimedDelivery, Option<MirrorChange>)]) -> Result<(), StoreError> {
        if done.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let changes = last_changes(done);
        let ids: Vec<String> = done.iter().map(|(d, _)| d.id.clone()).collect();
        if let Some(writer) = self.db.sqlite_writer() {
            return writer.run(move |conn| sqlite::complete(conn, &ids, &changes, now)).await;
        }
        // One statement, one commit; the upserts and deletes touch distinct
        // entities (one change per entity), as one statement requires. The
        // ids as an array: `IN (subquery)` was planned as a scan of the
        // whole table while it was small, even as a custom plan.
        let changes: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| {
                serde_json::json!({ "workspace_id": c.workspace_id, "entity_type": c.entity_type,
                                         "entity_id": c.entity_id, "body": c.body })
            })
            .collect();
        let mut conn = self.bookkeeping().await?;
        sqlx::query(
            "WITH changes AS ( \
                 SELECT * FROM json_to_recordset($2::json) AS c(workspace_id text, entity_type text, entity_id text, body text)), \
             upserted AS ( \
                 INSERT INTO entities (workspace_id, entity_type, entity_id, body, fetched_at) \
                 SELECT workspace_id, entity_type, entity_id, body, $1 FROM changes WHERE body IS NOT NULL \
                 ON CONFLICT (workspace_id, entity_type, entity_id) \
                 DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at \
                 RETURNING 1), \
             deleted AS ( \
                 DELETE FROM entities e USING changes c \
                 WHERE c.body IS NULL AND e.workspace_id = c.workspace_id \
                   AND e.entity_type = c.entity_type AND e.entity_id = c.entity_id \
                 RETURNING 1) \
             UPDATE deliveries SET state = 'done', locked_until = NULL, last_error = NULL, handled_at = $1 \
             WHERE id = ANY (ARRAY(SELECT json_array_elements_text($3::json)))",
        )
        .bind(now)
        .bind(serde_json::Value::Array(changes).to_string())
        .bind(serde_json::Value::from(ids).to_string())
        .execute(&mut *conn)
        .await?;
        self.bookkeeping_done(conn);
        Ok(())
    }
}

impl DeliveryStore {
    /// Gives back the leases of deliveries this instance will not handle
    /// (it is stopping): they are due at once for any instance, and the
    /// attempt their lease counted is taken back, since no handler ran. A
    /// lease that is no longer the one given (ran out and was claimed
    /// again) is left alone. Returns how many were released.
    pub async fn release(&self, leased: &[ClaimedDelivery]) -> Result<u64, StoreError> {
        if leased.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        let leases: Vec<(String, i64)> = leased.iter().map(|d| (d.id.clone(), d.leased_until)).collect();
        if let Some(writer) = self.db.sqlite_writer() {
            return writer.run(move |conn| sqlite::release(conn, &leases, now)).await;
        }
        let rows: Vec<serde_json::Value> =
            leases.iter().map(|(id, until)| serde_json::json!({ "id": id, "leased_until": until })).collect();
        let mut conn = self.bookkeeping().await?;
        let released = sqlx::query(
            "UPDATE deliveries d SET state = CASE WHEN d.attempts <= 1 THEN 'received' ELSE 'retrying' END, \
                    attempts = d.attempts - 1, locked_until = NULL, next_attempt_at = $2 \
             FROM json_to_recordset($1::json) AS l(id text, leased_until bigint) \
             WHERE d.id = l.id AND d.state = 'running' AND d.locked_until = l.leased_until",
        )
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        self.bookkeeping_done(conn);
        Ok(released)
    }

    /// Schedules another attempt after `retry_in_ms`, or marks the delivery
    /// dead when `dead` is set. The error text is kept for operators.
    pub async fn fail(&self, id: &str, error: &str, retry_in_ms: i64, dead: bool) -> Result<(), StoreError> {
        let now = now_ms();
        let state = if dead { "dead" } else { "retrying" };
        let error: String = error.chars().take(1000).collect();
        if let Some(writer) = self.db.sqlite_writer() {
            let id = id.to_owned();
            return writer.run(move |conn| sqlite::fail(conn, &id, state, &error, now + retry_in_ms)).await;
        }
        let mut conn = self.bookkeeping().await?;
        sqlx::query("UPDATE deliveries SET state = $2, locked_until = NULL, last_error = $3, next_attempt_at = $4 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(&error)
            .bind(now + retry_in_ms)
            .execute(&mut *conn)
            .await?;
        self.bookkeeping_done(conn);
        Ok(())
    }

    /// Deletes log rows and duplicate keys past their windows, at most
    /// `batch` rows each; returns how many went.
    pub async fn purge(&self, log_older_than_ms: Option<i64>, keys_older_than_ms: i64, batch: i64) -> Result<u64, StoreError> {
        let mut n = sqlx::query(
            "DELETE FROM delivery_keys WHERE (workspace_id, event, body_sha256) IN \
             (SELECT workspace_id, event, body_sha256 FROM delivery_keys WHERE received_at < $1 LIMIT $2)",
        )
        .bind(keys_older_than_ms)
        .bind(batch)
        .execute(self.db.pool())
        .await?
        .rows_affected();
        if let Some(cutoff) = log_older_than_ms {
            n += sqlx::query(
                "DELETE FROM deliveries WHERE id IN \
                 (SELECT id FROM deliveries WHERE received_at < $1 AND state IN ('done', 'dead') LIMIT $2)",
            )
            .bind(cutoff)
            .bind(batch)
            .execute(self.db.pool())
            .await?
            .rows_affected();
        }
        Ok(n)
    }

    /// Deliveries stored for a workspace and event.
    pub async fn count(&self, workspace_id: &str, event: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE workspace_id = $1 AND event = $2")
            .bind(workspace_id)
            .bind(event)
            .fetch_one(self.db.pool())
            .await?)
    }

    pub async fn state_counts(&self, workspace_id: &str) -> Result<StateCounts, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) AS n FROM deliveries WHERE workspace_id = $1 GROUP BY state")
            .bind(workspace_id)
            .fetch_all(self.db.pool())
            .await?;
        let mut c = StateCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "done" => c.done += n,
                "dead" => c.dead += n,
                _ => c.pending += n,
            }
        }
        Ok(c)
    }

    /// The mirrored JSON of one entity, if any.
    pub async fn entity(&self, workspace_id: &str, entity_type: &str, entity_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT body FROM entities WHERE workspace_id = $1 AND entity_type = $2 AND entity_id = $3")
            .bind(workspace_id)
            .bind(entity_type)
            .bind(entity_id)
            .fetch_optional(self.db.pool())
            .await?)
    }
}
