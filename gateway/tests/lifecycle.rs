//! Lifecycle, webhooks, security and operations endpoints over real HTTP,
//! every case on SQLite and on PostgreSQL.

mod support;

use serde_json::{Value, json};
use support::{Backend, CLOSED_PORT_HOST, TestGateway, addon_claims, installation_claims, installed_body, metric};

async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: Value = r.json().await.expect("problem JSON");
    assert_eq!(p["status"], json!(status));
    assert!(p["type"].is_string() && p["title"].is_string());
    p
}

async fn installed_stores_encrypted_tokens_hosts_and_queues_one_bootstrap(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let (install_token, hooks) = gw.install("ws1", "addon1", &["NEW_PROJECT", "NEW_TAG"]).await;
    let i = gw.state.installations.get("ws1").await.unwrap().expect("stored");
    assert_eq!(i.addon_id, "addon1");
    assert_eq!(i.status, clockify_gateway::store::InstallationStatus::Active);
    assert_eq!(i.backend_url.as_deref(), Some("http://127.0.0.1:9/api"));
    assert_eq!(i.reports_url.as_deref(), Some("http://127.0.0.1:9/reports"));
    // Secrets are stored sealed, and open again to the same tokens.
    let sealed = gw.state.installations.sealed_secrets("ws1").await.unwrap();
    assert_eq!(sealed.len(), 3);
    for blob in &sealed {
        for token in std::iter::once(&install_token).chain(hooks.iter().map(|(_, t)| t)) {
            let fragment = &token.as_bytes()[token.len() - 20..];
            assert!(!blob.windows(20).any(|w| w == fragment), "a token is stored in clear");
        }
    }
    assert_eq!(gw.state.installations.installation_token("ws1").await.unwrap().as_deref(), Some(install_token.as_str()));
    assert_eq!(gw.state.installations.webhook_token("ws1", "NEW_TAG").await.unwrap().as_deref(), Some(hooks[1].1.as_str()));
    assert_eq!(gw.state.bootstrap.run("ws1").await.unwrap().map(|r| r.state).as_deref(), Some("queued"));
    // A repeat is an update: still one installation, the bootstrap still queued once.
    gw.install("ws1", "addon1", &["NEW_PROJECT"]).await;
    assert_eq!(gw.state.bootstrap.run("ws1").await.unwrap().map(|r| r.state).as_deref(), Some("queued"));
    let rows = gw.state.installations.webhook_tokens("ws1").await.unwrap();
    let manifest: Vec<&str> = rows.iter().filter(|r| r.source == "manifest").map(|r| r.event.as_str()).collect();
    assert_eq!(manifest, ["NEW_PROJECT"], "old manifest tokens replaced");
    let rest: Vec<&str> = rows.iter().filter(|r| r.source == "rest").map(|r| r.event.as_str()).collect();
    assert_eq!(rest, ["PROJECT_DELETED", "PROJECT_UPDATED", "TASK_UPDATED"], "REST events queued for registration");
}

async fn concurrent_duplicate_installs_leave_one_row(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let token = gw.sign(&installation_claims("ws2", "a2"));
    let body = installed_body("ws2", "a2", &token, &[]);
    let lifecycle = gw.addon_token("ws2", "a2");
    let calls = (0..6).map(|_| gw.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &lifecycle), &body));
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM installations WHERE workspace_id = 'ws2'").fetch_one(gw.state.db.pool()).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(gw.state.bootstrap.run("ws2").await.unwrap().map(|r| r.state).as_deref(), Some("queued"));
}

async fn the_older_clockify_signature_header_is_accepted_and_no_header_is_401(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let token = gw.sign(&installation_claims("ws3", "a3"));
    let body = installed_body("ws3", "a3", &token, &[]);
    let r = gw.post("/lifecycle/installed", ("Clockify-Signature", &gw.addon_token("ws3", "a3")), &body).await;
    assert_eq!(r.status(), 200);
    let r = gw.http.post(gw.url("/lifecycle/installed")).json(&body).send().await.unwrap();
    problem(r, 401).await;
    assert_eq!(metric(&gw.metrics().await, "gateway_auth_failures_total{reason=\"missing\"}"), 1.0);
}

