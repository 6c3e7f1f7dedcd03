//! The gateway's own rate limits: a token bucket (GCRA) per key,
//! where the key is the workspace of a verified token or the client address.
//! Clockify's calls (webhooks, lifecycle) and the workspace's members
//! (admin, bootstrap, explorer) draw on separate limiters, so members
//! spamming dry runs cannot push the workspace's deliveries into 429.
//! The state is per instance on purpose: it protects this process, and
//! nothing correct depends on it.

// Why not governor's keyed limiter (0.10.4, the latest 0.x when measured).
// A throwaway measurement, release build, one thread, ns per check on the
// development machine (2 cores shared with other builds, so ranges over
// runs), this file against governor's `RateLimiter::keyed` (dashmap):
//
//                                          this file     governor
//   1 key, every check passes                  72-83        58-62
//   1 key, refused (10/s, burst 5)             66-67        67-68
//   100,000 keys in turn, passing            135-144      124-135
//   100,000 keys in turn, 10/s, burst 5      142-195      131-144
//   100,001 live keys                            670      230,000-290,000
//
// (The last row: governor with `retain_recent` called whenever `len()`
// passes 100,000, as this file did before `prune`; when to prune is the
// caller's choice with governor too.) Speed decides nothing: 0-50 ns a
// check beside a request's tens of microseconds. Function does. Governor's
// `check_key` and `check_key_n` both consume when they conform, and its
// state store is private to the limiter: there is no check that takes
// nothing, which `FailedChecks::enforce` needs (`peek` before the call,
// `charge` after a failure). Building one would mean a `StateStore` of our
// own redoing the GCRA arithmetic on governor's `Nanos`, this file again
// plus a dependency. `charge` could be `check_key` (a refused cell changes
// nothing there, so the debt would stop at one burst rather than one burst
// and one interval), and `retain_recent` with `len` would bound memory as
// `prune` does; governor for `check` alone would leave two limiters for one
// job. So the hand-written one stays.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::GatewayError;
use crate::metrics::Metrics;

/// Keys a limiter holds before it forgets those whose bucket has drained.
const KEYS_BEFORE_PRUNING: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: Duration,
    buckets: Mutex<HashMap<String, Instant>>,
    /// Keys past which the next `check` or `charge` prunes (see `prune`);
    /// read and written with `buckets` locked.
    prune_above: AtomicUsize,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let interval = Duration::from_secs(1) / per_second.max(1);
        Self {
            interval,
            burst: interval * burst.max(1),
            buckets: Mutex::new(HashMap::new()),
            prune_above: AtomicUsize::new(KEYS_BEFORE_PRUNING),
        }
    }

    /// Forgets keys whose bucket has drained: bounded memory under a flood
    /// of addresses. While more keys than that are still live, the next
    /// prune waits until the map has doubled, so a flood pays for a scan
    /// once per as many new keys, not on every call (a scan of 100,001 live
    /// keys took 0.23-0.40 ms, under the lock).
    fn prune(&self, buckets: &mut HashMap<String, Instant>, now: Instant) {
        if buckets.len() > self.prune_above.load(Ordering::Relaxed) {
            buckets.retain(|_, tat| *tat > now);
            self.prune_above.store(KEYS_BEFORE_PRUNING.max(2 * buckets.len()), Ordering::Relaxed);
        }
    }

    /// `Ok` if `key` may proceed now, else the seconds to wait.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        self.prune(&mut buckets, now);
        let tat = buckets.get(key).copied().unwrap_or(now).max(now);
        let next = tat + self.interval;
        if next > now + self.burst {
            let wait = next - (now + self.burst);
            return Err(wait.as_secs().max(1));
        }
        set(&mut buckets, key, next);
        Ok(())
    }

    /// Takes one request's worth from `key` whether or not it conforms (for
    /// budgets charged after the fact, such as failed checks); the debt is
    /// capped at one burst.
    pub fn charge(&self, key: &str) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        self.prune(&mut buckets, now);
        let tat = buckets.get(key).copied().unwrap_or(now).max(now);
        set(&mut buckets, key, (tat + self.interval).min(now + self.burst + self.interval));
    }

    /// `Err(retry_after)` when `key` has no budget left now; takes nothing.
    pub fn peek(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let tat = self.buckets.lock().get(key).copied().unwrap_or(now).max(now);
        let next = tat + self.interval;
        if next > now + self.burst {
            return Err((next - (now + self.burst)).as_secs().max(1));
        }
        Ok(())
    }

    /// The budget of one workspace, for callers with verified claims.
    pub fn enforce_workspace(&self, metrics: &Metrics, workspace_id: &str) -> Result<(), GatewayError> {
        self.enforce(metrics, "workspace", &format!("ws:{workspace_id}"))
    }

    /// The 429 for `key`, counted and audited.
    pub fn enforce(&self, metrics: &Metrics, key_kind: &'static str, key: &str) -> Result<(), GatewayError> {
        self.check(key).map_err(|retry_after| {
            metrics.rate_limited.get_or_create(&vec![("key", key_kind.to_owned())]).inc();
            tracing::warn!(target: "audit", event = "rate_limited", key_kind, retry_after, "rate limit hit");
            GatewayError::RateLimited { retry_after }
        })
    }
}

