//! `cargo xtask bench [webhooks|instances|lifecycle|bootstrap|explorer|unsigned|flows|build|client-build] [--clean-build]`: figures
//! from a release build, over loopback HTTP only, bounded in time and
//! requests. No argument runs everything. Prints one table and writes it to
//! `target/bench/table.json`, with each part's details in
//! `target/bench/<part>.json`.
//!
//! The table is a `Vec<Row>`: a new benchmark pushes its rows.
//!
//! Webhook ingest lives in `bench_webhooks.rs`, its bodies in
//! `bench_payloads.rs`; the other parts in `bench_*.rs` beside this file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clockify_testkit::tokens::{TokenFactory, key};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIFECYCLE_INSTALLS: usize = 300;

/// One line of the printed table.
pub struct Row {
    pub bench: String,
    pub metric: String,
    pub value: String,
    /// The issue's target, or empty.
    pub target: String,
}

pub fn row(bench: &str, metric: &str, value: String, target: &str) -> Row {
    Row { bench: bench.to_owned(), metric: metric.to_owned(), value, target: target.to_owned() }
}

pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) addr: String,
    /// Its working directory, removed with it.
    dir: PathBuf,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// User plus system CPU seconds of a process so far (`self` for this one).
pub(crate) fn cpu_seconds(pid: &str) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the `(comm)`, which may hold spaces.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / ticks_per_second)
        })
        .unwrap_or(0.0)
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// The gateway under test: `BENCH_GATEWAY_BINARY` (e.g. an older build, to
/// compare) or the release build of this tree.
fn gateway_binary(root: &Path) -> PathBuf {
    std::env::var_os("BENCH_GATEWAY_BINARY").map(PathBuf::from).unwrap_or_else(|| root.join("target/release/clockify-gateway"))
}

/// What the load parts change of the gateway's defaults: no log line per
/// request, and no rate limit in the way of the load.
pub(crate) const LOAD_SETTINGS: [(&str, &str); 3] =
    [("RATE_LIMIT_PER_SECOND", "1000000"), ("RATE_LIMIT_BURST", "1000000"), ("RUST_LOG", "warn")];

async fn start(root: &Path, database_url: &str) -> Result<Gateway, String> {
    start_with(root, database_url, &LOAD_SETTINGS).await
}

