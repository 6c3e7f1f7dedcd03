//! What an add-on author builds on: the context every hook gets (the
//! installation's client, typed settings, the entity mirror), lifecycle
//! hooks run durably from the queue, and the add-on's own routes behind
//! `VerifiedUser`, mounted by `Application::builder`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clockify_gateway::clockify_client::types::TagDtoV1;
use clockify_gateway::poem_openapi::{self, OpenApi, payload::PlainText};
use clockify_gateway::{AddonContext, AddonHooks, AddonManifest, Application, HandlerError, HandlerFuture, LifecycleDelivery};
use clockify_gateway::{Contexts, LifecycleEvent, StartupError, VerifiedUser, WebhookDelivery};
use clockify_testkit::FakeClockify;
use serde_json::{Value, json};
use support::{Backend, TestGateway, addon_claims, as_user, config_for, installation_claims, installed_body};

/// Installs `ws`/`addon` with an installation token whose `backendUrl` is
/// the fake's; returns the installation token and the webhook tokens.
async fn install_at(gw: &TestGateway, fake: &FakeClockify, ws: &str, addon: &str, events: &[&str]) -> (String, Vec<(String, String)>) {
    let mut claims = installation_claims(ws, addon);
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    let install_token = gw.sign(&claims);
    let hooks: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            let mut c = addon_claims(ws, addon);
            c["purpose"] = json!(format!("webhook {e}"));
            (e.to_string(), gw.sign(&c))
        })
        .collect();
    let r = gw
        .post(
            "/lifecycle/installed",
            ("X-Addon-Lifecycle-Token", &gw.addon_token(ws, addon)),
            &installed_body(ws, addon, &install_token, &hooks),
        )
        .await;
    assert_eq!(r.status(), 200, "install: {}", r.text().await.unwrap_or_default());
    (install_token, hooks)
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The settings type an add-on's `cargo xtask regen` would generate.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default)]
struct TagSettings {
    #[serde(rename = "tag-name")]
    tag_name: String,
    enabled: bool,
}

impl Default for TagSettings {
    fn default() -> Self {
        Self { tag_name: "needs-project".into(), enabled: true }
    }
}

/// What the webhook hook saw, one line per delivery.
#[derive(Default)]
struct Seen {
    lines: Mutex<Vec<String>>,
}

struct ContextHooks(Arc<Seen>);

impl ContextHooks {
    async fn handle(&self, ctx: &AddonContext, d: &WebhookDelivery) -> Result<(), HandlerError> {
        let settings: TagSettings = ctx.settings().await?;
        let installation = ctx.installation().await?;
        let tag_id = d.payload_id();
        // The previous delivery's tag is in the mirror by now (written with
        // its completion, before this one was handled).
        let mirrored: Vec<Value> = ctx.mirror().list("tag").await?;
        // One entity by id, typed: the first delivery's tag once mirrored;
        // an id the mirror never saw is None, not an error.
        let first: Option<TagDtoV1> = ctx.mirror().get("tag", "t1").await?;
        let first = first.and_then(|t| t.name).unwrap_or_else(|| "-".into());
        let unknown = ctx.mirror().get::<Value>("tag", "no-such-tag").await?;
        let client = ctx.client().await?;
        client.get_tags().workspace_id(ctx.workspace_id()).name(settings.tag_name.clone()).send().await?;
        self.0.lines.lock().unwrap().push(format!(
            "{} {} tag={} enabled={} mirrored={} this={} t1={} unknown={:?}",
            installation.workspace_id,
            installation.addon_id,
            settings.tag_name,
            settings.enabled,
            mirrored.len(),
            tag_id,
            first,
            unknown
        ));
        Ok(())
    }
}

trait PayloadId {
    fn payload_id(&self) -> String;
}

impl PayloadId for WebhookDelivery {
    fn payload_id(&self) -> String {
        match &self.payload {
            clockify_gateway::WebhookPayload::Tag(t) => t.id.clone().unwrap_or_default(),
            _ => String::new(),
        }
    }
}

