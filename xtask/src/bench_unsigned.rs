//! `cargo xtask bench unsigned` (also part of `cargo xtask bench`): what 64
//! concurrent 5 MB webhook deliveries with bad signatures cost the gateway.
//! The requirement ("Installation authority"): resident memory stays under
//! 100 MB and each is answered 401 before its body is sent.
//!
//! The release gateway runs on SQLite at its default configuration (default
//! log level and rate limits), trusting the test key pair; a workspace is
//! installed with it, so the only thing wrong with the deliveries is their
//! signature: RS256 tokens with the right claims, signed by the second test
//! key (`test-rsa-private-2.pem`), which this gateway does not trust.
//!
//! 64 TCP connections are opened at once and each is sent only a request
//! head (`Content-Length: 5000000`), written by hand so that no body byte
//! leaves before the bench says so. Each then waits up to 2 s for a response
//! head; the connections still unanswered send their 5,000,000-byte body
//! (valid JSON, 64 KiB writes, all concurrently) while reading, and record
//! the answer then. The gateway's RSS (`VmRSS`) is sampled every 10 ms
//! through the whole phase and its `VmHWM` read at the end. Every read and
//! write is bounded in time; the gateway and its directories are removed
//! when the part ends, also on failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clockify_testkit::tokens::{TokenFactory, key};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::bench::{Row, claims, install, percentile, row, rss_kb, sqlite_url, start_with};

const CONNECTIONS: usize = 64;
/// The declared and sent body: under the webhook cap (5 MiB, 5,242,880
/// bytes), so the cap's early refusal of a larger `Content-Length` does not
/// answer for the signature check.
const BODY_BYTES: usize = 5_000_000;
const CHUNK: usize = 64 * 1024;
/// How long each connection waits for an answer before sending its body.
const EARLY_WAIT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HEAD_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// From the first body byte to the answer: beyond the gateway's own 30 s
/// request read deadline.
const BODY_PHASE_TIMEOUT: Duration = Duration::from_secs(45);
const SAMPLE_EVERY: Duration = Duration::from_millis(10);
/// Targets: peak RSS under 100 MB (MiB, as the table's other RSS rows),
/// every connection answered 401 before its body.
const RSS_TARGET_KB: u64 = 100 * 1024;
const EVENT: &str = "NEW_TAG";
const WORKSPACE: &str = "ws-unsigned";

/// A directory removed when this goes out of scope, on every path out.
struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one connection saw.
#[derive(Debug)]
struct Outcome {
    /// The response's status, or why there was none.
    status: Result<u16, String>,
    /// The answer's head arrived before any body byte was written.
    before_body: bool,
    /// Body bytes written when the answer arrived (or when it failed).
    body_bytes_sent: usize,
    /// From the request head written to the answer's head.
    ms_to_answer: Option<f64>,
    /// From the first body byte written to the answer's head.
    ms_from_body_start: Option<f64>,
}

/// The status of a response head complete in `buf`, if there is one.
fn response_status(buf: &[u8]) -> Option<Result<u16, String>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]);
    Some(
        head.strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line: {}", head.lines().next().unwrap_or_default())),
    )
}

