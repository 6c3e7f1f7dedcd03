//! The per-workspace request budget (PLATFORM.md §6: 50 requests per second
//! per add-on per workspace).
//!
//! A sliding-window log rather than a token bucket: a bucket refilled at 50/s
//! with a burst of 50 lets 100 requests into one second, which Clockify would
//! answer with 429. Here a request starts only when fewer than `max` requests
//! started in the last `window`, so no one-second window ever holds more than
//! the budget. Budgets are shared through a `RateBudget` registry: every client
//! clone and task acting for a workspace draws from the same limiter.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// One second plus a margin for delivery jitter (5% of throughput): requests
/// that leave here a window apart may arrive up to 50 ms closer together.
const SERVER_SECOND: Duration = Duration::from_millis(1050);

/// Limits applied per workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max_requests: usize,
    pub window: Duration,
}

impl RateLimit {
    /// Clockify's add-on limit: 50 per second.
    pub const CLOCKIFY: RateLimit = RateLimit { max_requests: 50, window: SERVER_SECOND };

    /// `max_requests` per second as a server counts them. The window carries a
    /// small margin: requests leave here spaced by one second but reach the
    /// server with varying delay, and an exact window lets a late one and an
    /// early one land in the same server-side second (seen as 429s in tests).
    pub fn per_second(max_requests: usize) -> Self {
        Self { max_requests: max_requests.max(1), window: SERVER_SECOND }
    }
}

/// A budget kept outside this process (for example in a database several
/// instances share): after the local limiter let a request start, it must
/// also get one of the workspace's `max_requests` starts per window from
/// here. `acquire` waits until it has.
pub trait SharedBudget: Send + Sync + 'static {
    fn acquire<'a>(&'a self, workspace: &'a str, limit: RateLimit) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>;
}

impl std::fmt::Debug for dyn SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedBudget")
    }
}

/// A registry of per-workspace limiters. Clone it to share it; the process
/// default is `RateBudget::global()`.
#[derive(Debug, Clone)]
pub struct RateBudget {
    limit: RateLimit,
    limiters: Arc<Mutex<HashMap<String, Arc<WorkspaceLimiter>>>>,
    shared: Option<Arc<dyn SharedBudget>>,
}

static GLOBAL: LazyLock<RateBudget> = LazyLock::new(|| RateBudget::new(RateLimit::CLOCKIFY));

impl RateBudget {
    pub fn new(limit: RateLimit) -> Self {
        Self { limit, limiters: Arc::default(), shared: None }
    }

    /// A budget whose requests also draw from `shared` (every instance's),
    /// after this process's own limiter (which keeps the halving on 429).
    pub fn shared(limit: RateLimit, shared: Arc<dyn SharedBudget>) -> Self {
        Self { limit, limiters: Arc::default(), shared: Some(shared) }
    }

    /// The process-wide budget every client uses unless given another.
    pub fn global() -> Self {
        GLOBAL.clone()
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// The limiter of one workspace (`""` for calls not scoped to one).
    pub fn for_workspace(&self, workspace: &str) -> Arc<WorkspaceLimiter> {
        let mut map = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(workspace.to_owned())
            .or_insert_with(|| {
                let shared = self.shared.clone().map(|s| (s, workspace.to_owned()));
                Arc::new(WorkspaceLimiter { shared, ..WorkspaceLimiter::new(self.limit) })
            })
            .clone()
    }
}

#[derive(Debug)]
struct Window {
    starts: VecDeque<Instant>,
    paused_until: Option<Instant>,
    /// Requests allowed per window now: the limit, halved at each 429 and
    /// grown back by one per window's worth of successes, so a workspace on
    /// a far lower limit than the documented one (a new Free workspace gets
    /// 30 per hour) settles near its real limit instead of bursting into
    /// 429s after every pause.
    cap: usize,
    /// Successes since the cap last grew.
    successes: usize,
    /// When the cap was last halved: the 429s of requests already in flight
    /// then say nothing new, so one window halves it once.
    decreased_at: Option<Instant>,
    /// Requests allowed here, waiting for the shared budget: they count
    /// against the cap until they start.
    reserved: usize,
}

/// Gives a reservation back, also when the waiting request is dropped.
struct Reservation<'a>(&'a WorkspaceLimiter);

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut w = self.0.state.lock().unwrap_or_else(|p| p.into_inner());
        w.reserved = w.reserved.saturating_sub(1);
    }
}

#[derive(Debug)]
pub struct WorkspaceLimiter {
    limit: RateLimit,
    state: Mutex<Window>,
    shared: Option<(Arc<dyn SharedBudget>, String)>,
}

