//! Webhook signatures do not change between deliveries, so a verified one is
//! remembered (keyed by its SHA-256, never the token itself) and the RSA
//! check is not repeated per delivery. Forgotten after a while, at DELETED
//! and when a token is replaced. Per instance; every database check (the
//! installation, the stored token) still runs on each delivery, so a stale
//! entry elsewhere cannot let a revoked token through.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::token::Claims;

const TTL: Duration = Duration::from_secs(600);
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], (Claims, Instant)>>,
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    pub fn get(&self, token: &str) -> Option<Claims> {
        let mut entries = self.entries.lock();
        let k = key(token);
        let (claims, at) = entries.get(&k)?;
        let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if at.elapsed() > TTL || claims.exp.is_some_and(|exp| exp <= now_s) {
            entries.remove(&k);
            return None;
        }
        Some(claims.clone())
    }

    pub fn insert(&self, token: &str, claims: Claims) {
        let mut entries = self.entries.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key(token), (claims, Instant::now()));
    }

    pub fn forget_workspace(&self, workspace_id: &str) {
        self.entries.lock().retain(|_, (c, _)| c.workspace_id.as_deref() != Some(workspace_id));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
