//! End-to-end checks over real TCP, so routing, binding and serialisation are
//! exercised exactly as in production.

use clockify_gateway::{Application, Config};

/// Starts the gateway on an ephemeral port and returns its base URL.
async fn spawn_app() -> String {
    let app = Application::build(Config::for_tests()).await.expect("gateway should bind an ephemeral port");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

fn client() -> reqwest::Client {
    // The workspace reqwest is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

#[tokio::test]
async fn health_returns_ok() {
    let base = spawn_app().await;
    let response = client().get(format!("{base}/health")).send().await.expect("request should succeed");

    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let body: serde_json::Value = response.json().await.expect("body should be JSON");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["contract"], format!("sha256:{}", committed_contract_sha256()));
}

/// The SHA-256 of the committed `openapi.json`, computed here, not by the build.
fn committed_contract_sha256() -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).expect("openapi.json");
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_binary_names_its_version_and_contract() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clockify-gateway")).arg("--version").output().expect("runs");
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout);
    let expected = format!("clockify-gateway {} (contract sha256:{})", env!("CARGO_PKG_VERSION"), committed_contract_sha256());
    assert_eq!(line.trim(), expected);
}

#[tokio::test]
async fn openapi_spec_lists_health() {
    let base = spawn_app().await;
    let response = client().get(format!("{base}/openapi.json")).send().await.expect("request should succeed");

    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let spec: serde_json::Value = response.json().await.expect("spec should be JSON");
    let paths = spec["paths"].as_object().expect("spec should have paths");
    assert!(paths.contains_key("/health"), "paths: {:?}", paths.keys());
    // The spec and docs are served beside the API, not described by it.
    assert!(!paths.contains_key("/openapi.json"));
}

#[tokio::test]
async fn docs_page_is_html() {
    let base = spawn_app().await;
    let response = client().get(format!("{base}/docs")).send().await.expect("request should succeed");

    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("text/html"), "content-type: {content_type}");
    let body = response.text().await.expect("body should be text");
    assert!(body.contains("SwaggerUIBundle"));
}

#[tokio::test]
async fn unknown_path_is_404() {
    let base = spawn_app().await;
    let response = client().get(format!("{base}/no-such-route")).send().await.expect("request should succeed");

    assert_eq!(response.status(), reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn taken_port_is_a_clear_startup_error() {
    let first = Application::build(Config::for_tests()).await.expect("gateway should bind an ephemeral port");
    let mut config = Config::for_tests();
    config.addr.set_port(first.port());

    let error = match Application::build(config).await {
        Ok(_) => panic!("binding a taken port should fail"),
        Err(error) => error,
    };
    let message = error.to_string();
    assert!(message.starts_with("cannot bind GATEWAY_ADDR 127.0.0.1:"), "{message}");
}