impl WorkspaceLimiter {
    fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            state: Mutex::new(Window {
                starts: VecDeque::with_capacity(limit.max_requests),
                paused_until: None,
                cap: limit.max_requests,
                successes: 0,
                decreased_at: None,
                reserved: 0,
            }),
            shared: None,
        }
    }

    /// Waits until a request may start, and records its start. With a
    /// shared budget the start is recorded once the shared budget granted it
    /// (right before sending), so a wait there cannot squeeze two windows'
    /// requests closer together than a window; meanwhile the request holds
    /// a reservation that counts against the cap.
    pub async fn acquire(&self) {
        loop {
            let shared = self.shared.is_some();
            let wake_at = {
                let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                match w.paused_until {
                    Some(until) if until > now => Some(until),
                    _ => {
                        w.paused_until = None;
                        while w.starts.front().is_some_and(|t| now.duration_since(*t) >= self.limit.window) {
                            w.starts.pop_front();
                        }
                        if w.starts.len() + w.reserved < w.cap {
                            if shared {
                                w.reserved += 1;
                            } else {
                                w.starts.push_back(now);
                            }
                            None
                        } else {
                            // A reservation frees without a time: look again soon.
                            w.starts.front().map(|t| *t + self.limit.window).or(Some(now + Duration::from_millis(5)))
                        }
                    }
                }
            };
            match wake_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => break,
            }
        }
        let Some((budget, workspace)) = &self.shared else { return };
        let reservation = Reservation(self);
        budget.acquire(workspace, self.limit).await;
        // The reservation becomes the start in one step, so no other
        // request can take its room in between.
        std::mem::forget(reservation);
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        w.reserved = w.reserved.saturating_sub(1);
        w.starts.push_back(Instant::now());
    }

    /// Requests this workspace may start per window at present.
    pub fn current_cap(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).cap
    }

    /// A 429: halve the cap (multiplicative decrease), once per window.
    pub fn throttled(&self) {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if w.decreased_at.is_some_and(|t| now.duration_since(t) < self.limit.window) {
            return;
        }
        w.decreased_at = Some(now);
        w.cap = (w.cap / 2).max(1);
        w.successes = 0;
    }

    /// A request that was not refused: after a full cap's worth, grow the
    /// cap by one, up to the limit (additive increase).
    pub fn succeeded(&self) {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if w.cap >= self.limit.max_requests {
            return;
        }
        w.successes += 1;
        if w.successes >= w.cap {
            w.cap += 1;
            w.successes = 0;
        }
    }

    /// Holds every request of this workspace until `until` (a 429's
    /// `Retry-After`), so concurrent tasks back off together instead of each
    /// discovering the limit with its own 429.
    pub fn pause_until(&self, until: Instant) {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if w.paused_until.is_none_or(|p| p < until) {
            w.paused_until = Some(until);
        }
    }
}

/// The workspace a request acts for: the path segment after `/workspaces/`.
pub fn workspace_of(path: &str) -> &str {
    let mut segments = path.split('/');
    while let Some(s) = segments.next() {
        if s == "workspaces" {
            return segments.next().unwrap_or("");
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_read_from_the_path() {
        assert_eq!(workspace_of("/api/v1/workspaces/ws1/projects"), "ws1");
        assert_eq!(workspace_of("/v1/user"), "");
        assert_eq!(workspace_of("/v1/workspaces"), "");
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_the_limit() {
        let budget = RateBudget::new(RateLimit::per_second(5));
        let limiter = budget.for_workspace("ws");
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..12 {
            limiter.acquire().await;
            starts.push(start.elapsed());
        }
        for (i, t) in starts.iter().enumerate() {
            let in_window = starts[i..].iter().filter(|u| **u - *t < Duration::from_secs(1)).count();
            assert!(in_window <= 5, "window starting at {t:?} holds {in_window}");
        }
        // 12 requests at 5 per second need two full windows of waiting.
        assert!(starts[11] >= Duration::from_secs(2), "{:?}", starts[11]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_halves_the_cap_once_per_window_and_successes_grow_it_back() {
        let limiter = RateBudget::new(RateLimit::per_second(50)).for_workspace("ws");
        limiter.throttled();
        limiter.throttled();
        assert_eq!(limiter.current_cap(), 25, "429s of one window halve once");
        tokio::time::advance(Duration::from_secs(2)).await;
        limiter.throttled();
        assert_eq!(limiter.current_cap(), 12);
        for _ in 0..12 {
            limiter.succeeded();
        }
        assert_eq!(limiter.current_cap(), 13);
        for _ in 0..10 {
            tokio::time::advance(Duration::from_secs(2)).await;
            limiter.throttled();
        }
        assert_eq!(limiter.current_cap(), 1, "never below one request per window");
        for _ in 0..5000 {
            limiter.succeeded();
        }
        assert_eq!(limiter.current_cap(), 50, "never above the limit");
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_budget_per_workspace() {
        let budget = RateBudget::new(RateLimit::per_second(2));
        let a = budget.clone().for_workspace("ws");
        let b = budget.for_workspace("ws");
        let other = budget.for_workspace("other");
        let start = Instant::now();
        a.acquire().await;
        b.acquire().await;
        other.acquire().await;
        assert!(start.elapsed() < Duration::from_millis(1), "other workspaces are not held");
        a.acquire().await;
        assert!(start.elapsed() >= Duration::from_secs(1), "third request in ws waits for the window");
    }
}