async fn every_bad_token_is_a_401_problem_counted_by_reason(backend: Backend) {
    use clockify_testkit::tokens::{TokenFactory, hs256_with_key_as_secret, key, tamper_signature, unsigned_none_token};
    let gw = TestGateway::start(backend).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let good = addon_claims("ws4", "a4");
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let wrong_key = TokenFactory::new(&key("test-rsa-private-2.pem"));
    let cases: Vec<(&str, String)> = vec![
        ("algorithm", unsigned_none_token(&good)),
        ("algorithm", hs256_with_key_as_secret(&key("test-rsa-public.pem"), &good)),
        ("algorithm", TokenFactory::new(&key("test-rsa-private.pem")).sign_with_alg(clockify_addon_auth::Algorithm::RS512, &good)),
        ("signature", tamper_signature(&gw.sign(&good))),
        ("signature", wrong_key.sign(&good)),
        ("issuer", gw.sign(&with("iss", json!("not-clockify")))),
        ("type", gw.sign(&with("type", json!("user")))),
        ("subject", gw.sign(&with("sub", json!("someone-elses-addon")))),
        ("expired", gw.sign(&with("exp", json!(now - 3600)))),
        ("not_yet_valid", gw.sign(&with("nbf", json!(now + 3600)))),
        ("workspace", gw.sign(&with("workspaceId", json!("other-ws")))),
        ("addon", gw.sign(&with("addonId", json!("other-addon")))),
        ("malformed", "garbage".to_owned()),
        ("malformed", gw.sign(&good)[..40].to_owned()),
    ];
    let body = json!({ "addonId": "a4", "workspaceId": "ws4", "status": "ACTIVE" });
    for (reason, token) in &cases {
        let r = gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", token), &body).await;
        let p = problem(r, 401).await;
        assert!(!p.to_string().contains(token.as_str()), "the token is echoed back");
        let counted = metric(&gw.metrics().await, &format!("gateway_auth_failures_total{{reason=\"{reason}\"}}"));
        assert!(counted >= 1.0, "{reason} not counted");
    }
    // Expired within the leeway still passes verification (then ignored: never installed).
    let r = gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", &gw.sign(&with("exp", json!(now - 30)))), &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ignored" }));
}

async fn an_installation_token_pointing_outside_allowed_hosts_is_refused(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let mut claims = installation_claims("ws5", "a5");
    claims["backendUrl"] = json!("https://evil.example/api");
    let token = gw.sign(&claims);
    let r = gw
        .post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws5", "a5")), &installed_body("ws5", "a5", &token, &[]))
        .await;
    let p = problem(r, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("evil.example"), "{p}");
    assert!(gw.state.installations.get("ws5").await.unwrap().is_none(), "nothing stored");
    // An allowed host on another scheme or port: api.clockify.me is allowed for
    // https on 443 only, the closed port for plain http on its own port only.
    for (claim, url) in [
        ("backendUrl", "http://api.clockify.me/api"),
        ("backendUrl", "https://api.clockify.me:8443/api"),
        ("reportsUrl", &*format!("https://{CLOSED_PORT_HOST}/reports")),
        ("ptoUrl", "http://127.0.0.1:10/pto"),
    ] {
        let mut claims = installation_claims("ws5", "a5");
        claims[claim] = json!(url);
        let token = gw.sign(&claims);
        let r = gw
            .post(
                "/lifecycle/installed",
                ("X-Addon-Lifecycle-Token", &gw.addon_token("ws5", "a5")),
                &installed_body("ws5", "a5", &token, &[]),
            )
            .await;
        let p = problem(r, 403).await;
        assert!(p["detail"].as_str().unwrap().contains(claim), "{url}: {p}");
        assert!(gw.state.installations.get("ws5").await.unwrap().is_none(), "{url}: nothing stored");
    }
    // The installation token must belong to the same workspace as the call.
    let other = gw.sign(&installation_claims("other", "a5"));
    let r = gw
        .post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws5", "a5")), &installed_body("ws5", "a5", &other, &[]))
        .await;
    problem(r, 401).await;
}

