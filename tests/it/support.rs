use std::path::{Path, PathBuf};

use clockify_client::{Auth, Client, ClientBuilder, Hosts, RateBudget, RateLimit, RetryPolicy};
use clockify_testkit::FakeClockify;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The upstream spec handed to the project; CI always has `../shared` beside the clone.
pub fn upstream_spec() -> PathBuf {
    let p = root().join("../shared/clockify/openapi.upstream.json");
    assert!(p.exists(), "{} is missing: the tests need ../shared beside the repository", p.display());
    p
}

pub fn contract_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("openapi.json")).expect("openapi.json")).expect("valid JSON")
}

/// A client for the fake, with its own budget (tests must not share the
/// process-wide one) and fast retries.
pub fn client_for(fake: &FakeClockify, auth: Option<Auth>) -> Client {
    builder_for(fake, auth).build().expect("client builds")
}

pub fn builder_for(fake: &FakeClockify, auth: Option<Auth>) -> ClientBuilder {
    let b = match auth {
        Some(a) => ClientBuilder::new(a),
        None => ClientBuilder::anonymous(),
    };
    b.hosts(Hosts::explicit(&fake.core_url(), &fake.reports_url(), Some(&fake.pto_url())).expect("fake URLs"))
        .budget(RateBudget::new(RateLimit::per_second(1000)))
        .retry(RetryPolicy { base_delay: std::time::Duration::from_millis(5), ..RetryPolicy::default() })
}
