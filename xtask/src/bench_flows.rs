//! `cargo xtask bench flows` (also part of `cargo xtask bench`): what flows
//! cost the inbox, on SQLite, from the release gateway against the fake
//! Clockify. Signed NEW_TAG deliveries with unique bodies are sent over 16
//! keep-alive connections and the rate counts until the inbox has handled
//! them all (end to end): (1) with no flow, the baseline; (2) with 10
//! enabled flows on NEW_TAG whose conditions do not match (the cost of
//! reading and evaluating them: each is counted as `filtered`); (3) with
//! one matching read-only flow (`getTags` for the tag's name), which sends
//! one request per delivery and so is bounded by the workspace's budget of
//! 50 requests per second.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clockify_testkit::FakeClockify;
use clockify_testkit::tokens::{TokenFactory, key};
use serde_json::{Value, json};

use crate::bench::{Conn, Row, delivery_request, handled_done, row, sqlite_url, start_with};

const WS: &str = "ws-bench";
const CONNECTIONS: u64 = 16;
const UNMATCHED_DELIVERIES: u64 = 5_000;
const MATCHED_DELIVERIES: u64 = 500;

fn claims() -> Value {
    json!({ "iss": "clockify", "type": "addon", "sub": "clockify-rust-gateway", "workspaceId": WS, "addonId": "bench-addon" })
}

/// Installs the workspace with its API on the fake; returns (webhook token, admin token).
async fn install(http: &reqwest::Client, base: &str, signer: &TokenFactory, fake: &FakeClockify) -> Result<(String, String), String> {
    let mut install = claims();
    install["user"] = json!("owner1");
    install["backendUrl"] = json!(fake.core_url());
    install["reportsUrl"] = json!(fake.reports_url());
    let mut hook = claims();
    hook["purpose"] = json!("webhook NEW_TAG");
    let webhook = signer.sign(&hook);
    let body = json!({
        "addonId": "bench-addon", "workspaceId": WS, "authToken": signer.sign(&install),
        "webhooks": [{ "path": "/webhooks/NEW_TAG", "webhookType": "ADDON", "authToken": webhook }],
    });
    let r = http
        .post(format!("{base}/lifecycle/installed"))
        .header("x-addon-lifecycle-token", signer.sign(&claims()))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("install failed: {}", r.status()));
    }
    let mut admin = claims();
    admin["user"] = json!("admin1");
    admin["workspaceRole"] = json!("OWNER");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    admin["exp"] = json!(now + 3600);
    Ok((webhook, signer.sign(&admin)))
}

async fn admin(http: &reqwest::Client, method: reqwest::Method, url: String, token: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut r = http.request(method, url).header("X-Addon-Token", token);
    if let Some(b) = body {
        r = r.json(b);
    }
    let r = r.send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{status}: {v}"));
    }
    Ok(v)
}

/// Sends `n` deliveries numbered from `first`; returns deliveries per second
/// end to end (until the inbox has handled them all).
async fn phase(http: &reqwest::Client, addr: &str, base: &str, webhook: &str, first: u64, n: u64) -> Result<Value, String> {
    let before = handled_done(http, base).await?;
    let requests: Arc<Vec<Vec<u8>>> = Arc::new((first..first + n).map(|i| delivery_request(addr, webhook, i)).collect());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..CONNECTIONS {
        let (requests, next, addr) = (requests.clone(), next.clone(), addr.to_owned());
        senders.push(tokio::spawn(async move {
            let mut conn = Conn::open(&addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(req) = requests.get(i) else { return Ok::<(), String>(()) };
                let status = conn.call(req).await?;
                if status != 200 {
                    return Err(format!("a delivery was answered {status}"));
                }
            }
        }));
    }
    for s in senders {
        s.await.map_err(|e| e.to_string())??;
    }
    let accepted_secs = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done = handled_done(http, base).await?;
        if done >= before + n {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the inbox handled {} of {n} deliveries within 120 s", done - before));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(json!({
        "deliveries": n, "connections": CONNECTIONS,
        "accepted_seconds": accepted_secs, "handled_seconds": secs,
        "handled_per_second": (n as f64 / secs).round(),
    }))
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.trim().parse().ok())).unwrap_or(0.0)
}

