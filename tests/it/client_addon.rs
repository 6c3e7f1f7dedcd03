//! The `/addon/...` endpoints (patch `addon-endpoints`) through the typed
//! client against the fake Clockify over real HTTP: what each sends (method,
//! path on the backend host, headers, body) and how each answer decodes.

use clockify_client::catalog::{self, Access, HostGroup};
use clockify_client::types::{AddonSettingAccessLevel, AddonSettingType, AddonSettingUpdate, AddonSettingValue, AddonSettings};
use clockify_client::{Auth, ClockifyError, Scope};
use clockify_testkit::{FakeClockify, Recorded};
use serde_json::{Value, json};

use crate::support::{builder_for, client_for};

const INSTALLATION_TOKEN: &str = "installation-token-abc";

/// A settings tree as PLATFORM.md §4.2 describes it: a tab with a header,
/// a group (description, header) and settings of every value kind, and a
/// second tab with settings but no groups.
fn settings_tree() -> Value {
    json!({
        "tabs": [
            {
                "id": "general",
                "name": "General",
                "header": { "title": "Sync settings" },
                "groups": [{
                    "id": "sync",
                    "title": "Sync",
                    "description": "What is copied",
                    "header": { "title": "Copied every hour" },
                    "settings": [
                        { "id": "label", "name": "Label", "type": "TXT", "value": "Billable", "accessLevel": "ADMINS",
                          "placeholder": "a label", "required": true, "copyable": true, "readOnly": false, "key": "label-key" },
                        { "id": "limit", "name": "Limit", "type": "NUMBER", "value": 40.5, "accessLevel": "EVERYONE" },
                        { "id": "enabled", "name": "Enabled", "type": "CHECKBOX", "value": true, "accessLevel": "ADMINS",
                          "description": "turn it off to pause" },
                        { "id": "colours", "name": "Colours", "type": "DROPDOWN_MULTIPLE", "value": ["red", "blue"],
                          "accessLevel": "ADMINS", "allowedValues": ["red", "green", "blue"] }
                    ]
                }],
                "settings": [
                    { "id": "owner", "name": "Owner", "type": "USER_DROPDOWN_SINGLE", "value": "u-owner", "accessLevel": "ADMINS" }
                ]
            },
            { "id": "about", "name": "About", "settings": [
                { "id": "docs", "name": "Docs", "type": "LINK", "value": "https://example.com/docs", "accessLevel": "EVERYONE", "readOnly": true }
            ] }
        ]
    })
}

fn check_tree(tree: &AddonSettings) {
    assert_eq!(tree.tabs.len(), 2);
    let general = &tree.tabs[0];
    assert_eq!((general.id.as_str(), general.name.as_str()), ("general", "General"));
    assert_eq!(general.header.as_ref().map(|h| h.title.as_str()), Some("Sync settings"));
    let group = &general.groups[0];
    assert_eq!((group.id.as_str(), group.title.as_str(), group.description.as_deref()), ("sync", "Sync", Some("What is copied")));
    assert_eq!(group.header.as_ref().map(|h| h.title.as_str()), Some("Copied every hour"));
    let [label, limit, enabled, colours] = &group.settings[..] else { panic!("four settings: {:?}", group.settings) };
    assert!(matches!(&label.value, AddonSettingValue::String(s) if s == "Billable"), "{:?}", label.value);
    assert_eq!((label.type_, label.access_level), (AddonSettingType::Txt, AddonSettingAccessLevel::Admins));
    assert_eq!((label.required, label.copyable, label.read_only), (Some(true), Some(true), Some(false)));
    assert_eq!((label.placeholder.as_deref(), label.key.as_deref()), (Some("a label"), Some("label-key")));
    assert!(matches!(limit.value, AddonSettingValue::Number(n) if n == 40.5), "{:?}", limit.value);
    assert_eq!((limit.type_, limit.access_level), (AddonSettingType::Number, AddonSettingAccessLevel::Everyone));
    assert!(matches!(enabled.value, AddonSettingValue::Boolean(true)), "{:?}", enabled.value);
    assert_eq!(enabled.description.as_deref(), Some("turn it off to pause"));
    assert!(matches!(&colours.value, AddonSettingValue::Array(v) if v == &["red", "blue"]), "{:?}", colours.value);
    assert_eq!(colours.allowed_values, ["red", "green", "blue"]);
    assert_eq!(general.settings[0].type_, AddonSettingType::UserDropdownSingle);

    let about = &tree.tabs[1];
    assert!(about.groups.is_empty() && about.header.is_none());
    assert_eq!(about.settings[0].type_, AddonSettingType::Link);
    assert_eq!(about.settings[0].read_only, Some(true));
}

