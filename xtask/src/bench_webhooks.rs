//! Webhook ingest (`cargo xtask bench webhooks`, and `instances` for the
//! row of several gateways on one database).
//!
//! Each setup starts the release gateway (one or several instances on one
//! database), installs its workspaces, then sends signed deliveries with
//! unique bodies (1) as fast as 32, 64 and 128 keep-alive connections allow,
//! 20,000 at each (saturation: accepted deliveries per second, the best
//! level reported as the saturation rate; after each level the inbox is
//! given time to handle them all, and the end-to-end rate counts that too),
//! and (2) at a fixed offered rate of 1,000 per second (latency p50/p99,
//! measured from the moment each request was due, so a stalled server is
//! not hidden). The load generator is a small raw HTTP/1.1 client writing
//! requests that were built and signed before the clock starts; it shares
//! the machine's cores with the gateway, so the CPU time of both is reported
//! per delivery (the gateway's from the first request to the last delivery
//! handled). RSS is sampled from /proc while the load runs.
//!
//! The setups:
//! - **default settings, mix**: what a deployment runs. The gateway's own
//!   defaults (log level `info`, JSON lines, rate limits) with its log
//!   written to a file; the payload mix of `bench_payloads` spread over 64
//!   workspaces (each stays under the default per-workspace webhook limit);
//!   then each event of the mix alone, for its CPU per delivery.
//! - **best case**: one workspace, a 50-byte NEW_TAG body, `RUST_LOG=warn`
//!   and the rate limits lifted; the figure earlier versions reported.
//! - **3 instances** (PostgreSQL): the default mix sent round-robin to three
//!   gateways on one database; rates and CPU summed over the instances.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clockify_testkit::tokens::{TokenFactory, key};
use serde_json::{Value, json};

use crate::bench::{
    Conn, Gateway, LOAD_SETTINGS, Row, cpu_seconds, fresh_postgres_url, handled_done, installed_request, metric_sum, percentile,
    post_installed, postgres_data_directory, psql, row, rss_kb, sqlite_url, start_with,
};
use crate::bench_payloads::{MIX, nth};

/// Deliveries sent at each saturation level.
const SATURATION_REQUESTS: u64 = 20_000;
/// Deliveries of each event alone, for its CPU per delivery.
const PER_EVENT_REQUESTS: u64 = 10_000;
/// Connections of each saturation level; `BENCH_CONNECTIONS=32,128` (a
/// comma-separated list) overrides. One level is not enough: a request
/// waits for its commit, so with too few connections the gateway and its
/// database idle between commits (a third of the time on PostgreSQL at 32)
/// and the rate measures the latency, not the capacity.
const SATURATION_CONNECTIONS: [usize; 3] = [32, 64, 128];
const FIXED_RATE: u64 = 1_000;
const FIXED_SECONDS: u64 = 5;
/// The first second at the fixed rate is not counted in its percentiles
/// (reported apart): it absorbs what the saturation phase left to flush
/// (SQLite's checkpoint of 20,000 deliveries' pages, whose fsync stalls
/// the writes behind it for 10-60 ms on this machine's disk).
const WARMUP_SECONDS: u64 = 1;
const FIXED_CONNECTIONS: usize = 16;
/// Workspaces of the mix: at the saturation rates seen, each stays well
/// under the default webhook limit of 1,000 per second per workspace.
const MIX_WORKSPACES: usize = 64;