/// A `BODY_BYTES`-long JSON object the webhook route parses without
/// complaint: a NEW_TAG entity of the installed workspace, padded.
fn body() -> Vec<u8> {
    let start = format!(r#"{{"id":"t-unsigned","name":"bench","workspaceId":"{WORKSPACE}","padding":""#);
    let end = "\"}";
    let mut b = Vec::with_capacity(BODY_BYTES);
    b.extend_from_slice(start.as_bytes());
    b.resize(BODY_BYTES - end.len(), b'x');
    b.extend_from_slice(end.as_bytes());
    b
}

fn request_head(addr: &str, token: &str) -> Vec<u8> {
    format!(
        "POST /webhooks/{EVENT} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {BODY_BYTES}\r\nclockify-signature: {token}\r\nclockify-webhook-event-type: {EVENT}\r\n\r\n"
    )
    .into_bytes()
}

/// One connection: the head, up to `EARLY_WAIT` for an answer, then (if
/// none came) the body, written while reading.
async fn deliver(mut stream: TcpStream, head: Vec<u8>, body: Arc<Vec<u8>>) -> Outcome {
    let mut outcome =
        Outcome { status: Err("no answer".into()), before_body: false, body_bytes_sent: 0, ms_to_answer: None, ms_from_body_start: None };
    let began = Instant::now();
    match tokio::time::timeout(HEAD_WRITE_TIMEOUT, stream.write_all(&head)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            outcome.status = Err(format!("writing the head: {e}"));
            return outcome;
        }
        Err(_) => {
            outcome.status = Err("writing the head timed out".into());
            return outcome;
        }
    }
    let sent_head = Instant::now();
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];

    // Up to EARLY_WAIT for an answer, no body byte sent.
    let early_deadline = tokio::time::Instant::from_std(sent_head + EARLY_WAIT);
    loop {
        match tokio::time::timeout_at(early_deadline, stream.read(&mut chunk)).await {
            Err(_) => break,
            Ok(Ok(0)) => {
                outcome.status =
                    Err(format!("closed without an answer after {:.0} ms, before the body", began.elapsed().as_secs_f64() * 1e3));
                return outcome;
            }
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(status) = response_status(&buf) {
                    outcome.status = status;
                    outcome.before_body = true;
                    outcome.ms_to_answer = Some(sent_head.elapsed().as_secs_f64() * 1e3);
                    return outcome;
                }
            }
            Ok(Err(e)) => {
                outcome.status = Err(format!("reading before the body: {e}"));
                return outcome;
            }
        }
    }

    // No answer yet: the body, in CHUNK writes, reading all the while (the
    // gateway may answer, or close, part way).
    let body_began = Instant::now();
    let body_deadline = tokio::time::Instant::from_std(body_began + BODY_PHASE_TIMEOUT);
    let (mut rd, mut wr) = stream.split();
    let mut sent = 0usize;
    loop {
        tokio::select! {
            biased;
            r = rd.read(&mut chunk) => match r {
                Ok(0) => {
                    outcome.status = Err(format!("closed without an answer after {sent} body bytes"));
                    break;
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(status) = response_status(&buf) {
                        outcome.status = status;
                        outcome.ms_to_answer = Some(sent_head.elapsed().as_secs_f64() * 1e3);
                        outcome.ms_from_body_start = Some(body_began.elapsed().as_secs_f64() * 1e3);
                        break;
                    }
                }
                Err(e) => {
                    outcome.status = Err(format!("reading after {sent} body bytes: {e}"));
                    break;
                }
            },
            // `write` is cancel-safe: when the read wins, nothing was written.
            w = wr.write(&body[sent..(sent + CHUNK).min(body.len())]), if sent < body.len() => match w {
                Ok(n) => sent += n,
                Err(e) => {
                    outcome.status = Err(format!("writing the body after {sent} bytes: {e}"));
                    break;
                }
            },
            _ = tokio::time::sleep_until(body_deadline) => {
                outcome.status = Err(format!("no answer {} s after the body began ({sent} bytes sent)", BODY_PHASE_TIMEOUT.as_secs()));
                break;
            }
        }
    }
    outcome.body_bytes_sent = sent;
    outcome
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Samples `pid`'s RSS every `SAMPLE_EVERY` on a thread of its own until
/// told to stop: `(ms since start, kB)`.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(f64, u64)>>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let began = Instant::now();
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push((began.elapsed().as_secs_f64() * 1e3, rss_kb(pid)));
                std::thread::sleep(SAMPLE_EVERY);
            }
            samples
        });
        Self { stop, thread }
    }

    fn finish(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

pub async fn run(root: &Path, rows: &mut Vec<Row>) -> Result<Value, String> {
    println!("unsigned: {CONNECTIONS} connections, {BODY_BYTES}-byte bodies with bad signatures ...");
    let (sqlite, db_dir) = sqlite_url()?;
    let _db_dir = RemovedOnDrop(db_dir);
    // The gateway's defaults: no RUST_LOG, no rate limit settings.
    let gw = start_with(root, &sqlite, &[]).await?;
    let pid = gw.child.id();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
    let trusted = TokenFactory::new(&key("test-rsa-private.pem"));
    install(&http, &gw.base, &trusted, WORKSPACE).await?;

    // The right claims for the installed workspace's NEW_TAG webhook, one
    // token per connection, signed by a key the gateway does not trust.
    let untrusted = TokenFactory::new(&key("test-rsa-private-2.pem"));
    let tokens: Vec<String> = (0..CONNECTIONS)
        .map(|n| {
            let mut c = claims(WORKSPACE);
            c["hook"] = json!(EVENT);
            c["n"] = json!(n);
            untrusted.sign(&c)
        })
        .collect();
    // The same kind of token with a small body: what the gateway answers
    // when the body is no question.
    let small = format!(r#"{{"id":"t-small","name":"bench","workspaceId":"{WORKSPACE}"}}"#);
    let preflight = http
        .post(format!("{}/webhooks/{EVENT}", gw.base))
        .header("clockify-signature", &tokens[0])
        .header("clockify-webhook-event-type", EVENT)
        .header("content-type", "application/json")
        .body(small)
        .send()
        .await
        .map_err(|e| format!("the small-body request: {e}"))?
        .status()
        .as_u16();
    if preflight != 401 {
        eprintln!("warning: a small body with the same kind of token was answered {preflight}, not 401");
    }
    let body = Arc::new(body());
    drop(http);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_kb = rss_kb(pid);

    let sampler = Sampler::start(pid);
    let phase_began = Instant::now();
    // All connections at once; then every head at once.
    let mut connecting = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let addr = gw.addr.clone();
        connecting.push(tokio::spawn(async move {
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr))
                .await
                .map_err(|_| "connect timed out".to_owned())?
                .map_err(|e| format!("connect: {e}"))?;
            let _ = stream.set_nodelay(true);
            Ok::<_, String>(stream)
        }));
    }
    let mut streams = Vec::with_capacity(CONNECTIONS);
    let mut connect_error = None;
    for c in connecting {
        match c.await {
            Ok(Ok(s)) => streams.push(s),
            Ok(Err(e)) => connect_error = Some(e),
            Err(e) => connect_error = Some(e.to_string()),
        }
    }
    if let Some(e) = connect_error {
        let _ = sampler.finish();
        return Err(format!("{} of {CONNECTIONS} connections opened: {e}", streams.len()));
    }
    let tasks: Vec<_> =
        streams.into_iter().zip(&tokens).map(|(s, token)| tokio::spawn(deliver(s, request_head(&gw.addr, token), body.clone()))).collect();
    let mut outcomes = Vec::with_capacity(CONNECTIONS);
    for t in tasks {
        outcomes.push(t.await.unwrap_or_else(|e| Outcome {
            status: Err(format!("the connection's task failed: {e}")),
            before_body: false,
            body_bytes_sent: 0,
            ms_to_answer: None,
            ms_from_body_start: None,
        }));
    }
    let phase_seconds = phase_began.elapsed().as_secs_f64();
    let samples = sampler.finish();
    let hwm_kb = status_kb(pid, "VmHWM:");
    let after_kb = rss_kb(pid);
    drop(gw);

    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for o in &outcomes {
        let key = match &o.status {
            Ok(s) => s.to_string(),
            Err(e) => format!("none ({})", e.split(" after ").next().unwrap_or(e)),
        };
        *statuses.entry(key).or_default() += 1;
    }
    let statuses_text = statuses.iter().map(|(k, n)| format!("{k} x {n}")).collect::<Vec<_>>().join(", ");
    let early = outcomes.iter().filter(|o| o.before_body).count();
    let early_401 = outcomes.iter().filter(|o| o.before_body && o.status == Ok(401)).count();
    let mut ms: Vec<f64> = outcomes.iter().filter_map(|o| o.ms_to_answer).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    let (p50, max) = (percentile(&ms, 0.5), percentile(&ms, 1.0));
    let mut after_body: Vec<f64> = outcomes.iter().filter_map(|o| o.ms_from_body_start).collect();
    after_body.sort_by(|a, b| a.total_cmp(b));
    let sampled_peak = samples.iter().map(|&(_, kb)| kb).max().unwrap_or(0);
    let peak_kb = sampled_peak.max(hwm_kb);
    let peak_at_ms = samples.iter().max_by_key(|&&(_, kb)| kb).map(|&(at, _)| at.round());
    let rss_ok = peak_kb < RSS_TARGET_KB;
    let answers_ok = early_401 == CONNECTIONS;
    let mb = |kb: u64| kb as f64 / 1024.0;
    let verdict = format!(
        "{}: peak RSS {:.1} MB (target < 100: {}), {early_401} of {CONNECTIONS} answered 401 before their body (target {CONNECTIONS}: {})",
        if rss_ok && answers_ok { "PASS" } else { "FAIL" },
        mb(peak_kb),
        if rss_ok { "met" } else { "missed" },
        if answers_ok { "met" } else { "missed" },
    );
    println!("unsigned: {verdict}");

    let bench = format!("{CONNECTIONS} x 5 MB bad-signature webhooks, sqlite");
    rows.push(row(&bench, "statuses", statuses_text.clone(), &format!("401 x {CONNECTIONS}")));
    rows.push(row(
        &bench,
        "answered before the body was sent",
        format!("{early} of {CONNECTIONS}"),
        &format!("{CONNECTIONS} of {CONNECTIONS}"),
    ));
    let answer_times = if ms.is_empty() { "no answers".to_owned() } else { format!("{p50:.1} / {max:.1}") };
    rows.push(row(&bench, "time to answer (from the head) p50 / max, ms", answer_times, ""));
    rows.push(row(&bench, "RSS idle, MB", format!("{:.1}", mb(idle_kb)), ""));
    rows.push(row(&bench, "peak RSS during the phase, MB", format!("{:.1}", mb(peak_kb)), "< 100"));
    rows.push(row(&bench, "verdict", (if rss_ok && answers_ok { "pass" } else { "FAIL" }).into(), "pass"));

    // A coarse RSS timeline (every 100 ms) for the JSON.
    let timeline: Vec<Value> = samples.iter().step_by(10).map(|&(at, kb)| json!([at.round(), kb])).collect();
    Ok(json!({
        "connections": CONNECTIONS,
        "content_length": BODY_BYTES,
        "webhook_body_cap": 5 * 1024 * 1024,
        "early_wait_ms": EARLY_WAIT.as_millis() as u64,
        "body_chunk_bytes": CHUNK,
        "token": "RS256 with the installed workspace's NEW_TAG claims, signed by testkit/keys/test-rsa-private-2.pem; the gateway trusts test-rsa-public.pem only",
        "small_body_preflight_status": preflight,
        "statuses": statuses,
        "answered_before_body": early,
        "answered_401_before_body": early_401,
        "answered_after_body": outcomes.iter().filter(|o| !o.before_body && o.status.is_ok()).count(),
        "no_answer": outcomes.iter().filter(|o| o.status.is_err()).count(),
        "ms_to_answer": { "from": "the request head written", "answered": ms.len(), "p50": p50, "max": max,
                          "min": ms.first().copied().unwrap_or(0.0) },
        "ms_from_body_start_to_answer": { "answered": after_body.len(), "p50": percentile(&after_body, 0.5), "max": percentile(&after_body, 1.0) },
        "phase_seconds": phase_seconds,
        "rss_kb": { "idle": idle_kb, "peak_of_samples": sampled_peak, "peak_at_ms": peak_at_ms, "vm_hwm": hwm_kb, "peak": peak_kb,
                    "after_phase": after_kb, "samples": samples.len(), "sample_every_ms": SAMPLE_EVERY.as_millis() as u64,
                    "timeline_every_100ms": timeline },
        "targets": { "peak_rss_kb_below": RSS_TARGET_KB, "answered_401_before_body": CONNECTIONS },
        "pass": rss_ok && answers_ok,
        "verdict": verdict,
        "per_connection": outcomes.iter().map(|o| json!({
            "status": o.status.as_ref().ok(), "error": o.status.as_ref().err(), "before_body": o.before_body,
            "body_bytes_sent": o.body_bytes_sent, "ms_to_answer": o.ms_to_answer, "ms_from_body_start": o.ms_from_body_start,
        })).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::{BODY_BYTES, body, response_status};

    #[test]
    fn the_body_is_json_of_the_declared_length() {
        let b = body();
        assert_eq!(b.len(), BODY_BYTES);
        assert!(serde_json::from_slice::<serde_json::Value>(&b).is_ok());
    }

    #[test]
    fn a_status_is_read_from_a_complete_head_only() {
        assert_eq!(response_status(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"), Some(Ok(401)));
        assert_eq!(response_status(b"HTTP/1.1 401 Unauthorized\r\ncontent-le"), None);
        assert!(matches!(response_status(b"garbage\r\n\r\n"), Some(Err(_))));
    }
}
