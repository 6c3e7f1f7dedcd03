//! `cargo xtask fake-clockify`: installs a running add-on on a fake Clockify
//! (testkit's `FakeClockify` on a fixed port), signs every call with the test
//! keys as Clockify would, prints the add-on's component URLs with user
//! tokens, then sends lifecycle calls and webhook deliveries on command.
//!
//! The steps are plain functions ([`start_fake`], [`fetch_manifest`],
//! [`Prepared::connect`], [`Session::execute`]) so a test can drive a real
//! gateway through exactly what the command does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clockify_testkit::tokens::{TokenFactory, key, keys_dir};
use clockify_testkit::{FakeClockify, PageStyle, Recorded, Shape};
use serde_json::{Value, json};

pub const USAGE: &str = "\
usage: cargo xtask fake-clockify [--addon <url>] [--port <n>] [--workspace <id>]
                                 [--events-from-manifest] [--wait-for-addon <secs>]
                                 [--deliver <EVENT> <file.json|json>] [--settings <json>]
                                 [--status ACTIVE|INACTIVE] [--user-token <ROLE>]
                                 [--delete] [--then-wait <secs>]

Starts a fake Clockify on 127.0.0.1:<port>, prints the environment the add-on
must run with to trust it, waits for <addon>/manifest, sends a signed
INSTALLED, prints a URL with a 30-minute OWNER user token for each component
and the custom settings page, then takes commands on stdin, one per line,
until EOF or `quit`. Every request the add-on makes to the fake is printed
(method, path, answer, which token it carried).

  --addon <url>             the add-on's base URL (default http://127.0.0.1:8080)
  --port <n>                the fake's port (default 9400)
  --workspace <id>          the workspace installed on (default ws-dev)
  --events-from-manifest    after INSTALLED, deliver one sample body for every
                            webhook event the manifest declares
  --wait-for-addon <secs>   how long to wait for <addon>/manifest (default 120)

Commands (stdin):
  deliver <EVENT> [<file.json> | <inline json>]
                            a webhook delivery signed with that event's token
                            (a sample body when none is given)
  settings <json array of {\"id\",\"value\"}>
                            SETTINGS_UPDATED
  status ACTIVE|INACTIVE    STATUS_CHANGED
  delete                    DELETED
  install                   INSTALLED again (same installation, same tokens)
  user-token [ROLE]         prints a fresh 30-minute user token (default OWNER;
                            OWNER, WORKSPACE_ADMIN, TEAM_MANAGER, PROJECT_MANAGER, USER)
  links                     prints the component URLs again, with fresh tokens
  help, quit

One-shot: the flags --deliver, --settings, --status, --user-token and --delete
run the same commands, in the order given, after INSTALLED; then the fake keeps
answering for --then-wait seconds (default 0) and the command exits without
reading stdin, 1 if any answer was not 2xx. --then-wait alone installs, waits
and exits. Example:

  cargo xtask fake-clockify --addon http://127.0.0.1:8080 \\
      --deliver NEW_TIME_ENTRY examples/time-entry-guard/samples/new-time-entry.json --then-wait 2";

/// The owner who installs, and a plain member.
pub const OWNER: &str = "dev-owner";
pub const MEMBER: &str = "dev-member";

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub addon: String,
    pub port: u16,
    pub workspace: String,
    pub events_from_manifest: bool,
    pub wait_for_addon: Duration,
    /// One-shot commands; with `then_wait`, the command runs non-interactively.
    pub steps: Vec<Command>,
    pub then_wait: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            addon: "http://127.0.0.1:8080".into(),
            port: 9400,
            workspace: "ws-dev".into(),
            events_from_manifest: false,
            wait_for_addon: Duration::from_secs(120),
            steps: Vec::new(),
            then_wait: None,
        }
    }
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        fn value(it: &mut std::slice::Iter<'_, String>, flag: &str) -> Result<String, String> {
            it.next().cloned().ok_or_else(|| format!("{flag} needs a value"))
        }
        while let Some(a) = it.next() {
            match a.as_str() {
                "--addon" => o.addon = value(&mut it, a)?.trim_end_matches('/').to_owned(),
                "--port" => o.port = value(&mut it, a)?.parse().map_err(|_| "--port needs a port number".to_owned())?,
                "--workspace" => o.workspace = value(&mut it, a)?,
                "--events-from-manifest" => o.events_from_manifest = true,
                "--wait-for-addon" => o.wait_for_addon = seconds(&value(&mut it, a)?, a)?,
                "--then-wait" => o.then_wait = Some(seconds(&value(&mut it, a)?, a)?),
                "--deliver" => {
                    let event = value(&mut it, a)?;
                    let body = value(&mut it, "--deliver <EVENT>")?;
                    o.steps.push(Command::Deliver { event, body: Some(body) });
                }
                "--settings" => o.steps.push(parse_command(&format!("settings {}", value(&mut it, a)?))?),
                "--status" => o.steps.push(parse_command(&format!("status {}", value(&mut it, a)?))?),
                "--user-token" => o.steps.push(parse_command(&format!("user-token {}", value(&mut it, a)?))?),
                "--delete" => o.steps.push(Command::Delete),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        if !(o.addon.starts_with("http://") || o.addon.starts_with("https://")) {
            return Err(format!("--addon `{}` must be an http:// or https:// URL", o.addon));
        }
        Ok(o)
    }

    /// Whether the command runs the steps and exits instead of reading stdin.
    pub fn one_shot(&self) -> bool {
        !self.steps.is_empty() || self.then_wait.is_some()
    }
}

fn seconds(s: &str, flag: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{flag} needs a number of seconds"))
}

/// One command of the prompt (or a one-shot flag).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `body`: a file path or inline JSON; `None` sends a sample.
    Deliver {
        event: String,
        body: Option<String>,
    },
    Settings(Value),
    Status(String),
    Delete,
    Install,
    UserToken(String),
    Links,
    Help,
    Quit,
}

pub const ROLES: [&str; 5] = ["OWNER", "WORKSPACE_ADMIN", "TEAM_MANAGER", "PROJECT_MANAGER", "USER"];

