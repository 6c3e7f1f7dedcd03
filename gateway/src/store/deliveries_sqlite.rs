//! The inbox's hot statements on SQLite, run on the writer thread
//! (`SqliteWriter`): one transaction per batch of single-row statements,
//! each prepared once per connection. Same semantics as the one-statement
//! batches used on PostgreSQL (`deliveries.rs`), where round trips are what
//! costs.

use std::collections::HashMap;

use rusqlite::{Connection, TransactionBehavior, params};

use super::StoreError;
use super::deliveries::{ClaimedDelivery, EntityChange, NewDelivery, Recorded};
use super::installations::DeliveryContext;

/// The installations of `workspace_ids` with their live webhook token hashes.
pub fn delivery_contexts(conn: &mut Connection, workspace_ids: &[String]) -> Result<HashMap<String, DeliveryContext>, StoreError> {
    let mut out: HashMap<String, DeliveryContext> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT i.status, i.addon_id, w.event, w.token_sha256 FROM installations i \
         LEFT JOIN webhook_tokens w ON w.workspace_id = i.workspace_id AND w.state = 'active' \
         WHERE i.workspace_id = ?1",
    )?;
    for ws in workspace_ids {
        let mut rows = stmt.query(params![ws])?;
        while let Some(r) = rows.next()? {
            DeliveryContext::fold_row(&mut out, ws.clone(), || Ok((r.get(0)?, r.get(1)?)), (r.get(2)?, r.get(3)?))?;
        }
    }
    Ok(out)
}

/// Stores what is new; a key already in the window (or earlier in the same
/// batch) is a duplicate.
pub fn record_batch(
    conn: &mut Connection,
    batch: &[NewDelivery],
    ids: &[String],
    now: i64,
    lease_until: Option<i64>,
) -> Result<Vec<Recorded>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut key = tx.prepare_cached(
            "INSERT INTO delivery_keys (workspace_id, event, body_sha256, received_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (workspace_id, event, body_sha256) DO NOTHING",
        )?;
        let mut delivery = tx.prepare_cached(
            "INSERT INTO deliveries (id, workspace_id, event, body_sha256, body, state, attempts, next_attempt_at, \
             locked_until, last_error, received_at, handled_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?7 IS NULL THEN 'received' ELSE 'running' END, \
                     CASE WHEN ?7 IS NULL THEN 0 ELSE 1 END, COALESCE(?7, ?6), ?7, NULL, ?6, NULL)",
        )?;
        for (d, id) in batch.iter().zip(ids) {
            if key.execute(params![d.workspace_id, d.event, d.body_sha256, now])? == 1 {
                delivery.execute(params![id, d.workspace_id, d.event, d.body_sha256, d.body, now, lease_until])?;
                out.push(Recorded::New);
            } else {
                out.push(Recorded::Duplicate);
            }
        }
    }
    tx.commit()?;
    Ok(out)
}

pub fn claim(conn: &mut Connection, limit: i64, now: i64, lease_ms: i64) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE deliveries SET state = 'running', attempts = attempts + 1, locked_until = ?2 \
         WHERE id IN (SELECT id FROM deliveries \
                      WHERE state IN ('received', 'retrying', 'running') AND next_attempt_at <= ?1 \
                        AND (locked_until IS NULL OR locked_until < ?1) \
                      ORDER BY next_attempt_at LIMIT ?3) \
         RETURNING id, workspace_id, event, body, attempts, received_at",
    )?;
    let rows = stmt.query_map(params![now, now + lease_ms, limit], |r| {
        Ok(ClaimedDelivery {
            id: r.get(0)?,
            workspace_id: r.get(1)?,
            event: r.get(2)?,
            body: r.get(3)?,
            attempt: r.get(4)?,
            received_at: r.get(5)?,
            leased_until: now + lease_ms,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Marks `ids` done and applies `changes` (each entity's last change of the batch).
pub fn complete(conn: &mut Connection, ids: &[String], changes: &[EntityChange], now: i64) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO entities (workspace_id, entity_type, entity_id, body, fetched_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (workspace_id, entity_type, entity_id) DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
        )?;
        let mut delete = tx.prepare_cached("DELETE FROM entities WHERE workspace_id = ?1 AND entity_type = ?2 AND entity_id = ?3")?;
        for c in changes {
            match &c.body {
                Some(body) => upsert.execute(params![c.workspace_id, c.entity_type, c.entity_id, body, now])?,
                None => delete.execute(params![c.workspace_id, c.entity_type, c.entity_id])?,
            };
        }
        let mut done = tx.prepare_cached(
            "UPDATE deliveries SET state = 'done', locked_until = NULL, last_error = NULL, handled_at = ?1 WHERE id = ?2",
        )?;
        for id in ids {
            done.execute(params![now, id])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// See `DeliveryStore::release`.
pub fn release(conn: &mut Connection, leases: &[(String, i64)], now: i64) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut released = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE deliveries SET state = CASE WHEN attempts <= 1 THEN 'received' ELSE 'retrying' END, \
                     attempts = attempts - 1, locked_until = NULL, next_attempt_at = ?3 \
             WHERE id = ?1 AND state = 'running' AND locked_until = ?2",
        )?;
        for (id, leased_until) in leases {
            released += stmt.execute(params![id, leased_until, now])? as u64;
        }
    }
    tx.commit()?;
    Ok(released)
}

pub fn fail(conn: &mut Connection, id: &str, state: &str, error: &str, next_attempt_at: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE deliveries SET state = ?2, locked_until = NULL, last_error = ?3, next_attempt_at = ?4 WHERE id = ?1")?
        .execute(params![id, state, error, next_attempt_at])?;
    Ok(())
}
