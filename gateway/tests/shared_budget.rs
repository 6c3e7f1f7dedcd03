//! Several instances, one budget: three gateways on one PostgreSQL send a
//! bootstrap, explorer calls and handler calls for the same workspace at
//! once, and the fake Clockify never sees more than 50 of them in any
//! second; one instance killed in the middle stalls nobody.

mod support;

#[path = "support/bootstrap_fixture.rs"]
mod bootstrap_fixture;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clockify_gateway::{AddonContext, AddonHooks, HandlerFuture, WebhookDelivery};
use clockify_testkit::FakeClockify;
use serde_json::{Value, json};
use support::{Backend, TestGateway, addon_claims, config_for, installed_body};

/// Each delivery's handler makes one call to Clockify.
struct CallingHooks(Arc<AtomicUsize>);

impl AddonHooks for CallingHooks {
    fn on_webhook<'a>(&'a self, ctx: &'a AddonContext, _d: &'a WebhookDelivery) -> HandlerFuture<'a> {
        Box::pin(async move {
            ctx.client().await?.get_tags().workspace_id(ctx.workspace_id()).send().await?;
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

fn user_token(gw: &TestGateway, fake: &FakeClockify) -> String {
    let mut c = addon_claims("ws1", "a1");
    c["user"] = json!("admin1");
    c["backendUrl"] = json!(fake.core_url());
    c["reportsUrl"] = json!(fake.reports_url());
    support::as_user(&mut c, "OWNER");
    gw.sign(&c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_on_one_postgresql_stay_within_one_budget() {
    let fake = FakeClockify::start().await;
    // Every list the bootstrap reads, a few rows each: about a hundred pages.
    let workspace = bootstrap_fixture::serve_profile(&fake, "ws1", 25, |_, parent, _| if parent.is_some() { 1 } else { 3 });
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    let mut c = config_for(Backend::Postgres).await;
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    c.bootstrap_workers = 1;
    c.bootstrap_page_size = 25;
    c.bootstrap_lease_seconds = 2;
    c.rate_limit_per_second = 100_000;
    c.rate_limit_burst = 100_000;
    let handled = Arc::new(AtomicUsize::new(0));
    let mut gws = Vec::new();
    for _ in 0..3 {
        gws.push(TestGateway::start_with_hooks(c.clone(), Arc::new(CallingHooks(handled.clone()))).await);
    }
    let mut claims = addon_claims("ws1", "a1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    claims["ptoUrl"] = json!(fake.pto_url());
    let install_token = gws[0].sign(&claims);
    let mut hook_claims = addon_claims("ws1", "a1");
    hook_claims["purpose"] = json!("webhook NEW_TAG");
    let hook_token = gws[0].sign(&hook_claims);
    let body = installed_body("ws1", "a1", &install_token, &[("NEW_TAG".to_owned(), hook_token.clone())]);
    let r = gws[0].post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &gws[0].addon_token("ws1", "a1")), &body).await;
    assert_eq!(r.status(), 200);

    // Everything at once: the bootstrap (queued by INSTALLED), 40 explorer
    // calls and 30 deliveries (one call each) on every instance.
    let token = user_token(&gws[0], &fake);
    let deliveries = async {
        let mut accepted = 0;
        for i in 0..90 {
            let gw = &gws[i % 3];
            let tag = json!({ "id": format!("t{i}"), "name": format!("tag {i}"), "workspaceId": "ws1" });
            if gw.deliver("NEW_TAG", &hook_token, &tag).await.status() == 200 {
                accepted += 1;
            }
        }
        accepted
    };
    let killer = async {
        // The third instance dies (no graceful stop) while the work runs.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        gws[2].server.abort();
    };
    let bases: Vec<String> = gws.iter().map(|gw| gw.url("")).collect();
    let (a, b, _, accepted, ()) = tokio::join!(
        support::explorer_calls(&gws[0].http, &bases[0], &token, 40),
        support::explorer_calls(&gws[1].http, &bases[1], &token, 40),
        support::explorer_calls(&gws[2].http, &bases[2], &token, 15),
        deliveries,
        killer
    );
    assert_eq!((a, b), (40, 40), "the surviving instances' explorer calls all completed");

    // The two survivors finish the work, the bootstrap included.
    let mut state = Value::Null;
    for _ in 0..600 {
        let r = gws[0].http.get(gws[0].url("/bootstrap/ws1/status")).header("x-addon-token", &token).send().await.expect("status");
        state = r.json().await.expect("json");
        if state["state"] == "done" && handled.load(Ordering::SeqCst) >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state["state"], "done", "{state}");
    assert!(accepted >= 60, "deliveries to the live instances were accepted: {accepted}");
    assert!(
        handled.load(Ordering::SeqCst) >= accepted,
        "every accepted delivery handled: {} of {accepted}",
        handled.load(Ordering::SeqCst)
    );
    assert!(fake.requests().len() >= workspace.min_requests() + 80 + accepted, "all of it reached the fake");

    let peak = fake.max_per_second("ws1");
    assert!(peak <= 50, "at most 50 requests for ws1 in any second at the fake, saw {peak}");
    // A loose floor: leaked or double-counted slots starve far below it, while
    // a busy CI machine may not reach the ceiling (that figure is the benchmark's).
    assert!(peak >= 30, "the budget was used, not starved: {peak}");
}