pub fn parse_command(line: &str) -> Result<Command, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(w, r)| (w, r.trim()));
    let no_args = |c: Command| if rest.is_empty() { Ok(c) } else { Err(format!("`{word}` takes no arguments")) };
    match word {
        "deliver" => {
            let (event, body) = rest.split_once(char::is_whitespace).map_or((rest, ""), |(e, b)| (e, b.trim()));
            if event.is_empty() {
                return Err("usage: deliver <EVENT> [<file.json> | <inline json>]".into());
            }
            Ok(Command::Deliver { event: event.to_owned(), body: (!body.is_empty()).then(|| body.to_owned()) })
        }
        "settings" => {
            let v: Value = serde_json::from_str(rest)
                .map_err(|e| format!("settings: not JSON ({e}); usage: settings [{{\"id\":\"...\",\"value\":...}}]"))?;
            let ok =
                v.as_array().is_some_and(|a| a.iter().all(|s| s.get("id").and_then(Value::as_str).is_some() && s.get("value").is_some()));
            if !ok {
                return Err("settings: expected a JSON array of {\"id\": \"...\", \"value\": ...}".into());
            }
            Ok(Command::Settings(v))
        }
        "status" => match rest.to_ascii_uppercase().as_str() {
            s @ ("ACTIVE" | "INACTIVE") => Ok(Command::Status(s.to_owned())),
            _ => Err("usage: status ACTIVE|INACTIVE".into()),
        },
        "delete" => no_args(Command::Delete),
        "install" => no_args(Command::Install),
        "user-token" => {
            let role = if rest.is_empty() { "OWNER".to_owned() } else { rest.to_ascii_uppercase() };
            if !ROLES.contains(&role.as_str()) {
                return Err(format!("user-token: role must be one of {}", ROLES.join(", ")));
            }
            Ok(Command::UserToken(role))
        }
        "links" => no_args(Command::Links),
        "help" | "?" => Ok(Command::Help),
        "quit" | "exit" => Ok(Command::Quit),
        "" => Err(String::new()),
        other => Err(format!("unknown command `{other}` (try `help`)")),
    }
}

/// The environment a gateway (or an add-on built on it) needs to trust the
/// fake's tokens and call it: the test public key, the fake as the only
/// allowed API host (plain http on its port), and the add-on's own address.
pub fn gateway_env(fake_url: &str, addon: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("CLOCKIFY_PUBLIC_KEY_FILE".to_owned(), keys_dir().join("test-rsa-public.pem").display().to_string()),
        ("ALLOWED_API_HOSTS".to_owned(), fake_url.trim_end_matches('/').to_owned()),
        ("ADDON_BASE_URL".to_owned(), addon.to_owned()),
    ];
    if let Some(addr) = listen_addr_of(addon) {
        env.push(("GATEWAY_ADDR".to_owned(), addr.to_string()));
    }
    env
}

/// `host:port` to listen on for a plain-http add-on URL on an IP literal
/// or localhost; `None` for anything else (a tunnel, a proxy).
fn listen_addr_of(addon: &str) -> Option<SocketAddr> {
    let rest = addon.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (authority, 80),
    };
    let host = if host.eq_ignore_ascii_case("localhost") { "127.0.0.1" } else { host };
    format!("{host}:{port}").parse().ok()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Answers the add-on's calls as Clockify would, before any add-on is known.
pub struct Prepared {
    pub fake: FakeClockify,
    pub workspace: String,
    /// This run's installation id: a new one each run, as a reinstall gets.
    pub addon_id: String,
    signer: Arc<TokenFactory>,
    /// Tokens this run minted, for the request log: token → what it is.
    known: Arc<Mutex<HashMap<String, String>>>,
}