fn saturation_levels() -> Vec<usize> {
    let chosen: Vec<usize> = std::env::var("BENCH_CONNECTIONS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
        .collect();
    if chosen.is_empty() { SATURATION_CONNECTIONS.to_vec() } else { chosen }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Payloads {
    /// One workspace, 50-byte NEW_TAG bodies.
    BestCase,
    /// `bench_payloads::MIX` over `MIX_WORKSPACES` workspaces.
    Mix,
}

struct Setup {
    /// The row's name.
    label: String,
    backend: &'static str,
    /// Environment beside the bench's fixed one; empty: the gateway's defaults.
    settings: Vec<(&'static str, &'static str)>,
    instances: usize,
    payloads: Payloads,
}

/// The gateways of one setup and what was installed on them.
struct Fleet {
    gateways: Vec<Gateway>,
    /// `(workspace, event)` → that webhook's token.
    tokens: HashMap<(String, &'static str), String>,
    workspaces: Vec<String>,
}

impl Fleet {
    fn pids(&self) -> Vec<u32> {
        self.gateways.iter().map(|g| g.child.id()).collect()
    }

    fn cpu_seconds(&self) -> f64 {
        self.pids().iter().map(|p| cpu_seconds(&p.to_string())).sum()
    }

    /// Deliveries handled, summed over the instances.
    async fn handled(&self, http: &reqwest::Client) -> Result<u64, String> {
        let mut sum = 0;
        for g in &self.gateways {
            sum += handled_done(http, &g.base).await?;
        }
        Ok(sum)
    }

    /// The `n`th delivery (any instance takes it: its `host` is not checked).
    fn delivery(&self, payloads: Payloads, n: u64) -> Vec<u8> {
        let addr = &self.gateways[0].addr;
        match payloads {
            Payloads::BestCase => {
                let body = format!(r#"{{"id":"t{n}","name":"bench","workspaceId":"ws-bench"}}"#);
                crate::bench::signed_delivery(addr, "NEW_TAG", &self.tokens[&("ws-bench".to_owned(), "NEW_TAG")], &body)
            }
            Payloads::Mix => self.delivery_of(nth(n).event, n),
        }
    }

    /// The `n`th delivery of `event` in the mix's workspaces.
    fn delivery_of(&self, event: &'static str, n: u64) -> Vec<u8> {
        let addr = &self.gateways[0].addr;
        let ws = &self.workspaces[(n / 2) as usize % self.workspaces.len()];
        let sample = MIX.iter().find(|s| s.event == event).expect("an event of the mix");
        crate::bench::signed_delivery(addr, event, &self.tokens[&(ws.clone(), event)], &(sample.body)(ws, n))
    }
}

async fn start_fleet(root: &Path, setup: &Setup, database_url: &str) -> Result<Fleet, String> {
    let mut gateways = Vec::new();
    for _ in 0..setup.instances {
        gateways.push(start_with(root, database_url, &setup.settings).await?);
    }
    let http = reqwest::Client::new();
    let signer = TokenFactory::new(&key("test-rsa-private.pem"));
    let (workspaces, events): (Vec<String>, Vec<&'static str>) = match setup.payloads {
        Payloads::BestCase => (vec!["ws-bench".into()], vec!["NEW_TAG"]),
        Payloads::Mix => ((0..MIX_WORKSPACES).map(|i| format!("ws-mix-{i:02}")).collect(), MIX.iter().map(|s| s.event).collect()),
    };
    let mut tokens = HashMap::new();
    for ws in &workspaces {
        let (lifecycle, body, webhook_tokens) = installed_request(&signer, ws, &events);
        // Installed through the first instance; the others read it from the database.
        post_installed(&http, &gateways[0].base, &lifecycle, &body).await?;
        for (event, token) in webhook_tokens {
            tokens.insert((ws.clone(), event), token);
        }
    }
    Ok(Fleet { gateways, tokens, workspaces })
}

/// Flushes what earlier runs left dirty (PostgreSQL's buffers, the page
/// cache), so that their background writes do not land in this run's
/// measurements.
fn quiesce_disk() {
    let _ = psql("CHECKPOINT");
    let _ = std::process::Command::new("sync").status();
}

/// `disk` is a directory on the database's disk, if known; the disk probe
/// flushes a file there (or in the temporary directory).
async fn run_setup(root: &Path, setup: &Setup, database_url: &str, disk: Option<PathBuf>) -> Result<Value, String> {
    quiesce_disk();
    let fleet = start_fleet(root, setup, database_url).await?;
    let pids = fleet.pids();
    let idle_rss: Vec<u64> = pids.iter().map(|&p| rss_kb(p)).collect();
    let http = reqwest::Client::new();
    let levels = saturation_levels();
    let saturation_total = SATURATION_REQUESTS * levels.len() as u64;
    let total = saturation_total + FIXED_RATE * (WARMUP_SECONDS + FIXED_SECONDS);
    let requests: Arc<Vec<Vec<u8>>> = Arc::new((0..total).map(|n| fleet.delivery(setup.payloads, n)).collect());
    let peak_rss = Arc::new(pids.iter().map(|&p| AtomicU64::new(rss_kb(p))).collect::<Vec<_>>());
    let sampler = {
        let (peak, pids) = (peak_rss.clone(), pids.clone());
        tokio::spawn(async move {
            loop {
                for (p, peak) in pids.iter().zip(peak.iter()) {
                    peak.fetch_max(rss_kb(*p), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Saturation, level by level, each with deliveries of its own.
    let mut by_connections = Vec::new();
    let mut handled_before = fleet.handled(&http).await?;
    for (i, &connections) in levels.iter().enumerate() {
        let first = SATURATION_REQUESTS * i as u64;
        let (level, handled_total) =
            saturate(&fleet, &http, &requests, first..first + SATURATION_REQUESTS, connections, handled_before).await?;
        handled_before = handled_total;
        by_connections.push(level);
    }
    let best = by_connections
        .iter()
        .max_by(|a, b| a["accepted_per_second"].as_f64().unwrap_or(0.0).total_cmp(&b["accepted_per_second"].as_f64().unwrap_or(0.0)))
        .cloned()
        .unwrap_or_default();

    let fixed = fixed_rate(&fleet, &requests, saturation_total, disk).await?;

    // Each event of the mix alone, at the best level's connections.
    let mut by_event = serde_json::Map::new();
    if setup.payloads == Payloads::Mix {
        let connections = best["connections"].as_u64().unwrap_or(64) as usize;
        for (i, sample) in MIX.iter().enumerate() {
            let first = total + PER_EVENT_REQUESTS * i as u64;
            let alone: Arc<Vec<Vec<u8>>> =
                Arc::new((first..first + PER_EVENT_REQUESTS).map(|n| fleet.delivery_of(sample.event, n)).collect());
            let (level, handled_total) = saturate(&fleet, &http, &alone, 0..PER_EVENT_REQUESTS, connections, handled_before).await?;
            handled_before = handled_total;
            by_event.insert(sample.event.to_owned(), level);
        }
    }
    sampler.abort();

    // Every body of the mix decoded as its contract type, or the figures
    // would measure raw JSON.
    let mut raw = 0.0;
    for g in &fleet.gateways {
        let text =
            http.get(format!("{}/metrics", g.base)).send().await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
        raw += metric_sum(&text, "gateway_webhook_payloads_total{", "typed=\"false\"");
    }
    if raw > 0.0 {
        return Err(format!("{raw} deliveries did not decode as their contract type; the payload samples no longer fit"));
    }
    let peak: Vec<u64> = peak_rss.iter().map(|p| p.load(Ordering::Relaxed)).collect();
    Ok(json!({
        "setup": setup.label,
        "backend": setup.backend,
        "instances": setup.instances,
        "settings": setup.settings.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "workspaces": fleet.workspaces.len(),
        "saturation": best,
        "saturation_by_connections": by_connections,
        "by_event": by_event,
        "fixed_rate": fixed,
        "rss_kb": { "idle": idle_rss, "peak_under_load": peak },
    }))
}

/// Fixed offered rate: one delivery due every millisecond (over all
/// instances), handed to a pool of connections; latency counts from when
/// it was due.
async fn fixed_rate(fleet: &Fleet, requests: &Arc<Vec<Vec<u8>>>, first: u64, disk: Option<PathBuf>) -> Result<Value, String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let connections = FIXED_CONNECTIONS.div_ceil(fleet.gateways.len()) * fleet.gateways.len();
    let mut senders = Vec::new();
    for c in 0..connections {
        let mut conn = Conn::open(&fleet.gateways[c % fleet.gateways.len()].addr).await?;
        let (rx, requests) = (rx.clone(), requests.clone());
        senders.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let Some((n, due)) = rx.lock().await.recv().await else { break };
                let ok = matches!(conn.call(&requests[n as usize]).await, Ok(200));
                seen.push((n, ok, due, due.elapsed().as_secs_f64() * 1000.0));
            }
            seen
        }));
    }
    // Paced by a thread of its own: tokio's timer has millisecond steps,
    // which would add up to a millisecond to every latency measured.
    let phase_began = Instant::now();
    let probe_dir = disk
        .clone()
        .filter(|d| std::fs::metadata(d).is_ok_and(|m| m.is_dir() && !m.permissions().readonly()))
        .unwrap_or_else(std::env::temp_dir);
    let probe = crate::disk_probe::DiskProbe::start(&probe_dir, phase_began)?;
    let pacer = std::thread::spawn(move || {
        let period = Duration::from_micros(1_000_000 / FIXED_RATE);
        for i in 0..FIXED_RATE * (WARMUP_SECONDS + FIXED_SECONDS) {
            let due = phase_began + period * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let _ = tx.send((first + i, due));
        }
    });
    tokio::task::spawn_blocking(move || pacer.join()).await.map_err(|e| e.to_string())?.map_err(|_| "the pacer panicked".to_owned())?;
    let mut latencies = Vec::new();
    let mut failures = 0u64;
    // When in the phase the slowest answers were due: tells a stall (one
    // cluster) from steady queueing.
    let mut slowest: Vec<(f64, f64)> = Vec::new();
    let mut warmup: Vec<f64> = Vec::new();
    let measured_from = first + FIXED_RATE * WARMUP_SECONDS;
    for s in senders {
        for (n, ok, due, ms) in s.await.unwrap_or_default() {
            if n < measured_from {
                warmup.push(if ok { ms } else { f64::INFINITY });
            } else if ok {
                slowest.push((ms, due.duration_since(phase_began).as_secs_f64() * 1000.0));
                latencies.push(ms);
            } else {
                failures += 1;
            }
        }
    }
    failures += FIXED_RATE * FIXED_SECONDS - (latencies.len() as u64 + failures);
    latencies.sort_by(|a, b| a.total_cmp(b));
    warmup.sort_by(|a, b| a.total_cmp(b));
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    slowest.truncate(10);
    let mut disk_fsync = probe.finish((WARMUP_SECONDS * 1000) as f64);
    disk_fsync["dir"] = json!(probe_dir.display().to_string());
    disk_fsync["same_device_as_database"] = json!(disk.as_deref().and_then(|d| crate::disk_probe::same_device(d, &probe_dir)));
    Ok(json!({ "offered_per_second": FIXED_RATE, "seconds": FIXED_SECONDS, "connections": connections,
               "failures": failures, "p50_ms": percentile(&latencies, 0.50), "p90_ms": percentile(&latencies, 0.90),
               "p99_ms": percentile(&latencies, 0.99), "p999_ms": percentile(&latencies, 0.999), "max_ms": percentile(&latencies, 1.0),
               "slowest": slowest.iter().map(|(ms, at)| json!({ "ms": (ms * 100.0).round() / 100.0, "due_at_ms": at.round() })).collect::<Vec<_>>(),
               "warmup": { "seconds": WARMUP_SECONDS, "failures": warmup.iter().filter(|ms| ms.is_infinite()).count(),
                           "p99_ms": percentile(&warmup, 0.99), "max_ms": warmup.iter().copied().filter(|ms| ms.is_finite()).fold(0.0, f64::max) },
               "disk_fsync_beside": disk_fsync }))
}

/// One saturation level: the deliveries `range` of `requests` sent back to
/// back over `connections` keep-alive connections (spread over the
/// instances), then the inbox let catch up (so the next phase measures one
/// thing). `handled_before` is the fleet's count of handled deliveries
/// before this level; the count after it comes back beside the level's
/// figures.
async fn saturate(
    fleet: &Fleet,
    http: &reqwest::Client,
    requests: &Arc<Vec<Vec<u8>>>,
    range: std::ops::Range<u64>,
    connections: usize,
    handled_before: u64,
) -> Result<(Value, u64), String> {
    let next = Arc::new(AtomicU64::new(range.start));
    let accepted = Arc::new(AtomicU64::new(0));
    let (gw_cpu0, gen_cpu0) = (fleet.cpu_seconds(), cpu_seconds("self"));
    let started = Instant::now();
    let mut workers = Vec::new();
    for c in 0..connections {
        let mut conn = Conn::open(&fleet.gateways[c % fleet.gateways.len()].addr).await?;
        let (requests, next, accepted, end) = (requests.clone(), next.clone(), accepted.clone(), range.end);
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    break;
                }
                match conn.call(&requests[n as usize]).await {
                    Ok(200) => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    let handled_total = wait_until_handled(fleet, http, handled_before + accepted).await?;
    let drain_secs = started.elapsed().as_secs_f64() - seconds;
    let handled = handled_total.saturating_sub(handled_before);
    let per_delivery_us = |cpu: f64| (cpu / accepted.max(1) as f64 * 1e6).round();
    let level = json!({
        "requests": range.end - range.start, "connections": connections, "accepted": accepted,
        "seconds": seconds, "accepted_per_second": (accepted as f64 / seconds).round(),
        "handled": handled, "inbox_drain_seconds": drain_secs,
        "handled_per_second_end_to_end": (handled as f64 / (seconds + drain_secs)).round(),
        "gateway_cpu_us_per_delivery": per_delivery_us(fleet.cpu_seconds() - gw_cpu0),
        "generator_cpu_us_per_delivery": per_delivery_us(cpu_seconds("self") - gen_cpu0),
    });
    Ok((level, handled_total))
}

/// Waits (at most a minute) until the fleet has handled `n` deliveries.
async fn wait_until_handled(fleet: &Fleet, http: &reqwest::Client, n: u64) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = fleet.handled(http).await?;
        if done >= n {
            return Ok(done);
        }
        if Instant::now() > deadline {
            // The figures still print; this says the next phase ran beside a backlog.
            eprintln!(
                "warning: the inbox handled {done} of {n} accepted deliveries within 60 s; the next phase starts with the rest still queued"
            );
            return Ok(done);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `setup` on a fresh database of its backend.
async fn on_fresh_database(root: &Path, setup: &Setup) -> Result<Value, String> {
    if setup.backend == "sqlite" {
        let (url, dir) = sqlite_url()?;
        let r = run_setup(root, setup, &url, Some(dir.clone())).await;
        let _ = std::fs::remove_dir_all(&dir);
        r
    } else {
        let (url, schema) = fresh_postgres_url()?;
        // Beside the data directory, not in it.
        let disk = postgres_data_directory().and_then(|d| d.parent().map(Path::to_path_buf));
        let r = run_setup(root, setup, &url, disk).await;
        psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        r
    }
}

fn default_mix(backend: &'static str, instances: usize) -> Setup {
    let label = if instances == 1 {
        format!("webhook ingest, {backend}, default settings, mix")
    } else {
        format!("webhook ingest, {backend}, {instances} instances, default settings, mix")
    };
    Setup { label, backend, settings: Vec::new(), instances, payloads: Payloads::Mix }
}

fn best_case(backend: &'static str) -> Setup {
    Setup {
        label: format!("webhook ingest, {backend}, best case (NEW_TAG 50 B, RUST_LOG=warn, no rate limits)"),
        backend,
        settings: LOAD_SETTINGS.to_vec(),
        instances: 1,
        payloads: Payloads::BestCase,
    }
}

/// `cargo xtask bench webhooks`: for each backend (`BENCH_BACKENDS=sqlite`
/// or `postgres` runs one), the default mix and the best case.
pub async fn webhooks(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    let chosen = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let backends: Vec<&'static str> = ["sqlite", "postgres"].into_iter().filter(|b| chosen.contains(b)).collect();
    if backends.is_empty() {
        return Err(format!("BENCH_BACKENDS=`{chosen}` names neither sqlite nor postgres"));
    }
    let mut results = Vec::new();
    for backend in backends {
        for setup in [default_mix(backend, 1), best_case(backend)] {
            let r = on_fresh_database(root, &setup).await?;
            push_rows(rows, &r);
            results.push(r);
        }
    }
    Ok(Value::Array(results))
}

/// `cargo xtask bench instances`: three gateways on one PostgreSQL
/// database beside one, both with the default mix.
pub async fn instances(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    let mut results = Vec::new();
    for instances in [1, 3] {
        let r = on_fresh_database(root, &default_mix("postgres", instances)).await?;
        push_rows(rows, &r);
        results.push(r);
    }
    Ok(Value::Array(results))
}

fn push_rows(rows: &mut Vec<Row>, r: &Value) {
    let bench = r["setup"].as_str().unwrap_or_default();
    let mix = !r["by_event"].as_object().is_none_or(|m| m.is_empty());
    let sqlite = r["backend"] == "sqlite";
    let target = |sqlite_target: &'static str, postgres_target: &'static str| if sqlite { sqlite_target } else { postgres_target };
    rows.push(row(
        bench,
        &format!("saturation, accepted/s (best, at {} connections)", r["saturation"]["connections"]),
        r["saturation"]["accepted_per_second"].to_string(),
        if mix && r["instances"] == 1 { target(">= 15000", ">= 10000") } else { "" },
    ));
    let levels: Vec<String> = r["saturation_by_connections"]
        .as_array()
        .map(|a| a.iter().map(|l| format!("{}: {}", l["connections"], l["accepted_per_second"])).collect())
        .unwrap_or_default();
    rows.push(row(bench, "accepted/s by connections", levels.join(", "), ""));
    let fixed = &r["fixed_rate"];
    rows.push(row(bench, "p50 at 1000/s, ms", format!("{:.2}", fixed["p50_ms"].as_f64().unwrap_or(0.0)), ""));
    rows.push(row(bench, "p99 at 1000/s, ms", format!("{:.2}", fixed["p99_ms"].as_f64().unwrap_or(0.0)), "<= 5"));
    let disk = &fixed["disk_fsync_beside"];
    rows.push(row(
        bench,
        "the disk's fsync beside it: p99 / max, ms",
        format!("{:.2} / {:.2}", disk["p99_ms"].as_f64().unwrap_or(0.0), disk["max_ms"].as_f64().unwrap_or(0.0)),
        "",
    ));
    rows.push(row(bench, "failures at 1000/s", fixed["failures"].to_string(), "0"));
    rows.push(row(
        bench,
        "max in the uncounted warm-up second, ms",
        format!("{:.2}", fixed["warmup"]["max_ms"].as_f64().unwrap_or(0.0)),
        "",
    ));
    rows.push(row(bench, "handled/s incl. inbox drain", r["saturation"]["handled_per_second_end_to_end"].to_string(), ""));
    rows.push(row(bench, "gateway CPU per delivery, us", r["saturation"]["gateway_cpu_us_per_delivery"].to_string(), ""));
    if let Some(by_event) = r["by_event"].as_object().filter(|m| !m.is_empty()) {
        for (event, level) in by_event {
            rows.push(row(
                bench,
                &format!("gateway CPU per delivery, {event} alone, us"),
                level["gateway_cpu_us_per_delivery"].to_string(),
                if event == "NEW_TIME_ENTRY" { "<= 60" } else { "" },
            ));
        }
    }
    rows.push(row(bench, "generator CPU per delivery, us", r["saturation"]["generator_cpu_us_per_delivery"].to_string(), ""));
    let mb = |v: &Value| v.as_array().map(|a| a.iter().filter_map(Value::as_f64).fold(0.0, f64::max)).unwrap_or(0.0) / 1024.0;
    let per_instance = if r["instances"] == 1 { "" } else { " (largest instance)" };
    rows.push(row(bench, &format!("RSS idle, MB{per_instance}"), format!("{:.1}", mb(&r["rss_kb"]["idle"])), ""));
    rows.push(row(bench, &format!("RSS under load, MB{per_instance}"), format!("{:.1}", mb(&r["rss_kb"]["peak_under_load"])), "<= 64"));
}
