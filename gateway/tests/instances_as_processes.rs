//! Several instances, one budget, as operating-system processes: three
//! `clockify-gateway` binaries on one PostgreSQL schema share a workspace's
//! bootstrap, explorer calls and flow runs (a flow on NEW_TAG that makes one
//! read-only call), and the fake Clockify never sees more than 50 of them in
//! any second. The third process is killed (SIGKILL, no graceful stop) in
//! the middle: the survivors' explorer calls complete, they take the
//! bootstrap over, and once the dead process's delivery leases run out
//! (60 s) they handle what it had accepted, without running a flow twice.
//! The in-process version is `shared_budget.rs`.

mod support;

#[path = "support/bootstrap_fixture.rs"]
mod bootstrap_fixture;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clockify_testkit::FakeClockify;
use clockify_testkit::tokens::{TokenFactory, key, keys_dir};
use serde_json::{Value, json};
use support::{Backend, addon_claims, config_for, installed_body};

/// The query value that marks the flow's requests at the fake.
const PROBE: &str = "flow-probe";
/// Inbox workers per process: at most this many flow runs can be cut short
/// by the kill (their execution stays `running`, and is not run again).
const WEBHOOK_WORKERS: usize = 2;

/// One gateway process, its logs in `dir`.
struct Process {
    child: Child,
    base: String,
    dir: PathBuf,
}

/// The three processes; killed (and their logs shown, on failure) when dropped.
struct Processes {
    procs: Vec<Process>,
    dir: PathBuf,
}