/// Starts the fake on `addr` with plausible answers for `workspace`.
pub async fn start_fake(addr: SocketAddr, workspace: &str) -> Result<Prepared, String> {
    let fake = FakeClockify::start_on(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    seed(&fake, workspace);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Ok(Prepared {
        fake,
        workspace: workspace.to_owned(),
        addon_id: format!("{:024x}", nanos & ((1u128 << 96) - 1)),
        signer: Arc::new(TokenFactory::new(&key("test-rsa-private.pem"))),
        known: Arc::default(),
    })
}

pub fn sample_user(ws: &str, id: &str) -> Value {
    let (name, email) = if id == OWNER { ("Dev Owner", "owner@example.com") } else { ("Dev Member", "member@example.com") };
    json!({
        "id": id, "name": name, "email": email, "status": "ACTIVE",
        "activeWorkspace": ws, "defaultWorkspace": ws, "profilePicture": "",
        "settings": { "timeZone": "Europe/Berlin", "weekStart": "MONDAY", "timeFormat": "HOUR24", "dateFormat": "YYYY-MM-DD" },
        "memberships": [], "customFields": []
    })
}

pub fn sample_project(ws: &str, id: &str, name: &str) -> Value {
    json!({
        "id": id, "name": name, "workspaceId": ws, "clientId": "dev-client-1", "clientName": "Dev Client",
        "billable": true, "archived": false, "public": true, "color": "#03A9F4", "note": "", "template": false,
        "duration": "PT0S", "memberships": [], "hourlyRate": null, "costRate": null, "estimate": null
    })
}

pub fn sample_time_entry(ws: &str, id: &str, user: &str) -> Value {
    json!({
        "id": id, "description": "Sample entry from fake-clockify", "workspaceId": ws, "userId": user,
        "projectId": "dev-project-1", "taskId": null, "tagIds": [], "billable": true, "type": "REGULAR",
        "isLocked": false, "kioskId": null, "customFieldValues": [],
        "timeInterval": { "start": "2025-01-06T09:00:00Z", "end": "2025-01-06T10:30:00Z", "duration": "PT1H30M" }
    })
}

/// A plausible body for `event` (shaped like the entity it is about).
pub fn sample_body(event: &str, ws: &str) -> Value {
    let e = event.to_ascii_uppercase();
    let mut body = if e.contains("TIME_ENTRY") || e.contains("TIMER") {
        sample_time_entry(ws, "dev-time-entry-1", OWNER)
    } else if e.contains("PROJECT") {
        sample_project(ws, "dev-project-1", "Dev Project")
    } else if e.contains("TASK") {
        json!({ "id": "dev-task-1", "name": "Dev Task", "projectId": "dev-project-1", "status": "ACTIVE", "assigneeIds": [], "billable": true })
    } else if e.contains("CLIENT") {
        json!({ "id": "dev-client-1", "name": "Dev Client", "archived": false, "email": null, "address": null, "note": null })
    } else if e.contains("TAG") {
        json!({ "id": "dev-tag-1", "name": "dev", "archived": false })
    } else if e.contains("USER") {
        sample_user(ws, MEMBER)
    } else {
        json!({ "id": format!("dev-{}", e.to_ascii_lowercase().replace('_', "-")) })
    };
    body["workspaceId"] = json!(ws);
    body
}

/// The answers of a Clockify workspace an add-on commonly calls.
fn seed(fake: &FakeClockify, ws: &str) {
    let w = format!("/v1/workspaces/{ws}");
    let workspace = json!({ "id": ws, "name": "Dev workspace", "hourlyRate": { "amount": 0, "currency": "USD" }, "memberships": [],
        "workspaceSettings": { "timeRoundingInReports": false, "onlyAdminsSeeBillableRates": true, "forceProjects": false, "forceTasks": false, "forceTags": false, "forceDescription": false } });
    fake.on("api", "GET", "/v1/user", 200, sample_user(ws, OWNER));
    fake.on("api", "GET", "/v1/workspaces", 200, json!([workspace.clone()]));
    fake.on("api", "GET", &w, 200, workspace);
    fake.paginated(
        "api",
        &format!("{w}/users"),
        PageStyle::PageSize,
        Shape::Array,
        vec![sample_user(ws, OWNER), sample_user(ws, MEMBER)],
        true,
    );
    fake.on("api", "GET", &format!("/addon/workspaces/{ws}/user"), 200, sample_user(ws, OWNER));

    let tags = vec![
        json!({ "id": "dev-tag-1", "name": "dev", "workspaceId": ws, "archived": false }),
        json!({ "id": "dev-tag-2", "name": "billable-check", "workspaceId": ws, "archived": false }),
    ];
    fake.paginated("api", &format!("{w}/tags"), PageStyle::PageSize, Shape::Array, tags, true);
    fake.echo("api", "POST", "/v1/workspaces/{workspaceId}/tags", 201, json!({ "archived": false }));
    fake.echo("api", "GET", "/v1/workspaces/{workspaceId}/tags/{id}", 200, json!({ "name": "dev", "archived": false }));
    fake.echo("api", "PUT", "/v1/workspaces/{workspaceId}/tags/{id}", 200, json!({ "archived": false }));

    let projects = vec![sample_project(ws, "dev-project-1", "Dev Project"), sample_project(ws, "dev-project-2", "Internal")];
    fake.paginated("api", &format!("{w}/projects"), PageStyle::PageSize, Shape::Array, projects, true);
    fake.echo("api", "GET", "/v1/workspaces/{workspaceId}/projects/{id}", 200, sample_project(ws, "", "Dev Project"));
    fake.echo("api", "POST", "/v1/workspaces/{workspaceId}/projects", 201, json!({ "archived": false, "billable": true, "public": true }));
    let clients = vec![json!({ "id": "dev-client-1", "name": "Dev Client", "workspaceId": ws, "archived": false })];
    fake.paginated("api", &format!("{w}/clients"), PageStyle::PageSize, Shape::Array, clients, true);

    for user in [OWNER, MEMBER] {
        let entries =
            vec![sample_time_entry(ws, &format!("{user}-entry-1"), user), sample_time_entry(ws, &format!("{user}-entry-2"), user)];
        fake.paginated("api", &format!("{w}/user/{user}/time-entries"), PageStyle::PageSize, Shape::Array, entries, true);
    }
    fake.paginated("api", &format!("{w}/time-entries/status/in-progress"), PageStyle::PageSize, Shape::Array, Vec::new(), true);
    let entry = sample_time_entry(ws, "", OWNER);
    for method in ["GET", "PUT"] {
        fake.echo("api", method, "/v1/workspaces/{workspaceId}/time-entries/{id}", 200, entry.clone());
    }
    fake.echo("api", "POST", "/v1/workspaces/{workspaceId}/time-entries", 201, entry);
    fake.on_pattern("api", "DELETE", "/v1/workspaces/{workspaceId}/time-entries/{id}", 204, Value::Null);
    // Webhooks the add-on registers through the API are kept (and listed).
    fake.serve_webhooks(ws);
}

/// `GET <addon>/manifest`, retried until it answers 200 or `wait` has passed.
pub async fn fetch_manifest(http: &reqwest::Client, addon: &str, wait: Duration) -> Result<Value, String> {
    let url = format!("{addon}/manifest");
    let deadline = std::time::Instant::now() + wait;
    let mut said = false;
    loop {
        let last = match http.get(&url).send().await {
            Ok(r) if r.status() == 200 => return r.json::<Value>().await.map_err(|e| format!("{url}: not JSON: {e}")),
            Ok(r) => format!("{url} answered {}", r.status()),
            Err(e) => format!("{url}: {e}"),
        };
        if std::time::Instant::now() >= deadline {
            return Err(format!("{last}; is the add-on running with the environment above?"));
        }
        if !said {
            println!("waiting for {url} ({last}) ...");
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().expect("an HTTP client")
}

/// A manifest webhook with the token its deliveries are signed with.
#[derive(Debug, Clone)]
pub struct Hook {
    pub event: String,
    pub path: String,
    pub token: String,
}

/// The fake with an add-on installed (or about to be).
pub struct Session {
    pub fake: FakeClockify,
    pub workspace: String,
    pub addon_id: String,
    pub addon: String,
    pub manifest: Value,
    /// The manifest's `key`: every token's `sub`.
    pub key: String,
    pub installation_token: String,
    pub hooks: Vec<Hook>,
    signer: Arc<TokenFactory>,
    known: Arc<Mutex<HashMap<String, String>>>,
    http: reqwest::Client,
    /// The settings tree the fake serves, with the values SETTINGS_UPDATED set.
    settings_tree: Mutex<Option<Value>>,
}

/// An answer of the add-on.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 2000;
        let body = if self.body.len() > SHOWN {
            let mut end = SHOWN;
            while !self.body.is_char_boundary(end) {
                end -= 1;
            }
            format!("{} ... ({} bytes)", &self.body[..end], self.body.len())
        } else {
            self.body.clone()
        };
        write!(f, "{}{}{body}", self.status, if body.is_empty() { "" } else { " " })
    }
}

impl Prepared {
    /// Makes this run's tokens for the add-on whose manifest is `manifest`.
    pub fn connect(self, addon: &str, manifest: Value) -> Result<Session, String> {
        let key = manifest.get("key").and_then(Value::as_str).ok_or("the manifest has no `key`")?.to_owned();
        let Prepared { fake, workspace, addon_id, signer, known } = self;
        let mut s = Session {
            fake,
            workspace,
            addon_id,
            addon: addon.trim_end_matches('/').to_owned(),
            manifest,
            key,
            installation_token: String::new(),
            hooks: Vec::new(),
            signer,
            known,
            http: http_client(),
            settings_tree: Mutex::new(None),
        };
        let mut install = s.addon_claims();
        install["user"] = json!(OWNER);
        s.host_claims(&mut install);
        s.installation_token = s.signer.sign(&install);
        s.remember(&s.installation_token.clone(), "installation token");
        for w in s.manifest.get("webhooks").and_then(Value::as_array).cloned().unwrap_or_default() {
            let (Some(event), Some(path)) = (w.get("event").and_then(Value::as_str), w.get("path").and_then(Value::as_str)) else {
                continue;
            };
            let mut c = s.addon_claims();
            c["jti"] = json!(format!("{}-{event}", s.addon_id));
            s.hooks.push(Hook { event: event.to_owned(), path: path.to_owned(), token: s.signer.sign(&c) });
        }
        // Webhooks the add-on creates through the API get tokens signed like Clockify's.
        let (signer, key_, addon_id) = (s.signer.clone(), s.key.clone(), s.addon_id.clone());
        s.fake.mint_webhook_tokens(move |ws, id, _event| {
            signer.sign(&json!({ "iss": "clockify", "type": "addon", "sub": key_, "workspaceId": ws, "addonId": addon_id, "jti": id }))
        });
        // Structured settings: served with their defaults until SETTINGS_UPDATED.
        if let Some(tree) = s.manifest.get("settings").filter(|t| t.is_object()) {
            *s.settings_tree.lock().unwrap_or_else(|e| e.into_inner()) = Some(tree.clone());
        }
        s.serve_settings();
        s.serve_user_tokens();
        Ok(s)
    }
}

impl Session {
    fn addon_claims(&self) -> Value {
        json!({ "iss": "clockify", "type": "addon", "sub": self.key, "workspaceId": self.workspace, "addonId": self.addon_id })
    }

    fn host_claims(&self, c: &mut Value) {
        c["backendUrl"] = json!(self.fake.core_url());
        c["reportsUrl"] = json!(self.fake.reports_url());
        c["ptoUrl"] = json!(self.fake.pto_url());
    }

    fn remember(&self, token: &str, what: &str) {
        self.known.lock().unwrap_or_else(|e| e.into_inner()).insert(token.to_owned(), what.to_owned());
    }

    /// A user token as Clockify gives a component: 30 minutes, the role's user.
    pub fn user_token(&self, role: &str) -> String {
        let user = if role == "OWNER" { OWNER } else { MEMBER };
        let mut c = self.addon_claims();
        c["user"] = json!(user);
        self.host_claims(&mut c);
        c["workspaceRole"] = json!(role);
        c["language"] = json!("EN");
        c["theme"] = json!("DEFAULT");
        c["exp"] = json!(now() + 1800);
        let token = self.signer.sign(&c);
        self.remember(&token, &format!("user token ({role})"));
        token
    }

    /// `POST /addon/user/{id}/token` answers a fresh user token of that user.
    fn serve_user_tokens(&self) {
        for (user, role) in [(OWNER, "OWNER"), (MEMBER, "USER")] {
            let token = self.user_token(role);
            self.fake.on_text("api", "POST", &format!("/addon/user/{user}/token"), 200, "text/plain", &token);
        }
    }

    fn serve_settings(&self) {
        let tree = self.settings_tree.lock().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| json!({ "tabs": [] }));
        let path = format!("/addon/workspaces/{}/settings", self.workspace);
        self.fake.on("api", "GET", &path, 200, tree.clone());
        self.fake.on("api", "PATCH", &path, 200, tree);
    }

    /// `<addon><path>?auth_token=<OWNER user token>` for each component and
    /// the custom settings page, with what it is.
    pub fn links(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let token = self.user_token("OWNER");
        for c in self.manifest.get("components").and_then(Value::as_array).into_iter().flatten() {
            let Some(path) = c.get("path").and_then(Value::as_str) else { continue };
            let label = c.get("label").and_then(Value::as_str).unwrap_or("");
            let kind = c.get("type").and_then(Value::as_str).unwrap_or("component");
            out.push((format!("{kind} \"{label}\""), format!("{}{path}?auth_token={token}", self.addon)));
        }
        if let Some(path) = self.manifest.get("settings").and_then(Value::as_str) {
            out.push(("settings page".to_owned(), format!("{}{path}?auth_token={token}", self.addon)));
        }
        out
    }

    fn lifecycle_path(&self, kind: &str) -> Result<String, String> {
        self.manifest
            .get("lifecycle")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|l| l.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|l| l.get("path").and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| format!("the manifest declares no {kind} lifecycle path"))
    }

    async fn post(&self, url: &str, headers: &[(&str, &str)], body: &Value) -> Result<Answer, String> {
        let mut req = self.http.post(url).json(body);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let r = req.send().await.map_err(|e| format!("POST {url}: {e}"))?;
        let status = r.status().as_u16();
        Ok(Answer { status, body: r.text().await.unwrap_or_default() })
    }

    async fn lifecycle(&self, kind: &str, body: &Value) -> Result<Answer, String> {
        let url = format!("{}{}", self.addon, self.lifecycle_path(kind)?);
        let token = self.signer.sign(&self.addon_claims());
        self.post(&url, &[("X-Addon-Lifecycle-Token", &token)], body).await
    }

    /// INSTALLED, as Clockify sends it.
    pub async fn install(&self) -> Result<Answer, String> {
        let body = json!({
            "addonId": self.addon_id,
            "authToken": self.installation_token,
            "workspaceId": self.workspace,
            "asUser": OWNER,
            "apiUrl": self.fake.core_url(),
            "addonUserId": "dev-addon-user",
            "webhooks": self.hooks.iter().map(|h| json!({ "path": h.path, "webhookType": "ADDON", "authToken": h.token })).collect::<Vec<_>>(),
        });
        self.lifecycle("INSTALLED", &body).await
    }

    pub async fn delete(&self) -> Result<Answer, String> {
        self.lifecycle("DELETED", &json!({ "addonId": self.addon_id, "workspaceId": self.workspace, "asUser": OWNER })).await
    }

    pub async fn status(&self, status: &str) -> Result<Answer, String> {
        self.lifecycle("STATUS_CHANGED", &json!({ "addonId": self.addon_id, "workspaceId": self.workspace, "status": status })).await
    }

    /// SETTINGS_UPDATED with `[{id, value}]`, names filled in from the
    /// manifest's settings; the fake then serves the tree with these values.
    pub async fn settings(&self, values: &Value) -> Result<Answer, String> {
        let mut tree = self.settings_tree.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut settings = Vec::new();
        for v in values.as_array().into_iter().flatten() {
            let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
            let value = v.get("value").cloned().unwrap_or(Value::Null);
            let name = tree.as_mut().and_then(|t| set_setting(t, id, &value));
            settings.push(json!({ "id": id, "name": name.unwrap_or_else(|| id.to_owned()), "value": value }));
        }
        *self.settings_tree.lock().unwrap_or_else(|e| e.into_inner()) = tree;
        self.serve_settings();
        self.lifecycle("SETTINGS_UPDATED", &json!({ "addonId": self.addon_id, "workspaceId": self.workspace, "settings": settings })).await
    }

    /// A delivery of `event`, signed with its manifest webhook's token, or
    /// with the token of the webhook the add-on registered through the API.
    pub async fn deliver(&self, event: &str, body: &Value) -> Result<Answer, String> {
        let (url, token) = if let Some(h) = self.hooks.iter().find(|h| h.event == event) {
            let url = if h.path.starts_with("http://") || h.path.starts_with("https://") {
                h.path.clone()
            } else {
                format!("{}{}", self.addon, h.path)
            };
            (url, h.token.clone())
        } else if let Some(w) =
            self.fake.webhooks(&self.workspace).into_iter().find(|w| w.get("webhookEvent").and_then(Value::as_str) == Some(event))
        {
            let field = |n: &str| w.get(n).and_then(Value::as_str).unwrap_or_default().to_owned();
            (field("url"), field("authToken"))
        } else {
            let mut events: Vec<String> = self.hooks.iter().map(|h| h.event.clone()).collect();
            events.extend(
                self.fake.webhooks(&self.workspace).iter().filter_map(|w| w.get("webhookEvent").and_then(Value::as_str).map(str::to_owned)),
            );
            return Err(format!("the add-on has no webhook for {event}; it has: {}", events.join(", ")));
        };
        self.hold_delivered(event, body);
        self.post(&url, &[("clockify-signature", &token), ("clockify-webhook-event-type", event)], body).await
    }

    /// A time entry Clockify announces is one it holds: from its delivery
    /// on (unless deleted), `GET` of its id answers the delivered body
    /// rather than the seeded sample, so an add-on that reads the entry back
    /// (as the time entry guard does before writing) sees what it was told.
    fn hold_delivered(&self, event: &str, body: &Value) {
        let e = event.to_ascii_uppercase();
        if !(e.contains("TIME_ENTRY") || e.contains("TIMER")) || e.contains("DELETED") {
            return;
        }
        let Some(id) = body.get("id").and_then(Value::as_str).filter(|id| !id.is_empty() && !id.contains('/')) else { return };
        self.fake.on("api", "GET", &format!("/v1/workspaces/{}/time-entries/{id}", self.workspace), 200, body.clone());
    }

    /// Runs one command; `Ok(None)` for `quit`. The text is what to print.
    pub async fn execute(&self, cmd: &Command) -> Result<Option<(String, bool)>, String> {
        let answered = |what: String, a: Answer| Some((format!("{what} -> {a}"), a.ok()));
        Ok(match cmd {
            Command::Deliver { event, body } => {
                let body = match body {
                    None => sample_body(event, &self.workspace),
                    Some(b) => read_body(b)?,
                };
                answered(format!("deliver {event}"), self.deliver(event, &body).await?)
            }
            Command::Settings(v) => answered("SETTINGS_UPDATED".into(), self.settings(v).await?),
            Command::Status(s) => answered(format!("STATUS_CHANGED {s}"), self.status(s).await?),
            Command::Delete => answered("DELETED".into(), self.delete().await?),
            Command::Install => answered("INSTALLED".into(), self.install().await?),
            Command::UserToken(role) => Some((self.user_token(role), true)),
            Command::Links => Some((self.links_text(), true)),
            Command::Help => Some((
                USAGE.split("Commands (stdin):").nth(1).unwrap_or(USAGE).split("\n\nOne-shot").next().unwrap_or("").trim_end().to_owned(),
                true,
            )),
            Command::Quit => None,
        })
    }

    pub fn links_text(&self) -> String {
        let links = self.links();
        if links.is_empty() {
            return "The manifest declares no components and no custom settings page.".into();
        }
        let mut s = String::from("Open in a browser (OWNER user token, valid 30 minutes; `links` makes fresh ones):");
        for (what, url) in links {
            s.push_str(&format!("\n  {what}:\n    {url}"));
        }
        s
    }
}

