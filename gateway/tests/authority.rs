//! Installation authority, tried as an attacker would, on SQLite and
//! PostgreSQL: every kind of token Clockify issues against every route that
//! takes one; lifecycle calls bound to the live installation; an uninstall
//! that forgets, with every workspace-scoped route 404 afterwards; no work
//! for unsigned webhook bodies; Clockify's calls and the members' requests
//! on separate rate buckets.

mod support;

use std::time::Duration;

use clockify_testkit::FakeClockify;
use serde_json::{Value, json};
use support::{Backend, TestGateway, addon_claims, config_for, installed_body, metric};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REST_EVENT: &str = "PROJECT_UPDATED";

/// A gateway whose installations live on a fake Clockify.
struct Env {
    fake: FakeClockify,
    gw: TestGateway,
}

/// The tokens of one installation, one of each kind Clockify issues.
struct Tokens {
    lifecycle: String,
    installation: String,
    webhook: String,
    rest_webhook: String,
    user: String,
}

impl Tokens {
    fn all(&self) -> [(&'static str, &str); 5] {
        [
            ("lifecycle", &self.lifecycle),
            ("installation", &self.installation),
            ("webhook", &self.webhook),
            ("rest_webhook", &self.rest_webhook),
            ("user", &self.user),
        ]
    }
}

async fn env(backend: Backend) -> Env {
    env_with(backend, |_| {}).await
}

async fn env_with(backend: Backend, tune: impl FnOnce(&mut clockify_gateway::Config)) -> Env {
    let fake = FakeClockify::start().await;
    let mut c = config_for(backend).await;
    c.allowed_api_hosts.push(format!("http://{}", fake.addr()).parse().expect("http://host:port"));
    c.addon_base_url = "https://addon.example.com".parse().expect("url");
    tune(&mut c);
    let gw = TestGateway::start_with(c).await;
    Env { fake, gw }
}

impl Env {
    /// INSTALLED for `ws`/`addon` with a NEW_TAG manifest webhook and the
    /// REST webhook for PROJECT_UPDATED registered at the fake.
    async fn install(&self, ws: &str, addon: &str) -> Tokens {
        self.fake.serve_webhooks(ws);
        let mut installation = addon_claims(ws, addon);
        installation["user"] = json!("owner1");
        installation["backendUrl"] = json!(self.fake.core_url());
        installation["reportsUrl"] = json!(self.fake.reports_url());
        let installation = self.gw.sign(&installation);
        let mut hook = addon_claims(ws, addon);
        hook["purpose"] = json!("webhook NEW_TAG");
        let webhook = self.gw.sign(&hook);
        let lifecycle = self.gw.addon_token(ws, addon);
        let body = installed_body(ws, addon, &installation, &[("NEW_TAG".to_owned(), webhook.clone())]);
        let r = self.gw.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &lifecycle), &body).await;
        assert_eq!(r.status(), 200, "install: {}", r.text().await.unwrap_or_default());
        // The registration job runs against the fake; once it has, the REST
        // webhook's token is replaced by one signed as Clockify signs them
        // (the fake's are opaque strings).
        let mut id = None;
        for _ in 0..200 {
            let rows = self.gw.state.installations.webhook_tokens(ws).await.expect("read");
            id = rows.into_iter().find(|r| r.event == REST_EVENT && r.state == "active").and_then(|r| r.webhook_id);
            if id.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let id = id.expect("the REST webhook was registered");
        let rest_webhook =
            self.gw.sign(&json!({ "iss": "clockify", "type": "access", "sub": "owner1", "workspaceId": ws, "exp": 4_000_000_000u64 }));
        self.gw.state.installations.store_registered_webhook(ws, REST_EVENT, &id, &rest_webhook).await.expect("store");
        Tokens { lifecycle, installation, webhook, rest_webhook, user: self.user_token(ws, addon, "OWNER") }
    }

