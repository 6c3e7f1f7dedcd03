//! Operator routes: re-registration of lost or failed webhooks, the delivery
//! log, dead letters and replays, and who may use them.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use clockify_gateway::hooks::{AddonHooks, HandlerError, HandlerFuture, WebhookDelivery};
use clockify_testkit::FakeClockify;
use serde_json::{Value, json};
use support::{Backend, TestGateway, addon_claims, config_for, installed_body, metric};

fn admin(gw: &TestGateway, ws: &str, role: &str) -> String {
    let mut c = addon_claims(ws, "a1");
    c["user"] = json!("admin1");
    support::as_user(&mut c, role);
    gw.sign(&c)
}

async fn install_against(gw: &TestGateway, fake: &FakeClockify, ws: &str, manifest_events: &[&str]) -> Vec<(String, String)> {
    let mut claims = addon_claims(ws, "a1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    let token = gw.sign(&claims);
    let hooks: Vec<(String, String)> = manifest_events
        .iter()
        .map(|e| {
            let mut c = addon_claims(ws, "a1");
            c["purpose"] = json!(format!("webhook {e}"));
            (e.to_string(), gw.sign(&c))
        })
        .collect();
    let r = gw
        .post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &gw.addon_token(ws, "a1")), &installed_body(ws, "a1", &token, &hooks))
        .await;
    assert_eq!(r.status(), 200);
    hooks
}

async fn gateway_with(fake: &FakeClockify, backend: Backend, hooks: Arc<dyn AddonHooks>, max_attempts: u32) -> TestGateway {
    let mut c = config_for(backend).await;
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    c.addon_base_url = "https://addon.example.com".parse().expect("url");
    c.webhook_max_attempts = max_attempts;
    TestGateway::start_with_hooks(c, hooks).await
}

async fn rest_states(gw: &TestGateway, ws: &str) -> Vec<(String, String, Option<String>)> {
    let mut rows: Vec<_> = gw
        .state
        .installations
        .webhook_tokens(ws)
        .await
        .expect("rows")
        .into_iter()
        .filter(|r| r.source == "rest")
        .map(|r| (r.event, r.state, r.webhook_id))
        .collect();
    rows.sort();
    rows
}

