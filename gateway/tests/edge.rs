//! The HTTP edge: manifest, headers, request ids, HTTPS, rate limits,
//! problem JSON for anything a handler never sees, and the served OpenAPI.

mod support;

use serde_json::{Value, json};
use support::{Backend, TestGateway, metric, test_config};

#[tokio::test]
async fn the_manifest_is_served_with_the_configured_base_url_and_key() {
    let mut c = test_config();
    c.addon_base_url = "https://addon.example.com/base/".parse().unwrap();
    c.addon_key = Some("my-private-copy".into());
    let gw = TestGateway::start_with(c).await;
    let m: Value = gw.http.get(gw.url("/manifest")).send().await.unwrap().json().await.unwrap();
    assert_eq!(m["baseUrl"], json!("https://addon.example.com/base"));
    assert_eq!(m["key"], json!("my-private-copy"));
    assert_eq!(m["lifecycle"].as_array().unwrap().len(), 4);
    assert!(m.get("$schema").is_none());
}

#[tokio::test]
async fn every_answer_carries_security_headers_and_a_request_id() {
    let gw = TestGateway::start(Backend::Sqlite).await;
    let r = gw.http.get(gw.url("/health")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123", "a sane id is echoed");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert!(r.headers().get("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    let r = gw.http.get(gw.url("/health")).header("x-request-id", "bad id\twith spaces").send().await.unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "an unsafe id is replaced: {generated}");
    let docs = gw.http.get(gw.url("/docs")).send().await.unwrap();
    let csp = docs.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors https://app.clockify.me"), "{csp}");
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_bodies_are_problem_json() {
    let gw = TestGateway::start(Backend::Sqlite).await;
    for (method, path, body, status) in
        [("GET", "/nope", None, 404), ("GET", "/lifecycle/installed", None, 405), ("POST", "/lifecycle/deleted", Some("{not json"), 400)]
    {
        let mut req = gw.http.request(method.parse().unwrap(), gw.url(path)).header("x-addon-lifecycle-token", "x");
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status, "{method} {path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json", "{method} {path}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["status"], json!(status));
    }
}

#[tokio::test]
async fn plain_http_from_a_proxy_is_refused_unless_it_says_https() {
    let mut c = test_config();
    // Our loopback client plays a TLS-terminating proxy.
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    let gw = TestGateway::start_with(c).await;
    let r = gw.http.get(gw.url("/manifest")).header("x-forwarded-proto", "http").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = gw.http.get(gw.url("/manifest")).header("forwarded", "for=203.0.113.9;proto=https").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().contains("max-age=31536000"));
    // Probes stay reachable for orchestrators.
    assert_eq!(gw.http.get(gw.url("/health")).header("x-forwarded-proto", "http").send().await.unwrap().status(), 200);
    // Switched off, plain HTTP is served.
    let mut c = test_config();
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    c.require_https = false;
    let gw = TestGateway::start_with(c).await;
    assert_eq!(gw.http.get(gw.url("/manifest")).header("x-forwarded-proto", "http").send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_gateway_rate_limits_per_address_with_retry_after() {
    let mut c = test_config();
    c.rate_limit_per_second = 1;
    c.rate_limit_burst = 3;
    let gw = TestGateway::start_with(c).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = gw.http.get(gw.url("/manifest")).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
    }
    assert_eq!(&statuses[..3], [200, 200, 200]);
    assert_eq!(statuses[4], 429);
    assert!(metric(&gw.metrics().await, "gateway_rate_limited_total{key=\"address\"}") >= 1.0);
}

#[tokio::test]
async fn the_served_openapi_describes_every_route_with_its_security_and_problems() {
    let gw = TestGateway::start(Backend::Sqlite).await;
    let spec: Value = gw.http.get(gw.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    for (path, method) in [
        ("/health", "get"),
        ("/ready", "get"),
        ("/metrics", "get"),
        ("/manifest", "get"),
        ("/lifecycle/installed", "post"),
        ("/lifecycle/deleted", "post"),
        ("/lifecycle/settings-updated", "post"),
        ("/lifecycle/status-changed", "post"),
        ("/webhooks/{event}", "post"),
        ("/admin/installations/{workspace_id}", "get"),
    ] {
        assert!(spec["paths"][path][method].is_object(), "{method} {path} missing from the spec");
    }
    let installed = &spec["paths"]["/lifecycle/installed"]["post"];
    assert_eq!(installed["security"], json!([{ "LifecycleToken": [] }, { "ClockifySignature": [] }]));
    let body_schema = installed["requestBody"]["content"].to_string();
    assert!(body_schema.contains("InstalledBody"), "{body_schema}");
    assert!(installed["responses"]["401"]["content"]["application/problem+json"].is_object());
    assert_eq!(spec["paths"]["/webhooks/{event}"]["post"]["security"], json!([{ "WebhookSignature": [] }]));
    // Members' routes take a user token, named as such.
    assert_eq!(spec["paths"]["/admin/installations/{workspace_id}"]["get"]["security"], json!([{ "UserToken": [] }]));
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes["LifecycleToken"]["name"], json!("X-Addon-Lifecycle-Token"));
    assert_eq!(schemes["WebhookSignature"]["name"], json!("Clockify-Signature"));
    assert_eq!(schemes["UserToken"]["name"], json!("X-Addon-Token"));
}

#[tokio::test]
async fn invalid_configuration_stops_startup_naming_the_variable() {
    let mut c = test_config();
    c.clockify_public_key_file = Some(std::path::PathBuf::from("/nonexistent/key.pem"));
    let err = clockify_gateway::Application::build(c).await.err().expect("refused").to_string();
    assert!(err.contains("CLOCKIFY_PUBLIC_KEY_FILE") && err.contains("/nonexistent/key.pem"), "{err}");
    let mut c = test_config();
    c.database_url = "postgres://postgres@127.0.0.1:5432/test".parse().unwrap();
    let err = clockify_gateway::Application::build(c).await.err().expect("refused").to_string();
    assert!(err.starts_with("ENCRYPTION_KEY"), "{err}");
}

#[tokio::test]
async fn sqlite_without_a_key_generates_one_beside_the_database() {
    let dir = support::temp_dir();
    let mut c = test_config();
    c.database_url = format!("sqlite://{}?mode=rwc", dir.join("gw.db").display()).parse().unwrap();
    let gw = TestGateway::start_with(c).await;
    assert!(dir.join("gw.db.key").exists());
    gw.install("ws1", "a1", &[]).await;
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn extra_keys_verify_tokens_with_their_kid_and_unknown_kids_are_refused() {
    use clockify_testkit::tokens::{TokenFactory, key};
    let dir = support::temp_dir();
    std::fs::write(dir.join("k2.pem"), key("test-rsa-public-2.pem")).unwrap();
    let mut c = test_config();
    c.clockify_extra_keys_dir = Some(dir.clone());
    let gw = TestGateway::start_with(c).await;
    let signer = |kid: &str| TokenFactory::new(&key("test-rsa-private-2.pem")).kid(Some(kid));
    let body = json!({ "addonId": "a1", "workspaceId": "ws1", "status": "ACTIVE" });
    let claims = support::addon_claims("ws1", "a1");
    // Verified with k2, then ignored because ws1 was never installed.
    let r = gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", &signer("k2").sign(&claims)), &body).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ignored" }));
    let r = gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", &signer("k9").sign(&claims)), &body).await;
    assert_eq!(r.status(), 401);
    assert_eq!(metric(&gw.metrics().await, "gateway_auth_failures_total{reason=\"unknown_kid\"}"), 1.0);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn each_workspace_has_its_own_budget_behind_a_proxy() {
    let mut c = test_config();
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    c.require_https = false;
    c.rate_limit_per_second = 1;
    c.rate_limit_burst = 2;
    let gw = TestGateway::start_with(c).await;
    let body = json!({ "addonId": "a1", "workspaceId": "busy", "status": "ACTIVE" });
    let token = gw.addon_token("busy", "a1");
    let mut statuses = Vec::new();
    for i in 0..4 {
        // A different client address each time: only the workspace key repeats.
        let r = gw
            .http
            .post(gw.url("/lifecycle/status-changed"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .header("x-addon-lifecycle-token", &token)
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429], "two within the burst, then the workspace is limited");
    assert_eq!(metric(&gw.metrics().await, "gateway_rate_limited_total{key=\"workspace\"}"), 2.0);
}

#[tokio::test]
async fn webhook_deliveries_are_limited_per_workspace_not_per_address() {
    let mut c = test_config();
    c.rate_limit_per_second = 1;
    c.rate_limit_burst = 4;
    let gw = TestGateway::start_with(c).await;
    // Installs spend the address budget of this (single) client.
    let (_, busy) = gw.install("busy", "a1", &["NEW_TAG"]).await;
    let (_, quiet) = gw.install("quiet", "a2", &["NEW_TAG"]).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(gw.deliver("NEW_TAG", &busy[0].1, &json!({ "id": format!("t{i}") })).await.status().as_u16());
    }
    // A burst of 4 per workspace, one of which its INSTALLED call spent.
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429], "the workspace's own budget");
    // Same client address, another workspace: not refused.
    assert_eq!(gw.deliver("NEW_TAG", &quiet[0].1, &json!({ "id": "q1" })).await.status(), 200);
}

#[tokio::test]
async fn an_install_naming_an_unroutable_webhook_path_is_kept() {
    let gw = TestGateway::start(Backend::Sqlite).await;
    let token = gw.sign(&support::installation_claims("ws1", "a1"));
    let hooks = vec![("NEW_TAG".to_owned(), gw.addon_token("ws1", "a1"))];
    let mut body = support::installed_body("ws1", "a1", &token, &hooks);
    body["webhooks"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "path": "/webhooks/SOMETHING_NEWER", "webhookType": "ADDON", "authToken": "x.y.z" }));
    let r = gw.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws1", "a1")), &body).await;
    assert_eq!(r.status(), 200);
    let rows = gw.state.installations.webhook_tokens("ws1").await.unwrap();
    assert!(rows.iter().any(|r| r.event == "NEW_TAG" && r.source == "manifest"));
}
