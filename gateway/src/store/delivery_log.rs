//! `DeliveryLog`: the operator's view of the inbox: the delivery log with
//! filters, replays through the same ledger the workers use, dead-letter
//! depth. Replaying only moves a delivery back to `retrying`; the inbox
//! workers run it like any other, so a replay is handled at least once and a
//! handled delivery is not handled again unless forced.

use super::{Database, StoreError, now_ms};

/// Which deliveries a listing or replay covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub event: Option<String>,
    /// `pending` (received or running), `retrying`, `done` or `dead`.
    pub status: Option<String>,
    /// Received at or after, Unix milliseconds.
    pub from: Option<i64>,
    /// Received before, Unix milliseconds.
    pub to: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LogEntry {
    pub id: String,
    pub event: String,
    /// As stored: `received`, `running`, `retrying`, `done` or `dead`.
    pub state: String,
    pub attempts: i64,
    pub received_at: i64,
    pub handled_at: Option<i64>,
    pub last_error: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayCounts {
    pub replayed: Vec<String>,
    /// Already handled (without `force`) or already waiting for a worker.
    pub skipped: Vec<String>,
    /// Named ids that are not deliveries of the workspace.
    pub failed: Vec<String>,
}

/// Deliveries a replay by filter covers at most.
pub const REPLAY_LIMIT: i64 = 1000;

#[derive(Debug, Clone)]
pub struct DeliveryLog {
    db: Database,
}

/// The stored states a status filter names.
fn states_of(status: &str) -> Option<&'static [&'static str]> {
    Some(match status {
        "pending" => &["received", "running"],
        "retrying" => &["retrying"],
        "done" => &["done"],
        "dead" => &["dead"],
        _ => return None,
    })
}

/// The handler state an operator reads: `pending`, `retrying`, `done`, `dead`.
pub fn handler_state(stored: &str) -> &'static str {
    match stored {
        "retrying" => "retrying",
        "done" => "done",
        "dead" => "dead",
        _ => "pending",
    }
}

/// Appends the filter's conditions; placeholders start after `next`.
fn where_filter(sql: &mut String, f: &LogFilter, next: &mut usize) -> Result<Vec<String>, StoreError> {
    let mut binds: Vec<String> = Vec::new();
    if let Some(e) = &f.event {
        sql.push_str(&format!(" AND event = ${next}"));
        *next += 1;
        binds.push(e.clone());
    }
    if let Some(s) = &f.status {
        let states = states_of(s).ok_or_else(|| StoreError::Corrupt(format!("unknown status `{s}`")))?;
        let list: Vec<String> = states.iter().map(|s| format!("'{s}'")).collect();
        sql.push_str(&format!(" AND state IN ({})", list.join(", ")));
    }
    if let Some(from) = f.from {
        sql.push_str(&format!(" AND received_at >= {from}"));
    }
    if let Some(to) = f.to {
        sql.push_str(&format!(" AND received_at < {to}"));
    }
    Ok(binds)
}

impl DeliveryLog {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Newest first; `before` is the `(received_at, id)` of the previous
    /// page's last entry.
    pub async fn list(
        &self,
        workspace_id: &str,
        filter: &LogFilter,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT id, event, state, attempts, received_at, handled_at, last_error, body FROM deliveries WHERE workspace_id = $1",
        );
        let mut next = 2;
        let binds = where_filter(&mut sql, filter, &mut next)?;
        if before.is_some() {
            sql.push_str(&format!(" AND (received_at < ${} OR (received_at = ${} AND id < ${}))", next, next, next + 1));
        }
        sql.push_str(&format!(" ORDER BY received_at DESC, id DESC LIMIT {}", limit.clamp(1, 1000)));
        let mut q = sqlx::query_as::<_, LogEntry>(&sql).bind(workspace_id);
        for b in &binds {
            q = q.bind(b);
        }
        if let Some((at, id)) = before {
            q = q.bind(at).bind(id);
        }
        Ok(q.fetch_all(self.db.pool()).await?)
    }

    /// Puts dead deliveries (and, with `force`, handled ones) back in the
    /// inbox with fresh attempts. `ids` when given, else everything the
    /// filter matches (at most [`REPLAY_LIMIT`]).
    pub async fn replay(
        &self,
        workspace_id: &str,
        ids: Option<&[String]>,
        filter: &LogFilter,
        force: bool,
    ) -> Result<ReplayCounts, StoreError> {
        let mut out = ReplayCounts::default();
        let candidates: Vec<String> = match ids {
            Some(ids) => {
                let mut found = Vec::new();
                for id in ids {
                    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE workspace_id = $1 AND id = $2")
                        .bind(workspace_id)
                        .bind(id)
                        .fetch_one(self.db.pool())
                        .await?;
                    if n == 1 { found.push(id.clone()) } else { out.failed.push(id.clone()) }
                }
                found
            }
            None => {
                let mut sql = String::from("SELECT id FROM deliveries WHERE workspace_id = $1");
                let mut next = 2;
                let binds = where_filter(&mut sql, filter, &mut next)?;
                sql.push_str(&format!(" ORDER BY received_at LIMIT {REPLAY_LIMIT}"));
                let mut q = sqlx::query_scalar(&sql).bind(workspace_id);
                for b in &binds {
                    q = q.bind(b);
                }
                q.fetch_all(self.db.pool()).await?
            }
        };
        let replayable = if force { "('dead', 'done')" } else { "('dead')" };
        let sql = format!(
            "UPDATE deliveries SET state = 'retrying', attempts = 0, next_attempt_at = $3, locked_until = NULL, last_error = NULL, handled_at = NULL \
             WHERE workspace_id = $1 AND id = $2 AND state IN {replayable}"
        );
        for id in candidates {
            let n = sqlx::query(&sql).bind(workspace_id).bind(&id).bind(now_ms()).execute(self.db.pool()).await?.rows_affected();
            if n == 1 { out.replayed.push(id) } else { out.skipped.push(id) }
        }
        Ok(out)
    }

    /// Dead deliveries of every workspace, for `/metrics` (one count over the
    /// partial index `deliveries_dead`; no workspace id leaves the store).
    pub async fn dead_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'dead'").fetch_one(self.db.pool()).await?)
    }
}
