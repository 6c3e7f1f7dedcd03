//! What every background loop shares: the wake-up signal, the lease a
//! claimed piece of work holds, the handler deadline and the retry backoff.
//! The loops themselves live with their parts (`inbox`, `installations`,
//! `bootstrap`) and are started by `startup::Background`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long a claimed delivery stays leased before another worker may take it.
pub const LEASE_MS: i64 = 60_000;
/// A handler taking longer than this counts as failed.
pub const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
pub const IDLE_POLL: Duration = Duration::from_millis(500);

/// Wakes a background loop when there is new work (a stored delivery, a queued job).
#[derive(Debug, Default)]
pub struct WakeSignal(Notify, AtomicBool);

impl WakeSignal {
    /// A future that completes at the next `wake` (create it before looking
    /// for work, so a wake-up in between is not missed).
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.notified()
    }

    pub fn wake(&self) {
        self.1.store(true, Ordering::Release);
        self.0.notify_waiters();
    }

    /// Whether `wake` was called since the last time this returned true
    /// (for a loop that was busy when it was called).
    pub fn take_wake(&self) -> bool {
        self.1.swap(false, Ordering::AcqRel)
    }
}

/// Retry delay after `attempt` failures: 1 s, 2 s, 4 s, ... capped at 5 min.
pub fn backoff_ms(attempt: i64) -> i64 {
    1000i64.saturating_mul(1 << attempt.clamp(1, 20).saturating_sub(1)).min(300_000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(super::backoff_ms(1), 1000);
        assert_eq!(super::backoff_ms(2), 2000);
        assert_eq!(super::backoff_ms(5), 16000);
        assert_eq!(super::backoff_ms(40), 300_000);
    }
}