async fn deleted_settings_and_status_are_recorded(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    gw.install("ws6", "a6", &["NEW_TAG"]).await;
    let t = gw.addon_token("ws6", "a6");
    let settings = json!({ "workspaceId": "ws6", "addonId": "a6", "settings": [
        { "id": "s1", "name": "Sync", "value": true }, { "id": "s2", "name": "Tags", "value": ["a", "b"] } ] });
    assert_eq!(gw.post("/lifecycle/settings-updated", ("X-Addon-Lifecycle-Token", &t), &settings).await.status(), 200);
    let i = gw.state.installations.get("ws6").await.unwrap().unwrap();
    assert_eq!(i.settings.unwrap()[1]["value"], json!(["a", "b"]));
    let inactive = json!({ "workspaceId": "ws6", "addonId": "a6", "status": "INACTIVE" });
    let r = gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", &t), &inactive).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "inactive" }));
    let deleted = json!({ "workspaceId": "ws6", "addonId": "a6", "asUser": "owner1" });
    assert_eq!(gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &t), &deleted).await.status(), 200);
    assert_eq!(gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &t), &deleted).await.status(), 200, "idempotent");
    let i = gw.state.installations.get("ws6").await.unwrap().unwrap();
    assert_eq!(i.status, clockify_gateway::store::InstallationStatus::Deleted);
    assert!(gw.state.installations.sealed_secrets("ws6").await.unwrap().is_empty(), "secrets removed");
    // After DELETED a lifecycle call of that installation changes nothing, and says so.
    let r = gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", &t), &inactive).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ignored" }));
    assert_eq!(gw.state.installations.get("ws6").await.unwrap().unwrap().status, clockify_gateway::store::InstallationStatus::Deleted);
}