/// Writes `value` into the setting `id` of a structured settings tree;
/// returns the setting's name when found.
fn set_setting(tree: &mut Value, id: &str, value: &Value) -> Option<String> {
    match tree {
        Value::Object(m) => {
            if m.get("id").and_then(Value::as_str) == Some(id) && (m.contains_key("value") || m.contains_key("type")) {
                m.insert("value".into(), value.clone());
                return Some(m.get("name").and_then(Value::as_str).unwrap_or(id).to_owned());
            }
            m.values_mut().find_map(|v| set_setting(v, id, value))
        }
        Value::Array(a) => a.iter_mut().find_map(|v| set_setting(v, id, value)),
        _ => None,
    }
}

/// A delivery body: inline JSON, or the path of a JSON file.
fn read_body(arg: &str) -> Result<Value, String> {
    let text = if arg.starts_with('{') || arg.starts_with('[') {
        arg.to_owned()
    } else {
        std::fs::read_to_string(PathBuf::from(arg)).map_err(|e| format!("{arg}: {e}"))?
    };
    serde_json::from_str(&text).map_err(|e| format!("{arg}: not JSON: {e}"))
}

fn describe_credential(known: &Mutex<HashMap<String, String>>, installation: &str, r: &Recorded) -> String {
    match (r.header("x-addon-token"), r.header("x-api-key")) {
        (Some(t), _) if t == installation => "X-Addon-Token: installation token".into(),
        (Some(t), _) => match known.lock().unwrap_or_else(|e| e.into_inner()).get(t) {
            Some(what) => format!("X-Addon-Token: {what}"),
            None => "X-Addon-Token: NOT a token of this installation".into(),
        },
        (None, Some(_)) => "X-Api-Key".into(),
        (None, None) => "no token".into(),
    }
}

