//! Prometheus metrics. Labels are low-cardinality and never carry a token or
//! a URL: reasons, types, outcomes.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// 18 buckets doubling from 100 µs to 13.1 s: every latency series resolves
/// 100 µs to 10 s.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

fn histograms() -> Histograms {
    Family::new_with_constructor(latency)
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<Labels, Counter>,
    pub auth_failures: Family<Labels, Counter>,
    pub lifecycle: Family<Labels, Counter>,
    pub lifecycle_hooks: Family<Labels, Counter>,
    pub rate_limited: Family<Labels, Counter>,
    pub payload_too_large: Counter,
    pub webhook_deliveries: Family<Labels, Counter>,
    pub webhook_handled: Family<Labels, Counter>,
    pub webhook_payloads: Family<Labels, Counter>,
    pub registrations: Family<Labels, Counter>,
    pub bootstrap_pages: Family<Labels, Counter>,
    pub bootstrap_rows: Family<Labels, Counter>,
    pub bootstrap_requests: Family<Labels, Counter>,
    pub bootstrap_runs: Family<Labels, Counter>,
    /// One figure for every workspace: workspace ids stay out of /metrics.
    pub dead_letters: Gauge,
    pub secrets_under_old_keys: Gauge,
    pub secrets_reencrypted: Counter,
    pub http_duration: Histograms,
    pub webhook_delay: Histograms,
    pub clockify_duration: Histograms,
    pub bootstrap_page_duration: Histograms,
    pub replays: Family<Labels, Counter>,
    pub reregistrations: Family<Labels, Counter>,
    pub explorer_calls: Family<Labels, Counter>,
    /// Flow runs by what happened: `executed` (the gate opened), `completed`, `failed`, `filtered`.
    pub flows: Family<Labels, Counter>,
    /// Flow steps by what happened: `executed` (sent), `failed`, `skipped`.
    pub flow_steps: Family<Labels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gateway");
        let http_requests = Family::<Labels, Counter>::default();
        let auth_failures = Family::<Labels, Counter>::default();
        let lifecycle = Family::<Labels, Counter>::default();
        let lifecycle_hooks = Family::<Labels, Counter>::default();
        let rate_limited = Family::<Labels, Counter>::default();
        let payload_too_large = Counter::default();
        let webhook_deliveries = Family::<Labels, Counter>::default();
        let webhook_handled = Family::<Labels, Counter>::default();
        let webhook_payloads = Family::<Labels, Counter>::default();
        let registrations = Family::<Labels, Counter>::default();
        let bootstrap_pages = Family::<Labels, Counter>::default();
        let bootstrap_rows = Family::<Labels, Counter>::default();
        let bootstrap_requests = Family::<Labels, Counter>::default();
        let bootstrap_runs = Family::<Labels, Counter>::default();
        let dead_letters = Gauge::default();
        let secrets_under_old_keys = Gauge::default();
        let secrets_reencrypted = Counter::default();
        let (http_duration, webhook_delay, clockify_duration, bootstrap_page_duration) = (histograms(), histograms(), histograms(), histograms());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by route template and status class",
            http_duration.clone(),
        );
        registry.register(
            "webhook_handled_delay_seconds",
            "Time from a delivery's acceptance (2xx) to its handling, by event",
            webhook_delay.clone(),
        );
        registry.register(
            "clockify_call_duration_seconds",
            "Time of a call to Clockify (budget waits and retries included), by operation and status (`none`: no answer)",
            clockify_duration.clone(),
        );
        registry.register("bootstrap_page_duration_seconds", "Time to fetch one bootstrap page, by operation", bootstrap_page_duration.clone());
        let replays = Family::<Labels, Counter>::default();
        let reregistrations = Family::<Labels, Counter>::default();
        let explorer_calls = Family::<Labels, Counter>::default();
        let flows = Family::<Labels, Counter>::default();
        let flow_steps = Family::<Labels, Counter>::default();
        registry.register(
            "flows",
            "Flow runs from deliveries by outcome (executed: the trigger matched; completed, failed; filtered: it did not)",
            flows.clone(),
        );
        registry.register("flow_steps", "Flow steps by outcome (executed: its if held and it ran, failed ones included; failed: refused before sending or answered with an error; skipped: its if did not hold)", flow_steps.clone());
        registry.register(
            "explorer_calls",
            "API explorer calls by operation and status (Clockify's, or the refusal's)",
            explorer_calls.clone(),
        );
        registry.register("http_requests", "HTTP requests by method and status class", http_requests.clone());
        registry.register("auth_failures", "Rejected tokens by reason", auth_failures.clone());
        registry.register("lifecycle_events", "Lifecycle calls by type and outcome", lifecycle.clone());
        registry.register("lifecycle_hooks", "on_lifecycle runs by outcome (done, retry, dead)", lifecycle_hooks.clone());
        registry.register("rate_limited", "Requests refused with 429, by key kind", rate_limited.clone());
        registry.register("payload_too_large", "Request bodies refused for size", payload_too_large.clone());
        registry.register(
            "webhook_deliveries",
            "Verified deliveries by event and outcome (accepted, duplicate, ignored)",
            webhook_deliveries.clone(),
        );
        registry.register("webhook_handled", "Handler runs by event and outcome (done, retrying, dead)", webhook_handled.clone());
        registry.register(
            "webhook_payloads",
            "Deliveries decoded by the inbox, by event and whether the body fit its typed payload",
            webhook_payloads.clone(),
        );
        registry.register(
            "webhook_registrations",
            "REST webhook registrations by outcome (registered, failed: e.g. the platform's limit)",
            registrations.clone(),
        );
        registry.register("bootstrap_pages", "Bootstrap pages stored, by operation", bootstrap_pages.clone());
        registry.register("bootstrap_rows", "Bootstrap rows stored, by entity type", bootstrap_rows.clone());
        registry.register(
            "bootstrap_requests",
            "Bootstrap requests to Clockify by outcome (ok, throttled, error)",
            bootstrap_requests.clone(),
        );
        registry.register("bootstrap_runs", "Finished bootstrap runs by outcome (done, failed)", bootstrap_runs.clone());
        registry.register(
            "secrets_under_old_keys",
            "Stored secrets not yet re-encrypted under ENCRYPTION_KEY (after the last pass of the re-encryption job)",
            secrets_under_old_keys.clone(),
        );
        registry.register("secrets_reencrypted", "Stored secrets the re-encryption job moved to ENCRYPTION_KEY", secrets_reencrypted.clone());
        registry.register(
            "dead_letters",
            "Dead deliveries of all workspaces (read from the database at each scrape)",
            dead_letters.clone(),
        );
        registry.register("delivery_replays", "Deliveries an operator replayed, by outcome (replayed, skipped, failed)", replays.clone());
        registry.register("webhook_reregistrations", "Re-registration runs an operator started, by outcome", reregistrations.clone());
        Self {
            registry,
            http_requests,
            auth_failures,
            lifecycle,
            lifecycle_hooks,
            rate_limited,
            payload_too_large,
            webhook_deliveries,
            webhook_handled,
            webhook_payloads,
            registrations,
            bootstrap_pages,
            bootstrap_rows,
            bootstrap_requests,
            bootstrap_runs,
            dead_letters,
            secrets_under_old_keys,
            secrets_reencrypted,
            http_duration,
            webhook_delay,
            clockify_duration,
            bootstrap_page_duration,
            replays,
            reregistrations,
            explorer_calls,
            flows,
            flow_steps,
        }
    }
}

