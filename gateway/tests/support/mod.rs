//! A real gateway on an ephemeral port, on SQLite (a fresh file) or
//! PostgreSQL (a fresh schema in the `test` database), with tokens signed by
//! the test key pair it is configured to trust.

#![allow(dead_code)]

use std::path::PathBuf;

use std::sync::Arc;

use clockify_gateway::{AddonHooks, Application, Config, NoHooks, Parts};
use clockify_testkit::tokens::{TokenFactory, key, keys_dir};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use: `DATABASE_URL` when it names one, else
/// the local server every development and CI machine runs.
pub fn postgres_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(u) if u.starts_with("postgres") => u,
        _ => "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    }
}

/// A fresh schema, and a URL whose connections use it.
async fn fresh_postgres_schema() -> String {
    use sqlx::Connection;
    let base = postgres_url();
    let pid = std::process::id();
    let schema = format!("t_{pid}_{}", uuid::Uuid::new_v4().simple());
    let mut conn =
        sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| panic!("PostgreSQL at {base} is needed for these tests: {e}"));
    // Schemas of test processes that have exited are left-overs: drop them.
    let names: Vec<String> = sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 't\\_%'")
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
    for name in names {
        let owner_pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if owner_pid.is_some_and(|p| p != pid && !std::path::Path::new(&format!("/proc/{p}")).exists()) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await;
        }
    }
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// Where tests' installations say their API lives: nothing listens there.
pub const CLOSED_PORT_HOST: &str = "127.0.0.1:9";

pub fn test_config() -> Config {
    let mut c = Config::for_tests();
    c.clockify_public_key_file = Some(keys_dir().join("test-rsa-public.pem"));
    // Plain http is allowed only by an explicit http:// entry.
    c.allowed_api_hosts.push(format!("http://{CLOSED_PORT_HOST}").parse().expect("http://host:port"));
    c
}

pub async fn config_for(backend: Backend) -> Config {
    let mut c = test_config();
    if backend == Backend::Postgres {
        c.database_url = fresh_postgres_schema().await.parse().expect("postgres URL");
        c.encryption_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".parse().expect("key"));
    }
    c
}

pub struct TestGateway {
    pub base: String,
    /// The server task; abort it to stop the instance abruptly (`stop`
    /// stops it as a signal would).
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
    stop_signal: Option<tokio::sync::oneshot::Sender<()>>,
    /// What the gateway was built from: its stores, for the tests to read.
    pub state: Parts,
    pub inbox: clockify_gateway::inbox::Inbox,
    pub http: reqwest::Client,
    pub signer: TokenFactory,
}

impl TestGateway {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(config_for(backend).await).await
    }

    pub async fn start_with(config: Config) -> Self {
        Self::start_with_hooks(config, Arc::new(NoHooks)).await
    }

    pub async fn start_with_hooks(config: Config, hooks: Arc<dyn AddonHooks>) -> Self {
        Self::start_app(Application::build_with_hooks(config, hooks).await.expect("gateway starts")).await
    }

    /// Serves an application built by the test (`Application::builder`).
    pub async fn start_app(app: Application) -> Self {
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.parts().clone();
        let inbox = app.inbox().clone();
        let (stop_signal, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base,
            server,
            stop_signal: Some(stop_signal),
            state,
            inbox,
            http: reqwest::Client::builder().build().expect("client"),
            signer: TokenFactory::new(&key("test-rsa-private.pem")),
        }
    }

    /// Stops the instance as SIGTERM would (graceful), and waits until it has.
    pub async fn stop(mut self) {
        if let Some(signal) = self.stop_signal.take() {
            let _ = signal.send(());
        }
        let _ = self.server.await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An add-on token of `ws`/`addon` as Clockify would sign it.
    pub fn addon_token(&self, ws: &str, addon: &str) -> String {
        self.signer.sign(&addon_claims(ws, addon))
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.signer.sign(claims)
    }

    pub async fn post(&self, path: &str, token_header: (&str, &str), body: &Value) -> reqwest::Response {
        self.http.post(self.url(path)).header(token_header.0, token_header.1).json(body).send().await.expect("request reaches the gateway")
    }

    /// INSTALLED for `ws` with tokens for the given manifest events; returns
    /// `(installation token, [(event, webhook token)])`.
    pub async fn install(&self, ws: &str, addon: &str, events: &[&str]) -> (String, Vec<(String, String)>) {
        let install_token = self.sign(&installation_claims(ws, addon));
        let hooks: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                let mut c = addon_claims(ws, addon);
                c["purpose"] = json!(format!("webhook {e}"));
                (e.to_string(), self.sign(&c))
            })
            .collect();
        let body = installed_body(ws, addon, &install_token, &hooks);
        let r = self.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &self.addon_token(ws, addon)), &body).await;
        assert_eq!(r.status(), 200, "install: {}", r.text().await.unwrap_or_default());
        (install_token, hooks)
    }

    /// Sends one delivery of `event` signed with `token`.
    pub async fn deliver(&self, event: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/webhooks/{event}")))
            .header("clockify-signature", token)
            .header("clockify-webhook-event-type", event)
            .json(body)
            .send()
            .await
            .expect("request reaches the gateway")
    }

    pub async fn metrics(&self) -> String {
        self.http.get(self.url("/metrics")).send().await.expect("metrics").text().await.expect("text")
    }
}