/// The one request the fake received.
fn only_request(fake: &FakeClockify) -> Recorded {
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.into_iter().next().unwrap()
}

#[tokio::test]
async fn get_addon_settings_reads_the_settings_tree_on_the_backend_host() {
    let fake = FakeClockify::start().await;
    fake.require_addon_token(INSTALLATION_TOKEN);
    fake.on("api", "GET", "/addon/workspaces/ws1/settings", 200, settings_tree());
    let client = client_for(&fake, Some(Auth::AddonToken(INSTALLATION_TOKEN.into())));

    let tree = client.get_addon_settings().workspace_id("ws1").send().await.expect("the tree decodes").into_inner();
    check_tree(&tree);

    let r = only_request(&fake);
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/api/addon/workspaces/ws1/settings"), "backendUrl + /addon/...");
    assert_eq!(r.header("x-addon-token"), Some(INSTALLATION_TOKEN));
    assert_eq!(r.header("accept"), Some("application/json"));
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn update_addon_settings_sends_id_value_pairs_and_decodes_the_tree() {
    let fake = FakeClockify::start().await;
    fake.require_addon_token(INSTALLATION_TOKEN);
    fake.on("api", "PATCH", "/addon/workspaces/ws1/settings", 200, settings_tree());
    let client = client_for(&fake, Some(Auth::AddonToken(INSTALLATION_TOKEN.into())));

    let changes = vec![
        AddonSettingUpdate { id: "label".into(), value: AddonSettingValue::String("Billable".into()) },
        AddonSettingUpdate { id: "limit".into(), value: AddonSettingValue::Number(40.5) },
        AddonSettingUpdate { id: "enabled".into(), value: AddonSettingValue::Boolean(false) },
        AddonSettingUpdate { id: "colours".into(), value: AddonSettingValue::Array(vec!["red".into(), "blue".into()]) },
    ];
    let tree = client.update_addon_settings().workspace_id("ws1").body(changes).send().await.expect("the tree decodes").into_inner();
    check_tree(&tree);

    let r = only_request(&fake);
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PATCH", "/api/addon/workspaces/ws1/settings"));
    assert_eq!(r.header("x-addon-token"), Some(INSTALLATION_TOKEN));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        Some(json!([
            { "id": "label", "value": "Billable" },
            { "id": "limit", "value": 40.5 },
            { "id": "enabled", "value": false },
            { "id": "colours", "value": ["red", "blue"] }
        ])),
        "{}",
        r.body_text()
    );
}

#[tokio::test]
async fn create_addon_user_token_exchanges_the_installation_token_for_the_user_token() {
    let fake = FakeClockify::start().await;
    fake.require_addon_token(INSTALLATION_TOKEN);
    let path = "/addon/user/u1/token";
    let client = client_for(&fake, Some(Auth::AddonToken(INSTALLATION_TOKEN.into())));
    let exchange = || async { client.create_addon_user_token().user_id("u1").send().await.map(|r| r.into_inner()) };

    // The token as plain text (a trailing newline is not part of it).
    fake.on_text("api", "POST", path, 200, "text/plain", "eyJhbGciOiJSUzI1NiJ9.user.sig\n");
    assert_eq!(exchange().await.expect("plain text"), "eyJhbGciOiJSUzI1NiJ9.user.sig");
    let r = only_request(&fake);
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/api/addon/user/u1/token"));
    assert_eq!(r.header("x-addon-token"), Some(INSTALLATION_TOKEN), "the installation token authorizes the exchange");
    assert_eq!(r.header("content-type"), Some("application/json"), "PLATFORM.md §2.1 lists it");
    assert_eq!(r.header("accept"), Some("text/plain, application/json"));
    assert!(r.body.is_empty(), "no body: {:?}", r.body_text());

    // The token as a JSON string.
    fake.on("api", "POST", path, 200, json!("eyJ.json.token"));
    assert_eq!(exchange().await.expect("a JSON string"), "eyJ.json.token");
    // A bare token labelled JSON (how a Java service may send a String).
    fake.on_text("api", "POST", path, 200, "application/json", "eyJ.bare.token");
    assert_eq!(exchange().await.expect("bare text labelled JSON"), "eyJ.bare.token");

    // A JSON object is no token.
    fake.on("api", "POST", path, 200, json!({ "token": "eyJ.x" }));
    let err = ClockifyError::from(exchange().await.expect_err("an object is not a string"));
    assert!(matches!(&err, ClockifyError::Decode { snippet, .. } if snippet.contains("token")), "{err:?}");

    // An error status is Clockify's error, not a token.
    fake.on("api", "POST", path, 404, json!({ "message": "User not found", "code": 501 }));
    let err = ClockifyError::from(exchange().await.expect_err("404"));
    assert_eq!(err.status(), Some(404), "{err:?}");
    // A write: sent once each time, never replayed.
    assert_eq!(fake.count("POST", "/api/addon/user/u1/token"), 5);
}

