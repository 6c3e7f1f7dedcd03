//! The explorer's history: each user's recent calls without secrets, and
//! replays of them, writes only with confirmation.

mod support;

use clockify_testkit::{FakeClockify, PageStyle, Shape};
use serde_json::{Value, json};
use support::{TestGateway, addon_claims, test_config};

struct Env {
    fake: FakeClockify,
    gw: TestGateway,
}

fn user_token(env: &Env, ws: &str, user: &str) -> String {
    let mut c = addon_claims(ws, "a1");
    c["user"] = json!(user);
    c["backendUrl"] = json!(env.fake.core_url());
    c["reportsUrl"] = json!(env.fake.reports_url());
    support::as_user(&mut c, "TEAM_MANAGER");
    env.gw.sign(&c)
}

async fn env() -> Env {
    let fake = FakeClockify::start().await;
    let mut c = test_config();
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let gw = TestGateway::start_with(c).await;
    // The explorer serves workspaces with a live installation only.
    gw.install("ws1", "a1", &[]).await;
    gw.install("ws2", "a2", &[]).await;
    fake.paginated(
        "api",
        "/v1/workspaces/ws1/tags",
        PageStyle::PageSize,
        Shape::Array,
        vec![json!({"id": "t1", "name": "a", "workspaceId": "ws1", "archived": false})],
        false,
    );
    fake.on("api", "POST", "/v1/workspaces/ws1/tags", 201, json!({"id": "t2", "name": "new", "workspaceId": "ws1", "archived": false}));
    Env { fake, gw }
}

async fn post(env: &Env, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let r = env.gw.post(path, ("X-Addon-Token", token), body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn history(env: &Env, token: &str) -> (u16, Value) {
    let r = env.gw.http.get(env.gw.url("/ui/api-explorer/history")).header("x-addon-token", token).send().await.expect("get");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn calls_are_kept_per_user_without_secrets_and_replayed() {
    let env = env().await;
    let alice = user_token(&env, "ws1", "alice");
    let (s, _) = post(&env, "/ui/api-explorer/execute", &alice, &json!({"operationId": "getTags", "query": {"page-size": 5}})).await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &env,
        "/ui/api-explorer/execute",
        &alice,
        &json!({"operationId": "createNewTag", "body": {"name": "new", "apiToken": "hunter2"}}),
    )
    .await;
    assert!(s == 200 || s == 422, "{s}");
    let (s, _) =
        post(&env, "/ui/api-explorer/execute", &alice, &json!({"operationId": "createNewTag", "body": {"name": "new"}, "dryRun": true}))
            .await;
    assert_eq!(s, 200);

    let (s, h) = history(&env, &alice).await;
    assert_eq!(s, 200);
    let items = h["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["operationId"], json!("createNewTag"));
    assert_eq!(items[0]["outcome"], json!("dry_run"));
    assert_eq!(items[2]["operationId"], json!("getTags"));
    assert_eq!(items[2]["status"], json!(200));
    assert_eq!(items[2]["query"]["page-size"], json!(5));
    assert_eq!(items[2]["access"], json!("read"));
    assert!(!h.to_string().contains("hunter2"), "no secret in the history: {h}");
    assert_eq!(items[1]["body"]["apiToken"], json!("***"));

    // Another user of the workspace, and a user of another workspace, see none of it.
    let (_, bob) = history(&env, &user_token(&env, "ws1", "bob")).await;
    assert_eq!(bob["items"], json!([]));
    let (_, other) = history(&env, &user_token(&env, "ws2", "alice")).await;
    assert_eq!(other["items"], json!([]));
    let get_id = items[2]["id"].as_str().expect("id").to_owned();
    let (s, _) = post(&env, &format!("/ui/api-explorer/history/{get_id}/replay"), &user_token(&env, "ws1", "bob"), &json!({})).await;
    assert_eq!(s, 404, "someone else's call");

    // A read replays at once, with the kept parameters.
    let before = env.fake.count("GET", "/api/v1/workspaces/ws1/tags");
    let (s, r) = post(&env, &format!("/ui/api-explorer/history/{get_id}/replay"), &alice, &json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], json!(200));
    assert_eq!(env.fake.count("GET", "/api/v1/workspaces/ws1/tags"), before + 1);
    let sent = env.fake.requests().into_iter().rev().find(|q| q.method == "GET").expect("sent");
    assert_eq!(sent.query_param("page-size").as_deref(), Some("5"));

    // A write is never replayed without confirmation.
    let write_id = items[0]["id"].as_str().expect("id").to_owned();
    let posts = env.fake.count("POST", "/api/v1/workspaces/ws1/tags");
    let (s, p) = post(&env, &format!("/ui/api-explorer/history/{write_id}/replay"), &alice, &json!({})).await;
    assert_eq!(s, 422, "{p}");
    assert!(p.to_string().contains("/confirm"), "{p}");
    assert_eq!(env.fake.count("POST", "/api/v1/workspaces/ws1/tags"), posts, "nothing sent");
    let (s, r) = post(&env, &format!("/ui/api-explorer/history/{write_id}/replay"), &alice, &json!({"dryRun": true})).await;
    assert_eq!((s, r["status"].clone()), (200, Value::Null), "a dry run needs no confirmation and sends nothing");
    assert_eq!(env.fake.count("POST", "/api/v1/workspaces/ws1/tags"), posts);
    let (s, r) = post(&env, &format!("/ui/api-explorer/history/{write_id}/replay"), &alice, &json!({"confirm": true})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], json!(201));
    assert_eq!(env.fake.count("POST", "/api/v1/workspaces/ws1/tags"), posts + 1);
    // The replays joined the history.
    let (_, h) = history(&env, &alice).await;
    assert_eq!(h["items"].as_array().map(Vec::len), Some(6));

    // No token, no history.
    let r = env.gw.http.get(env.gw.url("/ui/api-explorer/history")).send().await.expect("get");
    assert_eq!(r.status(), 401);
}