impl Metrics {
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    pub fn lifecycle(&self, kind: &'static str, outcome: &'static str) {
        self.lifecycle.get_or_create(&vec![("type", kind.to_owned()), ("outcome", outcome.to_owned())]).inc();
    }

    pub fn lifecycle_hook(&self, outcome: &'static str) {
        self.lifecycle_hooks.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    pub fn delivery(&self, event: &str, outcome: &'static str) {
        self.webhook_deliveries.get_or_create(&vec![("event", event.to_owned()), ("outcome", outcome.to_owned())]).inc();
    }

    /// The inbox decoded a delivery: typed, or kept as raw JSON.
    pub fn payload(&self, event: &str, typed: bool) {
        self.webhook_payloads.get_or_create(&vec![("event", event.to_owned()), ("typed", typed.to_string())]).inc();
    }

    pub fn handled(&self, event: &str, outcome: &'static str) {
        self.webhook_handled.get_or_create(&vec![("event", event.to_owned()), ("outcome", outcome.to_owned())]).inc();
    }

    pub fn registration(&self, outcome: &'static str) {
        self.registrations.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    /// One answered request: counted by method and status class, timed by route template and class.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: std::time::Duration) {
        let class = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        self.http_requests.get_or_create(&vec![("method", method.to_owned()), ("status", class.to_owned())]).inc();
        self.http_duration.get_or_create(&vec![("route", route.to_owned()), ("status", class.to_owned())]).observe(elapsed.as_secs_f64());
    }

    pub fn webhook_delay(&self, event: &str, accepted_at_ms: i64) {
        let seconds = (crate::store::now_ms() - accepted_at_ms).max(0) as f64 / 1000.0;
        self.webhook_delay.get_or_create(&vec![("event", event.to_owned())]).observe(seconds);
    }

    pub fn bootstrap_page_time(&self, operation: &'static str, elapsed: std::time::Duration) {
        self.bootstrap_page_duration.get_or_create(&vec![("operation", operation.to_owned())]).observe(elapsed.as_secs_f64());
    }

    pub fn bootstrap_page(&self, operation: &'static str, entity_type: &str, rows: usize) {
        self.bootstrap_pages.get_or_create(&vec![("operation", operation.to_owned())]).inc();
        self.bootstrap_rows.get_or_create(&vec![("entity_type", entity_type.to_owned())]).inc_by(rows as u64);
    }

    pub fn bootstrap_request(&self, outcome: &'static str) {
        self.bootstrap_requests.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    pub fn bootstrap_run(&self, outcome: &'static str) {
        self.bootstrap_runs.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    /// Sets the dead-letter gauge to the count of every workspace's dead deliveries.
    pub fn set_dead_letters(&self, count: i64) {
        self.dead_letters.set(count);
    }

    pub fn replay(&self, outcome: &'static str, n: usize) {
        self.replays.get_or_create(&vec![("outcome", outcome.to_owned())]).inc_by(n as u64);
    }

    pub fn reregistration(&self, outcome: &'static str) {
        self.reregistrations.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    pub fn explorer_call(&self, operation: &str, status: String) {
        self.explorer_calls.get_or_create(&vec![("operation", operation.to_owned()), ("status", status)]).inc();
    }

    pub fn flow(&self, outcome: &'static str) {
        self.flows.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    pub fn flow_step(&self, outcome: &'static str) {
        self.flow_steps.get_or_create(&vec![("outcome", outcome.to_owned())]).inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Calls to Clockify as the client reports them.
pub struct CallMetrics(pub std::sync::Arc<Metrics>);

impl clockify_client::CallObserver for CallMetrics {
    fn finished(&self, operation: &'static str, status: Option<u16>, elapsed: std::time::Duration) {
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        self.0.clockify_duration.get_or_create(&vec![("operation", operation.to_owned()), ("status", status)]).observe(elapsed.as_secs_f64());
    }
}