    fn user_token(&self, ws: &str, addon: &str, role: &str) -> String {
        let mut c = addon_claims(ws, addon);
        c["user"] = json!("admin1");
        c["backendUrl"] = json!(self.fake.core_url());
        c["reportsUrl"] = json!(self.fake.reports_url());
        support::as_user(&mut c, role);
        self.gw.sign(&c)
    }

    async fn send(&self, method: &str, path: &str, header: &str, token: &str, body: Option<&Value>) -> reqwest::Response {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = self.gw.http.request(method, self.gw.url(path)).header(header, token);
        if header == "clockify-signature" {
            let event = path.rsplit('/').next().unwrap_or_default();
            r = r.header("clockify-webhook-event-type", event);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.expect("request reaches the gateway")
    }
}

/// One route that takes a token: its template as the served spec names it,
/// a request that passes every other check, and the status each kind of
/// token gets.
struct Route {
    method: &'static str,
    template: &'static str,
    path: String,
    header: &'static str,
    body: Option<Value>,
    /// Status per kind, in the order of `Tokens::all`; `0` = anything but 401.
    want: [u16; 5],
}

/// A flow the stock add-on may save: on NEW_TAG, read the workspace's tags.
fn read_only_flow() -> Value {
    json!({
        "name": "read tags",
        "trigger": { "events": ["NEW_TAG"] },
        "steps": [{ "id": "tags", "operationId": "getTags", "query": { "name": "{{payload.name}}" } }]
    })
}

/// Statuses for the routes a member's user token opens.
const USER_ONLY: [u16; 5] = [401, 401, 401, 401, 0];

fn routes(ws: &str, addon: &str) -> Vec<Route> {
    let lifecycle = |template: &'static str, path: &str, body: Value| Route {
        method: "POST",
        template,
        path: path.to_owned(),
        header: "X-Addon-Lifecycle-Token",
        body: Some(body),
        // Lifecycle tokens' claims are not documented: any add-on token
        // without user claims is one (see token.rs); user and REST tokens never are.
        want: [200, 200, 200, 401, 401],
    };
    let user = |method: &'static str, template: &'static str, path: String, body: Option<Value>| Route {
        method,
        template,
        path,
        header: "X-Addon-Token",
        body,
        want: USER_ONLY,
    };
    let tag = json!({ "id": "t1", "name": "urgent", "workspaceId": ws });
    vec![
        lifecycle(
            "/lifecycle/status-changed",
            "/lifecycle/status-changed",
            json!({ "workspaceId": ws, "addonId": addon, "status": "ACTIVE" }),
        ),
        lifecycle(
            "/lifecycle/settings-updated",
            "/lifecycle/settings-updated",
            json!({ "workspaceId": ws, "addonId": addon, "settings": [{ "id": "s1", "name": "S", "value": "x" }] }),
        ),
        // The manifest webhook's own token is the only one stored for its
        // event; other add-on tokens verify but are not it (403).
        Route {
            method: "POST",
            template: "/webhooks/{event}",
            path: "/webhooks/NEW_TAG".into(),
            header: "clockify-signature",
            body: Some(tag.clone()),
            want: [403, 401, 200, 401, 401],
        },
        Route {
            method: "POST",
            template: "/webhooks/{event}",
            path: format!("/webhooks/{REST_EVENT}"),
            header: "clockify-signature",
            body: Some(json!({ "id": "p1", "name": "Apollo", "workspaceId": ws })),
            want: [403, 403, 403, 200, 401],
        },
        user("GET", "/admin/installations/{workspace_id}", format!("/admin/installations/{ws}"), None),
        user(
            "POST",
            "/admin/installations/{workspace_id}/webhooks/reregister",
            format!("/admin/installations/{ws}/webhooks/reregister"),
            None,
        ),
        user("GET", "/admin/deliveries/{workspace_id}", format!("/admin/deliveries/{ws}"), None),
        user("POST", "/admin/deliveries/{workspace_id}/replay", format!("/admin/deliveries/{ws}/replay"), Some(json!({ "ids": ["none"] }))),
        user("GET", "/bootstrap/{workspace_id}/status", format!("/bootstrap/{ws}/status"), None),
        user("GET", "/bootstrap/{workspace_id}/entities/{entity_type}", format!("/bootstrap/{ws}/entities/tag"), None),
        user("POST", "/bootstrap/{workspace_id}", format!("/bootstrap/{ws}"), None),
        user("DELETE", "/bootstrap/{workspace_id}", format!("/bootstrap/{ws}"), None),
        user(
            "POST",
            "/ui/api-explorer/execute",
            "/ui/api-explorer/execute".into(),
            Some(json!({ "operationId": "getTags", "pathParams": { "workspaceId": ws }, "dryRun": true })),
        ),
        user(
            "POST",
            "/api-call",
            "/api-call".into(),
            Some(json!({ "method": "GET", "path": format!("/v1/workspaces/{ws}/tags"), "dryRun": true })),
        ),
        user("GET", "/ui/api-explorer/history", "/ui/api-explorer/history".into(), None),
        user("GET", "/admin/flows/{workspace_id}", format!("/admin/flows/{ws}"), None),
        user("POST", "/admin/flows/{workspace_id}", format!("/admin/flows/{ws}"), Some(read_only_flow())),
        user("PUT", "/admin/flows/{workspace_id}/{flow_id}", format!("/admin/flows/{ws}/none"), Some(read_only_flow())),
        user("DELETE", "/admin/flows/{workspace_id}/{flow_id}", format!("/admin/flows/{ws}/none"), None),
        user("POST", "/admin/flows/{workspace_id}/{flow_id}/enable", format!("/admin/flows/{ws}/none/enable"), None),
        user("POST", "/admin/flows/{workspace_id}/{flow_id}/disable", format!("/admin/flows/{ws}/none/disable"), None),
        user("GET", "/admin/flows/{workspace_id}/executions", format!("/admin/flows/{ws}/executions"), None),
        user(
            "POST",
            "/admin/flows/{workspace_id}/{flow_id}/dry-run",
            format!("/admin/flows/{ws}/none/dry-run"),
            Some(json!({ "deliveryId": "none" })),
        ),
        user(
            "POST",
            "/admin/flows/{workspace_id}/deliveries/{delivery_id}/run",
            format!("/admin/flows/{ws}/deliveries/none/run"),
            Some(json!({})),
        ),
        user(
            "POST",
            "/ui/api-explorer/history/{id}/replay",
            "/ui/api-explorer/history/none/replay".into(),
            Some(json!({ "dryRun": true })),
        ),
        // Last: it removes the installation. Accepted kinds after the first
        // answer 200 `ignored`.
        lifecycle("/lifecycle/deleted", "/lifecycle/deleted", json!({ "workspaceId": ws, "addonId": addon, "asUser": "owner1" })),
        // INSTALLED after the uninstall names a deleted installation: ignored,
        // but only after the token is checked.
        lifecycle("/lifecycle/installed", "/lifecycle/installed", json!({ "workspaceId": ws, "addonId": addon, "authToken": "x" })),
    ]
}