/// Starts the gateway under test on `database_url`, in a temporary working
/// directory of its own, trusting the test key pair's public key
/// (`testkit/keys/test-rsa-public.pem`) and calling nothing but
/// `127.0.0.1:9`; `settings` are further environment variables. Without a
/// `RUST_LOG` among them the gateway logs at its default level, whatever
/// this process's environment says.
pub(crate) async fn start_with(root: &Path, database_url: &str, settings: &[(&str, &str)]) -> Result<Gateway, String> {
    let dir = std::env::temp_dir().join(format!("gw-bench-{}-{}", std::process::id(), uuid_ish()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("gateway.log")).map_err(|e| e.to_string())?;
    let spawned = Command::new(gateway_binary(root))
        .current_dir(&dir)
        .env("GATEWAY_ADDR", &addr)
        .env("DATABASE_URL", database_url)
        .env("ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .env("CLOCKIFY_PUBLIC_KEY_FILE", root.join("testkit/keys/test-rsa-public.pem"))
        .env("ALLOWED_API_HOSTS", "http://127.0.0.1:9")
        .env_remove("RUST_LOG")
        .envs(settings.iter().copied())
        // The log goes to a file, as a deployment's goes to its collector.
        .stdout(log)
        .stderr(Stdio::inherit())
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!("cannot start the release gateway: {e}"));
        }
    };
    let gw = Gateway { child, base: format!("http://{addr}"), addr, dir };
    // A gateway that accepts but never answers must not hold the poll up.
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().map_err(|e| e.to_string())?;
    for _ in 0..200 {
        if http.get(format!("{}/ready", gw.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(gw);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("the gateway did not become ready".into())
}

pub(crate) fn claims(ws: &str) -> Value {
    json!({ "iss": "clockify", "type": "addon", "sub": "clockify-rust-gateway", "workspaceId": ws, "addonId": "bench-addon" })
}

/// The INSTALLED request for `ws` with a manifest webhook per event:
/// (lifecycle token, body, each event's webhook token).
pub(crate) fn installed_request(signer: &TokenFactory, ws: &str, events: &[&'static str]) -> (String, Value, Vec<(&'static str, String)>) {
    let mut install = claims(ws);
    install["backendUrl"] = json!("http://127.0.0.1:9/api");
    let tokens: Vec<(&'static str, String)> = events
        .iter()
        .map(|event| {
            let mut hook = claims(ws);
            hook["hook"] = json!(event);
            (*event, signer.sign(&hook))
        })
        .collect();
    let webhooks: Vec<Value> = tokens
        .iter()
        .map(|(event, token)| json!({ "path": format!("/webhooks/{event}"), "webhookType": "ADDON", "authToken": token }))
        .collect();
    let body = json!({ "addonId": "bench-addon", "workspaceId": ws, "authToken": signer.sign(&install), "webhooks": webhooks });
    (signer.sign(&claims(ws)), body, tokens)
}

/// Sends an INSTALLED request to the gateway at `base`.
pub(crate) async fn post_installed(http: &reqwest::Client, base: &str, lifecycle: &str, body: &Value) -> Result<(), String> {
    let r = http
        .post(format!("{base}/lifecycle/installed"))
        .header("x-addon-lifecycle-token", lifecycle)
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("INSTALLED of {} failed: {}", body["workspaceId"], r.status()));
    }
    Ok(())
}

/// Installs `ws`; returns its NEW_TAG webhook token.
pub(crate) async fn install(http: &reqwest::Client, base: &str, signer: &TokenFactory, ws: &str) -> Result<String, String> {
    let (lifecycle, body, mut tokens) = installed_request(signer, ws, &["NEW_TAG"]);
    post_installed(http, base, &lifecycle, &body).await?;
    Ok(tokens.remove(0).1)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One signed NEW_TAG delivery with a unique body, as raw HTTP/1.1 bytes.
pub(crate) fn delivery_request(addr: &str, token: &str, n: u64) -> Vec<u8> {
    signed_delivery(addr, "NEW_TAG", token, &format!(r#"{{"id":"t{n}","name":"bench","workspaceId":"ws-bench"}}"#))
}

/// A delivery of `event` signed with `token`, as raw HTTP/1.1 bytes.
pub(crate) fn signed_delivery(addr: &str, event: &str, token: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /webhooks/{event} HTTP/1.1\r\nhost: {addr}\r\nclockify-signature: {token}\r\n\
         clockify-webhook-event-type: {event}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A keep-alive HTTP/1.1 connection that sends prepared requests and reads
/// each response (Content-Length or chunked) before the next.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub(crate) async fn open(addr: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Self { stream, buf: Vec::with_capacity(4096) })
    }

    /// Sends `request`; the response's status.
    pub(crate) async fn call(&mut self, request: &[u8]) -> Result<u16, String> {
        self.stream.write_all(request).await.map_err(|e| e.to_string())?;
        loop {
            if let Some((status, len)) = parse_response(&self.buf)? {
                self.buf.drain(..len);
                return Ok(status);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// `(status, bytes)` of the first complete response in `buf`, if there is one.
fn parse_response(buf: &[u8]) -> Result<Option<(u16, usize)>, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "response head is not UTF-8".to_owned())?;
    let status = head.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| format!("bad status line: {head}"))?;
    let body_start = head_end + 4;
    let header = |name: &str| {
        head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned()))
    };
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| "bad content-length".to_owned())?;
        return Ok((buf.len() >= body_start + len).then_some((status, body_start + len)));
    }
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return Ok(buf[body_start..].windows(5).position(|w| w == b"0\r\n\r\n").map(|p| (status, body_start + p + 5)));
    }
    Ok(Some((status, body_start)))
}

/// Handler runs that succeeded, summed over events, from `/metrics`.
pub(crate) async fn handled_done(http: &reqwest::Client, base: &str) -> Result<u64, String> {
    let text = http.get(format!("{base}/metrics")).send().await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
    Ok(metric_sum(&text, "gateway_webhook_handled_total{", "outcome=\"done\"") as u64)
}

/// The sum of the samples of `/metrics` text whose line starts with `series` and holds `label`.
pub(crate) fn metric_sum(text: &str, series: &str, label: &str) -> f64 {
    text.lines().filter(|l| l.starts_with(series) && l.contains(label)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
}

fn postgres_base() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => u,
        _ => "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    }
}

/// The local server's data directory, when the bench may read its name
/// (a superuser may) and the directory is on this machine.
pub(crate) fn postgres_data_directory() -> Option<PathBuf> {
    let out = Command::new("psql").args([postgres_base().as_str(), "-Atq", "-c", "SHOW data_directory"]).output().ok()?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && dir.is_dir()).then_some(dir)
}

