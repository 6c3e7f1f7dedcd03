//! REST registration of the events the manifest cannot declare, against a
//! fake Clockify: registered at install, limits recorded without failing the
//! install, transient failures retried, adopted instead of duplicated,
//! deleted at uninstall.

mod support;

use std::time::Duration;

use clockify_testkit::{FakeClockify, Fault};
use serde_json::{Value, json};
use support::{TestGateway, addon_claims, installed_body, metric, test_config};

const REST_EVENTS: [&str; 3] = ["PROJECT_UPDATED", "PROJECT_DELETED", "TASK_UPDATED"];

struct Setup {
    fake: FakeClockify,
    gw: TestGateway,
}

async fn setup() -> Setup {
    let fake = FakeClockify::start().await;
    let mut c = test_config();
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    c.addon_base_url = "https://addon.example.com".parse().unwrap();
    let gw = TestGateway::start_with(c).await;
    fake.on("api", "GET", "/v1/workspaces/ws1/webhooks", 200, json!({ "webhooks": [], "workspaceWebhookCount": 0 }));
    Setup { fake, gw }
}

impl Setup {
    fn rest_token(&self) -> String {
        self.gw.sign(&json!({ "iss": "clockify", "type": "access", "sub": "u1", "workspaceId": "ws1" }))
    }

    async fn install(&self) {
        let mut claims = addon_claims("ws1", "a1");
        claims["backendUrl"] = json!(self.fake.core_url());
        claims["reportsUrl"] = json!(self.fake.reports_url());
        let token = self.gw.sign(&claims);
        let r = self
            .gw
            .post(
                "/lifecycle/installed",
                ("X-Addon-Lifecycle-Token", &self.gw.addon_token("ws1", "a1")),
                &installed_body("ws1", "a1", &token, &[]),
            )
            .await;
        assert_eq!(r.status(), 200, "the install never fails because of registration");
    }

    async fn states(&self) -> Vec<(String, String, Option<String>)> {
        let rows = self.gw.state.installations.webhook_tokens("ws1").await.unwrap();
        rows.into_iter().filter(|r| r.source == "rest").map(|r| (r.event, r.state, r.failure)).collect()
    }

    async fn wait_until_settled(&self) -> Vec<(String, String, Option<String>)> {
        for _ in 0..200 {
            let s = self.states().await;
            if !s.is_empty() && s.iter().all(|(_, st, _)| st != "pending") {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("registration did not settle: {:?}", self.states().await);
    }
}

#[tokio::test]
async fn rest_events_are_registered_at_install_and_their_deliveries_accepted() {
    let s = setup().await;
    let token = s.rest_token();
    s.fake.on(
        "api",
        "POST",
        "/v1/workspaces/ws1/webhooks",
        201,
        json!({ "id": "wh1", "authToken": token, "enabled": true, "triggerSource": ["ws1"] }),
    );
    s.install().await;
    let states = s.wait_until_settled().await;
    assert_eq!(states.len(), 3);
    assert!(states.iter().all(|(_, st, _)| st == "active"), "{states:?}");
    let posts: Vec<Value> = s.fake.requests().iter().filter(|r| r.method == "POST").map(|r| r.json().unwrap()).collect();
    assert_eq!(posts.len(), 3);
    for event in REST_EVENTS {
        let body = posts.iter().find(|b| b["webhookEvent"] == json!(event)).unwrap_or_else(|| panic!("{event} not registered"));
        assert_eq!(body["url"], json!(format!("https://addon.example.com/webhooks/{event}")));
        assert_eq!(body["triggerSourceType"], json!("WORKSPACE_ID"));
        assert_eq!(body["triggerSource"], json!(["ws1"]));
    }
    assert!(s.fake.requests().iter().all(|r| r.header("x-addon-token").is_some()), "acts with the installation token");
    let r = s.gw.deliver("PROJECT_UPDATED", &token, &json!({ "id": "p1" })).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], json!("accepted"));
    assert_eq!(s.gw.state.verified_tokens.len(), 1, "the verified signature is remembered, not re-checked");
    let r = s.gw.deliver("PROJECT_UPDATED", &token, &json!({ "id": "p1", "v": 2 })).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], json!("accepted"));
    // Rotation: the new token works, the old one stops at once.
    let rotated = s.gw.sign(&json!({ "iss": "clockify", "type": "access", "sub": "u1", "workspaceId": "ws1", "n": 2 }));
    s.fake.on("api", "PATCH", "/v1/workspaces/ws1/webhooks/wh1/token", 200, json!({ "id": "wh1", "authToken": rotated }));
    let event: clockify_client::WebhookEvent = "PROJECT_UPDATED".parse().unwrap();
    s.gw.state.registrar().rotate_token("ws1", &event).await.expect("rotated");
    assert!(s.gw.state.verified_tokens.is_empty(), "the cache forgot the workspace");
    assert_eq!(s.gw.deliver("PROJECT_UPDATED", &token, &json!({ "id": "p1", "v": 3 })).await.status(), 403);
    assert_eq!(s.gw.deliver("PROJECT_UPDATED", &rotated, &json!({ "id": "p1", "v": 3 })).await.status(), 200);
    // DELETED removes what was registered.
    s.fake.on("api", "DELETE", "/v1/workspaces/ws1/webhooks/wh1", 200, json!({}));
    let r =
        s.gw.post(
            "/lifecycle/deleted",
            ("X-Addon-Lifecycle-Token", &s.gw.addon_token("ws1", "a1")),
            &json!({ "workspaceId": "ws1", "addonId": "a1" }),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(s.fake.count("DELETE", "/api/v1/workspaces/ws1/webhooks/wh1"), 3);
    let r = s.gw.deliver("PROJECT_UPDATED", &token, &json!({ "id": "p2" })).await;
    assert_eq!(r.status(), 403, "deleted installation");
}

