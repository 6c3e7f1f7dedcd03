//! Webhook signatures do not change between deliveries, so a verified one is
//! remembered (keyed by the SHA-256 of the kind it passed as and the token,
//! never the token itself, so passing as one kind says nothing of another) and the RSA
//! check is not repeated per delivery. Forgotten after a while, at DELETED
//! and when a token is replaced. Per instance; every database check (the
//! installation, the stored token) still runs on each delivery, so a stale
//! entry elsewhere cannot let a revoked token through.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::auth::token::{Claims, TokenKind};

const TTL: Duration = Duration::from_secs(600);
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], (Claims, Instant)>>,
}

fn key(kind: TokenKind, token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(kind.name().as_bytes());
    h.update([0]);
    h.update(token.as_bytes());
    h.finalize().into()
}

impl VerifiedTokens {
    pub fn get(&self, kind: TokenKind, token: &str) -> Option<Claims> {
        let mut entries = self.entries.lock();
        let k = key(kind, token);
        let (claims, at) = entries.get(&k)?;
        let now_s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if at.elapsed() > TTL || claims.exp.is_some_and(|exp| exp <= now_s) {
            entries.remove(&k);
            return None;
        }
        Some(claims.clone())
    }

    pub fn insert(&self, kind: TokenKind, token: &str, claims: Claims) {
        let mut entries = self.entries.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key(kind, token), (claims, Instant::now()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        serde_json::from_value(serde_json::json!({ "iss": "clockify", "workspaceId": "ws1" })).expect("claims")
    }

    #[test]
    fn a_token_verified_as_one_kind_is_not_remembered_as_another() {
        let cache = VerifiedTokens::default();
        cache.insert(TokenKind::RestWebhook, "t", claims());
        assert!(cache.get(TokenKind::RestWebhook, "t").is_some());
        for other in TokenKind::ALL.into_iter().filter(|k| *k != TokenKind::RestWebhook) {
            assert!(cache.get(other, "t").is_none(), "{other}");
        }
        cache.forget_workspace("ws1");
        assert!(cache.get(TokenKind::RestWebhook, "t").is_none());
    }
}
