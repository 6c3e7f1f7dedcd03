//! The time entry guard end to end: the real gateway with this add-on on an
//! ephemeral port and a fresh SQLite file, Clockify played by
//! `AddonDriver` (lifecycle calls, signed deliveries, user tokens with the
//! test keys) and `FakeClockify` (the API the handler calls, keeping time
//! entries and tags as resources).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clockify_gateway::clockify_client::WebhookEvent;
use clockify_gateway::{Config, WebhookPayload};
use clockify_testkit::tokens::keys_dir;
use clockify_testkit::{AddonDriver, FakeClockify, Installed};
use serde_json::{Value, json};

const WS: &str = "ws1";
const ENTRIES: &str = "/v1/workspaces/ws1/time-entries";
const TAGS: &str = "/v1/workspaces/ws1/tags";

struct Running {
    fake: FakeClockify,
    driver: AddonDriver,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start() -> Running {
    start_configured(|_| {}).await
}

async fn start_configured(configure: impl FnOnce(&mut Config)) -> Running {
    let fake = FakeClockify::start().await;
    let mut config = Config::for_tests();
    configure(&mut config);
    config.clockify_public_key_file = Some(keys_dir().join("test-rsa-public.pem"));
    config.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let app = time_entry_guard::builder(config).build().await.expect("the add-on starts");
    let driver = AddonDriver::new(&format!("http://127.0.0.1:{}", app.port()), time_entry_guard::ADDON.key);
    let server = tokio::spawn(app.run_until_stopped());
    Running { fake, driver, _server: server }
}

fn entry(id: &str, project: Option<&str>, description: &str) -> Value {
    json!({
        "id": id, "workspaceId": WS, "userId": "u1", "description": description,
        "projectId": project, "tagIds": [], "billable": false,
        "timeInterval": { "start": "2025-03-01T09:00:00Z", "end": "2025-03-01T10:00:00Z", "duration": "PT1H" },
    })
}

async fn eventually(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn put_path(id: &str) -> String {
    format!("/api{ENTRIES}/{id}")
}

fn tag_named(fake: &FakeClockify, name: &str) -> Option<String> {
    fake.collection("api", TAGS).into_iter().find(|t| t["name"] == name).and_then(|t| t["id"].as_str().map(str::to_owned))
}

fn tags_of(fake: &FakeClockify, id: &str) -> Vec<String> {
    let e = fake.collection("api", ENTRIES).into_iter().find(|e| e["id"] == id).expect("entry");
    e["tagIds"].as_array().map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// The admin's view of the delivery log.
async fn deliveries(r: &Running, installed: &Installed) -> Vec<Value> {
    let owner = r.driver.user_token(WS, &installed.addon_id, "owner1", "OWNER");
    let page: Value = r
        .driver
        .http()
        .get(r.driver.url(&format!("/admin/deliveries/{WS}")))
        .header("X-Addon-Token", owner)
        .send()
        .await
        .expect("admin route")
        .json()
        .await
        .expect("JSON");
    page["items"].as_array().cloned().unwrap_or_default()
}

async fn all_handled(r: &Running, installed: &Installed, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let items = deliveries(r, installed).await;
        if items.len() == n && items.iter().all(|d| d["status"] == "done") {
            return;
        }
        assert!(Instant::now() < deadline, "expected {n} handled deliveries: {items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliver(r: &Running, installed: &Installed, event: &str, body: &Value) -> String {
    let resp = r.driver.deliver(installed, event, body).await;
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.expect("ack")["status"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn an_entry_without_a_project_is_tagged_once_with_the_installation_token() {
    let r = start().await;
    let fake = &r.fake;
    fake.serve_collection("api", TAGS, vec![json!({ "id": "t-other", "name": "billable", "workspaceId": WS })]);
    fake.serve_collection("api", ENTRIES, vec![entry("te1", None, "call with client")]);
    let installed = r.driver.install(WS, "a1", fake, &["NEW_TIME_ENTRY", "TIME_ENTRY_UPDATED"]).await;
    // The fake accepts only the installation token from now on.
    fake.require_addon_token(&installed.token);

    assert_eq!(deliver(&r, &installed, "NEW_TIME_ENTRY", &entry("te1", None, "call with client")).await, "accepted");
    eventually("the entry is written", || fake.count("PUT", &put_path("te1")) == 1).await;
    let tag = tag_named(fake, "needs-project").expect("the tag was created, as it was missing");
    assert_eq!(tags_of(fake, "te1"), vec![tag.clone()]);
    let put = fake.requests().into_iter().find(|q| q.method == "PUT").expect("the write");
    assert_eq!(put.header("x-addon-token"), Some(installed.token.as_str()), "the handler acts with the installation token");
    assert_eq!(put.status, 200);
    let body = put.json().expect("JSON body");
    assert_eq!(body["tagIds"], json!([tag]));
    assert_eq!(body["start"], json!("2025-03-01T09:00:00Z"), "the rest of the entry is kept");
    all_handled(&r, &installed, 1).await;

    // The same delivery sent again is the same delivery: stored once.
    assert_eq!(deliver(&r, &installed, "NEW_TIME_ENTRY", &entry("te1", None, "call with client")).await, "duplicate");

    // Replayed by the operator (forced, though it was handled): it runs
    // again, reads the entry as it is now, and writes nothing.
    let id = deliveries(&r, &installed).await[0]["id"].as_str().expect("delivery id").to_owned();
    let gets_before = fake.count("GET", &put_path("te1"));
    let owner = r.driver.user_token(WS, "a1", "owner1", "OWNER");
    let replay: Value = r
        .driver
        .http()
        .post(r.driver.url(&format!("/admin/deliveries/{WS}/replay")))
        .header("X-Addon-Token", owner)
        .json(&json!({ "ids": [id], "force": true }))
        .send()
        .await
        .expect("replay")
        .json()
        .await
        .expect("JSON");
    assert_eq!(replay["replayed"], 1, "{replay}");
    eventually("the replay read the entry", || fake.count("GET", &put_path("te1")) == gets_before + 1).await;
    all_handled(&r, &installed, 1).await;
    assert_eq!(fake.count("PUT", &put_path("te1")), 1, "a replay writes nothing more");

    // The TIME_ENTRY_UPDATED Clockify sends for our own write carries the
    // tag: nothing to do, not even a read of the entry.
    let mut tagged = entry("te1", None, "call with client");
    tagged["tagIds"] = json!([tag]);
    let gets = fake.count("GET", &put_path("te1"));
    deliver(&r, &installed, "TIME_ENTRY_UPDATED", &tagged).await;
    all_handled(&r, &installed, 2).await;
    assert_eq!((fake.count("PUT", &put_path("te1")), fake.count("GET", &put_path("te1"))), (1, gets), "no loop");
    assert_eq!(fake.count("POST", &format!("/api{TAGS}")), 1, "the tag was created once");
    assert!(fake.requests().iter().all(|q| q.status != 401), "every call carried the installation token");
}

#[tokio::test]
async fn settings_change_the_rule_without_a_restart_and_deleted_stops_it() {
    let r = start().await;
    let fake = &r.fake;
    fake.serve_collection("api", TAGS, vec![]);
    fake.serve_collection(
        "api",
        ENTRIES,
        vec![entry("te1", Some("p1"), "finish later"), entry("te2", None, "meeting"), entry("te3", Some("p1"), "later, maybe")],
    );
    let installed = r.driver.install(WS, "a2", fake, &["NEW_TIME_ENTRY", "TIME_ENTRY_UPDATED"]).await;
    fake.require_addon_token(&installed.token);

    // Defaults: only entries without a project; te1 has one.
    deliver(&r, &installed, "NEW_TIME_ENTRY", &entry("te1", Some("p1"), "finish later")).await;
    all_handled(&r, &installed, 1).await;
    assert!(fake.requests().is_empty(), "nothing to do, nothing called: {:?}", fake.requests());

    // The admin saves new settings in Clockify: another tag, the
    // description rule on, entries without a project left alone.
    let settings = json!([
        { "id": "tagName", "name": "Tag", "value": "fix-me" },
        { "id": "tagMissingProject", "name": "No project", "value": false },
        { "id": "descriptionRuleOn", "name": "Rule", "value": true },
        { "id": "descriptionPattern", "name": "Pattern", "value": "(?i)\\blater\\b" },
    ]);
    assert_eq!(r.driver.settings_updated(&installed, settings).await.status(), 200);
    deliver(&r, &installed, "TIME_ENTRY_UPDATED", &entry("te2", None, "meeting")).await;
    deliver(&r, &installed, "TIME_ENTRY_UPDATED", &entry("te1", Some("p1"), "finish later")).await;
    all_handled(&r, &installed, 3).await;
    let fix_me = tag_named(fake, "fix-me").expect("the new tag was created");
    assert!(tag_named(fake, "needs-project").is_none(), "the old default is not used");
    assert_eq!(tags_of(fake, "te1"), vec![fix_me]);
    assert_eq!(fake.count("PUT", &put_path("te1")), 1);
    assert_eq!(fake.count("PUT", &put_path("te2")), 0, "a missing project no longer counts");

    // Uninstalled: a delivery after DELETED reaches no handler, and the
    // fake hears nothing more.
    assert_eq!(r.driver.deleted(&installed).await.status(), 200);
    let before = fake.requests().len();
    let resp = r.driver.deliver(&installed, "NEW_TIME_ENTRY", &entry("te3", Some("p1"), "later, maybe")).await;
    assert_ne!(resp.json::<Value>().await.ok().and_then(|v| v["status"].as_str().map(str::to_owned)).as_deref(), Some("accepted"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after: Vec<String> = fake.requests().iter().skip(before).map(|q| format!("{} {}", q.method, q.path)).collect();
    assert!(after.iter().all(|q| !q.contains("time-entries") && !q.contains("/tags")), "calls after DELETED: {after:?}");
    assert_eq!(fake.count("PUT", &put_path("te3")), 0);
}

/// The body `docs/fake-clockify.md` and `cargo xtask fake-clockify --help`
/// deliver in their example, relative to the repository.
const SAMPLE: &str = "examples/time-entry-guard/samples/new-time-entry.json";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample() -> Value {
    let path = repo_root().join(SAMPLE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{SAMPLE}: not JSON: {e}"))
}

#[test]
fn the_documented_sample_exists_and_is_a_new_time_entry_the_guard_tags() {
    // Every example body the docs and the command's help name is there.
    for doc in ["docs/fake-clockify.md", "xtask/src/fake_clockify.rs"] {
        let text = std::fs::read_to_string(repo_root().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let named: Vec<&str> = text
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| matches!(c, '`' | '"' | '\'' | ',' | ';' | '(' | ')')))
            .filter(|w| w.starts_with("examples/") && w.ends_with(".json"))
            .collect();
        assert!(named.contains(&SAMPLE), "{doc} no longer names {SAMPLE}; update this test with what it names: {named:?}");
        for path in named {
            assert!(repo_root().join(path).is_file(), "{doc} names {path}, which does not exist");
        }
    }
    // Decoded as the gateway decodes a NEW_TIME_ENTRY delivery: the typed
    // time entry the guard's handler matches on, not raw JSON.
    let body = sample();
    let decoded = clockify_gateway::events::decode(&WebhookEvent::NewTimeEntry, &body);
    let WebhookPayload::TimeEntry(entry) = decoded.payload else { panic!("{SAMPLE} is not a time entry: {:?}", decoded.payload) };
    assert!(entry.id.is_some() && entry.time_interval.as_ref().and_then(|i| i.start).is_some(), "{entry:?}");
    assert_eq!(time_entry_guard::reason(&time_entry_guard::Settings::default(), &entry), Some("no project"));
    assert_eq!(body["workspaceId"], "ws-dev", "the workspace `cargo xtask fake-clockify` installs on by default");
}

#[tokio::test]
async fn the_documented_sample_delivered_as_new_time_entry_is_tagged() {
    let body = sample();
    let ws = body["workspaceId"].as_str().expect("workspaceId").to_owned();
    let id = body["id"].as_str().expect("id").to_owned();
    let (entries, tags) = (format!("/v1/workspaces/{ws}/time-entries"), format!("/v1/workspaces/{ws}/tags"));
    let r = start().await;
    let fake = &r.fake;
    fake.serve_collection("api", &tags, vec![]);
    fake.serve_collection("api", &entries, vec![body.clone()]);
    let installed = r.driver.install(&ws, "a-sample", fake, &["NEW_TIME_ENTRY", "TIME_ENTRY_UPDATED"]).await;
    fake.require_addon_token(&installed.token);

    assert_eq!(deliver(&r, &installed, "NEW_TIME_ENTRY", &body).await, "accepted");
    eventually("the sample entry is written", || fake.count("PUT", &format!("/api{entries}/{id}")) == 1).await;
    let tag = fake.collection("api", &tags).into_iter().find(|t| t["name"] == "needs-project").expect("the tag was created");
    let written = fake.collection("api", &entries).into_iter().find(|e| e["id"] == id.as_str()).expect("the entry");
    assert_eq!(written["tagIds"], json!([tag["id"]]));
    assert!(fake.requests().iter().all(|q| q.status != 401), "every call carried the installation token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_deliveries_stays_within_the_workspaces_50_requests_per_second() {
    // A workspace of its own: the budget is per workspace and process-wide,
    // and this file's other tests use ws1.
    const WS_BURST: &str = "ws-burst";
    const N: usize = 70;
    let (entries, tags) = (format!("/v1/workspaces/{WS_BURST}/time-entries"), format!("/v1/workspaces/{WS_BURST}/tags"));
    // Enough workers that the deliveries are handled at once: only the
    // budget stands between them and Clockify.
    let r = start_configured(|c| c.webhook_workers = 16).await;
    let fake = &r.fake;
    // The tag exists: each delivery reads the tag, reads its entry, writes it.
    fake.serve_collection("api", &tags, vec![json!({ "id": "t-np", "name": "needs-project", "workspaceId": WS_BURST })]);
    let body = |id: &str| {
        let mut e = entry(id, None, "burst");
        e["workspaceId"] = json!(WS_BURST);
        e
    };
    let ids: Vec<String> = (0..N).map(|i| format!("te{i:02}")).collect();
    fake.serve_collection("api", &entries, ids.iter().map(|id| body(id)).collect());
    let installed = r.driver.install(WS_BURST, "a-burst", fake, &["NEW_TIME_ENTRY", "TIME_ENTRY_UPDATED"]).await;
    fake.require_addon_token(&installed.token);

    // All at once, each on its own task.
    let sends: Vec<_> = ids
        .iter()
        .map(|id| {
            let (http, url) = (r.driver.http().clone(), r.driver.url("/webhooks/NEW_TIME_ENTRY"));
            let (token, body) = (installed.webhook_token("NEW_TIME_ENTRY").to_owned(), body(id));
            tokio::spawn(async move {
                let resp = http
                    .post(url)
                    .header("clockify-signature", token)
                    .header("clockify-webhook-event-type", "NEW_TIME_ENTRY")
                    .json(&body)
                    .send()
                    .await
                    .expect("the delivery reaches the add-on");
                resp.status().as_u16()
            })
        })
        .collect();
    for send in sends {
        assert_eq!(send.await.expect("send task"), 200);
    }

    let put_path = |id: &str| format!("/api{entries}/{id}");
    let tagged = |id: &str| fake.collection("api", &entries).into_iter().any(|e| e["id"] == id && e["tagIds"] == json!(["t-np"]));
    eventually("every entry is tagged", || ids.iter().all(|id| tagged(id))).await;
    for id in &ids {
        assert_eq!(fake.count("PUT", &put_path(id)), 1, "{id} written once");
    }

    // The ceiling, as the fake saw the requests arrive. The guard's writes:
    // at most 50 in any second.
    let calls: Vec<_> = fake.requests().into_iter().filter(|q| q.workspace() == WS_BURST).collect();
    assert!(calls.len() >= 3 * N, "a read of the tag and of the entry and a write per delivery: {}", calls.len());
    let writes: Vec<Instant> = calls.iter().filter(|q| q.method == "PUT").map(|q| q.at).collect();
    assert_eq!(writes.len(), N);
    let busiest = busiest_window(&writes, Duration::from_secs(1));
    assert!(busiest <= 50, "{busiest} writes in one second");
    // All its calls for the workspace (the budget covers every call): the
    // client starts at most 50 per 1.05 s; on arrival, a loaded machine's
    // transit jitter can bring two starts a window apart closer (51 in one
    // second was seen once in ten runs beside a build), so the arrivals are
    // held to 50 in any 0.9 s: up to 150 ms of jitter. Without the budget
    // the burst puts well over 100 in one second.
    let all: Vec<Instant> = calls.iter().map(|q| q.at).collect();
    let busiest = busiest_window(&all, Duration::from_millis(900));
    assert!(busiest <= 50, "{busiest} calls in 0.9 s (in one second: {})", fake.max_per_second(WS_BURST));
    assert!(calls.iter().all(|q| q.status == 200), "no call refused: {:?}", calls.iter().map(|q| q.status).collect::<Vec<_>>());
}

/// The most of `times` within any window of `window` (sliding).
fn busiest_window(times: &[Instant], window: Duration) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    (0..sorted.len()).map(|i| sorted[i..].iter().take_while(|t| t.duration_since(sorted[i]) < window).count()).max().unwrap_or(0)
}