async fn every_kind_of_token_meets_every_route_that_takes_one(backend: Backend) {
    let e = env(backend).await;
    let tokens = e.install("ws1", "a1").await;
    let routes = routes("ws1", "a1");

    // The table covers every route of the served spec that takes a token.
    let spec: Value = e.gw.http.get(e.gw.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut secured: Vec<String> = Vec::new();
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            if op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty())) {
                secured.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    secured.sort();
    let mut tried: Vec<String> = routes.iter().map(|r| format!("{} {}", r.method, r.template)).collect();
    tried.sort();
    tried.dedup();
    assert_eq!(tried, secured, "every route that takes a token is in the matrix, and only those");

    let mut wrong = Vec::new();
    for route in &routes {
        for (i, (kind, token)) in tokens.all().into_iter().enumerate() {
            let r = e.send(route.method, &route.path, route.header, token, route.body.as_ref()).await;
            let got = r.status().as_u16();
            let want = route.want[i];
            let fits = if want == 0 { got != 401 && got < 500 } else { got == want };
            if !fits {
                let text = r.text().await.unwrap_or_default();
                wrong.push(format!("{} {} with a {kind} token: want {want}, got {got} {text}", route.method, route.path));
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {} tries answered wrongly:\n{}", wrong.len(), routes.len() * 5, wrong.join("\n"));
}

async fn another_workspaces_token_and_an_uninstalled_workspace_get_nothing(backend: Backend) {
    let e = env(backend).await;
    e.install("ws1", "a1").await;
    let other = e.install("ws2", "a2").await;
    // ws2's admin on ws1's routes: the token is bound to its own workspace.
    for route in routes("ws1", "a1").into_iter().filter(|r| r.header == "X-Addon-Token" && r.path.contains("/ws1")) {
        let r = e.send(route.method, &route.path, route.header, &other.user, route.body.as_ref()).await;
        assert_eq!(r.status(), 401, "{} {} with ws2's admin token", route.method, route.path);
    }
    // After ws1's DELETED, its own admin's unexpired token finds nothing.
    let ws1_admin = e.user_token("ws1", "a1", "OWNER");
    let deleted = json!({ "workspaceId": "ws1", "addonId": "a1", "asUser": "owner1" });
    let r = e.gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &e.gw.addon_token("ws1", "a1")), &deleted).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "deleted" }));
    let mut wrong = Vec::new();
    for route in routes("ws1", "a1").into_iter().filter(|r| r.header == "X-Addon-Token") {
        let r = e.send(route.method, &route.path, route.header, &ws1_admin, route.body.as_ref()).await;
        if r.status() != 404 {
            wrong.push(format!("{} {}: {}", route.method, route.path, r.status()));
        }
    }
    assert!(wrong.is_empty(), "after uninstall every workspace-scoped route is 404:\n{}", wrong.join("\n"));
    // ws2 is untouched.
    for route in routes("ws2", "a2").into_iter().filter(|r| r.header == "X-Addon-Token" && r.method == "GET") {
        let r = e.send(route.method, &route.path, route.header, &other.user, route.body.as_ref()).await;
        assert_eq!(r.status(), 200, "{} {} of the other workspace", route.method, route.path);
    }
}

