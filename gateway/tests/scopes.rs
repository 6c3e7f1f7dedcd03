//! The gateway calls Clockify only within the scopes its manifest declares:
//! its client for an installation refuses anything else before sending.

mod support;

use clockify_client::ClockifyError;
use clockify_testkit::FakeClockify;
use serde_json::json;
use support::{TestGateway, addon_claims, installed_body, test_config};

#[tokio::test]
async fn the_installation_client_uses_its_token_and_hosts_and_only_declared_scopes() {
    let fake = FakeClockify::start().await;
    let mut c = test_config();
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let gw = TestGateway::start_with(c).await;
    let mut claims = addon_claims("ws1", "a1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    let install_token = gw.sign(&claims);
    fake.require_addon_token(&install_token);
    let r = gw
        .post(
            "/lifecycle/installed",
            ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")),
            &installed_body("ws1", "a1", &install_token, &[]),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));

    let client = gw.state.clients().for_workspace("ws1").await.expect("client");
    client.get_tags().workspace_id("ws1").send().await.expect("TAG_READ is declared");
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 1);

    let err = ClockifyError::from(
        client
            .create_new_tag()
            .workspace_id("ws1")
            .body(clockify_client::types::TagRequest::builder().name(Some("x".parse().unwrap())))
            .send()
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("needs scope TAG_WRITE"), "{err}");
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/tags"), 0, "nothing sent");
}

#[tokio::test]
async fn the_unsigned_api_url_is_never_used_as_the_installations_host() {
    // The body's apiUrl names a local server that records every request; the
    // signed installation token carries no backendUrl.
    let fake = FakeClockify::start().await;
    fake.on("api", "GET", "/v1/workspaces/ws1/webhooks", 200, json!({ "webhooks": [], "workspaceWebhookCount": 0 }));
    let mut c = test_config();
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let gw = TestGateway::start_with(c).await;
    let install_token = gw.sign(&addon_claims("ws1", "a1"));
    let mut body = installed_body("ws1", "a1", &install_token, &[]);
    body["apiUrl"] = json!(fake.core_url());
    // INSTALLED refuses an installation token without backendUrl outright...
    let r = gw.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")), &body).await;
    assert_eq!(r.status(), 401, "{}", r.text().await.unwrap());
    assert!(gw.state.installations.get("ws1").await.unwrap().is_none(), "nothing stored");
    // ...and an installation stored without one (as an older build could) is never called through apiUrl.
    let stored = clockify_gateway::store::NewInstallation {
        workspace_id: "ws1".into(),
        addon_id: "a1".into(),
        installation_token: install_token,
        backend_url: None,
        reports_url: None,
        pto_url: None,
        api_url: Some(fake.core_url()),
        as_user: None,
        addon_user_id: None,
        webhook_tokens: Vec::new(),
        rest_events: vec!["PROJECT_UPDATED".into()],
    };
    gw.state.installations.upsert_installed(&stored).await.unwrap();

    let err = gw.state.clients().for_workspace("ws1").await.expect_err("no signed host to call");
    let shown = err.to_string();
    assert!(shown.contains("ws1") && shown.contains("backendUrl"), "{shown}");
    // The REST webhook registration (the first call an installation makes) stays pending.
    let registered = gw.state.registrar().register_pending("ws1").await;
    assert!(registered.is_err(), "{registered:?}");
    assert!(fake.requests().is_empty(), "the apiUrl host was called: {:?}", fake.requests());
}