#[tokio::test]
async fn the_platform_limit_is_recorded_per_event_and_does_not_fail_the_install() {
    let s = setup().await;
    s.fake.on(
        "api",
        "POST",
        "/v1/workspaces/ws1/webhooks",
        400,
        json!({ "message": "Webhook limit reached for this workspace", "code": 501 }),
    );
    s.install().await;
    let states = s.wait_until_settled().await;
    for (event, state, failure) in &states {
        assert_eq!(state, "failed", "{event}");
        assert!(failure.as_deref().unwrap().contains("limit reached"), "{event}: {failure:?}");
    }
    assert_eq!(metric(&s.gw.metrics().await, "gateway_webhook_registrations_total{outcome=\"failed\"}"), 3.0);

    // The installation's status shows it to the workspace's admins, and only to them.
    let admin = |role: &str, ws: &str| {
        let mut c = addon_claims(ws, "a1");
        c["user"] = json!("u1");
        support::as_user(&mut c, role);
        s.gw.sign(&c)
    };
    let get = |token: String| s.gw.http.get(s.gw.url("/admin/installations/ws1")).header("x-addon-token", token).send();
    let view: Value = get(admin("OWNER", "ws1")).await.unwrap().json().await.unwrap();
    assert_eq!(view["status"], json!("active"));
    let failed: Vec<&Value> = view["webhooks"].as_array().unwrap().iter().filter(|w| w["state"] == json!("failed")).collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|w| w["source"] == json!("rest") && w["failure"].as_str().unwrap().contains("limit reached")));
    assert_eq!(get(admin("TEAM_MANAGER", "ws1")).await.unwrap().status(), 403);
    assert_eq!(get(admin("OWNER", "other")).await.unwrap().status(), 401, "a token of another workspace");
}

#[tokio::test]
async fn a_transient_failure_is_retried_later_and_nothing_is_dropped() {
    let s = setup().await;
    s.fake.on("api", "POST", "/v1/workspaces/ws1/webhooks", 201, json!({ "id": "wh1", "authToken": s.rest_token() }));
    // The first create gets a 503; POST is never retried by the client, so the job retries.
    s.fake.fail_next("POST", "/api/v1/workspaces/ws1/webhooks", Fault::Status(503), 1);
    s.install().await;
    let states = s.wait_until_settled().await;
    assert!(states.iter().all(|(_, st, _)| st == "active"), "{states:?}");
    assert_eq!(metric(&s.gw.metrics().await, "gateway_webhook_registrations_total{outcome=\"retry\"}"), 1.0);
    assert_eq!(s.fake.count("POST", "/api/v1/workspaces/ws1/webhooks"), 4, "1 refused + 3 created");
}

#[tokio::test]
async fn a_webhook_clockify_already_has_is_adopted_not_duplicated() {
    let s = setup().await;
    let token = s.rest_token();
    let existing: Vec<Value> = REST_EVENTS
        .iter()
        .enumerate()
        .map(|(i, e)| json!({ "id": format!("old{i}"), "authToken": token, "url": format!("https://addon.example.com/webhooks/{e}"), "webhookEvent": e, "triggerSource": ["ws1"] }))
        .collect();
    s.fake.on("api", "GET", "/v1/workspaces/ws1/webhooks", 200, json!({ "webhooks": existing, "workspaceWebhookCount": 3 }));
    s.install().await;
    let states = s.wait_until_settled().await;
    assert!(states.iter().all(|(_, st, _)| st == "active"), "{states:?}");
    assert_eq!(s.fake.count("POST", "/api/v1/workspaces/ws1/webhooks"), 0, "no duplicate webhooks");
}
