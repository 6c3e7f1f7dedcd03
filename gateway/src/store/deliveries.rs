//! `DeliveryStore`: verified webhook deliveries, written before the answer
//! goes back to Clockify, so an acknowledged delivery is never lost, and a
//! redelivery of the same body is recognised instead of stored twice.

use super::{Database, StoreError, now_ms};
use crate::store::installations::token_sha256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct DeliveryStore {
    db: Database,
}

impl DeliveryStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn record(&self, workspace_id: &str, event: &str, body: &str) -> Result<Recorded, StoreError> {
        let n = sqlx::query(
            "INSERT INTO deliveries (id, workspace_id, event, body_sha256, body, state, attempts, received_at) \
             VALUES ($1, $2, $3, $4, $5, 'received', 0, $6) \
             ON CONFLICT (workspace_id, event, body_sha256) DO NOTHING",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(workspace_id)
        .bind(event)
        .bind(token_sha256(body))
        .bind(body)
        .bind(now_ms())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        Ok(if n == 1 { Recorded::New } else { Recorded::Duplicate })
    }

    /// Deliveries stored for a workspace and event.
    pub async fn count(&self, workspace_id: &str, event: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE workspace_id = $1 AND event = $2")
            .bind(workspace_id)
            .bind(event)
            .fetch_one(self.db.pool())
            .await?)
    }
}