pub(crate) fn psql(sql: &str) -> Result<(), String> {
    let out = Command::new("psql").args([postgres_base().as_str(), "-q", "-c", sql]).output().map_err(|e| format!("psql: {e}"))?;
    if !out.status.success() {
        return Err(format!("psql `{sql}`: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// A URL whose connections use a new schema of their own, and that schema
/// (dropped by the caller afterwards).
pub(crate) fn fresh_postgres_url() -> Result<(String, String), String> {
    let base = postgres_base();
    let schema = format!("bench_{}", std::process::id());
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok((format!("{base}{sep}options=-c%20search_path%3D{schema}"), schema))
}

pub(crate) fn sqlite_url() -> Result<(String, PathBuf), String> {
    let dir = std::env::temp_dir().join(format!("gw-bench-db-{}-{}", std::process::id(), uuid_ish()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok((format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()), dir))
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default()
}

/// INSTALLED end to end (verify, store encrypted tokens, answer), one after
/// another with distinct workspaces, on SQLite.
async fn lifecycle(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    let (sqlite, dir) = sqlite_url()?;
    let gw = start(root, &sqlite).await?;
    let http = reqwest::Client::new();
    let signer = TokenFactory::new(&key("test-rsa-private.pem"));
    let prepared: Vec<_> = (0..LIFECYCLE_INSTALLS).map(|i| installed_request(&signer, &format!("ws-life-{i}"), &["NEW_TAG"])).collect();
    let mut ms = Vec::with_capacity(prepared.len());
    for (lifecycle, body, _) in &prepared {
        let t = Instant::now();
        let r = http
            .post(format!("{}/lifecycle/installed", gw.base))
            .header("x-addon-lifecycle-token", lifecycle)
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("INSTALLED failed: {}", r.status()));
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
    ms.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
    rows.push(row("lifecycle INSTALLED, sqlite", "p50, ms", format!("{p50:.2}"), ""));
    rows.push(row("lifecycle INSTALLED, sqlite", "p99, ms", format!("{p99:.2}"), ""));
    Ok(json!({ "installs": LIFECYCLE_INSTALLS, "p50_ms": p50, "p99_ms": p99 }))
}

/// The bootstrap benchmark (`gateway/benches/bootstrap.rs`): a synthetic
/// workspace of about 20,000 rows from the fake Clockify at 50 requests/s.
fn bootstrap(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    println!("running the bootstrap benchmark (release) ...");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["bench", "-p", "clockify-gateway", "--bench", "bootstrap"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    if !status.success() {
        return Err("the bootstrap benchmark failed".into());
    }
    let path = root.join("target/bench/bootstrap.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let r: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let bench = format!("bootstrap, {} rows", r["rows"]);
    rows.push(row(&bench, "wall time / floor", format!("{:.3}", r["ratio"].as_f64().unwrap_or(f64::NAN)), "<= 1.05"));
    rows.push(row(&bench, "requests made / minimum", format!("{} / {}", r["requests"], r["minimum_requests"]), "equal"));
    rows.push(row(&bench, "429 answers", r["throttled"].to_string(), "0"));
    Ok(r)
}

fn cargo_build(root: &Path, target_dir: Option<&Path>) -> Result<f64, String> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "--release", "-p", "clockify-gateway"]).current_dir(root);
    if let Some(dir) = target_dir {
        cmd.env("CARGO_TARGET_DIR", dir);
    }
    let t = Instant::now();
    let status = cmd.status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("release build failed".into());
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Binary size, an incremental rebuild after editing one handler (a
/// message of the webhook route; restored afterwards), and (opt-in, it
/// takes many minutes) a clean build in its own target dir. An edit, not a
/// touch: with the release profile's incremental compilation, a touched
/// file whose text did not change costs almost nothing.
fn build(root: &Path, clean: bool, rows: &mut Vec<Row>) -> Result<Value, String> {
    let binary = root.join("target/release/clockify-gateway");
    let size = std::fs::metadata(&binary).map_err(|e| format!("{}: {e}", binary.display()))?.len();
    let handler = root.join("gateway/src/inbox/routes.rs");
    let text = std::fs::read_to_string(&handler).map_err(|e| e.to_string())?;
    const MESSAGE: &str = "cannot read the request body";
    if !text.contains(MESSAGE) {
        return Err(format!("{}: the message the build benchmark edits (`{MESSAGE}`) is gone; name another", handler.display()));
    }
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    std::fs::write(&handler, text.replacen(MESSAGE, &format!("{MESSAGE} ({stamp})"), 1)).map_err(|e| e.to_string())?;
    let incremental = cargo_build(root, None);
    std::fs::write(&handler, &text).map_err(|e| format!("restoring {}: {e}", handler.display()))?;
    let incremental = incremental?;
    rows.push(row("build", "release binary size, MB", format!("{:.1}", size as f64 / 1_048_576.0), ""));
    rows.push(row("build", "incremental release build (one handler edited), s", format!("{incremental:.1}"), "<= 30"));
    let clean_secs = if clean {
        let dir = root.join("target/bench/clean-target");
        let _ = std::fs::remove_dir_all(&dir);
        let secs = cargo_build(root, Some(&dir))?;
        let _ = std::fs::remove_dir_all(&dir);
        rows.push(row("build", "clean release build, s", format!("{secs:.1}"), "<= 300"));
        Some(secs)
    } else {
        rows.push(row("build", "clean release build, s", "skipped (--clean-build)".into(), ""));
        None
    };
    Ok(json!({ "binary_bytes": size, "incremental_seconds": incremental, "clean_seconds": clean_secs }))
}

fn print_table(rows: &[Row]) {
    let w0 = rows.iter().map(|r| r.bench.len()).max().unwrap_or(5).max(5);
    let w1 = rows.iter().map(|r| r.metric.len()).max().unwrap_or(6).max(6);
    let w2 = rows.iter().map(|r| r.value.len()).max().unwrap_or(5).max(5);
    println!("\n{:<w0$}  {:<w1$}  {:>w2$}  target", "bench", "metric", "value");
    println!("{}", "-".repeat(w0 + w1 + w2 + 14));
    for r in rows {
        println!("{:<w0$}  {:<w1$}  {:>w2$}  {}", r.bench, r.metric, r.value, r.target);
    }
}

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    const PARTS: [&str; 9] = ["webhooks", "instances", "lifecycle", "bootstrap", "explorer", "unsigned", "flows", "build", "client-build"];
    let clean = args.iter().any(|a| a == "--clean-build");
    let chosen: Vec<&str> = args.iter().map(String::as_str).filter(|a| *a != "--clean-build").collect();
    if let Some(bad) = chosen.iter().find(|a| !PARTS.contains(a)) {
        return Err(format!("unknown benchmark `{bad}` (available: {}; no argument runs all)", PARTS.join(", ")));
    }
    let wants = |p: &str| chosen.is_empty() || chosen.contains(&p);
    // Only these parts run the release gateway binary.
    let needs_gateway = ["webhooks", "instances", "lifecycle", "unsigned", "flows", "build"].iter().any(|p| wants(p));
    if needs_gateway && std::env::var_os("BENCH_GATEWAY_BINARY").is_none() {
        println!("building the release gateway ...");
        cargo_build(root, None)?;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let write = |name: &str, v: &Value| {
        std::fs::write(out.join(format!("{name}.json")), serde_json::to_string_pretty(v).unwrap_or_default()).map_err(|e| e.to_string())
    };
    let mut rows = Vec::new();
    if wants("webhooks") {
        write("webhooks", &rt.block_on(crate::bench_webhooks::webhooks(root, &mut rows))?)?;
    }
    if wants("instances") {
        write("instances", &rt.block_on(crate::bench_webhooks::instances(root, &mut rows))?)?;
    }
    if wants("lifecycle") {
        write("lifecycle", &rt.block_on(lifecycle(root, &mut rows))?)?;
    }
    if wants("bootstrap") {
        write("bootstrap", &bootstrap(root, &mut rows)?)?;
    }
    if wants("explorer") {
        write("explorer", &crate::bench_explorer::run(root, &mut rows)?)?;
    }
    if wants("unsigned") {
        write("unsigned", &rt.block_on(crate::bench_unsigned::run(root, &mut rows))?)?;
    }
    if wants("flows") {
        write("flows", &rt.block_on(crate::bench_flows::run(root, &mut rows))?)?;
    }
    if wants("build") {
        write("build", &build(root, clean, &mut rows)?)?;
    }
    // Part of `build`, and runnable alone (it needs no gateway build).
    if wants("client-build") || chosen.contains(&"build") {
        write("client-build", &crate::bench_client::run(root, &mut rows)?)?;
    }
    print_table(&rows);
    let table: Vec<Value> =
        rows.iter().map(|r| json!({ "bench": r.bench, "metric": r.metric, "value": r.value, "target": r.target })).collect();
    write("table", &Value::Array(table))?;
    println!("\nwritten to {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn responses_are_framed_by_length_or_chunks() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1";
        assert_eq!(parse_response(r), Ok(Some((200, r.len() - 8))));
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}"), Ok(None));
        let c = b"HTTP/1.1 503 X\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
        assert_eq!(parse_response(c), Ok(Some((503, c.len()))));
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }
}
