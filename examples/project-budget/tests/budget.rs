//! The project budget add-on end to end: the real gateway with this add-on
//! on an ephemeral port and a fresh SQLite file, Clockify played by
//! `AddonDriver` and `FakeClockify`; the page in headless Chromium.

// The gateway's page-test driver, not a copy of it.
#[path = "../../../gateway/tests/support/browser.rs"]
mod browser;

use std::time::{Duration, Instant};

use clockify_gateway::Config;
use clockify_testkit::tokens::keys_dir;
use clockify_testkit::{AddonDriver, FakeClockify, Installed};
use serde_json::{Value, json};

const WS: &str = "ws1";
const MANIFEST_EVENTS: [&str; 5] = ["NEW_TIME_ENTRY", "TIMER_STOPPED", "TIME_ENTRY_UPDATED", "TIME_ENTRY_DELETED", "NEW_PROJECT"];

struct Running {
    fake: FakeClockify,
    driver: AddonDriver,
    installed: Installed,
    _server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The add-on installed on ws1, with two projects and four entries
/// mirrored from deliveries (u1: 2 h and 0.5 h and 0.25 h without a
/// project; u2: 1.5 h, then updated to 3 h).
async fn start_with_entries() -> Running {
    let fake = FakeClockify::start().await;
    fake.serve_webhooks(WS);
    let mut config = Config::for_tests();
    config.clockify_public_key_file = Some(keys_dir().join("test-rsa-public.pem"));
    config.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let app = project_budget::builder(config).build().await.expect("the add-on starts");
    let driver = AddonDriver::new(&format!("http://127.0.0.1:{}", app.port()), project_budget::ADDON.key);
    let server = tokio::spawn(app.run_until_stopped());
    let installed = driver.install(WS, "a1", &fake, &MANIFEST_EVENTS).await;
    let r = Running { fake, driver, installed, _server: server };

    let project = |id: &str, name: &str| json!({ "id": id, "name": name, "workspaceId": WS, "archived": false });
    let entry = |id: &str, user: &str, project: Option<&str>, duration: &str| {
        json!({ "id": id, "workspaceId": WS, "userId": user, "projectId": project, "description": "", "tagIds": [],
            "timeInterval": { "start": "2025-03-03T09:00:00Z", "end": "2025-03-03T10:00:00Z", "duration": duration } })
    };
    let sends = [
        ("NEW_PROJECT", project("p1", "Website")),
        ("NEW_PROJECT", project("p2", "Mobile app")),
        ("NEW_TIME_ENTRY", entry("te1", "u1", Some("p1"), "PT2H")),
        ("NEW_TIME_ENTRY", entry("te2", "u2", Some("p1"), "PT1H30M")),
        ("NEW_TIME_ENTRY", entry("te3", "u1", Some("p2"), "PT30M")),
        ("NEW_TIME_ENTRY", entry("te4", "u1", None, "PT15M")),
        ("TIME_ENTRY_UPDATED", entry("te2", "u2", Some("p1"), "PT3H")),
        ("NEW_TIME_ENTRY", entry("te5", "u2", Some("p2"), "PT1H")),
        ("TIME_ENTRY_DELETED", entry("te5", "u2", Some("p2"), "PT1H")),
    ];
    for (event, body) in &sends {
        let resp = r.driver.deliver(&r.installed, event, body).await;
        assert_eq!(resp.status(), 200, "{event}");
    }
    handled(&r, sends.len()).await;
    r
}

/// Waits until the delivery log (the admin's view) shows `n` handled
/// deliveries: their changes are in the mirror.
async fn handled(r: &Running, n: usize) {
    let owner = r.driver.user_token(WS, "a1", "owner1", "OWNER");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page: Value = r
            .driver
            .http()
            .get(r.driver.url(&format!("/admin/deliveries/{WS}?limit=100")))
            .header("X-Addon-Token", &owner)
            .send()
            .await
            .expect("admin route")
            .json()
            .await
            .expect("JSON");
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() == n && items.iter().all(|d| d["status"] == "done") {
            return;
        }
        assert!(Instant::now() < deadline, "expected {n} handled deliveries: {items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn data(r: &Running, token: Option<&str>) -> reqwest::Response {
    let mut req = r.driver.http().get(r.driver.url("/ui/budget/data"));
    if let Some(t) = token {
        req = req.header("X-Addon-Token", t);
    }
    req.send().await.expect("data route")
}

fn hours(report: &Value) -> Vec<(String, String, f64, bool)> {
    report["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .map(|p| {
            (
                p["projectId"].as_str().unwrap_or_default().to_owned(),
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["hours"].as_f64().unwrap_or(-1.0),
                p["overBudget"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

/// The events the manifest cannot declare, which the gateway registers
/// through the REST API at INSTALLED.
const REST_EVENTS: [&str; 2] = ["PROJECT_UPDATED", "PROJECT_DELETED"];

#[tokio::test]
async fn installed_registers_the_rest_webhooks_once_each_with_the_installation_token() {
    let r = start_with_entries().await;
    let rest: Vec<&str> = project_budget::ADDON.rest_webhooks.iter().map(|e| e.as_str()).collect();
    assert_eq!(rest, REST_EVENTS);
    let deadline = Instant::now() + Duration::from_secs(20);
    while r.fake.webhooks(WS).len() < REST_EVENTS.len() {
        assert!(Instant::now() < deadline, "the REST webhooks were not registered: {:?}", r.fake.webhooks(WS));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut held: Vec<(String, String)> = r
        .fake
        .webhooks(WS)
        .iter()
        .map(|w| (w["webhookEvent"].as_str().unwrap_or_default().to_owned(), w["url"].as_str().unwrap_or_default().to_owned()))
        .collect();
    held.sort();
    assert_eq!(held.len(), 2, "{held:?}");
    for (event, url) in &held {
        assert!(url.ends_with(&format!("/webhooks/{event}")), "{event} is delivered to its route: {url}");
    }

    let calls = r.fake.requests();
    let hooks = format!("/api/v1/workspaces/{WS}/webhooks");
    let mut created: Vec<String> = calls
        .iter()
        .filter(|q| q.method == "POST" && q.path == hooks)
        .map(|q| q.json().and_then(|b| b["webhookEvent"].as_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    created.sort();
    assert_eq!(created, ["PROJECT_DELETED", "PROJECT_UPDATED"], "each created once");
    assert!(!calls.is_empty());
    for q in &calls {
        assert_eq!(q.header("x-addon-token"), Some(r.installed.token.as_str()), "{} {} acts with the installation token", q.method, q.path);
        assert!(q.path.starts_with(&hooks), "only the registration calls Clockify: {} {}", q.method, q.path);
    }
}

#[tokio::test]
async fn the_data_route_sums_the_mirror_per_project_by_role_against_the_budget() {
    let r = start_with_entries().await;
    let owner = r.driver.user_token(WS, "a1", "owner1", "OWNER");
    let report: Value = data(&r, Some(&owner)).await.json().await.expect("JSON");
    assert_eq!(report["budgetHours"], 40.0, "the manifest default");
    assert_eq!(report["everyone"], true);
    assert_eq!(
        hours(&report),
        vec![("p2".into(), "Mobile app".into(), 0.5, false), ("p1".into(), "Website".into(), 5.0, false)],
        "the update replaced te2's hours, the deleted te5 is gone"
    );
    assert_eq!(report["unassignedHours"], 0.25);
    assert_eq!(report["projects"][1]["usedPercent"], 12.5);

    // A team manager sees only their own entries.
    let member = r.driver.user_token(WS, "a1", "u1", "TEAM_MANAGER");
    let mine: Value = data(&r, Some(&member)).await.json().await.expect("JSON");
    assert_eq!(mine["everyone"], false);
    assert_eq!(hours(&mine), vec![("p2".into(), "Mobile app".into(), 0.5, false), ("p1".into(), "Website".into(), 2.0, false)]);
    let admin = r.driver.user_token(WS, "a1", "u2", "WORKSPACE_ADMIN");
    assert_eq!(data(&r, Some(&admin)).await.json::<Value>().await.expect("JSON")["everyone"], true);

    // The budget comes from the settings, read per request.
    let settings = json!([{ "id": "budgetHours", "name": "Budget", "value": 4 }]);
    assert_eq!(r.driver.settings_updated(&r.installed, settings).await.status(), 200);
    let report: Value = data(&r, Some(&owner)).await.json().await.expect("JSON");
    assert_eq!(report["budgetHours"], 4.0);
    assert_eq!(hours(&report)[1], ("p1".into(), "Website".into(), 5.0, true));
    assert_eq!(report["projects"][1]["usedPercent"], 125.0);
    assert!(
        r.fake.requests().iter().all(|q| q.path.contains("/webhooks")),
        "the page reads the mirror, not Clockify: {:?}",
        r.fake.requests().iter().map(|q| q.path.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_data_route_and_the_page_refuse_bad_tokens() {
    let r = start_with_entries().await;
    let d = &r.driver;
    let status = |resp: reqwest::Response| resp.status().as_u16();
    assert_eq!(status(data(&r, None).await), 401, "no token");
    let expired = d.user_token_expiring(WS, "a1", "owner1", "OWNER", 1_000_000_000);
    assert_eq!(status(data(&r, Some(&expired)).await), 401, "expired");
    let foreign = d.user_token("ws-elsewhere", "a9", "owner1", "OWNER");
    // A valid user token, of a workspace without this installation.
    let refused = data(&r, Some(&foreign)).await;
    assert_eq!(refused.status(), 403, "a workspace without this installation: {}", refused.text().await.unwrap_or_default());
    assert_eq!(status(data(&r, Some(&r.installed.token)).await), 401, "the installation token is not a user token");
    let webhook = r.installed.webhook_token("NEW_PROJECT").to_owned();
    assert_eq!(status(data(&r, Some(&webhook)).await), 401, "a webhook token is not a user token");
    let mut other_addon = d.claims(WS, "a1");
    other_addon["sub"] = json!("clockify-rust-gateway");
    other_addon["user"] = json!("owner1");
    other_addon["workspaceRole"] = json!("OWNER");
    other_addon["exp"] = json!(4_000_000_000u64);
    assert_eq!(status(data(&r, Some(&d.sign(&other_addon))).await), 401, "a token of another add-on");

    let page = |q: &str| d.http().get(d.url(&format!("/ui/budget{q}"))).send();
    assert_eq!(page("").await.expect("page").status(), 401, "the page without auth_token");
    assert_eq!(page(&format!("?auth_token={expired}")).await.expect("page").status(), 401);
    let owner = d.user_token(WS, "a1", "owner1", "OWNER");
    let ok = page(&format!("?auth_token={owner}")).await.expect("page");
    assert_eq!(ok.status(), 200);
    assert!(ok.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html"));
    let html = ok.text().await.expect("html");
    assert!(!html.contains("http://") && !html.contains("https://"), "no CDN or other origin: {html}");

    // Uninstalled: the same user token opens nothing any more.
    assert_eq!(status(data(&r, Some(&owner)).await), 200);
    assert_eq!(d.deleted(&r.installed).await.status(), 200);
    assert_eq!(status(data(&r, Some(&owner)).await), 403, "after DELETED");
}

#[tokio::test]
async fn the_page_shows_the_hours_in_a_browser_and_is_refused_without_a_token() {
    let Some(browser) = browser::start("project_budget_page").await else { return };
    let c = &browser.client;
    let r = start_with_entries().await;

    let member = r.driver.user_token(WS, "a1", "u1", "TEAM_MANAGER");
    c.goto(&r.driver.url(&format!("/ui/budget?auth_token={member}"))).await.expect("page loads");
    browser::wait_text(c, "#status", |t| t == "Loaded 2 projects").await;
    assert_eq!(browser::text(c, "#scope").await, "Your time");
    assert_eq!(browser::text(c, "tr[data-project='p1'] .hours").await, "2.00");
    assert_eq!(browser::text(c, "tr[data-project='p2'] .hours").await, "0.50");

    let owner = r.driver.user_token(WS, "a1", "owner1", "OWNER");
    c.goto(&r.driver.url(&format!("/ui/budget?auth_token={owner}"))).await.expect("page loads");
    browser::wait_text(c, "#status", |t| t == "Loaded 2 projects").await;
    assert_eq!(browser::text(c, "#scope").await, "Everyone's time");
    assert_eq!(browser::text(c, "tr[data-project='p1'] .name").await, "Website");
    assert_eq!(browser::text(c, "tr[data-project='p1'] .hours").await, "5.00");
    assert_eq!(browser::text(c, "tr[data-project='p1'] .used").await, "13%");
    assert_eq!(browser::text(c, "#unassigned").await, "Without a project: 0.25 h");

    // Without a token the page is refused: no table, the refusal instead.
    c.goto(&r.driver.url("/ui/budget")).await.expect("navigates");
    let body = browser::wait_text(c, "body", |t| !t.is_empty()).await;
    assert_eq!(browser::count(c, "#budget").await, 0, "no page without a token");
    assert!(body.contains("401"), "{body}");
}