#[tokio::test]
async fn get_addon_user_reads_the_current_user() {
    let fake = FakeClockify::start().await;
    fake.require_addon_token("user-token-xyz");
    fake.on(
        "api",
        "GET",
        "/addon/workspaces/ws1/user",
        200,
        json!({ "id": "u1", "email": "ada@example.com", "name": "Ada", "activeWorkspace": "ws1", "status": "ACTIVE" }),
    );
    let client = client_for(&fake, Some(Auth::AddonToken("user-token-xyz".into())));

    let user = client.get_addon_user().workspace_id("ws1").send().await.expect("the user decodes").into_inner();
    assert_eq!(user.id.as_deref(), Some("u1"));
    assert_eq!(user.email.as_deref(), Some("ada@example.com"));
    assert_eq!(user.name.as_deref(), Some("Ada"));
    assert_eq!(user.active_workspace.as_deref(), Some("ws1"));

    let r = only_request(&fake);
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/api/addon/workspaces/ws1/user"));
    assert_eq!(r.header("x-addon-token"), Some("user-token-xyz"));
}

#[tokio::test]
async fn the_addon_operations_need_no_declared_scope() {
    let fake = FakeClockify::start().await;
    fake.on("api", "GET", "/addon/workspaces/ws1/settings", 200, settings_tree());
    fake.on("api", "PATCH", "/addon/workspaces/ws1/settings", 200, settings_tree());
    fake.on("api", "GET", "/addon/workspaces/ws1/user", 200, json!({ "id": "u1" }));
    fake.on_text("api", "POST", "/addon/user/u1/token", 200, "text/plain", "eyJ.t");
    // Declares one unrelated scope: USER_READ is not among them.
    let client = builder_for(&fake, None).declared_scopes([Scope::TagRead]).build().unwrap();

    client.get_addon_settings().workspace_id("ws1").send().await.expect("no scope needed");
    client.update_addon_settings().workspace_id("ws1").body(Vec::new()).send().await.expect("no scope needed");
    client.get_addon_user().workspace_id("ws1").send().await.expect("no scope needed, though it answers a user");
    client.create_addon_user_token().user_id("u1").send().await.expect("no scope needed");
    assert_eq!(fake.requests().len(), 4);
    // The check is on: the same client refuses a user operation.
    let err = ClockifyError::from(client.get_logged_user().send().await.unwrap_err());
    assert!(err.to_string().contains("needs scope USER_READ"), "{err}");
}

#[test]
fn the_catalog_lists_the_addon_operations_on_the_backend_host_without_scope() {
    let expected = [
        ("getAddonSettings", "GET", "/addon/workspaces/{workspaceId}/settings", Access::Read, Some("application/json")),
        ("updateAddonSettings", "PATCH", "/addon/workspaces/{workspaceId}/settings", Access::Write, Some("application/json")),
        ("getAddonUser", "GET", "/addon/workspaces/{workspaceId}/user", Access::Read, Some("application/json")),
        ("createAddonUserToken", "POST", "/addon/user/{userId}/token", Access::Write, Some("text/plain")),
    ];
    for (id, method, path, access, response) in expected {
        let op = catalog::by_id(id).unwrap_or_else(|| panic!("{id} is in the catalog"));
        assert_eq!((op.method, op.path, op.tag, op.host, op.access), (method, path, "Add-on", HostGroup::Core, access), "{id}");
        assert_eq!(op.scope, None, "{id}");
        assert_eq!(op.response.and_then(|r| r.content_type), response, "{id}");
        assert!(op.pagination.is_none() && !op.deprecated, "{id}");
    }
    let update = catalog::by_id("updateAddonSettings").unwrap().body.expect("a body");
    assert_eq!((update.content_type, update.required), ("application/json", true));
    assert!(update.schema.contains("AddonSettingUpdate"), "{}", update.schema);
    let user = catalog::by_id("getAddonUser").unwrap().response.unwrap();
    assert_eq!(user.schema, Some(r##"{"$ref":"#/components/schemas/UserDtoV1"}"##), "the same user as GET /v1/user");
    let tagged: Vec<&str> = catalog::operations().iter().filter(|o| o.tag == "Add-on").map(|o| o.id).collect();
    assert_eq!(tagged, ["getAddonSettings", "updateAddonSettings", "getAddonUser", "createAddonUserToken"]);
}