pub async fn run(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    let fake = FakeClockify::start().await;
    fake.on("api", "GET", &format!("/v1/workspaces/{WS}/tags"), 200, json!([]));
    let (url, dir) = sqlite_url()?;
    let allowed = format!("http://{}", fake.addr());
    let mut settings = crate::bench::LOAD_SETTINGS.to_vec();
    settings.push(("ALLOWED_API_HOSTS", &allowed));
    let result = async {
        let gw = start_with(root, &url, &settings).await?;
        let http = reqwest::Client::new();
        let signer = TokenFactory::new(&key("test-rsa-private.pem"));
        let (webhook, token) = install(&http, &gw.base, &signer, &fake).await?;
        let flows = format!("{}/admin/flows/{WS}", gw.base);
        let baseline = phase(&http, &gw.addr, &gw.base, &webhook, 0, UNMATCHED_DELIVERIES).await?;

        let mut unmatched = Vec::new();
        for i in 0..10 {
            let flow = json!({
                "name": format!("never {i}"),
                "trigger": { "events": ["NEW_TAG"], "conditions": [{ "pointer": "/payload/name", "op": "equals", "value": format!("never-{i}") }] },
                "steps": [{ "id": "tags", "operationId": "getTags", "query": { "name": "{{payload.name}}" } }]
            });
            unmatched.push(admin(&http, reqwest::Method::POST, flows.clone(), &token, Some(&flow)).await?["id"].as_str().unwrap_or("").to_owned());
        }
        let ten = phase(&http, &gw.addr, &gw.base, &webhook, UNMATCHED_DELIVERIES, UNMATCHED_DELIVERIES).await?;

        for id in &unmatched {
            admin(&http, reqwest::Method::POST, format!("{flows}/{id}/disable"), &token, None).await?;
        }
        let matching = json!({
            "name": "read the tag",
            "trigger": { "events": ["NEW_TAG"] },
            "steps": [{ "id": "tags", "operationId": "getTags", "query": { "name": "{{payload.name}}" } }]
        });
        admin(&http, reqwest::Method::POST, flows.clone(), &token, Some(&matching)).await?;
        let one = phase(&http, &gw.addr, &gw.base, &webhook, 2 * UNMATCHED_DELIVERIES, MATCHED_DELIVERIES).await?;
        let text = http.get(format!("{}/metrics", gw.base)).send().await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
        let completed = metric(&text, "gateway_flows_total{outcome=\"completed\"}");
        let filtered = metric(&text, "gateway_flows_total{outcome=\"filtered\"}");
        let sent = fake.count("GET", &format!("/api/v1/workspaces/{WS}/tags"));
        Ok::<Value, String>(json!({
            "backend": "sqlite",
            "no_flows": baseline, "ten_unmatched_flows": ten, "one_matching_read_flow": one,
            "flows_completed": completed, "flows_filtered": filtered, "requests_to_clockify": sent,
        }))
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    let r = result?;
    let bench = "flows through the inbox, sqlite";
    rows.push(row(bench, "handled/s, no flow (baseline)", r["no_flows"]["handled_per_second"].to_string(), ""));
    rows.push(row(bench, "handled/s, 10 enabled flows not matching", r["ten_unmatched_flows"]["handled_per_second"].to_string(), ""));
    rows.push(row(
        bench,
        "handled/s, 1 matching read-only flow",
        r["one_matching_read_flow"]["handled_per_second"].to_string(),
        "about 50 (the budget)",
    ));
    rows.push(row(bench, "flows completed / filtered", format!("{} / {}", r["flows_completed"], r["flows_filtered"]), ""));
    Ok(r)
}
