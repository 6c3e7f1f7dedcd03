//! No token reaches a log line: every log record of a full lifecycle run
//! (install with webhooks, deliveries, rejected calls, iframe-style
//! `auth_token` query, uninstall) is captured and searched for the token
//! strings. Its own test binary, because it installs the global subscriber.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{Backend, TestGateway};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn tokens_never_reach_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt().json().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).init();

    let gw = TestGateway::start(Backend::Sqlite).await;
    let (install_token, hooks) = gw.install("ws1", "a1", &["NEW_PROJECT"]).await;
    let lifecycle = gw.addon_token("ws1", "a1");
    let webhook = &hooks[0].1;
    for _ in 0..2 {
        gw.http
            .post(gw.url("/webhooks/NEW_PROJECT"))
            .header("clockify-signature", webhook)
            .header("clockify-webhook-event-type", "NEW_PROJECT")
            .json(&json!({ "id": "p1" }))
            .send()
            .await
            .unwrap();
    }
    // Rejected: wrong event header, a token for another workspace, a token in the query.
    gw.http
        .post(gw.url("/webhooks/NEW_PROJECT"))
        .header("clockify-signature", webhook)
        .header("clockify-webhook-event-type", "NEW_TAG")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let foreign = gw.addon_token("other", "a1");
    gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &foreign), &json!({ "workspaceId": "ws1", "addonId": "a1" })).await;
    let mut user_claims = support::addon_claims("ws1", "a1");
    user_claims["user"] = json!("u1");
    let user_token = gw.sign(&user_claims);
    gw.http.get(gw.url(&format!("/manifest?auth_token={user_token}"))).send().await.unwrap();
    gw.post("/lifecycle/deleted", ("X-Addon-Lifecycle-Token", &lifecycle), &json!({ "workspaceId": "ws1", "addonId": "a1" })).await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("\"target\":\"audit\""), "audit records are written");
    assert!(logs.contains("\"event\":\"install\"") && logs.contains("\"event\":\"uninstall\""));
    assert!(logs.contains("auth_token=***"), "the query is logged redacted");
    for (name, secret) in
        [("installation", &install_token), ("lifecycle", &lifecycle), ("webhook", webhook), ("foreign", &foreign), ("user", &user_token)]
    {
        // Any 24-character piece of the signature part would do; the whole token is the strict check.
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!logs.contains(secret.as_str()), "the {name} token is in the logs");
        assert!(!logs.contains(&signature[..24]), "part of the {name} token's signature is in the logs");
    }
}
