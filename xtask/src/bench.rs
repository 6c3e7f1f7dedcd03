//! `cargo xtask bench [webhooks]`: figures from a release build, over
//! loopback HTTP only, bounded in time and requests. Prints a table and
//! writes `target/bench/webhooks.json`.
//!
//! Webhook ingest: a workspace is installed with the test key pair, then
//! signed deliveries with unique bodies are sent (1) as fast as a fixed set of
//! connections allows (saturation: accepted deliveries per second), and
//! (2) at a fixed offered rate of 1,000 per second (latency p50/p99). RSS is
//! sampled from /proc while the load runs. Both on SQLite and PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clockify_testkit::tokens::{TokenFactory, key};
use serde_json::{Value, json};

const SATURATION_REQUESTS: u64 = 20_000;
const SATURATION_CONNECTIONS: usize = 32;
const FIXED_RATE: u64 = 1_000;
const FIXED_SECONDS: u64 = 5;

struct Gateway {
    child: Child,
    base: String,
    _dir: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

async fn start(root: &Path, database_url: &str) -> Result<Gateway, String> {
    let dir = std::env::temp_dir().join(format!("gw-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let child = Command::new(root.join("target/release/clockify-gateway"))
        .current_dir(&dir)
        .env("GATEWAY_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env("ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .env("CLOCKIFY_PUBLIC_KEY_FILE", root.join("testkit/keys/test-rsa-public.pem"))
        .env("ALLOWED_API_HOSTS", "127.0.0.1:9")
        .env("RATE_LIMIT_PER_SECOND", "1000000")
        .env("RATE_LIMIT_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the release gateway: {e}"))?;
    let gw = Gateway { child, base: format!("http://127.0.0.1:{port}"), _dir: dir };
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{}/ready", gw.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(gw);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("the gateway did not become ready".into())
}

fn claims(ws: &str) -> Value {
    json!({ "iss": "clockify", "type": "addon", "sub": "clockify-rust-gateway", "workspaceId": ws, "addonId": "bench-addon" })
}

/// Installs `ws` with a NEW_TAG manifest webhook; returns that webhook's token.
async fn install(http: &reqwest::Client, base: &str, signer: &TokenFactory, ws: &str) -> Result<String, String> {
    let mut install = claims(ws);
    install["backendUrl"] = json!("http://127.0.0.1:9/api");
    let mut hook = claims(ws);
    hook["hook"] = json!("NEW_TAG");
    let webhook_token = signer.sign(&hook);
    let body = json!({
        "addonId": "bench-addon", "workspaceId": ws, "authToken": signer.sign(&install),
        "webhooks": [{ "path": "/webhooks/NEW_TAG", "webhookType": "ADDON", "authToken": webhook_token }],
    });
    let r = http
        .post(format!("{base}/lifecycle/installed"))
        .header("x-addon-lifecycle-token", signer.sign(&claims(ws)))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("install failed: {}", r.status()));
    }
    Ok(webhook_token)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn deliver(http: &reqwest::Client, url: &str, token: &str, n: u64) -> bool {
    http.post(url)
        .header("clockify-signature", token)
        .header("clockify-webhook-event-type", "NEW_TAG")
        .json(&json!({ "id": format!("t{n}"), "name": "bench", "workspaceId": "ws-bench" }))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn run_backend(root: &Path, name: &str, database_url: &str) -> Result<Value, String> {
    let gw = start(root, database_url).await?;
    let pid = gw.child.id();
    let idle_rss = rss_kb(pid);
    let http = reqwest::Client::builder().pool_max_idle_per_host(SATURATION_CONNECTIONS * 2).build().map_err(|e| e.to_string())?;
    let signer = TokenFactory::new(&key("test-rsa-private.pem"));
    let token = Arc::new(install(&http, &gw.base, &signer, "ws-bench").await?);
    let url = Arc::new(format!("{}/webhooks/NEW_TAG", gw.base));
    let peak_rss = Arc::new(AtomicU64::new(idle_rss));
    let sampler = {
        let peak = peak_rss.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Saturation: a fixed number of connections, each sending back to back.
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..SATURATION_CONNECTIONS)
        .map(|_| {
            let (http, url, token, next, accepted) = (http.clone(), url.clone(), token.clone(), next.clone(), accepted.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= SATURATION_REQUESTS {
                        break;
                    }
                    if deliver(&http, &url, &token, n).await {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let saturation_secs = started.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    let per_second = accepted as f64 / saturation_secs;

    // Fixed offered rate: one delivery every millisecond, latency of each.
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / FIXED_RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut calls = Vec::new();
    for i in 0..FIXED_RATE * FIXED_SECONDS {
        tick.tick().await;
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        calls.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = deliver(&http, &url, &token, SATURATION_REQUESTS + i).await;
            (ok, t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for c in calls {
        match c.await {
            Ok((true, ms)) => latencies.push(ms),
            _ => failures += 1,
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    sampler.abort();
    Ok(json!({
        "backend": name,
        "saturation": { "requests": SATURATION_REQUESTS, "connections": SATURATION_CONNECTIONS, "accepted": accepted,
                        "seconds": saturation_secs, "accepted_per_second": per_second.round() },
        "fixed_rate": { "offered_per_second": FIXED_RATE, "seconds": FIXED_SECONDS, "failures": failures,
                        "p50_ms": percentile(&latencies, 0.50), "p99_ms": percentile(&latencies, 0.99) },
        "rss_kb": { "idle": idle_rss, "peak_under_load": peak_rss.load(Ordering::Relaxed) },
    }))
}

async fn fresh_postgres_url() -> Result<String, String> {
    let base = match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => u,
        _ => "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    };
    let schema = format!("bench_{}", std::process::id());
    let out = Command::new("psql")
        .args([base.as_str(), "-c", &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if !out.status.success() {
        return Err(format!("cannot create a schema: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let what = args.first().map(String::as_str).unwrap_or("webhooks");
    if what != "webhooks" {
        return Err(format!("unknown benchmark `{what}` (available: webhooks)"));
    }
    println!("building the release gateway ...");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "clockify-gateway"])
        .current_dir(root)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("release build failed".into());
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let results = rt.block_on(async {
        let sqlite_dir = std::env::temp_dir().join(format!("gw-bench-db-{}", std::process::id()));
        std::fs::create_dir_all(&sqlite_dir).map_err(|e| e.to_string())?;
        let sqlite = format!("sqlite://{}?mode=rwc", sqlite_dir.join("bench.db").display());
        let a = run_backend(root, "sqlite", &sqlite).await?;
        let _ = std::fs::remove_dir_all(&sqlite_dir);
        let b = run_backend(root, "postgres", &fresh_postgres_url().await?).await?;
        Ok::<_, String>(vec![a, b])
    })?;
    println!();
    println!("webhook ingest (release build, loopback, signed deliveries, unique bodies)");
    println!("{:<10} {:>16} {:>10} {:>10} {:>10} {:>12} {:>12}", "backend", "saturation /s", "p50 ms", "p99 ms", "failures", "idle RSS MB", "load RSS MB");
    for r in &results {
        println!(
            "{:<10} {:>16} {:>10.2} {:>10.2} {:>10} {:>12.1} {:>12.1}",
            r["backend"].as_str().unwrap_or(""),
            r["saturation"]["accepted_per_second"],
            r["fixed_rate"]["p50_ms"].as_f64().unwrap_or(0.0),
            r["fixed_rate"]["p99_ms"].as_f64().unwrap_or(0.0),
            r["fixed_rate"]["failures"],
            r["rss_kb"]["idle"].as_f64().unwrap_or(0.0) / 1024.0,
            r["rss_kb"]["peak_under_load"].as_f64().unwrap_or(0.0) / 1024.0,
        );
    }
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let path = out.join("webhooks.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).unwrap_or_default()).map_err(|e| e.to_string())?;
    println!("\nwritten to {}", path.display());
    Ok(())
}