async fn settled(gw: &TestGateway, ws: &str) -> Vec<(String, String, Option<String>)> {
    for _ in 0..200 {
        let s = rest_states(gw, ws).await;
        if !s.is_empty() && s.iter().all(|(_, st, _)| st != "pending") {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("registration did not settle: {:?}", rest_states(gw, ws).await);
}

async fn reregistration_restores_exactly_the_lost_webhooks(backend: Backend) {
    let fake = FakeClockify::start().await;
    fake.serve_webhooks("ws1");
    let gw = gateway_with(&fake, backend, Arc::new(clockify_gateway::NoHooks), 5).await;
    install_against(&gw, &fake, "ws1", &[]).await;
    let before = settled(&gw, "ws1").await;
    assert!(before.iter().all(|(_, st, _)| st == "active"), "{before:?}");
    assert_eq!(fake.webhooks("ws1").len(), 3);

    // Clockify loses one of them.
    let (lost_event, _, lost_id) = before[1].clone();
    fake.lose_webhook("ws1", lost_id.as_deref().expect("an id"));
    let posts_before = fake.count("POST", "/api/v1/workspaces/ws1/webhooks");
    let r = gw
        .http
        .post(gw.url("/admin/installations/ws1/webhooks/reregister"))
        .header("x-addon-token", admin(&gw, "ws1", "OWNER"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.expect("json");
    assert_eq!(report["retried"], json!([lost_event]));
    assert_eq!(report["registered"], json!([lost_event]));
    assert_eq!(report["unchanged"].as_array().map(Vec::len), Some(2));
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/webhooks") - posts_before, 1, "exactly the lost one is created");
    assert_eq!(fake.webhooks("ws1").len(), 3);
    let after = rest_states(&gw, "ws1").await;
    assert!(after.iter().all(|(_, st, _)| st == "active"));
    assert_ne!(after[1].2, lost_id, "the new webhook's id is stored");

    // Again: nothing is missing, nothing is created.
    let r = gw
        .http
        .post(gw.url("/admin/installations/ws1/webhooks/reregister"))
        .header("x-addon-token", admin(&gw, "ws1", "WORKSPACE_ADMIN"))
        .send()
        .await
        .expect("post");
    let report: Value = r.json().await.expect("json");
    assert_eq!(report["retried"], json!([]));
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/webhooks") - posts_before, 1, "idempotent");
    assert_eq!(fake.webhooks("ws1").len(), 3);
    assert!(metric(&gw.metrics().await, "gateway_webhook_reregistrations_total{outcome=\"done\"}") >= 2.0);
}

/// A handler that fails while `broken` is set, counting its runs per delivery.
#[derive(Default)]
struct Flaky {
    broken: AtomicBool,
    runs: AtomicU32,
    successes: AtomicU32,
}

impl AddonHooks for Flaky {
    fn on_webhook<'a>(&'a self, _ctx: &'a clockify_gateway::AddonContext, _d: &'a WebhookDelivery) -> HandlerFuture<'a> {
        Box::pin(async move {
            self.runs.fetch_add(1, Ordering::SeqCst);
            if self.broken.load(Ordering::SeqCst) {
                Err(HandlerError("the handler is broken".into()))
            } else {
                self.successes.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        })
    }
}

async fn deliveries(gw: &TestGateway, ws: &str, query: &str) -> Value {
    let r = gw
        .http
        .get(gw.url(&format!("/admin/deliveries/{ws}{query}")))
        .header("x-addon-token", admin(gw, ws, "OWNER"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "{query}");
    r.json().await.expect("json")
}

async fn replay(gw: &TestGateway, ws: &str, body: Value) -> Value {
    let r = gw
        .http
        .post(gw.url(&format!("/admin/deliveries/{ws}/replay")))
        .header("x-addon-token", admin(gw, ws, "OWNER"))
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200, "{body}");
    r.json().await.expect("json")
}

async fn wait_for_status(gw: &TestGateway, ws: &str, status: &str, n: usize) -> Value {
    for _ in 0..300 {
        let page = deliveries(gw, ws, &format!("?status={status}")).await;
        if page["items"].as_array().map(Vec::len) == Some(n) {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never {n} deliveries {status}: {:#}", deliveries(gw, ws, "").await);
}

async fn dead_letters_are_replayed_once_after_the_fix(backend: Backend) {
    let fake = FakeClockify::start().await;
    let hooks = Arc::new(Flaky::default());
    hooks.broken.store(true, Ordering::SeqCst);
    let gw = gateway_with(&fake, backend, hooks.clone(), 2).await;
    let tokens = install_against(&gw, &fake, "ws1", &["NEW_PROJECT"]).await;
    let token = &tokens[0].1;
    let body = json!({ "id": "p1", "workspaceId": "ws1", "name": "P", "clientAuthToken": "secret-value" });
    assert_eq!(gw.deliver("NEW_PROJECT", token, &body).await.status(), 200);
    assert_eq!(gw.deliver("NEW_PROJECT", token, &json!({ "id": "p2", "workspaceId": "ws1", "name": "Q" })).await.status(), 200);

    // Two failed attempts each: dead.
    let dead = wait_for_status(&gw, "ws1", "dead", 2).await;
    assert_eq!(hooks.runs.load(Ordering::SeqCst), 4);
    let first = &dead["items"][1];
    assert_eq!(first["attempts"], json!(2));
    assert_eq!(first["lastError"], json!("the handler is broken"));
    assert_eq!(first["body"]["clientAuthToken"], json!("***"), "secret-looking fields are redacted");
    assert_eq!(first["body"]["name"], json!("P"));
    // Another workspace's dead delivery: /metrics has one sum, and no workspace id.
    let other = install_against(&gw, &fake, "ws2", &["NEW_PROJECT"]).await;
    assert_eq!(gw.deliver("NEW_PROJECT", &other[0].1, &json!({ "id": "p3", "workspaceId": "ws2", "name": "R" })).await.status(), 200);
    wait_for_status(&gw, "ws2", "dead", 1).await;
    let text = gw.metrics().await;
    assert_eq!(metric(&text, "gateway_dead_letters "), 3.0, "{text}");
    // Route templates name the parameter (`{workspace_id}`), never a value or a workspace label.
    assert!(!text.contains("ws1") && !text.contains("ws2") && !text.contains("workspace_id=\""), "{text}");

    // Fixed, replayed by id: each runs once more and is done.
    hooks.broken.store(false, Ordering::SeqCst);
    let ids: Vec<Value> = dead["items"].as_array().expect("items").iter().map(|d| d["id"].clone()).collect();
    let r = replay(&gw, "ws1", json!({ "ids": [ids[0], ids[1], "not-a-delivery"] })).await;
    assert_eq!((r["replayed"].as_u64(), r["skipped"].as_u64(), r["failed"].as_u64()), (Some(2), Some(0), Some(1)));
    wait_for_status(&gw, "ws1", "done", 2).await;
    assert_eq!(hooks.successes.load(Ordering::SeqCst), 2);

    // Again, by filter: already handled, so nothing runs.
    let r = replay(&gw, "ws1", json!({ "event": "NEW_PROJECT" })).await;
    assert_eq!((r["replayed"].as_u64(), r["skipped"].as_u64()), (Some(0), Some(2)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.successes.load(Ordering::SeqCst), 2, "a handled delivery is not handled again");
    assert_eq!(metric(&gw.metrics().await, "gateway_dead_letters "), 1.0, "ws2's is still dead");

    // Unless forced.
    let r = replay(&gw, "ws1", json!({ "ids": [ids[0]], "force": true })).await;
    assert_eq!(r["replayed"].as_u64(), Some(1));
    for _ in 0..200 {
        if hooks.successes.load(Ordering::SeqCst) == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hooks.successes.load(Ordering::SeqCst), 3);
    assert!(metric(&gw.metrics().await, "gateway_delivery_replays_total{outcome=\"replayed\"}") >= 3.0);
}

async fn the_delivery_log_filters_and_pages(backend: Backend) {
    let fake = FakeClockify::start().await;
    let gw = gateway_with(&fake, backend, Arc::new(clockify_gateway::NoHooks), 5).await;
    let tokens = install_against(&gw, &fake, "ws1", &["NEW_PROJECT", "NEW_TAG"]).await;
    for i in 0..7 {
        let (event, token) = &tokens[i % 2];
        assert_eq!(gw.deliver(event, token, &json!({ "id": format!("e{i}"), "workspaceId": "ws1", "name": "n" })).await.status(), 200);
    }
    wait_for_status(&gw, "ws1", "done", 7).await;
    let tags = deliveries(&gw, "ws1", "?event=NEW_TAG").await;
    assert_eq!(tags["items"].as_array().map(Vec::len), Some(3));
    assert!(tags["items"].as_array().expect("items").iter().all(|d| d["event"] == json!("NEW_TAG")));
    // Paged newest first, without gaps or repeats.
    let mut seen = Vec::new();
    let mut query = "?limit=3".to_owned();
    loop {
        let page = deliveries(&gw, "ws1", &query).await;
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|d| (d["receivedAt"].as_i64().unwrap_or(0), d["id"].as_str().unwrap_or("").to_owned())),
        );
        match page["next"].as_str() {
            Some(n) => query = format!("?limit=3&before={n}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, seen, "newest first, each once");
    let future = deliveries(&gw, "ws1", "?from=99999999999999").await;
    assert_eq!(future["items"], json!([]));
    let bad = gw
        .http
        .get(gw.url("/admin/deliveries/ws1?status=lost"))
        .header("x-addon-token", admin(&gw, "ws1", "OWNER"))
        .send()
        .await
        .expect("get");
    assert_eq!(bad.status(), 400, "an unknown status is the caller's error");
    let bad = gw
        .http
        .get(gw.url("/admin/deliveries/ws1?before=garbage"))
        .header("x-addon-token", admin(&gw, "ws1", "OWNER"))
        .send()
        .await
        .expect("get");
    assert_eq!(bad.status(), 400);
    let empty = gw
        .http
        .post(gw.url("/admin/deliveries/ws1/replay"))
        .header("x-addon-token", admin(&gw, "ws1", "OWNER"))
        .json(&json!({}))
        .send()
        .await
        .expect("post");
    assert_eq!(empty.status(), 400, "a replay names ids or a filter");
}

async fn every_admin_route_refuses_others(backend: Backend) {
    let fake = FakeClockify::start().await;
    let gw = gateway_with(&fake, backend, Arc::new(clockify_gateway::NoHooks), 5).await;
    install_against(&gw, &fake, "ws1", &[]).await;
    let ids = json!({ "ids": [] });
    let flow = json!({ "name": "f", "trigger": { "events": ["NEW_PROJECT"] }, "steps": [{ "id": "s", "operationId": "getTags" }] });
    let routes = [
        ("GET", "/admin/installations/ws1", &ids),
        ("POST", "/admin/installations/ws1/webhooks/reregister", &ids),
        ("GET", "/admin/deliveries/ws1", &ids),
        ("POST", "/admin/deliveries/ws1/replay", &ids),
        ("POST", "/bootstrap/ws1", &ids),
        ("DELETE", "/bootstrap/ws1", &ids),
        ("GET", "/bootstrap/ws1/status", &ids),
        ("GET", "/bootstrap/ws1/entities/project", &ids),
        // Flows: a valid body each, so only the caller is refused.
        ("GET", "/admin/flows/ws1", &ids),
        ("POST", "/admin/flows/ws1", &flow),
        ("PUT", "/admin/flows/ws1/f1", &flow),
        ("DELETE", "/admin/flows/ws1/f1", &ids),
        ("POST", "/admin/flows/ws1/f1/enable", &ids),
        ("POST", "/admin/flows/ws1/f1/disable", &ids),
        ("GET", "/admin/flows/ws1/executions", &ids),
        ("POST", "/admin/flows/ws1/f1/dry-run", &json!({ "deliveryId": "d1" })),
        ("POST", "/admin/flows/ws1/deliveries/d1/run", &json!({})),
    ];
    for (method, path, body) in routes {
        let send = |token: Option<String>| {
            let mut r = gw.http.request(method.parse().expect("method"), gw.url(path)).json(body);
            if let Some(t) = token {
                r = r.header("x-addon-token", t);
            }
            r.send()
        };
        assert_eq!(send(None).await.expect("send").status(), 401, "{method} {path}: no token");
        assert_eq!(send(Some(admin(&gw, "ws1", "TEAM_MANAGER"))).await.expect("send").status(), 403, "{method} {path}: not an admin");
        assert_eq!(send(Some(admin(&gw, "ws1", "REGULAR_USER"))).await.expect("send").status(), 403, "{method} {path}: a user");
        assert_eq!(send(Some(admin(&gw, "ws2", "OWNER"))).await.expect("send").status(), 401, "{method} {path}: another workspace");
        assert_eq!(send(Some("not.a.token".into())).await.expect("send").status(), 401, "{method} {path}: garbage");
    }
}

async fn a_replay_names_at_most_1000_ids(backend: Backend) {
    let fake = FakeClockify::start().await;
    let gw = gateway_with(&fake, backend, Arc::new(clockify_gateway::NoHooks), 5).await;
    install_against(&gw, &fake, "ws1", &["NEW_PROJECT"]).await;
    let post = |n: usize| {
        let ids: Vec<String> = (0..n).map(|i| format!("d{i}")).collect();
        gw.http
            .post(gw.url("/admin/deliveries/ws1/replay"))
            .header("x-addon-token", admin(&gw, "ws1", "OWNER"))
            .json(&json!({ "ids": ids }))
            .send()
    };
    let r = post(1001).await.expect("post");
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.expect("problem JSON");
    assert_eq!(p["status"], 400, "{p}");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("field `ids` verification failed. maxItems(1000)")), "{p}");
    assert_eq!(metric(&gw.metrics().await, "gateway_delivery_replays_total{outcome=\"failed\"}"), 0.0, "nothing was looked up");
    // 1,000 passes validation: every id is looked up (none is a delivery).
    let r = post(1000).await.expect("post");
    assert_eq!(r.status(), 200);
    let done: Value = r.json().await.expect("json");
    assert_eq!(done["failed"], 1000, "{}", done["replayed"]);
    // The served contract says so.
    let spec: Value = gw.http.get(gw.url("/openapi.json")).send().await.expect("spec").json().await.expect("json");
    assert_eq!(
        spec["components"]["schemas"]["ReplayRequest"]["properties"]["ids"]["maxItems"], 1000,
        "{}",
        spec["components"]["schemas"]["ReplayRequest"]
    );
}

on_both_backends! {
    a_replay_names_at_most_1000_ids => a_replay_names_at_most_1000_ids;
    reregistration_restores_exactly_the_lost_webhooks => reregistration_restores_exactly_the_lost_webhooks;
    dead_letters_are_replayed_once_after_the_fix => dead_letters_are_replayed_once_after_the_fix;
    the_delivery_log_filters_and_pages => the_delivery_log_filters_and_pages;
    every_admin_route_refuses_others => every_admin_route_refuses_others;
}