impl AddonHooks for ContextHooks {
    fn on_webhook<'a>(&'a self, ctx: &'a AddonContext, d: &'a WebhookDelivery) -> HandlerFuture<'a> {
        Box::pin(self.handle(ctx, d))
    }
}

async fn hooks_act_with_the_installation_context(backend: Backend) {
    let fake = FakeClockify::start().await;
    let mut c = config_for(backend).await;
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let seen = Arc::new(Seen::default());
    let gw = TestGateway::start_with_hooks(c, Arc::new(ContextHooks(seen.clone()))).await;
    let (install_token, hooks) = install_at(&gw, &fake, "ws1", "a1", &["NEW_TAG"]).await;
    fake.require_addon_token(&install_token);
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    let tag = |id: &str| json!({ "id": id, "name": format!("tag {id}"), "workspaceId": "ws1", "archived": false });

    assert_eq!(gw.deliver("NEW_TAG", &hooks[0].1, &tag("t1")).await.status(), 200);
    eventually("the first delivery's handler", || seen.lines.lock().unwrap().len() == 1).await;
    assert_eq!(
        seen.lines.lock().unwrap()[0],
        "ws1 a1 tag=needs-project enabled=true mirrored=0 this=t1 t1=- unknown=None",
        "defaults before any SETTINGS_UPDATED"
    );
    let calls: Vec<_> = fake.requests().into_iter().filter(|r| r.path.ends_with("/tags")).collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].header("x-addon-token"), Some(install_token.as_str()), "the call acts for the installation");
    assert_eq!(calls[0].query_param("name").as_deref(), Some("needs-project"));

    let settings = json!({ "workspaceId": "ws1", "addonId": "a1", "settings": [
        { "id": "tag-name", "name": "Tag", "value": "review" }, { "id": "enabled", "name": "On", "value": false } ] });
    let r = gw.post("/lifecycle/settings-updated", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")), &settings).await;
    assert_eq!(r.status(), 200);
    assert_eq!(gw.deliver("NEW_TAG", &hooks[0].1, &tag("t2")).await.status(), 200);
    eventually("the second delivery's handler", || seen.lines.lock().unwrap().len() == 2).await;
    assert_eq!(
        seen.lines.lock().unwrap()[1],
        "ws1 a1 tag=review enabled=false mirrored=1 this=t2 t1=tag t1 unknown=None",
        "new settings without a restart; t1 mirrored, listed and got by id"
    );
    let names: Vec<_> = fake.requests().into_iter().filter(|r| r.path.ends_with("/tags")).filter_map(|r| r.query_param("name")).collect();
    assert_eq!(names, ["needs-project", "review"]);
    // Each of those is timed: the hook's calls, the deliveries' wait, the route.
    let m = gw.metrics().await;
    let count = |series: &str| support::metric(&m, series);
    assert_eq!(count("gateway_clockify_call_duration_seconds_count{operation=\"getTags\",status=\"200\"}"), 2.0, "{m}");
    assert_eq!(count("gateway_webhook_handled_delay_seconds_count{event=\"NEW_TAG\"}"), 2.0, "{m}");
    assert_eq!(count("gateway_http_request_duration_seconds_count{route=\"/webhooks/{event}\",status=\"2xx\"}"), 2.0, "{m}");
    assert!(count("gateway_http_request_duration_seconds_count{route=\"/lifecycle/installed\",status=\"2xx\"}") >= 1.0, "{m}");

    // Settings that do not fit the type are the handler's error (retried,
    // then dead), not a panic and not silently the defaults.
    let bad = json!({ "workspaceId": "ws1", "addonId": "a1", "settings": [{ "id": "enabled", "name": "On", "value": "yes" }] });
    assert_eq!(gw.post("/lifecycle/settings-updated", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")), &bad).await.status(), 200);
    let ctx_err = gw.state.context("ws1").settings::<TagSettings>().await.expect_err("a string is not a bool");
    assert!(ctx_err.to_string().contains("TagSettings") && ctx_err.to_string().contains("ws1"), "{ctx_err}");
}

/// Records every lifecycle hook run; fails INSTALLED's first two attempts.
#[derive(Default)]
struct LifecycleLog {
    runs: Mutex<Vec<(String, i64)>>,
}

struct FlakyLifecycle(Arc<LifecycleLog>, i64);

impl AddonHooks for FlakyLifecycle {
    fn on_lifecycle<'a>(&'a self, ctx: &'a AddonContext, d: &'a LifecycleDelivery) -> HandlerFuture<'a> {
        Box::pin(async move {
            assert_eq!(ctx.workspace_id(), d.event.workspace_id());
            self.0.runs.lock().unwrap().push((d.event.kind().to_owned(), d.attempt));
            if matches!(d.event, LifecycleEvent::Installed { .. }) && d.attempt <= self.1 {
                return Err(HandlerError::new(format!("not yet (attempt {})", d.attempt)));
            }
            Ok(())
        })
    }
}