async fn lifecycle_calls_naming_a_deleted_installation_change_nothing(backend: Backend) {
    let e = env(backend).await;
    e.install("ws1", "old").await;
    let deleted_old = json!({ "workspaceId": "ws1", "addonId": "old", "asUser": "owner1" });
    let old_lifecycle = e.gw.addon_token("ws1", "old");
    assert_eq!(e.gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &old_lifecycle), &deleted_old).await.status(), 200);
    // Installed again: a new addonId, a new REST webhook at the fake.
    e.install("ws1", "new").await;
    for _ in 0..200 {
        if e.fake.webhooks("ws1").len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let registered: Vec<Value> = e.fake.webhooks("ws1");
    assert_eq!(registered.len(), 3, "the new installation's REST webhooks only: {registered:?}");
    e.fake.clear_requests();

    // Replays of the old installation's calls, each properly signed for it.
    let replays = [
        ("/lifecycle/deleted", deleted_old.clone()),
        ("/lifecycle/status-changed", json!({ "workspaceId": "ws1", "addonId": "old", "status": "INACTIVE" })),
        ("/lifecycle/settings-updated", json!({ "workspaceId": "ws1", "addonId": "old", "settings": [{ "id": "s", "value": "evil" }] })),
    ];
    for (path, body) in &replays {
        let r = e.gw.post(path, ("X-Addon-Lifecycle-Token", &old_lifecycle), body).await;
        assert_eq!(r.status(), 200, "{path}: Clockify must not retry it");
        assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ignored" }), "{path}");
    }
    let mut old_install = addon_claims("ws1", "old");
    old_install["user"] = json!("owner1");
    old_install["backendUrl"] = json!(e.fake.core_url());
    let body = installed_body("ws1", "old", &e.gw.sign(&old_install), &[]);
    let r = e.gw.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &old_lifecycle), &body).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ignored" }), "INSTALLED of a deleted installation");

    assert!(
        e.fake.requests().is_empty(),
        "nothing reached Clockify: {:?}",
        e.fake.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>()
    );
    assert_eq!(e.fake.webhooks("ws1"), registered, "the new installation's webhooks are still there");
    let i = e.gw.state.installations.get("ws1").await.unwrap().expect("installation");
    assert_eq!((i.addon_id.as_str(), i.status), ("new", clockify_gateway::store::InstallationStatus::Active));
    assert_eq!(i.settings, None, "the old installation's settings were not stored");
    assert_eq!(metric(&e.gw.metrics().await, "gateway_lifecycle_events_total{type=\"deleted\",outcome=\"ignored\"}"), 1.0);

    // A DELETED naming an addonId never installed changes nothing either.
    let stranger = json!({ "workspaceId": "ws1", "addonId": "stranger", "asUser": "owner1" });
    let r = e.gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &e.gw.addon_token("ws1", "stranger")), &stranger).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ignored" }));
    assert!(e.fake.requests().is_empty());
    // The live installation's own DELETED still works.
    let deleted_new = json!({ "workspaceId": "ws1", "addonId": "new", "asUser": "owner1" });
    let r = e.gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &e.gw.addon_token("ws1", "new")), &deleted_new).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "deleted" }));
    assert!(e.fake.webhooks("ws1").is_empty(), "its REST webhook was removed");
}