/// One line of the request log.
pub fn log_line(r: &Recorded, credential: &str) -> String {
    let q = if r.query.is_empty() { String::new() } else { format!("?{}", r.query) };
    format!("[fake-clockify] {} {}{q} -> {} ({credential})", r.method, r.path, r.status)
}

/// `cargo xtask fake-clockify ...`
pub fn run(args: &[String]) -> ExitCode {
    let opts = match Options::parse(args) {
        Ok(o) => o,
        Err(e) => {
            if e.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime");
    match rt.block_on(run_async(opts)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_async(opts: Options) -> Result<bool, String> {
    let prepared = start_fake(SocketAddr::from(([127, 0, 0, 1], opts.port)), &opts.workspace).await?;
    let fake_url = prepared.fake.url();
    println!("Fake Clockify on {fake_url} (core API {0}/api, reports {0}/reports, PTO {0}/pto), workspace {1}.", fake_url, opts.workspace);
    let env = gateway_env(&fake_url, &opts.addon);
    let line: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "\nRun the add-on with this environment so it trusts the fake's tokens and calls the fake:\n\n  {} cargo run -p clockify-gateway\n",
        line.join(" ")
    );

    // The request log: every request the fake answers, as it is answered.
    let mut log = prepared.fake.subscribe();
    let known = prepared.known.clone();
    let installation = Arc::new(Mutex::new(String::new()));
    let installation_for_log = installation.clone();
    tokio::spawn(async move {
        while let Some(r) = log.recv().await {
            let inst = installation_for_log.lock().unwrap_or_else(|e| e.into_inner()).clone();
            println!("{}", log_line(&r, &describe_credential(&known, &inst, &r)));
        }
    });

    let http = http_client();
    let manifest = fetch_manifest(&http, &opts.addon, opts.wait_for_addon).await?;
    if let Some(base) = manifest.get("baseUrl").and_then(Value::as_str)
        && base.trim_end_matches('/') != opts.addon
    {
        println!("note: the manifest's baseUrl is {base}, not {}; the fake calls {} (set ADDON_BASE_URL as above)", opts.addon, opts.addon);
    }
    let session = prepared.connect(&opts.addon, manifest)?;
    *installation.lock().unwrap_or_else(|e| e.into_inner()) = session.installation_token.clone();
    println!(
        "Add-on `{}` at {}: {} lifecycle paths, {} webhooks, {} components.",
        session.key,
        session.addon,
        session.manifest.get("lifecycle").and_then(Value::as_array).map_or(0, Vec::len),
        session.hooks.len(),
        session.manifest.get("components").and_then(Value::as_array).map_or(0, Vec::len)
    );
    let installed = session.install().await?;
    println!("INSTALLED (workspace {}, installation {}) -> {installed}", session.workspace, session.addon_id);
    let mut all_ok = installed.ok();
    println!("\n{}\n", session.links_text());

    if opts.events_from_manifest {
        for h in session.hooks.clone() {
            let cmd = Command::Deliver { event: h.event.clone(), body: None };
            all_ok &= report(session.execute(&cmd).await);
        }
    }

    if opts.one_shot() {
        for step in &opts.steps {
            all_ok &= report(session.execute(step).await);
        }
        if let Some(wait) = opts.then_wait {
            tokio::time::sleep(wait).await;
        }
        return Ok(all_ok);
    }

    let sample = session.hooks.first().map_or("NEW_TIME_ENTRY", |h| h.event.as_str()).to_owned();
    println!(
        "Type commands (`help` lists them), e.g.:\n  deliver {sample} path/to/body.json\n  deliver {sample}            (a sample body)\n  settings [{{\"id\":\"...\",\"value\":\"...\"}}]\n  status INACTIVE\n  user-token WORKSPACE_ADMIN\n  delete\n  quit\nor non-interactively:\n  cargo xtask fake-clockify --addon {} --port {} --deliver {sample} path/to/body.json --then-wait 2\n",
        session.addon, opts.port
    );
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match parse_command(&line) {
            Ok(cmd) => match session.execute(&cmd).await {
                Ok(None) => break,
                other => {
                    report(other);
                }
            },
            Err(e) if e.is_empty() => {}
            Err(e) => println!("error: {e}"),
        }
    }
    Ok(all_ok)
}

fn report(r: Result<Option<(String, bool)>, String>) -> bool {
    match r {
        Ok(Some((text, ok))) => {
            println!("{text}");
            ok
        }
        Ok(None) => true,
        Err(e) => {
            println!("error: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clockify_gateway::{Application, Config};

    #[test]
    fn flags_and_commands_parse() {
        let args: Vec<String> = [
            "--addon",
            "http://127.0.0.1:8081/",
            "--deliver",
            "NEW_TIME_ENTRY",
            "a.json",
            "--status",
            "inactive",
            "--delete",
            "--then-wait",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = Options::parse(&args).unwrap();
        assert_eq!(o.addon, "http://127.0.0.1:8081");
        assert_eq!((o.port, o.workspace.as_str()), (9400, "ws-dev"));
        assert_eq!(
            o.steps,
            [
                Command::Deliver { event: "NEW_TIME_ENTRY".into(), body: Some("a.json".into()) },
                Command::Status("INACTIVE".into()),
                Command::Delete
            ]
        );
        assert_eq!(o.then_wait, Some(Duration::from_secs(2)));
        assert!(o.one_shot());
        assert!(!Options::parse(&[]).unwrap().one_shot(), "no step flags: interactive");
        assert!(Options::parse(&["--port".into(), "x".into()]).is_err());
        assert!(Options::parse(&["--addon".into(), "127.0.0.1:8080".into()]).is_err());

        assert_eq!(
            parse_command("deliver NEW_TAG {\"id\": 1}").unwrap(),
            Command::Deliver { event: "NEW_TAG".into(), body: Some("{\"id\": 1}".into()) }
        );
        assert_eq!(parse_command("  deliver NEW_TAG ").unwrap(), Command::Deliver { event: "NEW_TAG".into(), body: None });
        assert_eq!(parse_command("user-token").unwrap(), Command::UserToken("OWNER".into()));
        assert_eq!(parse_command("user-token team_manager").unwrap(), Command::UserToken("TEAM_MANAGER".into()));
        assert_eq!(parse_command("quit").unwrap(), Command::Quit);
        for bad in ["deliver", "settings {}", "settings [{\"id\":\"a\"}]", "status PAUSED", "delete now", "user-token BOSS", "frobnicate"] {
            assert!(parse_command(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_printed_environment_names_the_key_the_fake_and_the_addon() {
        let env = gateway_env("http://127.0.0.1:9400", "http://localhost:8080");
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert!(get("CLOCKIFY_PUBLIC_KEY_FILE").unwrap().ends_with("testkit/keys/test-rsa-public.pem"));
        assert!(std::path::Path::new(get("CLOCKIFY_PUBLIC_KEY_FILE").unwrap()).is_file());
        assert_eq!(get("ALLOWED_API_HOSTS"), Some("http://127.0.0.1:9400"));
        assert_eq!(get("ADDON_BASE_URL"), Some("http://localhost:8080"));
        assert_eq!(get("GATEWAY_ADDR"), Some("127.0.0.1:8080"));
        let tunnel = gateway_env("http://127.0.0.1:9400", "https://dev.example.com");
        assert!(!tunnel.iter().any(|(k, _)| k == "GATEWAY_ADDR"), "no listen address for a URL the add-on is not on");
    }

    /// The gateway's flags for the printed environment: each variable
    /// becomes the flag clap reads it into, so a name the gateway does not
    /// read fails here.
    fn gateway_args(env: &[(String, String)], db: &std::path::Path) -> Vec<String> {
        let command = Config::command();
        let mut args = vec!["clockify-gateway".to_owned()];
        for (var, value) in env {
            let arg = command
                .get_arguments()
                .find(|a| a.get_env().is_some_and(|e| e == var.as_str()))
                .unwrap_or_else(|| panic!("the gateway reads no {var}"));
            args.push(format!("--{}", arg.get_long().expect("a long flag")));
            args.push(value.clone());
        }
        // A fresh database, whatever DATABASE_URL the test process has.
        args.extend([
            "--database-url".to_owned(),
            format!("sqlite://{}?mode=rwc", db.display()),
            "--log-format".to_owned(),
            "pretty".to_owned(),
        ]);
        args
    }

    struct Gateway {
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        server: tokio::task::JoinHandle<std::io::Result<()>>,
        dir: PathBuf,
    }

    impl Gateway {
        async fn stop(mut self) {
            if let Some(s) = self.stop.take() {
                let _ = s.send(());
            }
            let _ = self.server.await;
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A real gateway configured with `env` only (and a fresh database).
    async fn start_gateway(env: &[(String, String)]) -> Gateway {
        let dir = std::env::temp_dir().join(format!("xtask-fake-clockify-{}-{}", std::process::id(), now_nanos()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let config = Config::from_env_and_args(gateway_args(env, &dir.join("gateway.db"))).unwrap_or_else(|e| panic!("{e:?}"));
        let app = Application::build(config).await.expect("the gateway starts");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Gateway { stop: Some(stop), server, dir }
    }

    fn now_nanos() -> u128 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
    }

    /// The gateway binds GATEWAY_ADDR, which the printed ADDON_BASE_URL
    /// must name: a port the OS just handed out and took back.
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
    }

    async fn admin(http: &reqwest::Client, s: &Session, role: &str) -> (u16, Value) {
        let r = http
            .get(format!("{}/admin/installations/{}", s.addon, s.workspace))
            .header("X-Addon-Token", s.user_token(role))
            .send()
            .await
            .expect("the gateway answers");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn run(s: &Session, line: &str) -> (String, bool) {
        s.execute(&parse_command(line).unwrap()).await.unwrap_or_else(|e| panic!("{line}: {e}")).expect("not quit")
    }

    async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
        for _ in 0..100 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("not within 10 s: {what}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gateway_run_as_printed_is_installed_fed_and_uninstalled() {
        let http = http_client();
        let prepared = start_fake("127.0.0.1:0".parse().unwrap(), "ws-fake").await.unwrap();
        let addon = format!("http://127.0.0.1:{}", free_port());
        let env = gateway_env(&prepared.fake.url(), &addon);
        let gateway = start_gateway(&env).await;

        let manifest = fetch_manifest(&http, &addon, Duration::from_secs(20)).await.unwrap();
        assert_eq!(manifest["baseUrl"], addon.as_str(), "ADDON_BASE_URL reached the gateway");
        let s = prepared.connect(&addon, manifest).unwrap();
        assert_eq!(s.hooks.len(), 10, "one webhook token per manifest webhook");

        let (text, ok) = run(&s, "install").await;
        assert!(ok && text.contains("\"installed\""), "{text}");

        // Live, on the fake's hosts; the user token's role is checked.
        let (status, view) = admin(&http, &s, "OWNER").await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["status"], "active");
        assert_eq!(view["backend_url"].as_str().or(view["backendUrl"].as_str()), Some(s.fake.core_url().as_str()), "{view}");
        assert_eq!(admin(&http, &s, "USER").await.0, 403);

        // The gateway calls the fake with the installation token: it registers
        // its REST-only events there.
        let rest_events = clockify_gateway::addon::STOCK.rest_webhooks.len();
        assert!(rest_events > 0);
        eventually("the REST webhooks are registered on the fake", async || s.fake.webhooks("ws-fake").len() == rest_events).await;
        let calls = s.fake.requests();
        assert!(calls.iter().any(|r| r.method == "POST" && r.path == "/api/v1/workspaces/ws-fake/webhooks"));
        for r in &calls {
            assert_eq!(
                describe_credential(&s.known, &s.installation_token, r),
                "X-Addon-Token: installation token",
                "{} {}",
                r.method,
                r.path
            );
            assert!(log_line(r, "x").starts_with(&format!("[fake-clockify] {} {}", r.method, r.path)));
        }

        // Deliveries: inline JSON, a file, a sample, and an event the gateway
        // registered through the API (signed with the token the fake minted).
        let (text, ok) = run(&s, r#"deliver NEW_TIME_ENTRY {"id":"te-inline","workspaceId":"ws-fake","description":"x"}"#).await;
        assert!(ok && text.contains("\"accepted\""), "{text}");
        let file = gateway.dir.join("entry.json");
        std::fs::write(&file, sample_body("TIME_ENTRY_UPDATED", "ws-fake").to_string()).unwrap();
        let (text, ok) = run(&s, &format!("deliver TIME_ENTRY_UPDATED {}", file.display())).await;
        assert!(ok && text.contains("\"accepted\""), "{text}");
        let (text, ok) = run(&s, "deliver NEW_PROJECT").await;
        assert!(ok && text.contains("\"accepted\""), "{text}");
        let rest_event = clockify_gateway::addon::STOCK.rest_webhooks[0].as_str();
        let (text, ok) = run(&s, &format!("deliver {rest_event}")).await;
        assert!(ok && text.contains("\"accepted\""), "{rest_event}: {text}");
        // Another workspace's body is refused: the answer is the gateway's.
        let (text, ok) = run(&s, r#"deliver NEW_TAG {"id":"t","workspaceId":"someone-else"}"#).await;
        assert!(!ok && text.starts_with("deliver NEW_TAG -> 400"), "{text}");
        assert!(s.execute(&parse_command("deliver NOT_SUBSCRIBED").unwrap()).await.is_err());
        eventually("the four deliveries are stored", async || {
            let (_, v) = admin(&http, &s, "OWNER").await;
            v["deliveries"]["pending"].as_i64().unwrap_or(0)
                + v["deliveries"]["done"].as_i64().unwrap_or(0)
                + v["deliveries"]["dead"].as_i64().unwrap_or(0)
                == 4
        })
        .await;

        let (text, ok) = run(&s, r#"settings [{"id":"threshold","value":8}]"#).await;
        assert!(ok && text.contains("settings_updated"), "{text}");
        let (_, view) = admin(&http, &s, "OWNER").await;
        assert_eq!(view["settings"], json!([{ "id": "threshold", "name": "threshold", "value": 8 }]), "{view}");
        let (text, ok) = run(&s, "status INACTIVE").await;
        assert!(ok && text.contains("\"inactive\""), "{text}");
        assert_eq!(admin(&http, &s, "OWNER").await.1["status"], "inactive");
        assert!(run(&s, "status ACTIVE").await.1);

        // The user token the fake hands out for the owner is one the gateway accepts.
        let token: String = http
            .post(format!("{}/addon/user/{OWNER}/token", s.fake.core_url()))
            .header("X-Addon-Token", &s.installation_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let r = http.get(format!("{addon}/admin/installations/ws-fake")).header("X-Addon-Token", token).send().await.unwrap();
        assert_eq!(r.status(), 200);

        let (text, ok) = run(&s, "delete").await;
        assert!(ok && text.contains("\"deleted\""), "{text}");
        assert_eq!(admin(&http, &s, "OWNER").await.0, 404, "no live installation after DELETED");
        assert!(s.fake.webhooks("ws-fake").is_empty(), "the gateway removed what it registered");
        gateway.stop().await;
    }

    #[tokio::test]
    async fn links_carry_owner_tokens_and_settings_updates_show_in_the_served_tree() {
        let prepared = start_fake("127.0.0.1:0".parse().unwrap(), "ws-l").await.unwrap();
        let manifest = json!({
            "key": "my-addon",
            "components": [
                { "type": "sidebar", "label": "Guard", "path": "/ui/sidebar", "accessLevel": "ADMINS" },
                { "type": "widget", "label": "W", "path": "/ui/widget" },
            ],
            "settings": "/ui/settings",
        });
        let s = prepared.connect("http://127.0.0.1:1/", manifest).unwrap();
        let links = s.links();
        let urls: Vec<&str> = links.iter().map(|(_, u)| u.split("?auth_token=").next().unwrap()).collect();
        assert_eq!(urls, ["http://127.0.0.1:1/ui/sidebar", "http://127.0.0.1:1/ui/widget", "http://127.0.0.1:1/ui/settings"]);
        assert_eq!(links[0].0, "sidebar \"Guard\"");
        let token = links[0].1.split("?auth_token=").nth(1).unwrap();
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(s.known.lock().unwrap().get(token).map(String::as_str), Some("user token (OWNER)"));

        // Structured settings: the tree the fake serves follows SETTINGS_UPDATED.
        let prepared = start_fake("127.0.0.1:0".parse().unwrap(), "ws-l").await.unwrap();
        let tree = json!({ "tabs": [{ "id": "t", "name": "T", "settings": [{ "id": "limit", "name": "Daily limit", "type": "NUMBER", "value": 8 }] }] });
        let s = prepared.connect("http://127.0.0.1:1", json!({ "key": "k", "settings": tree })).unwrap();
        let url = format!("{}/addon/workspaces/ws-l/settings", s.fake.core_url());
        let served: Value = http_client().get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(served["tabs"][0]["settings"][0]["value"], 8);
        // No add-on listens on port 1: the call fails, the tree is updated anyway.
        assert!(s.settings(&json!([{ "id": "limit", "value": 10 }])).await.is_err());
        let served: Value = http_client().get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(served["tabs"][0]["settings"][0]["value"], 10);
        assert_eq!(set_setting(&mut tree.clone(), "limit", &json!(1)), Some("Daily limit".to_owned()));
        assert_eq!(set_setting(&mut tree.clone(), "other", &json!(1)), None);
    }

    #[tokio::test]
    async fn a_delivered_time_entry_is_what_get_of_its_id_answers() {
        let prepared = start_fake("127.0.0.1:0".parse().unwrap(), "ws-dev").await.unwrap();
        let manifest = json!({ "key": "k", "webhooks": [
            { "event": "NEW_TIME_ENTRY", "path": "/webhooks/NEW_TIME_ENTRY" },
            { "event": "TIME_ENTRY_DELETED", "path": "/webhooks/TIME_ENTRY_DELETED" },
        ] });
        let s = prepared.connect("http://127.0.0.1:1", manifest).unwrap();
        let http = http_client();
        let get = async |id: &str| -> Value {
            let url = format!("{}/v1/workspaces/ws-dev/time-entries/{id}", s.fake.core_url());
            http.get(url).send().await.unwrap().json().await.unwrap()
        };
        // The body the docs deliver to the time entry guard: no project.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/time-entry-guard/samples/new-time-entry.json");
        let sample = read_body(&path.display().to_string()).unwrap();
        let id = sample["id"].as_str().unwrap();
        assert_eq!(get(id).await["projectId"], "dev-project-1", "before: the seeded sample");
        // No add-on listens on port 1: the delivery fails, the fake holds the entry anyway.
        assert!(s.deliver("NEW_TIME_ENTRY", &sample).await.is_err());
        assert_eq!(get(id).await, sample);
        assert_eq!(get("other").await["projectId"], "dev-project-1", "other ids: the sample, as before");
        // A deleted entry is not held.
        assert!(s.deliver("TIME_ENTRY_DELETED", &json!({ "id": "gone", "workspaceId": "ws-dev" })).await.is_err());
        assert_eq!(get("gone").await["projectId"], "dev-project-1");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_either_printed_variable_the_gateway_refuses_the_install() {
        let http = http_client();
        for missing in ["CLOCKIFY_PUBLIC_KEY_FILE", "ALLOWED_API_HOSTS"] {
            let prepared = start_fake("127.0.0.1:0".parse().unwrap(), "ws-fake").await.unwrap();
            let addon = format!("http://127.0.0.1:{}", free_port());
            let env: Vec<(String, String)> = gateway_env(&prepared.fake.url(), &addon).into_iter().filter(|(k, _)| k != missing).collect();
            let gateway = start_gateway(&env).await;
            let manifest = fetch_manifest(&http, &addon, Duration::from_secs(20)).await.unwrap();
            let s = prepared.connect(&addon, manifest).unwrap();
            let answer = s.install().await.unwrap();
            assert!(matches!(answer.status, 401 | 403), "without {missing}: {answer}");
            gateway.stop().await;
        }
    }
}