async fn installation_view(gw: &TestGateway, ws: &str) -> Value {
    let mut claims = addon_claims(ws, "a1");
    as_user(&mut claims, "OWNER");
    let r = gw.http.get(gw.url(&format!("/admin/installations/{ws}"))).header("X-Addon-Token", gw.sign(&claims)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn lifecycle_hooks_run_from_the_queue_in_order_retried_once_per_call(backend: Backend) {
    let log = Arc::new(LifecycleLog::default());
    let gw = TestGateway::start_with_hooks(config_for(backend).await, Arc::new(FlakyLifecycle(log.clone(), 2))).await;
    gw.install("ws1", "a1", &[]).await;
    let t = gw.addon_token("ws1", "a1");
    let settings = json!({ "workspaceId": "ws1", "addonId": "a1", "settings": [{ "id": "s", "name": "S", "value": "x" }] });
    // Clockify sending the same call twice (no 2xx seen): one run.
    for _ in 0..2 {
        assert_eq!(gw.post("/lifecycle/settings-updated", ("X-Addon-Lifecycle-Token", &t), &settings).await.status(), 200);
    }
    let inactive = json!({ "workspaceId": "ws1", "addonId": "a1", "status": "INACTIVE" });
    assert_eq!(gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", &t), &inactive).await.status(), 200);
    // The same settings again after another call is a new event.
    assert_eq!(gw.post("/lifecycle/settings-updated", ("X-Addon-Lifecycle-Token", &t), &settings).await.status(), 200);

    eventually("every lifecycle hook", || log.runs.lock().unwrap().len() == 6).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let runs = log.runs.lock().unwrap().clone();
    let expected: Vec<(String, i64)> =
        [("INSTALLED", 1), ("INSTALLED", 2), ("INSTALLED", 3), ("SETTINGS_UPDATED", 1), ("STATUS_CHANGED", 1), ("SETTINGS_UPDATED", 1)]
            .iter()
            .map(|(k, a)| (k.to_string(), *a))
            .collect();
    assert_eq!(runs, expected, "retried with backoff, later calls wait for INSTALLED, the repeated call ran once");

    let view = installation_view(&gw, "ws1").await;
    let hooks = view["lifecycleHooks"].as_array().expect("listed");
    assert_eq!(hooks.len(), 4);
    let installed = hooks.iter().find(|h| h["kind"] == "INSTALLED").expect("INSTALLED listed");
    assert_eq!((installed["state"].as_str(), installed["attempts"].as_i64()), (Some("done"), Some(3)));
    assert_eq!(installed["lastError"], "not yet (attempt 2)", "the last failure stays visible");
    let metrics = gw.metrics().await;
    assert_eq!(support::metric(&metrics, "gateway_lifecycle_hooks_total{outcome=\"retry\"}"), 2.0, "{metrics}");
}

async fn a_lifecycle_hook_that_keeps_failing_is_dead_and_shown(backend: Backend) {
    let log = Arc::new(LifecycleLog::default());
    let mut c = config_for(backend).await;
    c.webhook_max_attempts = 2;
    let gw = TestGateway::start_with_hooks(c, Arc::new(FlakyLifecycle(log.clone(), i64::MAX))).await;
    gw.install("ws1", "a1", &[]).await;
    eventually("two attempts", || log.runs.lock().unwrap().len() == 2).await;
    let mut dead = Value::Null;
    for _ in 0..100 {
        dead = installation_view(&gw, "ws1").await["lifecycleHooks"][0].clone();
        if dead["state"] == "dead" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead["state"], "dead", "{dead}");
    assert_eq!(dead["lastError"], "not yet (attempt 2)");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(log.runs.lock().unwrap().len(), 2, "a dead hook is not run again");
}

on_both_backends! {
    hooks_act_with_the_installation_context => hooks_act_with_the_installation_context;
    lifecycle_hooks_run_from_the_queue_in_order_retried_once_per_call => lifecycle_hooks_run_from_the_queue_in_order_retried_once_per_call;
    a_lifecycle_hook_that_keeps_failing_is_dead_and_shown => a_lifecycle_hook_that_keeps_failing_is_dead_and_shown;
}

/// An add-on's own routes: a page and its data behind `VerifiedUser`.
struct PageApi {
    contexts: Contexts,
}

#[OpenApi]
impl PageApi {
    /// The add-on's sidebar page.
    #[oai(path = "/ui/page", method = "get")]
    async fn page(&self, user: VerifiedUser) -> PlainText<String> {
        let installed = self.contexts.for_user(&user).installation().await.map(|i| i.addon_id).unwrap_or_default();
        PlainText(format!(
            "{} {} {} {} {} {} admin={}",
            user.id,
            user.workspace_id,
            user.role,
            user.language.as_deref().unwrap_or("-"),
            user.theme.as_deref().unwrap_or("-"),
            installed,
            user.is_admin()
        ))
    }
}

const fn manifest_with_pages(pages: &'static [&'static str]) -> AddonManifest {
    let stock = clockify_gateway::generated::addon::ADDON;
    AddonManifest {
        key: stock.key,
        manifest_json: stock.manifest_json,
        manifest_webhooks: stock.manifest_webhooks,
        rest_webhooks: stock.rest_webhooks,
        declared_scopes: stock.declared_scopes,
        pages,
    }
}

static WITH_PAGE: AddonManifest = manifest_with_pages(&["/ui/page"]);
/// `settings = "/ui/settings"` in addon.toml: codegen writes it as the
/// manifest's `settings` and lists it in `pages` beside the components
/// (codegen's `manifest::tests` check that half).
static WITH_SETTINGS_PAGE: AddonManifest = manifest_with_pages(&["/ui/page", "/ui/settings"]);

#[tokio::test]
async fn verified_user_takes_only_a_live_installations_user_tokens() {
    let app = Application::builder(support::test_config())
        .addon(&WITH_PAGE)
        .routes(|contexts| PageApi { contexts })
        .build()
        .await
        .expect("every page is served");
    let gw = TestGateway::start_app(app).await;
    let (install_token, hooks) = gw.install("ws1", "a1", &["NEW_TAG"]).await;
    let page = |token: Option<String>, header: bool| {
        let mut req = gw.http.get(gw.url("/ui/page"));
        if let Some(t) = token {
            req = if header { req.header("X-Addon-Token", t) } else { req.query(&[("auth_token", t)]) };
        }
        req.send()
    };
    let user = |ws: &str, addon: &str, role: &str| {
        let mut c = addon_claims(ws, addon);
        c["user"] = json!("u7");
        as_user(&mut c, role);
        c
    };

    let ok = page(Some(gw.sign(&user("ws1", "a1", "TEAM_MANAGER"))), false).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "u7 ws1 TEAM_MANAGER EN DEFAULT a1 admin=false");
    let ok = page(Some(gw.sign(&user("ws1", "a1", "OWNER"))), true).await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "u7 ws1 OWNER EN DEFAULT a1 admin=true", "the header works too");

    let mut expired = user("ws1", "a1", "OWNER");
    expired["exp"] = json!(1_000_000);
    let lifecycle = gw.addon_token("ws1", "a1");
    let refused: [(&str, Option<String>, u16); 7] = [
        ("no token", None, 401),
        ("not a JWT", Some("abc".into()), 401),
        ("expired", Some(gw.sign(&expired)), 401),
        ("installation token", Some(install_token), 401),
        ("webhook token", Some(hooks[0].1.clone()), 401),
        ("lifecycle token", Some(lifecycle), 401),
        ("another workspace's user token", Some(gw.sign(&user("ws2", "a2", "OWNER"))), 403),
    ];
    for (what, token, status) in refused {
        for header in [false, true] {
            let r = page(token.clone(), header).await.unwrap();
            assert_eq!(r.status().as_u16(), status, "{what} (header {header})");
            let problem: Value = r.json().await.unwrap();
            assert_eq!(problem["status"], status, "{what}: problem JSON {problem}");
        }
    }
    // A user token of an earlier installation of the workspace.
    assert_eq!(page(Some(gw.sign(&user("ws1", "a0", "OWNER"))), true).await.unwrap().status(), 403);

    // The route is in the gateway's OpenAPI with both ways to send the token.
    let spec: Value = gw.http.get(gw.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let security = &spec["paths"]["/ui/page"]["get"]["security"];
    assert_eq!(security, &json!([{ "AddonTokenHeader": [] }, { "AuthTokenQuery": [] }]), "{security}");
    assert_eq!(spec["components"]["securitySchemes"]["AuthTokenQuery"]["in"], "query");

    // After DELETED the same unexpired user token is refused.
    let deleted = json!({ "workspaceId": "ws1", "addonId": "a1", "asUser": "owner1" });
    assert_eq!(gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")), &deleted).await.status(), 200);
    assert_eq!(page(Some(gw.sign(&user("ws1", "a1", "OWNER"))), true).await.unwrap().status(), 403);
}

/// Serves the component page and the custom settings page.
struct WithSettingsApi;

#[OpenApi]
impl WithSettingsApi {
    #[oai(path = "/ui/page", method = "get")]
    async fn page(&self) -> PlainText<&'static str> {
        PlainText("page")
    }

    #[oai(path = "/ui/settings", method = "get")]
    async fn settings(&self) -> PlainText<&'static str> {
        PlainText("settings")
    }
}