/// Rows of `ws` in the tables an uninstall empties, by table.
async fn rows(gw: &TestGateway, ws: &str) -> Vec<(&'static str, i64)> {
    gw.state.cleanup.remaining(ws).await.expect("count")
}

async fn fill(e: &Env, ws: &str, addon: &str) -> Tokens {
    let tokens = e.install(ws, addon).await;
    for i in 0..3 {
        let r = e
            .send(
                "POST",
                "/webhooks/NEW_TAG",
                "clockify-signature",
                &tokens.webhook,
                Some(&json!({ "id": format!("t{i}"), "name": "n", "workspaceId": ws })),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let settings = json!({ "workspaceId": ws, "addonId": addon, "settings": [{ "id": "s1", "value": "secret-ish" }] });
    assert_eq!(e.gw.post("/lifecycle/settings-updated", ("X-Addon-Lifecycle-Token", &tokens.lifecycle), &settings).await.status(), 200);
    let call = json!({ "operationId": "getTags", "pathParams": { "workspaceId": ws }, "dryRun": true });
    assert_eq!(e.gw.post("/ui/api-explorer/execute", ("X-Addon-Token", &tokens.user), &call).await.status(), 200);
    let r = e.gw.post(&format!("/admin/flows/{ws}"), ("X-Addon-Token", &tokens.user), &read_only_flow()).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    // The mirror holds the delivered tags once the inbox has handled them.
    for _ in 0..200 {
        if rows(&e.gw, ws).await.iter().any(|(t, n)| *t == "entities" && *n == 3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokens
}

async fn an_uninstall_forgets_the_workspace_and_only_it(backend: Backend) {
    let e = env(backend).await;
    let tokens = fill(&e, "ws1", "a1").await;
    fill(&e, "ws2", "a2").await;
    // A delivery after the flow was saved runs it (the fake has no tags route: it fails, recorded all the same).
    let r = e
        .send(
            "POST",
            "/webhooks/NEW_TAG",
            "clockify-signature",
            &tokens.webhook,
            Some(&json!({ "id": "t9", "name": "n", "workspaceId": "ws1" })),
        )
        .await;
    assert_eq!(r.status(), 200);
    for _ in 0..200 {
        if rows(&e.gw, "ws1").await.iter().any(|(t, n)| *t == "flow_executions" && *n > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let before = rows(&e.gw, "ws1").await;
    for table in
        ["deliveries", "delivery_keys", "entities", "bootstrap_runs", "explorer_calls", "flows", "flow_executions", "webhook_tokens"]
    {
        assert!(before.iter().any(|(t, n)| *t == table && *n > 0), "{table} has rows of ws1 before: {before:?}");
    }
    let other_before = rows(&e.gw, "ws2").await;

    let deleted = json!({ "workspaceId": "ws1", "addonId": "a1", "asUser": "owner1" });
    assert_eq!(e.gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &e.gw.addon_token("ws1", "a1")), &deleted).await.status(), 200);
    let mut after = Vec::new();
    for _ in 0..400 {
        after = rows(&e.gw, "ws1").await;
        if after.iter().all(|(_, n)| *n == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(after.iter().all(|(_, n)| *n == 0), "rows of ws1 left after the clean-up: {after:?}");
    let i = e.gw.state.installations.get("ws1").await.unwrap().expect("the tombstone stays");
    assert_eq!(i.settings, None, "settings deleted");
    assert!(e.gw.state.installations.sealed_secrets("ws1").await.unwrap().is_empty(), "secrets deleted");
    assert!(
        e.gw.state.delivery_log.list("ws1", &clockify_gateway::store::LogFilter::default(), None, 100).await.unwrap().is_empty(),
        "no delivery of ws1 is served"
    );
    assert_eq!(rows(&e.gw, "ws2").await, other_before, "the other workspace is untouched");
    assert!(e.gw.state.installations.get("ws2").await.unwrap().unwrap().settings.is_some());
}

/// Writes a request head with a 5 MB body announced and sends no body:
/// the answer must come anyway, without the gateway waiting for the body.
async fn head_only(base: &str, signature: &str, event_header: &str) -> Option<u16> {
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /webhooks/NEW_TAG HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\
         clockify-signature: {signature}\r\nclockify-webhook-event-type: {event_header}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("write head");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split(' ').nth(1).and_then(|code| code.parse().ok())
}

async fn unsigned_bodies_are_refused_before_they_are_read(backend: Backend) {
    use clockify_testkit::tokens::{TokenFactory, key};
    let e = env(backend).await;
    let tokens = e.install("ws1", "a1").await;
    let forged = TokenFactory::new(&key("test-rsa-private-2.pem")).sign(&addon_claims("ws1", "a1"));
    assert_eq!(head_only(&e.gw.base, &forged, "NEW_TAG").await, Some(401), "a bad signature is answered before the body is sent");
    assert_eq!(head_only(&e.gw.base, &tokens.user, "NEW_TAG").await, Some(401), "a user token too");
    assert_eq!(head_only(&e.gw.base, &tokens.webhook, "NEW_PROJECT").await, Some(400), "a wrong event header too");
    let text = e.gw.metrics().await;
    assert!(metric(&text, "gateway_auth_failures_total{reason=\"signature\"}") >= 1.0);
    assert!(metric(&text, "gateway_auth_failures_total{reason=\"event_type\"}") >= 1.0);

    // Failed checks count against the address: past its budget, even a
    // genuine delivery from it is refused unread until the budget refills.
    let mut refused = None;
    for n in 0..400 {
        let r = e.send("POST", "/webhooks/NEW_TAG", "clockify-signature", &forged, Some(&json!({ "workspaceId": "ws1" }))).await;
        if r.status() == 429 {
            refused = Some(n);
            break;
        }
        assert_eq!(r.status(), 401);
    }
    let n = refused.expect("failed checks are limited per address");
    assert!(n >= 100, "the budget allows a burst of failures first (refused after {n})");
    // The budget refills 20 a second: on a busy machine one may come back
    // between the last refusal and the genuine call, so the genuine call is
    // tried right after a refusal a few times; one refusal shows the rule.
    let mut genuine = Vec::new();
    for round in 0..5 {
        while e.send("POST", "/webhooks/NEW_TAG", "clockify-signature", &forged, Some(&json!({ "workspaceId": "ws1" }))).await.status()
            != 429
        {}
        let body = json!({ "id": format!("t9-{round}"), "workspaceId": "ws1" });
        let r = e.send("POST", "/webhooks/NEW_TAG", "clockify-signature", &tokens.webhook, Some(&body)).await;
        genuine.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            break;
        }
    }
    assert_eq!(genuine.last(), Some(&429), "a genuine delivery from an address past its budget is refused: {genuine:?}");
}

async fn members_cannot_crowd_out_the_workspaces_deliveries(backend: Backend) {
    let e = env_with(backend, |c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 20;
    })
    .await;
    let tokens = e.install("ws1", "a1").await;
    let dry_run = json!({ "operationId": "getTags", "pathParams": { "workspaceId": "ws1" }, "dryRun": true });
    let mut limited = false;
    for _ in 0..40 {
        if e.gw.post("/ui/api-explorer/execute", ("X-Addon-Token", &tokens.user), &dry_run).await.status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "a member's dry runs reach the workspace's limit");
    let r = e
        .send("POST", "/webhooks/NEW_TAG", "clockify-signature", &tokens.webhook, Some(&json!({ "id": "t1", "workspaceId": "ws1" })))
        .await;
    assert_eq!(r.status(), 200, "the workspace's deliveries have a bucket of their own");
    let r =
        e.gw.post(
            "/lifecycle/status-changed",
            ("X-Addon-Lifecycle-Token", &tokens.lifecycle),
            &json!({ "workspaceId": "ws1", "addonId": "a1", "status": "ACTIVE" }),
        )
        .await;
    assert_eq!(r.status(), 200, "and so have its lifecycle calls");
}

async fn installed_takes_an_installation_token_and_webhook_tokens_only(backend: Backend) {
    let e = env(backend).await;
    let lifecycle = e.gw.addon_token("ws1", "a1");
    let mut installation = addon_claims("ws1", "a1");
    installation["user"] = json!("owner1");
    installation["backendUrl"] = json!(e.fake.core_url());
    let good_installation = e.gw.sign(&installation);
    let mut user = installation.clone();
    support::as_user(&mut user, "OWNER");
    let user = e.gw.sign(&user);
    let webhook = e.gw.addon_token("ws1", "a1");
    let hooks = |t: &str| vec![("NEW_TAG".to_owned(), t.to_owned())];
    for (what, auth_token, hook) in [
        ("a user token as authToken", user.clone(), webhook.clone()),
        ("a token without backendUrl as authToken", e.gw.addon_token("ws1", "a1"), webhook.clone()),
        ("a user token as a webhook's authToken", good_installation.clone(), user.clone()),
        ("the installation token as a webhook's authToken", good_installation.clone(), good_installation.clone()),
    ] {
        let r = e
            .gw
            .post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &lifecycle), &installed_body("ws1", "a1", &auth_token, &hooks(&hook)))
            .await;
        assert_eq!(r.status(), 401, "{what}");
        assert!(e.gw.state.installations.get("ws1").await.unwrap().is_none(), "{what}: nothing stored");
    }
    assert!(metric(&e.gw.metrics().await, "gateway_auth_failures_total{reason=\"kind\"}") >= 4.0);
    let r =
        e.gw.post(
            "/lifecycle/installed",
            ("X-Addon-Lifecycle-Token", &lifecycle),
            &installed_body("ws1", "a1", &good_installation, &hooks(&webhook)),
        )
        .await;
    assert_eq!(r.status(), 200, "the right kinds install");
}

on_both_backends! {
    installed_takes_an_installation_token_and_webhook_tokens_only => installed_takes_an_installation_token_and_webhook_tokens_only;
    every_kind_of_token_meets_every_route_that_takes_one => every_kind_of_token_meets_every_route_that_takes_one;
    another_workspaces_token_and_an_uninstalled_workspace_get_nothing => another_workspaces_token_and_an_uninstalled_workspace_get_nothing;
    lifecycle_calls_naming_a_deleted_installation_change_nothing => lifecycle_calls_naming_a_deleted_installation_change_nothing;
    an_uninstall_forgets_the_workspace_and_only_it => an_uninstall_forgets_the_workspace_and_only_it;
    unsigned_bodies_are_refused_before_they_are_read => unsigned_bodies_are_refused_before_they_are_read;
    members_cannot_crowd_out_the_workspaces_deliveries => members_cannot_crowd_out_the_workspaces_deliveries;
}
