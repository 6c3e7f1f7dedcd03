//! Rotating `ENCRYPTION_KEY`: old keys in `ENCRYPTION_KEYS` keep opening
//! what they sealed, the re-encryption job moves every stored secret to the
//! current key, deliveries keep flowing throughout, and at the end the old
//! keys can go. A secret no configured key opens is an error naming its key
//! id, never a panic.

mod support;

use clockify_gateway::Config;
use serde_json::json;
use support::{Backend, TestGateway, config_for, metric};

fn key(byte: u8) -> clockify_gateway::config::EncryptionKey {
    clockify_gateway::config::EncryptionKey([byte; 32])
}

fn with_keys(base: &Config, current: u8, old: &[u8]) -> Config {
    let mut c = base.clone();
    c.encryption_key = Some(key(current));
    c.encryption_keys = old.iter().map(|b| key(*b)).collect();
    c
}

/// Sends `n` NEW_TAG deliveries for each workspace; all must be acknowledged.
async fn deliver_some(gw: &TestGateway, hooks: &[(&str, String)], n: usize, round: &str) {
    for (ws, token) in hooks {
        for i in 0..n {
            let body = json!({ "id": format!("{round}-{i}"), "name": format!("tag {round} {i}"), "workspaceId": ws });
            let r = gw.deliver("NEW_TAG", token, &body).await;
            assert_eq!(r.status(), 200, "{ws} {round} {i}: {}", r.text().await.unwrap_or_default());
        }
    }
}

async fn wait_for_reencrypted(gw: &TestGateway, expected: f64) {
    for _ in 0..200 {
        let m = gw.metrics().await;
        if metric(&m, "gateway_secrets_reencrypted_total") >= expected {
            assert_eq!(metric(&m, "gateway_secrets_reencrypted_total"), expected, "each secret once");
            assert_eq!(metric(&m, "gateway_secrets_under_old_keys"), 0.0);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the re-encryption job did not move {expected} secrets:\n{}", gw.metrics().await);
}

async fn every_secret_opens(gw: &TestGateway) {
    for ws in ["ws1", "ws2"] {
        assert!(gw.state.installations.installation_token(ws).await.expect("opens").is_some(), "{ws} installation token");
        assert!(gw.state.installations.webhook_token(ws, "NEW_TAG").await.expect("opens").is_some(), "{ws} webhook token");
    }
}

async fn rotating_twice_with_deliveries_flowing_loses_nothing(backend: Backend) {
    let base = config_for(backend).await;
    let gw = TestGateway::start_with(with_keys(&base, 1, &[])).await;
    let mut hooks = Vec::new();
    for ws in ["ws1", "ws2"] {
        let (_, h) = gw.install(ws, &format!("a-{ws}"), &["NEW_TAG"]).await;
        hooks.push((ws, h[0].1.clone()));
    }
    deliver_some(&gw, &hooks, 5, "a").await;
    gw.stop().await;

    // Key 2 is current, key 1 opens what it sealed; deliveries go on while
    // the job re-encrypts (2 installation and 2 webhook tokens).
    let gw = TestGateway::start_with(with_keys(&base, 2, &[1])).await;
    tokio::join!(deliver_some(&gw, &hooks, 10, "b"), wait_for_reencrypted(&gw, 4.0));
    every_secret_opens(&gw).await;
    gw.stop().await;

    let gw = TestGateway::start_with(with_keys(&base, 3, &[2])).await;
    tokio::join!(deliver_some(&gw, &hooks, 10, "c"), wait_for_reencrypted(&gw, 4.0));
    gw.stop().await;

    // The old keys are gone: everything opens with key 3 alone.
    let gw = TestGateway::start_with(with_keys(&base, 3, &[])).await;
    every_secret_opens(&gw).await;
    deliver_some(&gw, &hooks, 5, "d").await;
    for ws in ["ws1", "ws2"] {
        let mut handled = 0;
        for _ in 0..200 {
            handled = gw.state.deliveries.state_counts(ws).await.expect("counts").done;
            if handled == 30 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(handled, 30, "{ws}: every acknowledged delivery stored and handled once");
    }
    let m = gw.metrics().await;
    assert_eq!(metric(&m, "gateway_secrets_reencrypted_total"), 0.0, "nothing left to move");
    gw.stop().await;

    // A key that sealed nothing here: a clear error naming the key ids.
    let gw = TestGateway::start_with(with_keys(&base, 4, &[])).await;
    let err = gw.state.installations.installation_token("ws1").await.expect_err("key 3 is not configured");
    let message = err.to_string();
    let kid3 = clockify_gateway::crypto::key_id(&key(3));
    assert!(message.contains(&kid3) && message.contains("ENCRYPTION_KEYS"), "{message}");
    let mut under_old = 0.0;
    for _ in 0..100 {
        under_old = metric(&gw.metrics().await, "gateway_secrets_under_old_keys");
        if under_old == 4.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(under_old, 4.0, "unreadable secrets are counted, not moved");
    assert_eq!(gw.http.get(gw.url("/health")).send().await.expect("health").status(), 200, "and the gateway still serves");
}

on_both_backends! {
    rotating_twice_with_deliveries_flowing_loses_nothing => rotating_twice_with_deliveries_flowing_loses_nothing;
}
