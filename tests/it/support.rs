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

/// The committed add-on definition (`addon.toml`).
pub fn addon() -> clockify_codegen::AddonDefinition {
    clockify_codegen::AddonDefinition::load(&root().join(clockify_codegen::addon::ADDON_FILE)).expect("addon.toml parses")
}

/// The official manifest schema `version` ("1.3" or "1.4") from `../shared`.
pub fn manifest_schema(version: &str) -> serde_json::Value {
    let p = root().join(format!("../shared/clockify/manifest-schema-{version}.json"));
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e} (the tests need ../shared beside the repository)", p.display()));
    serde_json::from_str(&text).expect("the schema is JSON")
}
