//! Bootstrap benchmark (not a test): a synthetic workspace of about 20,000
//! rows over the plan's lists, read from the fake Clockify enforcing
//! Clockify's 50 requests per second with 429. Prints the wall time as a
//! ratio to the floor (the fewest requests at 50 per second), requests made
//! versus that minimum, and 429s seen; writes `target/bench/bootstrap.json`.
//!
//!     cargo bench -p clockify-gateway --bench bootstrap

#[path = "../tests/support/bootstrap_fixture.rs"]
mod bootstrap_fixture;
#[path = "../tests/support/mod.rs"]
#[allow(unused_imports, unused_macros)]
mod support;

use std::time::{Duration, Instant};

use clockify_testkit::FakeClockify;
use serde_json::json;
use support::{TestGateway, addon_claims, installed_body, test_config};

/// Rows per list: about 20,000 in all, over 300 projects and 100 users.
fn bench_profile(op: &str, parent: Option<usize>, _size: usize) -> usize {
    match (op, parent) {
        ("getProjects", None) => 300,
        ("getUsersOfWorkspace", None) => 100,
        ("getClients", None) => 4_500,
        ("getTags", None) => 2_300,
        ("getInvoices", None) => 40,
        ("getExpenses", None) => 1_200,
        ("getApprovalRequests", None) => 400,
        ("findPoliciesForWorkspace", None) => 6,
        (_, None) => 20,
        ("getTasks", Some(i)) => i % 20,
        ("getTimeEntries", Some(i)) => (i * 37) % 150,
        (_, Some(i)) => i % 3,
    }
}

#[tokio::main]
async fn main() {
    let fake = FakeClockify::start().await;
    fake.enforce_rate_limit(50);
    let mut config = test_config();
    config.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    config.bootstrap_workers = 1;
    let page_size = config.bootstrap_page_size;
    let workspace = bootstrap_fixture::serve_profile(&fake, "bench", page_size, bench_profile);
    let rows: usize = workspace.lists.iter().map(|l| l.rows).sum();
    let minimum = workspace.min_requests();
    let gw = TestGateway::start_with(config).await;

    let mut claims = addon_claims("bench", "a1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    claims["ptoUrl"] = json!(fake.pto_url());
    let token = gw.sign(&claims);
    let started = Instant::now();
    let r = gw
        .post(
            "/lifecycle/installed",
            ("X-Addon-Lifecycle-Token", &gw.addon_token("bench", "a1")),
            &installed_body("bench", "a1", &token, &[]),
        )
        .await;
    assert_eq!(r.status(), 200, "install");
    loop {
        let run = gw.state.bootstrap.run("bench").await.expect("run").expect("queued at install");
        match run.state.as_str() {
            "done" => break,
            "failed" | "cancelled" => panic!("bootstrap ended {}: {:?}", run.state, run.last_error),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        assert!(started.elapsed() < Duration::from_secs(600), "bootstrap did not finish in 10 minutes");
    }
    let wall = started.elapsed();
    // Only the lists' requests: the install also registers webhooks.
    let list_paths: std::collections::HashSet<&str> = workspace.lists.iter().map(|l| l.full_path.as_str()).collect();
    let requests: Vec<_> = fake.requests().into_iter().filter(|r| r.method == "GET" && list_paths.contains(r.path.as_str())).collect();
    let made = requests.len();
    let throttled = requests.iter().filter(|r| r.status == 429).count();
    let stored: i64 = gw.state.bootstrap.entity_counts("bench").await.expect("counts").iter().map(|(_, n)| n).sum();
    let floor = Duration::from_secs_f64(minimum as f64 / 50.0);
    let ratio = wall.as_secs_f64() / floor.as_secs_f64();

    println!("bootstrap of a synthetic workspace against the fake Clockify (50 requests/s enforced)");
    println!("  rows served / stored        {rows} / {stored}");
    println!("  lists (work items)          {}", workspace.lists.len());
    println!("  requests made / minimum     {made} / {minimum}");
    println!("  429 answers                 {throttled}");
    println!("  wall time                   {:.2} s", wall.as_secs_f64());
    println!("  floor (minimum / 50 per s)  {:.2} s", floor.as_secs_f64());
    println!("  wall / floor                {ratio:.3}  (target <= 1.05)");

    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    let _ = std::fs::create_dir_all(&out);
    let report = json!({
        "rows": rows, "stored": stored, "lists": workspace.lists.len(),
        "requests": made, "minimum_requests": minimum, "throttled": throttled,
        "wall_seconds": wall.as_secs_f64(), "floor_seconds": floor.as_secs_f64(), "ratio": ratio,
    });
    let path = out.join("bootstrap.json");
    match std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap_or_default()) {
        Ok(()) => println!("  written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
