//! The API explorer over HTTP, against a started gateway and the fake
//! Clockify: the catalog, validation against the contract (a sample of
//! operations per tag), host and path safety, retry rules, dry runs, the
//! answer as shown, logs and metrics.

mod support;

use clockify_client::catalog::{Access, OPERATIONS, ParamLocation};
use clockify_testkit::{FakeClockify, Fault, PageStyle, Shape};
use serde_json::{Value, json};
use support::{TestGateway, addon_claims, metric, test_config};

const WS: &str = "ws1";

struct Env {
    fake: FakeClockify,
    gw: TestGateway,
    /// A user token of `ws1` whose hosts are the fake's.
    token: String,
}

fn user_claims(fake: &FakeClockify) -> Value {
    let mut c = addon_claims(WS, "a1");
    c["user"] = json!("u1");
    support::as_user(&mut c, "TEAM_MANAGER");
    c["backendUrl"] = json!(fake.core_url());
    c["reportsUrl"] = json!(fake.reports_url());
    c["ptoUrl"] = json!(fake.pto_url());
    c
}

async fn env() -> Env {
    let fake = FakeClockify::start().await;
    let mut c = test_config();
    c.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let gw = TestGateway::start_with(c).await;
    // The explorer serves workspaces with a live installation only.
    gw.install(WS, "a1", &[]).await;
    let token = gw.sign(&user_claims(&fake));
    fake.require_addon_token(&token);
    Env { fake, gw, token }
}