impl Drop for Processes {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        if std::thread::panicking() {
            for (i, p) in self.procs.iter().enumerate() {
                for file in ["stderr.log", "stdout.log"] {
                    eprintln!("--- instance {i} ({}), {file}, last lines:\n{}", p.base, tail(&p.dir.join(file), 30));
                }
            }
            eprintln!("--- the logs are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// Starts one stock gateway binary on a free port with `env`, and waits
/// until it answers `/ready`.
async fn spawn(procs: &mut Processes, env: &[(&str, String)]) {
    let i = procs.procs.len();
    let dir = procs.dir.join(format!("instance-{i}"));
    std::fs::create_dir_all(&dir).expect("instance dir");
    let addr = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_clockify-gateway"))
        .current_dir(&dir)
        .env_remove("RUST_LOG")
        .env("GATEWAY_ADDR", &addr)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout.log")).expect("stdout file"))
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("stderr file"))
        .spawn()
        .expect("the gateway binary starts");
    procs.procs.push(Process { child, base: format!("http://{addr}"), dir });
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = procs.procs.last_mut().expect("just pushed");
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("instance {i} exited before it was ready: {status}");
        }
        if http.get(format!("{}/ready", p.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "instance {i} did not become ready in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET `path` on `base` with a user token; the JSON answer.
async fn get_json(http: &reqwest::Client, base: &str, path: &str, token: &str) -> Value {
    let r = http.get(format!("{base}{path}")).header("x-addon-token", token).send().await.expect("request reaches the gateway");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Keeps the fake's runtime thread running until dropped.
struct FakeRuntime(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

fn fake_on_own_runtime() -> (FakeClockify, FakeRuntime) {
    let (started, fake) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("the fake's runtime");
        rt.block_on(async move {
            let _ = started.send(FakeClockify::start().await);
            let _ = stopped.await;
        });
    });
    (fake.recv().expect("the fake started"), FakeRuntime(Some(stop)))
}

/// The requests for `ws` in the busiest second at the fake, with their
/// arrival in milliseconds from its first, and the gaps to the requests
/// just before and after it: what to read when the ceiling is broken.
fn densest_second(fake: &FakeClockify, ws: &str) -> String {
    let mut reqs: Vec<_> = fake.requests().into_iter().filter(|r| r.status != 429 && r.workspace() == ws).collect();
    reqs.sort_by_key(|r| r.at);
    let (mut best, mut start) = ((0, 0), 0);
    for end in 0..reqs.len() {
        while reqs[end].at.duration_since(reqs[start].at) >= Duration::from_secs(1) {
            start += 1;
        }
        if end - start + 1 > best.1 - best.0 {
            best = (start, end + 1);
        }
    }
    let Some(first) = reqs.get(best.0) else { return String::new() };
    let ms = |r: &clockify_testkit::Recorded| {
        if r.at >= first.at {
            r.at.duration_since(first.at).as_secs_f64() * 1e3
        } else {
            -(first.at.duration_since(r.at).as_secs_f64() * 1e3)
        }
    };
    let lo = best.0.saturating_sub(3);
    let hi = (best.1 + 3).min(reqs.len());
    reqs[lo..hi]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let inside = if (best.0..best.1).contains(&(lo + i)) { ' ' } else { '-' };
            format!("{inside} {:8.1} ms {} {}?{}", ms(r), r.method, r.path, r.query)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_gateway_processes_on_one_postgresql_stay_within_one_budget() {
    let started = Instant::now();
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The fake on a runtime of its own: the times it records are when the
    // requests arrived, not when the test's runtime got round to them.
    let (fake, _fake_runtime) = fake_on_own_runtime();
    // Every list the bootstrap reads, a few rows each: about a hundred pages.
    let workspace = bootstrap_fixture::serve_profile(&fake, "ws1", 25, |_, parent, _| if parent.is_some() { 1 } else { 3 });
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));

    // One fresh schema, three processes with the bootstrap settings of
    // shared_budget.rs and the gateway's own rate limits lifted.
    let database_url = config_for(Backend::Postgres).await.database_url.as_str().to_owned();
    let env: Vec<(&str, String)> = vec![
        ("DATABASE_URL", database_url),
        ("ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_owned()),
        ("CLOCKIFY_PUBLIC_KEY_FILE", keys_dir().join("test-rsa-public.pem").display().to_string()),
        ("ALLOWED_API_HOSTS", format!("http://{},http://{}", support::CLOSED_PORT_HOST, fake.addr())),
        ("BOOTSTRAP_WORKERS", "1".to_owned()),
        ("BOOTSTRAP_PAGE_SIZE", "25".to_owned()),
        ("BOOTSTRAP_LEASE_SECONDS", "2".to_owned()),
        ("RATE_LIMIT_PER_SECOND", "100000".to_owned()),
        ("RATE_LIMIT_BURST", "100000".to_owned()),
        ("WEBHOOK_WORKERS", WEBHOOK_WORKERS.to_string()),
    ];
    let mut procs = Processes { procs: Vec::new(), dir: support::temp_dir() };
    // One at a time: the first runs the migrations.
    for _ in 0..3 {
        spawn(&mut procs, &env).await;
    }
    let bases: Vec<String> = procs.procs.iter().map(|p| p.base.clone()).collect();
    let http = reqwest::Client::new();
    let signer = TokenFactory::new(&key("test-rsa-private.pem"));

    // INSTALLED through instance 0: the bootstrap is queued.
    let mut claims = addon_claims("ws1", "a1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    claims["ptoUrl"] = json!(fake.pto_url());
    let install_token = signer.sign(&claims);
    let mut hook_claims = addon_claims("ws1", "a1");
    hook_claims["purpose"] = json!("webhook NEW_TAG");
    let hook_token = signer.sign(&hook_claims);
    let body = installed_body("ws1", "a1", &install_token, &[("NEW_TAG".to_owned(), hook_token.clone())]);
    let r = http
        .post(format!("{}/lifecycle/installed", bases[0]))
        .header("X-Addon-Lifecycle-Token", signer.sign(&addon_claims("ws1", "a1")))
        .json(&body)
        .send()
        .await
        .expect("install");
    assert_eq!(r.status(), 200, "install: {}", r.text().await.unwrap_or_default());

    let mut user = addon_claims("ws1", "a1");
    user["user"] = json!("admin1");
    user["backendUrl"] = json!(fake.core_url());
    user["reportsUrl"] = json!(fake.reports_url());
    support::as_user(&mut user, "OWNER");
    let token = signer.sign(&user);

    // The stock binary has no Rust hooks: a flow is the handler. On NEW_TAG
    // it reads the workspace's tags once (marked by its query).
    let flow = json!({
        "name": "Read the tags on NEW_TAG",
        "trigger": { "events": ["NEW_TAG"] },
        "steps": [{ "id": "tags", "operationId": "getTags", "query": { "name": PROBE } }]
    });
    let r = http
        .post(format!("{}/admin/flows/ws1", bases[0]))
        .header("x-addon-token", &token)
        .json(&flow)
        .send()
        .await
        .expect("create the flow");
    assert_eq!(r.status(), 201, "create the flow: {}", r.text().await.unwrap_or_default());

    // Everything at once: the bootstrap, explorer calls on every instance,
    // and 90 deliveries round-robin (one flow call each), spread over about
    // three seconds so some meet the dead instance.
    let deliveries = async {
        let mut accepted = Vec::new();
        for i in 0..90 {
            let base = &bases[i % 3];
            let id = format!("t{i}");
            let tag = json!({ "id": id, "name": format!("tag {i}"), "workspaceId": "ws1" });
            let r = http
                .post(format!("{base}/webhooks/NEW_TAG"))
                .header("clockify-signature", &hook_token)
                .header("clockify-webhook-event-type", "NEW_TAG")
                .json(&tag)
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 200) {
                accepted.push(id);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        accepted
    };
    let killer = async {
        // The third process dies (SIGKILL, no graceful stop) while the work runs.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let p = &mut procs.procs[2];
        p.child.kill().expect("SIGKILL the third instance");
        p.child.wait().expect("reap it")
    };
    let (a, b, _, accepted, killed) = tokio::join!(
        support::explorer_calls(&http, &bases[0], &token, 40),
        support::explorer_calls(&http, &bases[1], &token, 40),
        support::explorer_calls(&http, &bases[2], &token, 15),
        deliveries,
        killer
    );
    assert!(!killed.success(), "the third instance was killed: {killed}");
    assert_eq!((a, b), (40, 40), "the surviving instances' explorer calls all completed");
    assert!(accepted.len() >= 60, "deliveries to the live instances were accepted: {}", accepted.len());
    assert!(accepted.len() < 90, "some deliveries met the dead instance: {}", accepted.len());

    // The two survivors finish the work: the bootstrap (its lease is 2 s),
    // and the deliveries the dead instance had accepted (their lease is
    // 60 s), so this waits about a minute.
    let deadline = started + Duration::from_secs(85);
    let (mut state, mut log);
    loop {
        state = get_json(&http, &bases[0], "/bootstrap/ws1/status", &token).await;
        log = get_json(&http, &bases[0], "/admin/deliveries/ws1?event=NEW_TAG&limit=500", &token).await;
        let status: HashMap<&str, &str> = log["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| Some((d["body"]["id"].as_str()?, d["status"].as_str()?)))
            .collect();
        let all_done = accepted.iter().all(|id| status.get(id.as_str()) == Some(&"done"));
        if (state["state"] == "done" && all_done) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(state["state"], "done", "{state}");

    // Every accepted delivery was handled, and its flow ran exactly once.
    let delivery_of: HashMap<&str, (&str, &str)> = log["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["body"]["id"].as_str()?, (d["id"].as_str()?, d["status"].as_str()?))))
        .collect();
    let executions = get_json(&http, &bases[0], "/admin/flows/ws1/executions?limit=500", &token).await;
    let executions = executions["items"].as_array().cloned().unwrap_or_default();
    let mut runs: HashMap<&str, Vec<&str>> = HashMap::new();
    for e in &executions {
        runs.entry(e["deliveryId"].as_str().unwrap_or_default()).or_default().push(e["outcome"].as_str().unwrap_or_default());
    }
    let mut completed = 0;
    let mut cut_short = Vec::new();
    for id in &accepted {
        let (delivery, status) = delivery_of.get(id.as_str()).unwrap_or_else(|| panic!("accepted delivery {id} is in the log"));
        assert_eq!(*status, "done", "accepted delivery {id} was handled");
        let outcomes = runs.get(delivery).map(Vec::as_slice).unwrap_or_default();
        match outcomes {
            ["completed"] => completed += 1,
            // Started by the dead instance when it was killed: recorded,
            // and (at most once) not run again.
            ["running"] => cut_short.push(id.clone()),
            other => panic!("delivery {id}: the flow ran once and completed, saw {other:?}"),
        }
    }
    // Deliveries an instance accepts are leased to it: only the third
    // instance's (every third, from t2) can have been running at the kill.
    assert!(
        cut_short.iter().all(|id| id[1..].parse::<usize>().is_ok_and(|n| n % 3 == 2)),
        "only the dead instance's runs are cut short: {cut_short:?}"
    );
    assert!(
        cut_short.len() <= WEBHOOK_WORKERS,
        "only runs in progress at the kill are cut short, at most one per worker of the dead instance: {cut_short:?}"
    );
    assert!(runs.values().all(|o| o.len() == 1), "no flow ran twice for a delivery: {runs:?}");
    // Each completed run sent its request, and no run sent two.
    let probes = fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v1/workspaces/ws1/tags" && r.query_param("name").as_deref() == Some(PROBE))
        .count();
    assert!(completed <= probes && probes <= executions.len(), "flow requests at the fake: {probes}, completed runs: {completed}");
    assert!(fake.requests().len() >= workspace.min_requests() + 80 + completed, "all of it reached the fake");

    // The budget counts starts by the database's clock, with a window of
    // 1,050 ms (50 ms for arrival jitter); on a machine short of CPU a burst
    // can reach the fake more than 50 ms late and then this sees 51 to 55
    // (shared_budget.rs as well). Without the shared budget it sees over 100.
    let peak = fake.max_per_second("ws1");
    assert!(peak <= 50, "at most 50 requests for ws1 in any second at the fake, saw {peak}:\n{}", densest_second(&fake, "ws1"));
    // A loose floor: leaked or double-counted slots starve far below it, while
    // a busy CI machine may not reach the ceiling.
    assert!(peak >= 30, "the budget was used, not starved: {peak}");
    eprintln!(
        "accepted {} deliveries, {completed} flow runs completed, {} cut short by the kill, {probes} flow requests; peak {peak}/s; {:.1} s",
        accepted.len(),
        cut_short.len(),
        started.elapsed().as_secs_f64()
    );
}
