//! Failure drills (issue 9): the database going away and coming back, the
//! process killed with SIGKILL in the middle of a webhook burst, and clients
//! that are slow or send far too much. Each drill checks what Clockify and
//! the add-on would see: 503 while nothing can be stored, nothing lost or
//! handled twice, and normal requests served throughout.
//!
//! kill -9 during a bootstrap: after a restart it resumes at the next page.

#[path = "support/bootstrap_fixture.rs"]
mod bootstrap_fixture;
mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use support::{Backend, TestGateway, addon_claims, config_for, installation_claims, installed_body, postgres_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------- helpers

/// Polls `check` every 250 ms, at most `tries` times.
async fn wait_for<F, Fut>(what: &str, tries: u32, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..tries {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("gave up waiting for: {what}");
}

fn tag(n: usize, ws: &str) -> Value {
    json!({ "id": format!("tag-{n}"), "name": format!("drill {n}"), "workspaceId": ws, "archived": false })
}

async fn ack_status(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["status"].as_str().unwrap_or_default().to_owned())
}

/// A TCP relay to PostgreSQL that a test can cut (every connection dropped,
/// the port closed) and restore on the same port.
struct Proxy {
    port: u16,
    upstream: SocketAddr,
    accept: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let mut p = Self { port, upstream, accept: None, links: Arc::default() };
        p.serve(listener);
        p
    }

    fn serve(&mut self, listener: TcpListener) {
        let (upstream, links) = (self.upstream, self.links.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        }));
    }

    /// The database becomes unreachable: open connections break, new ones are refused.
    fn cut(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        for l in self.links.lock().unwrap().drain(..) {
            l.abort();
        }
    }

    async fn restore(&mut self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 40 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot listen on the proxy port again: {e}"),
            }
        };
        self.serve(listener);
    }
}

// ---------------------------------------------------- database unavailable