impl Env {
    async fn call(&self, route: &str, token: &str, body: &Value) -> (u16, Value) {
        let r = self.gw.post(route, ("X-Addon-Token", token), body).await;
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn execute(&self, body: Value) -> (u16, Value) {
        self.call("/ui/api-explorer/execute", &self.token, &body).await
    }

    async fn api_call(&self, body: Value) -> (u16, Value) {
        self.call("/api-call", &self.token, &body).await
    }
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["violations"].as_array().into_iter().flatten().filter_map(|v| v["pointer"].as_str().map(str::to_owned)).collect()
}

fn assert_violation(status: u16, problem: &Value, pointer: &str) {
    assert_eq!(status, 422, "{problem}");
    assert!(pointers(problem).iter().any(|p| p == pointer), "expected a violation at {pointer}: {problem}");
    assert_eq!(problem["status"], 422);
}

#[tokio::test]
async fn the_catalog_lists_every_operation_by_tag_and_filters() {
    let e = env().await;
    let all: Value = e.gw.http.get(e.gw.url("/ui/api-explorer/endpoints")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["count"].as_u64(), Some(OPERATIONS.len() as u64));
    let listed: usize = all["tags"].as_array().unwrap().iter().map(|t| t["operations"].as_array().unwrap().len()).sum();
    assert_eq!(listed, OPERATIONS.len());
    let projects = all["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "Project").expect("Project tag");
    let get = projects["operations"].as_array().unwrap().iter().find(|o| o["operationId"] == "getProjects").expect("getProjects");
    assert_eq!(get["method"], "GET");
    assert_eq!(get["path"], "/v1/workspaces/{workspaceId}/projects");
    assert_eq!(get["access"], "read");
    assert_eq!(get["scope"], "PROJECT_READ");
    assert_eq!(get["hostGroup"], "core");
    let page_size = get["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "page-size").unwrap();
    assert_eq!(page_size["location"], "query");
    assert_eq!(page_size["schema"]["minimum"], 1);
    let create = projects["operations"].as_array().unwrap().iter().find(|o| o["operationId"] == "createNewProject").unwrap();
    assert_eq!(create["access"], "write");
    assert_eq!(create["requestBody"]["schema"]["$ref"], "#/components/schemas/ProjectRequest");
    assert!(create["response"]["schema"].is_object());

    let by_tag: Value = e.gw.http.get(e.gw.url("/ui/api-explorer/endpoints?tag=tag")).send().await.unwrap().json().await.unwrap();
    let tags: Vec<&str> = by_tag["tags"].as_array().unwrap().iter().map(|t| t["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, ["Tag"]);
    let by_text: Value = e.gw.http.get(e.gw.url("/ui/api-explorer/endpoints?q=holiday")).send().await.unwrap().json().await.unwrap();
    let ids: Vec<String> = by_text["tags"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["operations"].as_array().unwrap().iter().map(|o| o["operationId"].as_str().unwrap().to_owned()))
        .collect();
    assert!(!ids.is_empty() && ids.iter().all(|id| id.to_lowercase().contains("holiday")), "{ids:?}");
}

/// A valid value for a parameter schema (first enum value, or one of its type).
fn valid_value(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    match (schema["type"].as_str(), schema["format"].as_str()) {
        (Some("integer"), _) => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        (Some("number"), _) => json!(1.5),
        (Some("boolean"), _) => json!(true),
        (Some("array"), _) => json!([valid_value(&schema["items"])]),
        (Some("string"), Some("date-time")) => json!("2024-01-01T00:00:00Z"),
        (Some("string"), Some("date")) => json!("2024-01-01"),
        _ => json!("abc123"),
    }
}

#[tokio::test]
async fn valid_input_passes_for_a_read_of_every_tag_and_nothing_is_sent_in_a_dry_run() {
    let e = env().await;
    let mut tags_seen = Vec::new();
    for op in OPERATIONS {
        if tags_seen.contains(&op.tag) || op.access != Access::Read || op.body.is_some_and(|b| b.required) || op.body.is_some() {
            continue;
        }
        tags_seen.push(op.tag);
        let mut path = serde_json::Map::new();
        let mut query = serde_json::Map::new();
        for p in op.params.iter().filter(|p| p.required && p.name != "workspaceId") {
            let schema: Value = serde_json::from_str(p.schema).unwrap();
            match p.location {
                ParamLocation::Path => path.insert(p.name.into(), valid_value(&schema)),
                _ => query.insert(p.name.into(), valid_value(&schema)),
            };
        }
        let (status, result) = e.execute(json!({"operationId": op.id, "pathParams": path, "query": query, "dryRun": true})).await;
        assert_eq!(status, 200, "{}: {result}", op.id);
        let url = result["request"]["url"].as_str().unwrap();
        assert!(url.starts_with(&e.fake.url()), "{}: {url}", op.id);
        if op.path.contains("{workspaceId}") {
            assert!(url.contains("/ws1"), "{}: the caller's workspace in {url}", op.id);
        }
        assert_eq!(result["request"]["method"], op.method);
        assert!(result["status"].is_null());
    }
    assert!(tags_seen.len() >= 20, "a read per tag: {tags_seen:?}");
    assert!(e.fake.requests().is_empty(), "a dry run sends nothing: {:?}", e.fake.requests());
}

#[tokio::test]
async fn a_dry_run_shows_the_exact_request_with_the_token_redacted() {
    let e = env().await;
    let (status, r) = e.execute(json!({"operationId": "createNewTag", "body": {"name": "Billable"}, "dryRun": true})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["dryRun"], true);
    assert_eq!(r["access"], "write");
    assert_eq!(r["request"]["method"], "POST");
    assert_eq!(r["request"]["url"], format!("{}/v1/workspaces/ws1/tags", e.fake.core_url()));
    let headers = r["request"]["headers"].as_array().unwrap();
    let token = headers.iter().find(|h| h["name"] == "x-addon-token").expect("token header shown");
    assert_eq!(token["value"], "<redacted>");
    assert!(!r.to_string().contains(&e.token), "the token never appears");
    let body: Value = serde_json::from_str(r["request"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, json!({"name": "Billable"}));
    assert!(e.fake.requests().is_empty());
}

#[tokio::test]
async fn a_real_get_returns_clockifys_status_headers_body_and_is_counted() {
    let e = env().await;
    e.fake.paginated(
        "api",
        "/v1/workspaces/ws1/tags",
        PageStyle::PageSize,
        Shape::Array,
        (0..3).map(|i| json!({"id": format!("t{i}"), "name": format!("tag {i}"), "workspaceId": WS, "archived": false})).collect(),
        true,
    );
    let (status, r) = e.execute(json!({"operationId": "getTags", "query": {"page": "1", "page-size": 2}})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], 200);
    assert_eq!(r["bodyEncoding"], "json");
    assert_eq!(r["body"].as_array().map(Vec::len), Some(2));
    assert!(r["headers"].as_array().unwrap().iter().any(|h| h["name"] == "last-page" && h["value"] == "false"), "{r}");
    assert!(r["durationMs"].as_f64().is_some());
    let sent = e.fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].query_param("page-size").as_deref(), Some("2"));
    assert_eq!(sent[0].header("x-addon-token"), Some(e.token.as_str()), "sent with the caller's token");

    // By method and path, too.
    let (status, r) = e.api_call(json!({"method": "get", "path": "/v1/workspaces/ws1/tags", "query": {"page": 2, "page-size": 2}})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["operationId"], "getTags");
    assert_eq!(r["body"].as_array().map(Vec::len), Some(1));

    let m = e.gw.metrics().await;
    assert_eq!(metric(&m, "gateway_explorer_calls_total{operation=\"getTags\",status=\"200\"}"), 2.0, "{m}");
}

#[tokio::test]
async fn missing_wrong_type_enum_unknown_and_other_workspace_are_422_with_pointers() {
    let e = env().await;
    let (s, p) = e.execute(json!({"operationId": "getProject"})).await;
    assert_violation(s, &p, "/path/projectId");
    let (s, p) = e.execute(json!({"operationId": "createNewProject"})).await;
    assert_violation(s, &p, "/body");
    let (s, p) = e.execute(json!({"operationId": "getProjects", "query": {"page": "abc", "archived": "maybe"}})).await;
    assert_violation(s, &p, "/query/page");
    assert_violation(s, &p, "/query/archived");
    let (s, p) = e.execute(json!({"operationId": "createNewProject", "body": {"name": 5, "color": "red"}})).await;
    assert_violation(s, &p, "/body/name");
    assert_violation(s, &p, "/body/color");
    let (s, p) = e.execute(json!({"operationId": "getProjects", "query": {"sort-order": "SIDEWAYS"}})).await;
    assert_violation(s, &p, "/query/sort-order");
    let (s, p) = e.execute(json!({"operationId": "getTags", "query": {"bogus": 1}})).await;
    assert_violation(s, &p, "/query/bogus");
    let (s, p) = e.execute(json!({"operationId": "getTags", "pathParams": {"workspaceId": "ws2"}})).await;
    assert_violation(s, &p, "/path/workspaceId");
    let (s, p) = e.api_call(json!({"method": "GET", "path": "/v1/workspaces/ws2/tags"})).await;
    assert_violation(s, &p, "/path/workspaceId");
    let (s, p) = e.execute(json!({"operationId": "getTags", "query": "page=1"})).await;
    assert_violation(s, &p, "/query");
    // Several at once: every one is listed.
    let (s, p) = e
        .execute(json!({"operationId": "getProjects", "pathParams": {"workspaceId": "ws2"}, "query": {"page": "x", "sort-order": "UP"}}))
        .await;
    assert_eq!(s, 422);
    assert_eq!(pointers(&p).len(), 3, "{p}");
    assert!(e.fake.requests().is_empty(), "nothing invalid is sent");
    let m = e.gw.metrics().await;
    assert!(metric(&m, "gateway_explorer_calls_total{operation=\"getProjects\",status=\"invalid\"}") >= 2.0, "{m}");
}

#[tokio::test]
async fn an_oversized_request_is_413() {
    let e = env().await;
    let big = "x".repeat(1024 * 1024 + 10);
    let (s, p) = e.execute(json!({"operationId": "createNewTag", "body": {"name": big}})).await;
    assert_eq!(s, 413, "{p}");
    assert!(e.fake.requests().is_empty());
}

#[tokio::test]
async fn unknown_operations_methods_and_paths_are_400_naming_what_did_not_match() {
    let e = env().await;
    let (s, p) = e.execute(json!({"operationId": "dropDatabase"})).await;
    assert_eq!(s, 400, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("dropDatabase"), "{p}");
    let (s, p) = e.api_call(json!({"method": "PATCH", "path": "/v1/workspaces/ws1/tags"})).await;
    assert_eq!(s, 400, "{p}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("PATCH") && detail.contains("GET") && detail.contains("POST"), "{detail}");
    let (s, p) = e.api_call(json!({"method": "GET", "path": "/v1/workspaces/ws1/nothing-here"})).await;
    assert_eq!(s, 400, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("/v1/workspaces/ws1/nothing-here"), "{p}");
    let (s, p) = e.api_call(json!({"method": "GET", "path": "/v1/workspaces/ws1/tags?page=2"})).await;
    assert_eq!(s, 400, "{p}");
    let (s, p) = e.execute(json!({"operationId": "uploadImage", "body": {"file": "x"}})).await;
    assert_eq!(s, 400, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("multipart"), "{p}");
    assert!(e.fake.requests().is_empty());
}

#[tokio::test]
async fn path_values_that_would_change_the_path_are_refused_and_nothing_is_sent() {
    let e = env().await;
    e.fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    for bad in ["../tags", "..", ".", "a/b", "a%2Fb", "%2e%2e", "x?y=1", "x#frag", "a\\b", ""] {
        let (s, p) = e.execute(json!({"operationId": "getProject", "pathParams": {"projectId": bad}, "dryRun": false})).await;
        assert_violation(s, &p, "/path/projectId");
    }
    // The same through /api-call, where the path is given whole.
    for path in [
        "/v1/workspaces/ws1/projects/..",
        "/v1/workspaces/ws1/projects/a%2Fb",
        "/v1/workspaces/ws1/projects/%2e%2e",
        "/v1/workspaces/ws1/projects/%3Fx",
        "/v1/workspaces/ws1/projects/%23x",
    ] {
        let (s, p) = e.api_call(json!({"method": "GET", "path": path})).await;
        assert!(s == 422 || s == 400, "{path}: {s} {p}");
    }
    let (s, p) = e.api_call(json!({"method": "GET", "path": "/v1/workspaces/ws1/projects/../../ws2/tags"})).await;
    assert_eq!(s, 400, "{p}");
    assert!(e.fake.requests().is_empty(), "{:?}", e.fake.requests());
}

#[tokio::test]
async fn hosts_outside_the_allowlist_or_missing_from_the_token_are_refused() {
    let e = env().await;
    let mut claims = user_claims(&e.fake);
    claims["backendUrl"] = json!("https://evil.example/api");
    let evil = e.gw.sign(&claims);
    let (s, p) = e.call("/ui/api-explorer/execute", &evil, &json!({"operationId": "getTags"})).await;
    assert_eq!(s, 403, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("evil.example"), "{p}");
    let (s, _) = e.call("/ui/api-explorer/execute", &evil, &json!({"operationId": "getTags", "dryRun": true})).await;
    assert_eq!(s, 403, "a dry run is refused too");

    // The fake's address on another port is not the allowed host:port.
    let mut claims = user_claims(&e.fake);
    claims["backendUrl"] = json!("http://127.0.0.1:1/api");
    let other_port = e.gw.sign(&claims);
    let (s, p) = e.call("/api-call", &other_port, &json!({"method": "GET", "path": "/v1/workspaces/ws1/tags"})).await;
    assert_eq!(s, 403, "{p}");

    // An allowed host on the other scheme: api.clockify.me is allowed for https
    // only, the fake for plain http only.
    for backend in ["http://api.clockify.me/api".to_owned(), e.fake.core_url().replace("http://", "https://")] {
        let mut claims = user_claims(&e.fake);
        claims["backendUrl"] = json!(backend);
        let token = e.gw.sign(&claims);
        let (s, p) = e.call("/ui/api-explorer/execute", &token, &json!({"operationId": "getTags", "dryRun": true})).await;
        assert_eq!(s, 403, "{backend}: {p}");
        assert!(p["detail"].as_str().unwrap().contains("backendUrl"), "{p}");
    }

    // A reports operation with no reportsUrl claim.
    let mut claims = user_claims(&e.fake);
    claims.as_object_mut().unwrap().remove("reportsUrl");
    let no_reports = e.gw.sign(&claims);
    let reports_op = OPERATIONS.iter().find(|o| o.host == clockify_client::catalog::HostGroup::Reports).unwrap();
    let (s, p) = e.call("/ui/api-explorer/execute", &no_reports, &json!({"operationId": reports_op.id, "body": {}})).await;
    assert!(s == 403 || s == 422, "{s} {p}");
    assert!(e.fake.requests().is_empty());
}

#[tokio::test]
async fn a_redirect_is_shown_as_the_answer_and_never_followed_with_the_callers_token() {
    let e = env().await;
    // Another local server that records whether anything reached it (reqwest
    // would follow a redirect after the guard, so the allowlist does not stop it).
    let elsewhere = FakeClockify::start().await;
    elsewhere.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    let location = format!("{}/v1/workspaces/ws1/tags", elsewhere.core_url());
    e.fake.redirect("api", "GET", "/v1/workspaces/ws1/tags", 302, &location);
    let (s, r) = e.execute(json!({"operationId": "getTags"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], 302, "Clockify's 302 is the answer shown: {r}");
    assert!(r["note"].is_string(), "{r}");
    assert_eq!(e.fake.count("GET", "/api/v1/workspaces/ws1/tags"), 1);
    assert!(elsewhere.requests().is_empty(), "the redirect was followed: {:?}", elsewhere.requests());
}

#[tokio::test]
async fn an_answer_over_10_mb_is_cut_off_with_a_502_problem_and_one_under_is_shown() {
    let e = env().await;
    let tags = |mb: usize| json!([{"id": "t1", "name": "x".repeat(mb * 1024 * 1024), "workspaceId": WS, "archived": false}]);
    e.fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, tags(11));
    let (s, p) = e.execute(json!({"operationId": "getTags"})).await;
    assert_eq!(s, 502, "{}", &p.to_string()[..p.to_string().len().min(300)]);
    assert_eq!(p["status"], 502);
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("over 10 MB") && d.contains("status 200")), "{p}");
    assert_eq!(e.fake.count("GET", "/api/v1/workspaces/ws1/tags"), 1, "a cut-off answer is not asked again");
    let m = e.gw.metrics().await;
    assert_eq!(metric(&m, "gateway_explorer_calls_total{operation=\"getTags\",status=\"answer_too_large\"}"), 1.0, "{m}");

    e.fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, tags(9));
    let (s, r) = e.execute(json!({"operationId": "getTags"})).await;
    assert_eq!(s, 200, "{}", &r.to_string()[..r.to_string().len().min(300)]);
    assert_eq!(r["status"], 200);
    assert_eq!(r["body"][0]["name"].as_str().map(str::len), Some(9 * 1024 * 1024));
}

#[tokio::test]
async fn the_caller_must_send_a_verified_user_token() {
    let e = env().await;
    let r = e.gw.http.post(e.gw.url("/ui/api-explorer/execute")).json(&json!({"operationId": "getTags"})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let forged = clockify_testkit::tokens::tamper_signature(&e.token);
    let (s, _) = e.call("/api-call", &forged, &json!({"method": "GET", "path": "/v1/workspaces/ws1/tags"})).await;
    assert_eq!(s, 401);
    assert!(e.fake.requests().is_empty());
}

#[tokio::test]
async fn writes_are_not_retried_on_5xx_reads_are() {
    let e = env().await;
    e.fake.on("api", "POST", "/v1/workspaces/ws1/tags", 201, json!({"id": "t1", "name": "x", "workspaceId": WS, "archived": false}));
    e.fake.fail_next("POST", "/api/v1/workspaces/ws1/tags", Fault::Status(503), 3);
    let (s, r) = e.execute(json!({"operationId": "createNewTag", "body": {"name": "x"}})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], 503, "Clockify's status is shown: {r}");
    assert!(r["note"].is_string(), "{r}");
    assert_eq!(e.fake.count("POST", "/api/v1/workspaces/ws1/tags"), 1, "a write is sent once");

    e.fake.clear_faults();
    e.fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    e.fake.fail_next("GET", "/api/v1/workspaces/ws1/tags", Fault::Status(502), 2);
    let (s, r) = e.execute(json!({"operationId": "getTags"})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(e.fake.count("GET", "/api/v1/workspaces/ws1/tags"), 3, "a read is retried");

    e.fake.clear_requests();
    let (s, r) = e.execute(json!({"operationId": "createNewTag", "body": {"name": "dry"}, "dryRun": true})).await;
    assert_eq!(s, 200, "{r}");
    assert!(e.fake.requests().is_empty(), "a dry run sends nothing");
}
