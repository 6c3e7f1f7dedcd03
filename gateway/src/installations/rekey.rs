//! Key rotation: moves every stored secret to the current `ENCRYPTION_KEY`
//! in batches, at start and then every few minutes, so old keys
//! (`ENCRYPTION_KEYS`) can be removed once the log (or the
//! `secrets_under_old_keys` gauge) says nothing is left under them.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;
use crate::store::InstallationStore;

/// Secrets re-encrypted per batch.
const BATCH: usize = 100;
/// Time between passes: new secrets are sealed with the current key
/// already; a pass finds work only after a key change (a restart) or when
/// another instance with an older key wrote meanwhile.
const PASS_INTERVAL: Duration = Duration::from_secs(300);

/// Runs passes until the task is dropped.
pub async fn run_rekey(installations: InstallationStore, metrics: Arc<Metrics>) {
    let key_id = installations.key_id();
    loop {
        let mut moved = 0u64;
        loop {
            match installations.reencrypt_batch(BATCH).await {
                Ok(batch) => {
                    moved += batch.reencrypted;
                    metrics.secrets_reencrypted.inc_by(batch.reencrypted);
                    metrics.secrets_under_old_keys.set(i64::try_from(batch.remaining).unwrap_or(i64::MAX));
                    if batch.reencrypted > 0 && batch.remaining > 0 {
                        tracing::info!(key_id = %key_id, reencrypted = moved, remaining = batch.remaining, "re-encrypting secrets under the current key");
                    }
                    if batch.reencrypted == 0 || batch.remaining == 0 {
                        for problem in &batch.unreadable {
                            tracing::error!(key_id = %key_id, problem = %problem, "a stored secret cannot be re-encrypted; add its key to ENCRYPTION_KEYS");
                        }
                        if moved > 0 && batch.remaining == 0 {
                            tracing::info!(key_id = %key_id, reencrypted = moved,
                                "every stored secret is under the current key; the old keys in ENCRYPTION_KEYS can be removed");
                        }
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "re-encryption pass failed; retrying at the next pass");
                    break;
                }
            }
        }
        tokio::time::sleep(PASS_INTERVAL).await;
    }
}