async fn webhooks_are_verified_stored_once_and_ignored_when_inactive(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let (_, hooks) = gw.install("ws7", "a7", &["NEW_PROJECT", "NEW_TAG"]).await;
    let project_token = &hooks[0].1;
    let deliver = |event: &str, token: &str, header_event: &str, body: Value| {
        gw.http
            .post(gw.url(&format!("/webhooks/{event}")))
            .header("clockify-signature", token)
            .header("clockify-webhook-event-type", header_event)
            .json(&body)
            .send()
    };
    let body = json!({ "id": "p1", "name": "Apollo", "workspaceId": "ws7" });
    let r = deliver("NEW_PROJECT", project_token, "NEW_PROJECT", body.clone()).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "accepted" }));
    let r = deliver("NEW_PROJECT", project_token, "NEW_PROJECT", body.clone()).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "duplicate" }));
    assert_eq!(gw.state.deliveries.count("ws7", "NEW_PROJECT").await.unwrap(), 1);
    // Each check fails with its own answer.
    problem(deliver("NEW_PROJECT", project_token, "NEW_TAG", body.clone()).await.unwrap(), 400).await;
    problem(deliver("NEW_TAG", project_token, "NEW_TAG", body.clone()).await.unwrap(), 403).await;
    problem(deliver("NOT_AN_EVENT", project_token, "NOT_AN_EVENT", body.clone()).await.unwrap(), 404).await;
    let forged = gw.sign(&addon_claims("ws7", "a7"));
    problem(deliver("NEW_PROJECT", &forged, "NEW_PROJECT", body.clone()).await.unwrap(), 403).await;
    // A body naming another workspace than its signature.
    problem(deliver("NEW_PROJECT", project_token, "NEW_PROJECT", json!({ "id": "p3", "workspaceId": "elsewhere" })).await.unwrap(), 400)
        .await;
    // A valid signature of a workspace that never installed the add-on.
    let stranger = gw.sign(&addon_claims("never-installed", "a7"));
    problem(deliver("NEW_PROJECT", &stranger, "NEW_PROJECT", body.clone()).await.unwrap(), 403).await;
    // A signature that is not Clockify's.
    let bad = clockify_testkit::tokens::tamper_signature(project_token);
    problem(deliver("NEW_PROJECT", &bad, "NEW_PROJECT", body.clone()).await.unwrap(), 401).await;
    let m = gw.metrics().await;
    for (label, n) in
        [("event_type", 1.0), ("token_mismatch", 2.0), ("body_workspace", 1.0), ("unknown_installation", 1.0), ("signature", 1.0)]
    {
        assert_eq!(metric(&m, &format!("gateway_auth_failures_total{{reason=\"{label}\"}}")), n, "{label}");
    }
    assert_eq!(gw.state.deliveries.count("ws7", "NEW_PROJECT").await.unwrap(), 1, "nothing rejected was stored");
    // Inactive: acknowledged, not stored.
    let inactive = json!({ "workspaceId": "ws7", "addonId": "a7", "status": "INACTIVE" });
    gw.post("/lifecycle/status-changed", ("X-Addon-Lifecycle-Token", &gw.addon_token("ws7", "a7")), &inactive).await;
    let r = deliver("NEW_PROJECT", project_token, "NEW_PROJECT", json!({ "id": "p2" })).await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({ "status": "ignored" }));
    assert_eq!(gw.state.deliveries.count("ws7", "NEW_PROJECT").await.unwrap(), 1);
}

async fn a_delivery_that_cannot_be_stored_is_503_so_clockify_retries(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let (_, hooks) = gw.install("ws9", "a9", &["NEW_TAG"]).await;
    gw.state.db.close().await;
    let r = gw.deliver("NEW_TAG", &hooks[0].1, &json!({ "id": "t1" })).await;
    problem(r, 503).await;
}

