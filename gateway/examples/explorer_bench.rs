//! The explorer's added latency, measured for `cargo xtask bench explorer`
//! (not a test): the same read sent (a) through the typed client directly and
//! (b) through the explorer (validation against the contract, a client per
//! call, the generated dispatch, the exchange record), alternately, against
//! the fake Clockify on loopback. Also (c) explorer dry runs, which are the
//! explorer's own work with no network at all. Prints one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clockify_client::{Auth, ClientBuilder, Hosts, RateBudget, RateLimit, RetryPolicy};
use clockify_gateway::explorer::{self, Call, Caller, Explorer, Input, Operation};
use clockify_testkit::{FakeClockify, PageStyle, Shape};
use serde_json::{Map, Value, json};

const WARMUP: usize = 300;
const SAMPLES: usize = 3000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn summary(mut v: Vec<Duration>) -> Value {
    v.sort();
    json!({"p50_us": percentile(&v, 0.50), "p99_us": percentile(&v, 0.99), "samples": v.len()})
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = FakeClockify::start().await;
    fake.paginated(
        "api",
        "/v1/workspaces/ws1/tags",
        PageStyle::PageSize,
        Shape::Array,
        (0..10).map(|i| json!({"id": format!("t{i}"), "name": format!("tag {i}"), "workspaceId": "ws1", "archived": false})).collect(),
        true,
    );
    let host = fake.url().trim_start_matches("http://").to_owned();
    let budget = RateBudget::new(RateLimit::per_second(10_000_000));
    let http = reqwest::Client::builder().build().map_err(|e| e.to_string())?;
    let direct = ClientBuilder::new(Auth::AddonToken("bench-token".into()))
        .hosts(Hosts::explicit(&fake.core_url(), &fake.reports_url(), None).map_err(|e| e.to_string())?)
        .budget(budget.clone())
        .http_client(http.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let explorer = Explorer {
        allowed_hosts: Arc::from(vec![host.parse().map_err(|e: String| e)?]),
        http,
        budget,
        retry: RetryPolicy::default(),
        // As the gateway runs it: every call timed for /metrics.
        observer: Some(Arc::new(clockify_gateway::metrics::CallMetrics(Arc::new(clockify_gateway::metrics::Metrics::default())))),
    };
    let caller = Caller {
        token: "bench-token".into(),
        workspace_id: "ws1".into(),
        backend_url: Some(fake.core_url()),
        reports_url: Some(fake.reports_url()),
        pto_url: None,
    };
    let mut query = Map::new();
    query.insert("page".into(), Value::from(1));
    query.insert("page-size".into(), Value::from(10));
    query.insert("sort-order".into(), Value::from("ASCENDING"));
    let call =
        |dry_run| Call { operation: Operation::GetTags, input: Input { path: Map::new(), query: query.clone(), body: None }, dry_run };
    explorer::validate::compile_all()?;

    let (mut a, mut b, mut c) = (Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES), Vec::with_capacity(SAMPLES));
    for i in 0..WARMUP + SAMPLES {
        let t = Instant::now();
        let r = direct
            .get_tags()
            .workspace_id("ws1")
            .page(1)
            .page_size(std::num::NonZeroU32::new(10).ok_or("10")?)
            .sort_order(clockify_client::types::GetTagsSortOrder::Ascending)
            .send()
            .await;
        let da = t.elapsed();
        if r.map(|r| r.into_inner().len()).map_err(|e| e.to_string())? != 10 {
            return Err("the direct call did not get 10 tags".into());
        }
        let t = Instant::now();
        let o = explorer::execute(&explorer, &caller, call(false)).await.map_err(|e| e.to_string())?;
        let db = t.elapsed();
        if o.answer.as_ref().map(|a| a.status) != Some(200) {
            return Err(format!("the explorer call did not get 200: {:?}", o.answer));
        }
        let t = Instant::now();
        explorer::execute(&explorer, &caller, call(true)).await.map_err(|e| e.to_string())?;
        let dc = t.elapsed();
        if i >= WARMUP {
            a.push(da);
            b.push(db);
            c.push(dc);
        }
    }
    let (direct_s, explorer_s, dry_s) = (summary(a), summary(b), summary(c));
    let added = |k: &str| explorer_s[k].as_f64().unwrap_or(0.0) - direct_s[k].as_f64().unwrap_or(0.0);
    let out = json!({
        "operation": "getTags (3 query parameters)",
        "direct_typed_client": direct_s,
        "through_explorer": explorer_s,
        "explorer_dry_run_no_network": dry_s,
        "added_p50_us": added("p50_us"),
        "added_p99_us": added("p99_us"),
    });
    println!("{out}");
    Ok(())
}
