//! The operator page in a real browser (headless Chromium): the
//! installation and its webhooks with re-registration, the delivery log with
//! a replay, and the bootstrap with a confirmed restart, against a started
//! gateway and the fake Clockify.

#[path = "support/bootstrap_fixture.rs"]
mod bootstrap_fixture;
#[path = "support/browser.rs"]
mod browser;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use browser::{click, count, wait_count, wait_text};
use clockify_gateway::hooks::{AddonHooks, HandlerError, HandlerFuture, WebhookDelivery};
use clockify_testkit::FakeClockify;
use fantoccini::Locator;
use serde_json::json;
use support::{TestGateway, addon_claims, installed_body, test_config};

#[derive(Default)]
struct Flaky {
    broken: AtomicBool,
    successes: AtomicU32,
}

impl AddonHooks for Flaky {
    fn on_webhook<'a>(&'a self, _ctx: &'a clockify_gateway::AddonContext, _d: &'a WebhookDelivery) -> HandlerFuture<'a> {
        Box::pin(async move {
            if self.broken.load(Ordering::SeqCst) {
                return Err(HandlerError("the handler is broken".into()));
            }
            self.successes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// A small workspace: a few rows per list, one child row per parent.
fn small(_op: &str, parent: Option<usize>, _size: usize) -> usize {
    if parent.is_some() { 1 } else { 3 }
}

#[tokio::test]
async fn the_operator_page_reregisters_replays_and_restarts() {
    let Some(browser) = browser::start("admin_page").await else { return };
    let c = &browser.client;

    let fake = FakeClockify::start().await;
    fake.serve_webhooks("ws1");
    let lists = bootstrap_fixture::serve_profile(&fake, "ws1", 1000, small);
    let hooks = Arc::new(Flaky::default());
    hooks.broken.store(true, Ordering::SeqCst);
    let mut config = test_config();
    config.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    config.addon_base_url = "https://addon.example.com".parse().expect("url");
    config.webhook_max_attempts = 1;
    config.bootstrap_workers = 1;
    let gw = TestGateway::start_with_hooks(config, hooks.clone()).await;

    let mut claims = addon_claims("ws1", "a1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    claims["ptoUrl"] = json!(fake.pto_url());
    let install = gw.sign(&claims);
    let mut hook_claims = addon_claims("ws1", "a1");
    hook_claims["purpose"] = json!("webhook NEW_PROJECT");
    let hook_token = gw.sign(&hook_claims);
    let hooks_body = vec![("NEW_PROJECT".to_owned(), hook_token.clone())];
    let r = gw
        .post(
            "/lifecycle/installed",
            ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")),
            &installed_body("ws1", "a1", &install, &hooks_body),
        )
        .await;
    assert_eq!(r.status(), 200);
    for i in 0..2 {
        let body = json!({ "id": format!("p{i}"), "workspaceId": "ws1", "name": format!("project {i}"), "apiToken": "do-not-show" });
        assert_eq!(gw.deliver("NEW_PROJECT", &hook_token, &body).await.status(), 200);
    }

    let mut admin = addon_claims("ws1", "a1");
    admin["user"] = json!("admin1");
    support::as_user(&mut admin, "OWNER");
    let token = gw.sign(&admin);
    // Wait for the background work the page will show.
    for _ in 0..200 {
        let dead = gw.state.delivery_log.dead_count().await.expect("count");
        let registered = fake.webhooks("ws1").len();
        let run = gw.state.bootstrap.run("ws1").await.expect("run").map(|r| r.state);
        if dead == 2 && registered == 3 && run.as_deref() == Some("done") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    c.goto(&gw.url(&format!("/ui/admin?auth_token={token}"))).await.expect("page loads");
    assert!(!c.current_url().await.expect("url").as_str().contains("auth_token"), "the token leaves the address bar");
    wait_text(c, "#inst-status", |t| t == "active").await;
    assert_eq!(c.find(Locator::Id("inst-host")).await.expect("host").text().await.expect("text"), fake.core_url());
    // One manifest webhook and three registered through REST.
    wait_count(c, "#webhook-rows tr", 4).await;
    assert_eq!(count(c, "#webhook-rows .state-active").await, 4);

    // Clockify loses one; re-registration restores exactly it.
    let lost = fake.webhooks("ws1")[0]["id"].as_str().expect("id").to_owned();
    fake.lose_webhook("ws1", &lost);
    click(c, "#reregister").await;
    let result = wait_text(c, "#reregister-result", |t| t.starts_with("retried")).await;
    assert!(result.contains("retried 1") && result.contains("registered 1"), "{result}");
    assert_eq!(fake.webhooks("ws1").len(), 3);

    // The two dead deliveries, with their error; the body is redacted.
    wait_count(c, "#delivery-rows tr[data-status=dead]", 2).await;
    let first = c.find(Locator::Css("#delivery-rows tr")).await.expect("row");
    assert!(first.text().await.expect("text").contains("the handler is broken"));
    click(c, "#delivery-rows tr .view").await;
    let body = wait_text(c, "#delivery-body", |t| t.contains("project")).await;
    assert!(body.contains("***") && !body.contains("do-not-show"), "{body}");

    // Fixed; replaying one row runs it once and shows it done.
    hooks.broken.store(false, Ordering::SeqCst);
    click(c, "#delivery-rows tr .replay").await;
    wait_text(c, "#replay-result", |t| t.starts_with("replayed 1 ")).await;
    wait_count(c, "#delivery-rows tr[data-status=done]", 1).await;
    // Replaying every dead one takes the other; a second time, nothing.
    click(c, "#replay-dead").await;
    wait_text(c, "#replay-result", |t| t.starts_with("replayed 1 ")).await;
    wait_count(c, "#delivery-rows tr[data-status=done]", 2).await;
    click(c, "#replay-dead").await;
    wait_text(c, "#replay-result", |t| t.starts_with("replayed 0 ")).await;
    assert_eq!(hooks.successes.load(Ordering::SeqCst), 2, "each delivery handled once");

    // The bootstrap: done; a restart asks first, then reads every list again.
    wait_text(c, "#bootstrap-state", |t| t == "done").await;
    assert!(count(c, "#bootstrap-rows tr").await >= 10, "one row per planned operation");
    let before = fake.requests().iter().filter(|r| r.method == "GET" && r.status == 200).count();
    click(c, "#bootstrap-restart").await;
    assert!(c.find(Locator::Id("restart-confirm")).await.expect("confirm").is_displayed().await.expect("shown"));
    click(c, "#restart-no").await;
    assert_eq!(gw.state.bootstrap.run("ws1").await.expect("run").map(|r| r.state).as_deref(), Some("done"), "nothing without confirmation");
    click(c, "#bootstrap-restart").await;
    click(c, "#restart-yes").await;
    wait_text(c, "#bootstrap-result", |t| t == "queued (restart)").await;
    wait_text(c, "#bootstrap-state", |t| t == "done").await;
    let after = fake.requests().iter().filter(|r| r.method == "GET" && r.status == 200).count();
    assert!(after - before >= lists.min_requests(), "the restart read every list again: {} requests", after - before);

    c.clone().close().await.expect("session closes");
}
