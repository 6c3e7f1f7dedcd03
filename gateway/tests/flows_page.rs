//! The flows page in a real browser (headless Chromium): a flow refused
//! with its problems, saved, run by a delivery, tried as a dry run that
//! sends nothing, run again when forced, and disabled, against a started
//! gateway and the fake Clockify.

#[path = "support/browser.rs"]
mod browser;
mod support;

use browser::{click, count, wait_count, wait_text};
use clockify_testkit::FakeClockify;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use support::{TestGateway, addon_claims, installed_body, test_config};

async fn set_flow(c: &Client, flow: &Value) {
    c.execute("document.getElementById('flow-json').value = arguments[0];", vec![json!(serde_json::to_string_pretty(flow).unwrap())])
        .await
        .expect("set the editor");
}

fn tag_reads(fake: &FakeClockify) -> usize {
    fake.requests().iter().filter(|r| r.method == "GET" && r.path == "/api/v1/workspaces/ws1/tags").count()
}

#[tokio::test]
async fn the_flows_page_saves_runs_tries_and_disables_a_flow() {
    let Some(browser) = browser::start("flows_page").await else { return };
    let c = &browser.client;

    let fake = FakeClockify::start().await;
    fake.serve_webhooks("ws1");
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([{ "id": "t1", "name": "needs-project" }]));
    let mut config = test_config();
    config.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let gw = TestGateway::start_with(config).await;

    let mut claims = addon_claims("ws1", "a1");
    claims["user"] = json!("owner1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    let install = gw.sign(&claims);
    let mut hook_claims = addon_claims("ws1", "a1");
    hook_claims["purpose"] = json!("webhook NEW_TIME_ENTRY");
    let hook = gw.sign(&hook_claims);
    let r = gw
        .post(
            "/lifecycle/installed",
            ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")),
            &installed_body("ws1", "a1", &install, &[("NEW_TIME_ENTRY".to_owned(), hook.clone())]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let mut admin = addon_claims("ws1", "a1");
    admin["user"] = json!("admin1");
    support::as_user(&mut admin, "OWNER");
    let token = gw.sign(&admin);

    c.goto(&gw.url(&format!("/ui/flows?auth_token={token}"))).await.expect("page loads");
    assert!(!c.current_url().await.expect("url").as_str().contains("auth_token"), "the token leaves the address bar");
    wait_text(c, "#auth-state", |t| t == "Workspace ws1").await;
    assert_eq!(count(c, "#flow-rows tr").await, 0);

    // Refused, with every problem at its pointer.
    let mut flow = json!({
        "name": "Find the tag",
        "trigger": { "events": ["NEW_TIME_ENTRY"], "conditions": [{ "pointer": "/payload/projectId", "op": "exists", "value": false }] },
        "steps": [{ "id": "find", "operationId": "getTagz", "query": { "name": "{{payload.descriptionn}}" } }]
    });
    set_flow(c, &flow).await;
    click(c, "#save").await;
    wait_count(c, "#violations li", 2).await;
    assert_eq!(count(c, "#violations li[data-pointer='/steps/0/operationId']").await, 1);
    assert_eq!(count(c, "#violations li[data-pointer='/steps/0/query/name']").await, 1);
    assert_eq!(count(c, "#flow-rows tr").await, 0, "nothing saved");

    // Fixed: saved, listed.
    flow["steps"][0]["operationId"] = json!("getTags");
    flow["steps"][0]["query"]["name"] = json!("{{payload.description}}");
    set_flow(c, &flow).await;
    click(c, "#save").await;
    wait_text(c, "#save-result", |t| t.starts_with("saved Find the tag")).await;
    wait_count(c, "#flow-rows tr", 1).await;
    assert_eq!(count(c, "#violations li").await, 0);

    // A delivery runs it; the execution shows.
    let entry = json!({ "id": "te1", "workspaceId": "ws1", "description": "needs-project", "projectId": null });
    assert_eq!(gw.deliver("NEW_TIME_ENTRY", &hook, &entry).await.status(), 200);
    for _ in 0..100 {
        click(c, "#load-executions").await;
        if count(c, "#execution-rows tr[data-outcome=completed]").await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count(c, "#execution-rows tr[data-outcome=completed]").await, 1);
    assert_eq!(tag_reads(&fake), 1);

    // Tried on that delivery: resolved, nothing sent.
    click(c, "#execution-rows tr .try").await;
    click(c, "#dry-run").await;
    let result = wait_text(c, "#try-result", |t| t.starts_with("dry run")).await;
    assert!(result.contains("nothing sent"), "{result}");
    wait_count(c, "#try-rows tr[data-outcome=resolved]", 1).await;
    let step = c.find(Locator::Css("#try-rows tr")).await.expect("row").text().await.expect("text");
    assert!(step.contains("/api/v1/workspaces/ws1/tags?name=needs-project"), "{step}");
    assert_eq!(tag_reads(&fake), 1, "a dry run sends nothing");

    // Run again when forced, after a confirmation.
    click(c, "#force-run").await;
    assert!(c.find(Locator::Id("force-confirm")).await.expect("confirm").is_displayed().await.expect("shown"));
    click(c, "#force-no").await;
    assert_eq!(tag_reads(&fake), 1, "nothing without confirmation");
    click(c, "#force-run").await;
    click(c, "#force-yes").await;
    wait_text(c, "#try-result", |t| t == "ran: Find the tag completed").await;
    assert_eq!(tag_reads(&fake), 2);
    wait_count(c, "#execution-rows tr", 2).await;

    // Disabled from the list.
    click(c, "#flow-rows tr .toggle").await;
    wait_text(c, "#flow-result", |t| t == "Find the tag: disabled").await;
    wait_count(c, "#flow-rows .state-disabled", 1).await;

    c.clone().close().await.expect("session closes");
}