/// PostgreSQL becomes unreachable under a running gateway: `/ready` and
/// webhooks answer 503 (Clockify retries), nothing of a refused delivery is
/// stored, and once the database is back the same gateway recovers without a
/// restart and takes the retried deliveries exactly once. A delivery handled
/// while the database was away has its completion written once it is back,
/// not left to its lease (60 s, past this test's patience).
#[tokio::test]
async fn postgres_outage_is_503_writes_nothing_and_recovers_without_restart() {
    let mut config = config_for(Backend::Postgres).await;
    let base = url::Url::parse(&postgres_url()).expect("postgres URL");
    let upstream = tokio::net::lookup_host((base.host_str().unwrap_or("127.0.0.1"), base.port().unwrap_or(5432)))
        .await
        .expect("resolve PostgreSQL")
        .next()
        .expect("an address for PostgreSQL");
    let mut proxy = Proxy::start(upstream).await;
    let mut via_proxy = url::Url::parse(config.database_url.as_str()).expect("test database URL");
    via_proxy.set_host(Some("127.0.0.1")).expect("host");
    via_proxy.set_port(Some(proxy.port)).expect("port");
    config.database_url = via_proxy.as_str().parse().expect("database URL");
    let gw = TestGateway::start_with(config).await;
    let ws = "ws-outage";
    let (_, hooks) = gw.install(ws, "addon-outage", &["NEW_TAG"]).await;
    let token = hooks[0].1.clone();
    assert_eq!(ack_status(gw.deliver("NEW_TAG", &token, &tag(0, ws)).await).await, (200, "accepted".into()));

    proxy.cut();
    let ready = gw.http.get(gw.url("/ready")).send().await.expect("ready answers");
    assert_eq!(ready.status(), 503, "/ready while the database is away");
    let bodies: Vec<Value> = (1..=5).map(|n| tag(n, ws)).collect();
    let refused: Vec<_> = futures::future::join_all(bodies.iter().map(|b| gw.deliver("NEW_TAG", &token, b))).await;
    for (n, r) in refused.into_iter().enumerate() {
        assert_eq!(r.status(), 503, "delivery {} while the database is away", n + 1);
        assert!(
            r.headers().get("content-type").is_some_and(|v| v.to_str().unwrap_or("").contains("problem+json")),
            "a 503 is problem JSON"
        );
    }
    // The process keeps serving what needs no database.
    assert_eq!(gw.http.get(gw.url("/health")).send().await.expect("health").status(), 200);

    proxy.restore().await;
    wait_for("/ready after the database returns", 120, || async {
        gw.http.get(gw.url("/ready")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    // Clockify retries the refused ones: new, so nothing of them was written before.
    for n in 1..=5 {
        assert_eq!(ack_status(gw.deliver("NEW_TAG", &token, &tag(n, ws)).await).await, (200, "accepted".into()), "retry of {n}");
    }
    assert_eq!(ack_status(gw.deliver("NEW_TAG", &token, &tag(0, ws)).await).await, (200, "duplicate".into()));
    assert_eq!(gw.state.deliveries.count(ws, "NEW_TAG").await.expect("count"), 6);
    wait_for("every delivery handled", 120, || async { gw.state.deliveries.state_counts(ws).await.is_ok_and(|c| c.done == 6) }).await;
    let counts = gw.state.deliveries.state_counts(ws).await.expect("counts");
    assert_eq!((counts.pending, counts.dead), (0, 0));
}

// ------------------------------------------------------ kill -9 mid-burst

/// The real binary, on a SQLite file.
struct Process {
    child: Child,
    base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

async fn spawn_gateway(database_url: &str, dir: &std::path::Path) -> Process {
    spawn_gateway_with(database_url, dir, &[]).await
}

async fn spawn_gateway_with(database_url: &str, dir: &std::path::Path, extra: &[(&str, String)]) -> Process {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_clockify-gateway"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEWAY_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env("ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .env("CLOCKIFY_PUBLIC_KEY_FILE", clockify_testkit::tokens::keys_dir().join("test-rsa-public.pem"))
        .env("ALLOWED_API_HOSTS", format!("http://{}", support::CLOSED_PORT_HOST))
        .env("RATE_LIMIT_PER_SECOND", "1000000")
        .env("RATE_LIMIT_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the gateway binary starts");
    let p = Process { child, base: format!("http://127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    let url = format!("{}/ready", p.base);
    wait_for("the gateway binary to be ready", 240, || async { http.get(&url).send().await.is_ok_and(|r| r.status() == 200) }).await;
    p
}

async fn deliver_to(http: &reqwest::Client, base: &str, token: &str, body: &Value) -> Option<(u16, String)> {
    let r = http
        .post(format!("{base}/webhooks/NEW_TAG"))
        .header("clockify-signature", token)
        .header("clockify-webhook-event-type", "NEW_TAG")
        .json(body)
        .send()
        .await
        .ok()?;
    Some(ack_status(r).await)
}

/// SIGKILL while deliveries stream in: after a restart on the same database,
/// every delivery that got a 2xx is stored once and handled, Clockify's
/// retries of the others are taken once, and no delivery is stored twice.
#[tokio::test]
async fn kill_9_during_a_webhook_burst_loses_nothing_and_handles_each_once() {
    const BURST: usize = 600;
    const KILL_AFTER: usize = 150;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = support::temp_dir();
    let db = dir.join("gateway.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let gw = spawn_gateway(&url, &dir).await;
    let http = reqwest::Client::new();
    let signer = clockify_testkit::tokens::TokenFactory::new(&clockify_testkit::tokens::key("test-rsa-private.pem"));
    let (ws, addon) = ("ws-kill", "addon-kill");
    let mut hook = addon_claims(ws, addon);
    hook["purpose"] = json!("webhook NEW_TAG");
    let token = signer.sign(&hook);
    let body = installed_body(ws, addon, &signer.sign(&installation_claims(ws, addon)), &[("NEW_TAG".into(), token.clone())]);
    let r = http
        .post(format!("{}/lifecycle/installed", gw.base))
        .header("x-addon-lifecycle-token", signer.sign(&addon_claims(ws, addon)))
        .json(&body)
        .send()
        .await
        .expect("install");
    assert_eq!(r.status(), 200);

    let acked = Arc::new(AtomicUsize::new(0));
    let pid = gw.child.id();
    let results: Vec<(usize, Option<(u16, String)>)> = futures::stream::iter(0..BURST)
        .map(|n| {
            let (http, base, token, acked) = (http.clone(), gw.base.clone(), token.clone(), acked.clone());
            async move {
                let r = deliver_to(&http, &base, &token, &tag(n, ws)).await;
                if r.as_ref().is_some_and(|(s, _)| *s == 200) && acked.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                    let killed = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill runs");
                    assert!(killed.success(), "kill -9 {pid}");
                }
                (n, r)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    drop(gw);
    let acknowledged: HashSet<usize> =
        results.iter().filter(|(_, r)| r.as_ref().is_some_and(|(s, _)| *s == 200)).map(|(n, _)| *n).collect();
    assert!(acknowledged.len() >= KILL_AFTER, "the burst was acknowledged up to the kill");
    assert!(acknowledged.len() < BURST, "the kill interrupted the burst ({} of {BURST} acknowledged)", acknowledged.len());

    let gw = spawn_gateway(&url, &dir).await;
    // Clockify retries what got no 2xx; the acknowledged ones are already stored.
    for n in 0..BURST {
        let (status, outcome) = deliver_to(&http, &gw.base, &token, &tag(n, ws)).await.expect("the restarted gateway answers");
        assert_eq!(status, 200, "redelivery of {n}");
        if acknowledged.contains(&n) {
            assert_eq!(outcome, "duplicate", "delivery {n} was acknowledged before the kill, so it was stored");
        }
    }
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open the gateway's database");
    // A delivery leased by the killed process is taken again once its lease (60 s) runs out.
    wait_for("every delivery handled after the restart", 400, || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM deliveries WHERE state <> 'done'").fetch_one(&pool).await.is_ok_and(|n| n == 0)
    })
    .await;
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT body, COUNT(*) FROM deliveries WHERE workspace_id = $1 AND event = 'NEW_TAG' GROUP BY body")
            .bind(ws)
            .fetch_all(&pool)
            .await
            .expect("deliveries");
    let stored: HashMap<String, i64> = rows.into_iter().collect();
    assert_eq!(stored.len(), BURST, "every delivery is stored");
    assert!(stored.values().all(|&n| n == 1), "no delivery is stored twice");
    for n in 0..BURST {
        let id: Option<String> =
            sqlx::query_scalar("SELECT entity_id FROM entities WHERE workspace_id = $1 AND entity_type = 'tag' AND entity_id = $2")
                .bind(ws)
                .bind(format!("tag-{n}"))
                .fetch_optional(&pool)
                .await
                .expect("mirror");
        assert!(id.is_some(), "delivery {n}'s change reached the mirror");
    }
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------ slow and huge clients

/// Slowloris connections dripping their headers and a 50 MB streamed body
/// are cut off, while ordinary requests (and a real delivery) are answered
/// throughout.
#[tokio::test]
async fn slowloris_and_a_50_mb_body_are_cut_off_while_others_are_served() {
    let mut config = config_for(Backend::Sqlite).await;
    // Short, but far above what a normal request takes even on a loaded machine.
    config.request_read_timeout_seconds = 5;
    let gw = TestGateway::start_with(config).await;
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let ws = "ws-slow";
    let (_, hooks) = gw.install(ws, "addon-slow", &["NEW_TAG"]).await;

    // 20 connections sending one header byte every 250 ms, for far longer than the deadline.
    let slow: Vec<JoinHandle<(bool, Vec<u8>)>> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let stream = TcpStream::connect(&addr).await.expect("connect");
                let (mut rd, mut wr) = stream.into_split();
                let reader = tokio::spawn(async move {
                    let mut got = Vec::new();
                    let _ = rd.read_to_end(&mut got).await;
                    got
                });
                let request = format!("GET /health HTTP/1.1\r\nhost: {addr}\r\nx-slow: {}\r\n\r\n", "a".repeat(80));
                let mut cut = false;
                for b in request.as_bytes() {
                    if reader.is_finished() || wr.write_all(&[*b]).await.is_err() {
                        cut = true;
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                let got = reader.await.unwrap_or_default();
                (cut, got)
            })
        })
        .collect();

    // Meanwhile: health checks and a real delivery are answered.
    for n in 0..10 {
        assert_eq!(gw.http.get(gw.url("/health")).send().await.expect("health").status(), 200);
        assert_eq!(ack_status(gw.deliver("NEW_TAG", &hooks[0].1, &tag(n, ws)).await).await, (200, "accepted".into()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 50 MB streamed without a Content-Length, properly signed (an unsigned
    // one is refused before its body is read): refused at the cap, never read to the end.
    let mut big = TcpStream::connect(&addr).await.expect("connect");
    big.write_all(
        format!(
            "POST /webhooks/NEW_TAG HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\
             clockify-signature: {}\r\nclockify-webhook-event-type: NEW_TAG\r\n\r\n",
            hooks[0].1
        )
        .as_bytes(),
    )
    .await
    .expect("headers");
    let (mut rd, mut wr) = big.into_split();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = rd.read(&mut buf).await {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        got
    });
    let chunk = vec![b' '; 64 * 1024];
    let framed = [format!("{:x}\r\n", chunk.len()).into_bytes(), chunk, b"\r\n".to_vec()].concat();
    let mut sent = 0usize;
    while sent < 50 * 1024 * 1024 && !reader.is_finished() {
        if wr.write_all(&framed).await.is_err() {
            break;
        }
        sent += 64 * 1024;
    }
    let answer = String::from_utf8_lossy(&reader.await.expect("reader")).to_string();
    assert!(answer.starts_with("HTTP/1.1 413"), "a 50 MB body gets 413, got: {answer:?}");
    assert!(sent < 50 * 1024 * 1024, "the gateway stopped reading long before 50 MB ({sent} bytes sent)");

    for s in slow {
        let (cut, got) = s.await.expect("slow client");
        assert!(cut, "a slowloris connection was closed by the gateway before it finished its headers");
        assert!(!String::from_utf8_lossy(&got).contains(" 200 "), "a slowloris request was not served");
    }
    assert_eq!(gw.http.get(gw.url("/health")).send().await.expect("health").status(), 200);
    assert_eq!(gw.state.deliveries.count(ws, "NEW_TAG").await.expect("count"), 10);
}

// ------------------------------------------------- kill -9 mid-bootstrap

/// SIGKILL while a workspace is being read: after a restart on the same
/// database the bootstrap resumes (its lease from the dead process expires),
/// pages stored before the kill are not fetched again, and the snapshot
/// holds every row once.
#[tokio::test]
async fn kill_9_during_a_bootstrap_resumes_at_the_next_page() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fake = clockify_testkit::FakeClockify::start().await;
    let workspace = bootstrap_fixture::serve_workspace(&fake, "ws-boot", 25);
    // Slow enough to be killed midway.
    fake.enforce_rate_limit(10);
    let dir = support::temp_dir();
    let db = dir.join("gateway.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let env = [
        ("ALLOWED_API_HOSTS", format!("http://{},{}", support::CLOSED_PORT_HOST, fake.url())),
        ("BOOTSTRAP_PAGE_SIZE", "25".to_owned()),
        ("BOOTSTRAP_LEASE_SECONDS", "2".to_owned()),
    ];
    let gw = spawn_gateway_with(&url, &dir, &env).await;
    let http = reqwest::Client::new();
    let signer = clockify_testkit::tokens::TokenFactory::new(&clockify_testkit::tokens::key("test-rsa-private.pem"));
    let (ws, addon) = ("ws-boot", "a1");
    let mut claims = addon_claims(ws, addon);
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    claims["ptoUrl"] = json!(fake.pto_url());
    let r = http
        .post(format!("{}/lifecycle/installed", gw.base))
        .header("x-addon-lifecycle-token", signer.sign(&addon_claims(ws, addon)))
        .json(&installed_body(ws, addon, &signer.sign(&claims), &[]))
        .send()
        .await
        .expect("install");
    assert_eq!(r.status(), 200);

    let lists: HashSet<String> = workspace.lists.iter().map(|l| l.full_path.clone()).collect();
    let served =
        |fake: &clockify_testkit::FakeClockify| fake.requests().iter().filter(|r| r.status == 200 && lists.contains(&r.path)).count();
    wait_for("some pages of the bootstrap", 240, || async { served(&fake) >= 30 }).await;
    let pid = gw.child.id();
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill runs").success());
    drop(gw);
    let before_restart = fake.requests().len();
    assert!(served(&fake) < workspace.min_requests(), "the kill came before the end");

    // What the dead process had stored, read from its database.
    let stored: Vec<(String, String, Option<String>, i64, i64)> = {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open the killed gateway's database");
        sqlx::query_as("SELECT item, operation, parent_id, next_page, pages FROM bootstrap_items WHERE workspace_id = $1 AND pages > 0")
            .bind(ws)
            .fetch_all(&mut conn)
            .await
            .expect("progress")
    };
    assert!(!stored.is_empty(), "pages were stored before the kill");

    fake.disable_rate_limit();
    let gw = spawn_gateway_with(&url, &dir, &env).await;
    let mut admin = addon_claims(ws, addon);
    admin["user"] = json!("admin1");
    support::as_user(&mut admin, "OWNER");
    let admin = signer.sign(&admin);
    let status_url = format!("{}/bootstrap/{ws}/status", gw.base);
    let mut status = Value::Null;
    for _ in 0..240 {
        status = http.get(&status_url).header("x-addon-token", &admin).send().await.expect("status").json().await.expect("json");
        if status["state"] == json!("done") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(status["state"], json!("done"), "{status:#}");
    let counts: HashMap<String, usize> = status["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| (e["entityType"].as_str().unwrap_or("").to_owned(), e["count"].as_u64().unwrap_or(0) as usize))
        .collect();
    let expected: HashMap<String, usize> = workspace.rows_by_entity_type().into_iter().collect();
    assert_eq!(counts, expected, "every row once");
    let after: Vec<_> = fake.requests().into_iter().skip(before_restart).filter(|r| r.status == 200).collect();
    for (item, operation, parent, next_page, pages) in &stored {
        let path = workspace
            .lists
            .iter()
            .find(|l| l.step.operation.id == operation && l.parent_id == *parent)
            .map(|l| l.full_path.clone())
            .expect("the item's list");
        for page in next_page - pages..*next_page {
            let again =
                after.iter().filter(|r| r.path == path && r.query_param("page").as_deref() == Some(page.to_string().as_str())).count();
            assert_eq!(again, 0, "{item} page {page} was stored before the kill and fetched again");
        }
    }
}