/// Updates a known key in place; only a new one allocates.
fn set(buckets: &mut HashMap<String, Instant>, key: &str, tat: Instant) {
    match buckets.get_mut(key) {
        Some(t) => *t = tat,
        None => {
            buckets.insert(key.to_owned(), tat);
        }
    }
}

/// Failed checks of Clockify's calls an address may cause per second, and
/// in a burst, before its calls are refused unverified and unread.
pub const FAILED_CHECKS_PER_SECOND: u32 = 20;
pub const FAILED_CHECKS_BURST: u32 = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let l = RateLimiter::new(10, 5);
        for _ in 0..5 {
            l.check("a").unwrap();
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait >= 1);
        l.check("b").expect("keys are independent");
    }

    #[test]
    fn charges_count_whether_or_not_they_conform_and_peek_takes_nothing() {
        let l = RateLimiter::new(1, 3);
        for _ in 0..3 {
            l.peek("a").expect("budget left");
            l.charge("a");
        }
        assert!(l.peek("a").is_err(), "three charges use a burst of three");
        for _ in 0..100 {
            l.charge("a");
        }
        l.peek("b").expect("keys are independent");
        // The debt is capped at one burst: after a few seconds the budget is back.
        let tat = *l.buckets.lock().get("a").expect("charged");
        assert!(tat <= Instant::now() + Duration::from_secs(5), "debt capped");
    }

    /// Past the bound, drained keys go; live ones stay, and a flood of live
    /// keys is not scanned again on every call.
    #[test]
    fn a_flood_of_keys_is_pruned_without_a_scan_per_call() {
        // 1 ms buckets: drained almost at once.
        let drains = RateLimiter::new(1000, 1);
        for n in 0..=KEYS_BEFORE_PRUNING {
            drains.charge(&format!("addr:{n}"));
        }
        std::thread::sleep(Duration::from_millis(5));
        drains.charge("addr:last");
        assert_eq!(drains.buckets.lock().len(), 1, "charges prune too (the failed-check budget never calls check)");

        // 3 s buckets: all still live when the bound is crossed.
        let live = RateLimiter::new(1, 5);
        for n in 0..=KEYS_BEFORE_PRUNING {
            for _ in 0..3 {
                live.check(&format!("addr:{n}")).expect("within the burst");
            }
        }
        live.check("addr:one-more").expect("a new key has its burst");
        assert_eq!(live.buckets.lock().len(), KEYS_BEFORE_PRUNING + 2, "live keys are kept");
        assert_eq!(live.prune_above.load(Ordering::Relaxed), 2 * (KEYS_BEFORE_PRUNING + 1), "the next scan waits for the map to double");
    }
}