pub fn addon_claims(ws: &str, addon: &str) -> Value {
    json!({ "iss": "clockify", "type": "addon", "sub": clockify_gateway::addon::STOCK.key, "workspaceId": ws, "addonId": addon })
}

/// Makes `c` a user token's claims, as Clockify gives a component: `user`
/// (kept when set), `workspaceRole`, `language`, `theme` and an `exp` 30
/// minutes ahead.
pub fn as_user(c: &mut Value, role: &str) {
    if c.get("user").is_none() {
        c["user"] = json!("user1");
    }
    c["workspaceRole"] = json!(role);
    c["language"] = json!("EN");
    c["theme"] = json!("DEFAULT");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    c["exp"] = json!(now + 1800);
}

pub fn installation_claims(ws: &str, addon: &str) -> Value {
    let mut c = addon_claims(ws, addon);
    c["user"] = json!("owner1");
    // Tests never reach the internet: "Clockify" is a closed local port
    // unless a test points the claims at its fake.
    c["backendUrl"] = json!(format!("http://{CLOSED_PORT_HOST}/api"));
    c["reportsUrl"] = json!(format!("http://{CLOSED_PORT_HOST}/reports"));
    c["ptoUrl"] = json!(format!("http://{CLOSED_PORT_HOST}/pto"));
    c
}

pub fn installed_body(ws: &str, addon: &str, install_token: &str, hooks: &[(String, String)]) -> Value {
    json!({
        "addonId": addon,
        "authToken": install_token,
        "workspaceId": ws,
        "asUser": "owner1",
        "apiUrl": format!("http://{CLOSED_PORT_HOST}/api"),
        "addonUserId": "1a2b3c4d5e6f7g8h9i0j1k2l",
        "webhooks": hooks.iter().map(|(e, t)| json!({ "path": format!("/webhooks/{e}"), "webhookType": "ADDON", "authToken": t })).collect::<Vec<_>>(),
    })
}

/// The value of `name{labels}` in Prometheus text, 0 when absent.
pub fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels).and_then(|rest| rest.trim().parse::<f64>().ok())).unwrap_or(0.0)
}

pub fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("gw-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident => $body:ident;)*) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$body($crate::support::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$body($crate::support::Backend::Postgres).await })*
        }
    };
}

/// Sends `n` explorer calls (getTags of ws1) to the gateway at `base`, one
/// after another; how many were answered 200.
pub async fn explorer_calls(http: &reqwest::Client, base: &str, token: &str, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        let r = http
            .post(format!("{base}/ui/api-explorer/execute"))
            .header("x-addon-token", token)
            .json(&json!({ "operationId": "getTags", "params": { "workspaceId": "ws1" } }))
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            ok += 1;
        }
    }
    ok
}
