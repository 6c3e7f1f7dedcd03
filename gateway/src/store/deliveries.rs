//! `DeliveryStore`: the webhook inbox and delivery log.
//!
//! `record` writes a verified delivery (and its duplicate key) before the
//! answer goes back to Clockify. The worker then `claim`s due deliveries
//! under a lease (safe across instances: the claiming UPDATE re-checks the
//! lease, so only one instance wins a row), and `complete`s them, applying
//! the mirror change in the same transaction, or `fail`s them into a retry or
//! the dead-letter state.

use sqlx::Row;

use super::{Database, StoreError, now_ms};
use crate::store::installations::sha256_hex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
}

/// `(workspace, entity type, entity id)` of the mirror.
type EntityKey<'a> = (&'a str, &'a str, &'a str);

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
}

/// A change to the entity mirror, applied with the delivery's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorChange {
    Upsert { entity_type: &'static str, entity_id: String, body: String },
    Delete { entity_type: &'static str, entity_id: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub pending: i64,
    pub done: i64,
    pub dead: i64,
}

#[derive(Debug, Clone)]
pub struct DeliveryStore {
    db: Database,
}

impl DeliveryStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores a batch of deliveries in one transaction of two statements
    /// (group commit: concurrent requests share it); for each, whether it was
    /// new or a duplicate of one stored within the window (or earlier in the
    /// same batch).
    pub async fn record_batch(&self, batch: &[(String, String, String)]) -> Result<Vec<Recorded>, StoreError> {
        use std::collections::HashSet;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let hashes: Vec<String> = batch.iter().map(|(_, _, body)| sha256_hex(body)).collect();
        // Only the first of identical deliveries in a batch can be new.
        let mut seen = HashSet::new();
        let firsts: Vec<usize> = (0..batch.len()).filter(|&i| seen.insert((&batch[i].0, &batch[i].1, &hashes[i]))).collect();
        let _turn = self.db.write_turn().await;
        let mut tx = self.db.pool().begin().await?;
        let mut sql = String::from("INSERT INTO delivery_keys (workspace_id, event, body_sha256, received_at) VALUES ");
        for (n, _) in firsts.iter().enumerate() {
            let p = n * 3;
            sql.push_str(&format!("{}(${}, ${}, ${}, ${})", if n > 0 { ", " } else { "" }, p + 1, p + 2, p + 3, firsts.len() * 3 + 1));
        }
        sql.push_str(" ON CONFLICT (workspace_id, event, body_sha256) DO NOTHING RETURNING workspace_id, event, body_sha256");
        let mut q = sqlx::query(&sql);
        for &i in &firsts {
            q = q.bind(&batch[i].0).bind(&batch[i].1).bind(&hashes[i]);
        }
        let inserted = q.bind(now).fetch_all(&mut *tx).await?;
        let fresh: HashSet<(String, String, String)> = inserted
            .iter()
            .map(|r| Ok((r.try_get("workspace_id")?, r.try_get("event")?, r.try_get("body_sha256")?)))
            .collect::<Result<_, StoreError>>()?;
        let new: Vec<usize> =
            firsts.into_iter().filter(|&i| fresh.contains(&(batch[i].0.clone(), batch[i].1.clone(), hashes[i].clone()))).collect();
        if !new.is_empty() {
            let mut sql = String::from(
                "INSERT INTO deliveries (id, workspace_id, event, body_sha256, body, state, attempts, next_attempt_at, \
                 locked_until, last_error, received_at, handled_at) VALUES ",
            );
            let now_param = new.len() * 5 + 1;
            for (n, _) in new.iter().enumerate() {
                let p = n * 5;
                sql.push_str(&format!(
                    "{}(${}, ${}, ${}, ${}, ${}, 'received', 0, ${now_param}, NULL, NULL, ${now_param}, NULL)",
                    if n > 0 { ", " } else { "" },
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5
                ));
            }
            let mut q = sqlx::query(&sql);
            for &i in &new {
                q = q.bind(uuid::Uuid::new_v4().to_string()).bind(&batch[i].0).bind(&batch[i].1).bind(&hashes[i]).bind(&batch[i].2);
            }
            q.bind(now).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let new: HashSet<usize> = new.into_iter().collect();
        Ok((0..batch.len()).map(|i| if new.contains(&i) { Recorded::New } else { Recorded::Duplicate }).collect())
    }

    /// Leases up to `limit` of the oldest due deliveries for `lease_ms`.
    pub async fn claim(&self, limit: i64, lease_ms: i64) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = now_ms();
        let _turn = self.db.write_turn().await;
        let rows = sqlx::query(
            "UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_until = $2 \
             WHERE id IN (SELECT id FROM deliveries \
                          WHERE state IN ('received', 'retrying', 'running') AND next_attempt_at <= $1 \
                            AND (locked_until IS NULL OR locked_until < $1) \
                          ORDER BY next_attempt_at LIMIT $3) \
               AND (locked_until IS NULL OR locked_until < $1) \
             RETURNING id, workspace_id, event, body, attempts, received_at",
        )
        .bind(now)
        .bind(now + lease_ms)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        let mut claimed: Vec<ClaimedDelivery> = rows
            .iter()
            .map(|r| {
                Ok(ClaimedDelivery {
                    id: r.try_get("id")?,
                    workspace_id: r.try_get("workspace_id")?,
                    event: r.try_get("event")?,
                    body: r.try_get("body")?,
                    attempt: r.try_get("attempts")?,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
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
        // Upserts and deletes overwrite: only each entity's last change in
        // the batch (they are in arrival order) needs to reach the table.
        let mut last: Vec<(EntityKey<'_>, Option<&str>)> = Vec::new();
        for (d, mirror) in done {
            let (key, body) = match mirror {
                Some(MirrorChange::Upsert { entity_type, entity_id, body }) => {
                    ((d.workspace_id.as_str(), *entity_type, entity_id.as_str()), Some(body.as_str()))
                }
                Some(MirrorChange::Delete { entity_type, entity_id }) => ((d.workspace_id.as_str(), *entity_type, entity_id.as_str()), None),
                None => continue,
            };
            last.retain(|(k, _)| *k != key);
            last.push((key, body));
        }
        let _turn = self.db.write_turn().await;
        let mut tx = self.db.pool().begin().await?;
        let upserts: Vec<_> = last.iter().filter_map(|(k, b)| b.map(|b| (k, b))).collect();
        if !upserts.is_empty() {
            let mut sql = String::from("INSERT INTO entities (workspace_id, entity_type, entity_id, body, fetched_at) VALUES ");
            let now_param = upserts.len() * 4 + 1;
            for n in 0..upserts.len() {
                let p = n * 4;
                sql.push_str(&format!("{}(${}, ${}, ${}, ${}, ${now_param})", if n > 0 { ", " } else { "" }, p + 1, p + 2, p + 3, p + 4));
            }
            sql.push_str(" ON CONFLICT (workspace_id, entity_type, entity_id) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at");
            let mut q = sqlx::query(&sql);
            for ((ws, ty, id), body) in &upserts {
                q = q.bind(*ws).bind(*ty).bind(*id).bind(*body);
            }
            q.bind(now).execute(&mut *tx).await?;
        }
        for ((ws, ty, id), _) in last.iter().filter(|(_, b)| b.is_none()) {
            sqlx::query("DELETE FROM entities WHERE workspace_id = $1 AND entity_type = $2 AND entity_id = $3")
                .bind(*ws)
                .bind(*ty)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        let ids: Vec<String> = (0..done.len()).map(|n| format!("${}", n + 2)).collect();
        let sql = format!(
            "UPDATE deliveries SET state = 'done', locked_until = NULL, last_error = NULL, handled_at = $1 WHERE id IN ({})",
            ids.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(now);
        for (d, _) in done {
            q = q.bind(&d.id);
        }
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl DeliveryStore {
    /// Schedules another attempt after `retry_in_ms`, or marks the delivery
    /// dead when `dead` is set. The error text is kept for operators.
    pub async fn fail(&self, id: &str, error: &str, retry_in_ms: i64, dead: bool) -> Result<(), StoreError> {
        let now = now_ms();
        let state = if dead { "dead" } else { "retrying" };
        let _turn = self.db.write_turn().await;
        sqlx::query(
            "UPDATE deliveries SET state = $2, locked_until = NULL, last_error = $3, next_attempt_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(error.chars().take(1000).collect::<String>())
        .bind(now + retry_in_ms)
        .execute(self.db.pool())
        .await?;
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
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM deliveries WHERE workspace_id = $1 GROUP BY state")
            .bind(workspace_id)
            .fetch_all(self.db.pool())
            .await?;
        let mut c = StateCounts::default();
        for r in rows {
            let state: String = r.try_get("state")?;
            let n: i64 = r.try_get("n")?;
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