/// Serves `/ui/page` (GET) and `/ui/settings` for POST only.
struct SettingsPostOnlyApi;

#[OpenApi]
impl SettingsPostOnlyApi {
    #[oai(path = "/ui/page", method = "get")]
    async fn page(&self) -> PlainText<&'static str> {
        PlainText("page")
    }

    #[oai(path = "/ui/settings", method = "post")]
    async fn save(&self) -> PlainText<&'static str> {
        PlainText("saved")
    }
}

#[tokio::test]
async fn the_builder_refuses_unserved_pages_and_taken_paths() {
    // The settings page declared, the component served, the settings page not.
    let err = Application::builder(support::test_config())
        .addon(&WITH_SETTINGS_PAGE)
        .routes(|contexts| PageApi { contexts })
        .build()
        .await
        .err()
        .expect("a page without a route does not start");
    assert!(matches!(&err, StartupError::Routes(m) if m.contains("/ui/settings") && m.contains("settings page")), "{err}");
    // A POST at the path is not the page Clockify loads (GET).
    let err = Application::builder(support::test_config())
        .addon(&WITH_SETTINGS_PAGE)
        .routes(|_| SettingsPostOnlyApi)
        .build()
        .await
        .err()
        .expect("the settings page needs a GET route");
    assert!(matches!(&err, StartupError::Routes(m) if m.contains("GET /ui/settings")), "{err}");
    // Served: it starts.
    Application::builder(support::test_config())
        .addon(&WITH_SETTINGS_PAGE)
        .routes(|_| WithSettingsApi)
        .build()
        .await
        .expect("every page, the settings page included, is served");

    struct Squatter;
    #[OpenApi]
    impl Squatter {
        #[oai(path = "/health", method = "get")]
        async fn health(&self) -> PlainText<&'static str> {
            PlainText("mine")
        }
    }
    let err = Application::builder(support::test_config()).routes(|_| Squatter).build().await.err().expect("a taken path");
    assert!(matches!(&err, StartupError::Routes(m) if m.contains("/health")), "{err}");
}