async fn duplicate_keys_expire_after_their_window_and_old_log_rows_are_purged(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let (_, hooks) = gw.install("ws10", "a10", &["NEW_TAG"]).await;
    let body = json!({ "id": "t1" });
    assert_eq!(gw.deliver("NEW_TAG", &hooks[0].1, &body).await.json::<Value>().await.unwrap()["status"], json!("accepted"));
    assert_eq!(gw.deliver("NEW_TAG", &hooks[0].1, &body).await.json::<Value>().await.unwrap()["status"], json!("duplicate"));
    // Past the duplicate window (keys older than "now + 1 min"), the same body is a new delivery.
    let later = clockify_gateway::store::now_ms() + 60_000;
    let removed = gw.state.deliveries.purge(None, later, 1000).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(gw.deliver("NEW_TAG", &hooks[0].1, &body).await.json::<Value>().await.unwrap()["status"], json!("accepted"));
    // The log keeps pending rows whatever their age; handled ones go past retention.
    for _ in 0..200 {
        if gw.state.deliveries.state_counts("ws10").await.unwrap().done == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    gw.state.deliveries.purge(Some(later), later, 1000).await.unwrap();
    assert_eq!(gw.state.deliveries.count("ws10", "NEW_TAG").await.unwrap(), 0);
}

async fn bodies_over_the_cap_are_413_even_without_content_length(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let (_, hooks) = gw.install("ws8", "a8", &["NEW_TAG"]).await;
    // 1 MB + 1 on a lifecycle route, streamed (chunked, no Content-Length).
    let big = vec![b' '; 1024 * 1024 + 1];
    let stream = futures::stream::iter(big.chunks(64 * 1024).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>());
    let r = gw
        .http
        .post(gw.url("/lifecycle/deleted"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    problem(r, 413).await;
    // Webhooks take up to 5 MB: 2 MB passes the cap, 5 MB + 1 does not.
    let two_mb = json!({ "id": "t1", "blob": "x".repeat(2 * 1024 * 1024) });
    let send = |body: String| {
        gw.http
            .post(gw.url("/webhooks/NEW_TAG"))
            .header("clockify-signature", &hooks[0].1)
            .header("clockify-webhook-event-type", "NEW_TAG")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(send(two_mb.to_string()).await.unwrap().status(), 200);
    let r = send(format!("{{\"blob\":\"{}\"}}", "x".repeat(5 * 1024 * 1024))).await.unwrap();
    problem(r, 413).await;
    assert!(metric(&gw.metrics().await, "gateway_payload_too_large_total") >= 2.0);
}

async fn ready_reports_the_database_and_turns_503_when_it_is_gone(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let r = gw.http.get(gw.url("/ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    gw.state.db.close().await;
    let r = gw.http.get(gw.url("/ready")).send().await.unwrap();
    problem(r, 503).await;
    assert_eq!(gw.http.get(gw.url("/health")).send().await.unwrap().status(), 200, "liveness does no I/O");
}

on_both_backends! {
    installed_stores_encrypted_tokens_hosts_and_queues_one_bootstrap => installed_stores_encrypted_tokens_hosts_and_queues_one_bootstrap;
    concurrent_duplicate_installs_leave_one_row => concurrent_duplicate_installs_leave_one_row;
    the_older_clockify_signature_header_is_accepted_and_no_header_is_401 => the_older_clockify_signature_header_is_accepted_and_no_header_is_401;
    every_bad_token_is_a_401_problem_counted_by_reason => every_bad_token_is_a_401_problem_counted_by_reason;
    an_installation_token_pointing_outside_allowed_hosts_is_refused => an_installation_token_pointing_outside_allowed_hosts_is_refused;
    deleted_settings_and_status_are_recorded => deleted_settings_and_status_are_recorded;
    webhooks_are_verified_stored_once_and_ignored_when_inactive => webhooks_are_verified_stored_once_and_ignored_when_inactive;
    bodies_over_the_cap_are_413_even_without_content_length => bodies_over_the_cap_are_413_even_without_content_length;
    a_delivery_that_cannot_be_stored_is_503_so_clockify_retries => a_delivery_that_cannot_be_stored_is_503_so_clockify_retries;
    duplicate_keys_expire_after_their_window_and_old_log_rows_are_purged => duplicate_keys_expire_after_their_window_and_old_log_rows_are_purged;
    ready_reports_the_database_and_turns_503_when_it_is_gone => ready_reports_the_database_and_turns_503_when_it_is_gone;
}

/// Two instances on one PostgreSQL schema: duplicates split across them
/// still leave one installation and one queued bootstrap.
#[tokio::test]
async fn two_instances_on_one_postgres_do_not_conflict() {
    let config = support::config_for(Backend::Postgres).await;
    let a = TestGateway::start_with(config.clone()).await;
    let b = TestGateway::start_with(config).await;
    let token = a.sign(&installation_claims("shared", "a1"));
    let body = installed_body("shared", "a1", &token, &[]);
    let lifecycle = a.addon_token("shared", "a1");
    let calls = (0..8).map(|i| {
        let gw = if i % 2 == 0 { &a } else { &b };
        gw.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &lifecycle), &body)
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.status(), 200);
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM installations").fetch_one(a.state.db.pool()).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(b.state.bootstrap.run("shared").await.unwrap().map(|r| r.state).as_deref(), Some("queued"));
    // What one instance stored, the other reads (same key, same database).
    assert_eq!(b.state.installations.installation_token("shared").await.unwrap().as_deref(), Some(token.as_str()));
}
