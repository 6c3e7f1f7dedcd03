//! Prometheus metrics. Labels are low-cardinality and never carry a token or
//! a URL: reasons, types, outcomes.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<Labels, Counter>,
    pub auth_failures: Family<Labels, Counter>,
    pub lifecycle: Family<Labels, Counter>,
    pub rate_limited: Family<Labels, Counter>,
    pub payload_too_large: Counter,
    pub webhook_deliveries: Family<Labels, Counter>,
    pub webhook_handled: Family<Labels, Counter>,
    pub webhook_payloads: Family<Labels, Counter>,
    pub registrations: Family<Labels, Counter>,
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
        let rate_limited = Family::<Labels, Counter>::default();
        let payload_too_large = Counter::default();
        let webhook_deliveries = Family::<Labels, Counter>::default();
        let webhook_handled = Family::<Labels, Counter>::default();
        let webhook_payloads = Family::<Labels, Counter>::default();
        let registrations = Family::<Labels, Counter>::default();
        registry.register("http_requests", "HTTP requests by method and status class", http_requests.clone());
        registry.register("auth_failures", "Rejected tokens by reason", auth_failures.clone());
        registry.register("lifecycle_events", "Lifecycle calls by type and outcome", lifecycle.clone());
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
        registry.register("webhook_registrations", "REST webhook registrations by outcome (registered, failed: e.g. the platform's limit)", registrations.clone());
        Self { registry, http_requests, auth_failures, lifecycle, rate_limited, payload_too_large, webhook_deliveries, webhook_handled, webhook_payloads, registrations }
    }
}

impl Metrics {
    pub fn auth_failure(&self, reason: &'static str) {
        self.auth_failures.get_or_create(&vec![("reason", reason.to_owned())]).inc();
    }

    pub fn lifecycle(&self, kind: &'static str, outcome: &'static str) {
        self.lifecycle.get_or_create(&vec![("type", kind.to_owned()), ("outcome", outcome.to_owned())]).inc();
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

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
