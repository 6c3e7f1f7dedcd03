//! Flows against the fake Clockify, on SQLite and PostgreSQL: run from the
//! inbox once per delivery (not again on replay, again when forced), gated
//! by their conditions, checked when saved, stopped by a failing step,
//! tried as a dry run that sends nothing, bound to their workspace, and
//! their executions kept for the retention period only.

mod support;

use std::time::Duration;

use clockify_client::Scope;
use clockify_gateway::addon::AddonManifest;
use clockify_testkit::FakeClockify;
use serde_json::{Value, json};
use support::{Backend, TestGateway, addon_claims, config_for, installed_body, metric};

const EVENT: &str = "NEW_TIME_ENTRY";

/// The stock add-on, with the write scopes the example flow needs and one
/// setting (`tagName`) flows may name.
fn manifest() -> &'static AddonManifest {
    let stock = clockify_gateway::addon::STOCK;
    let mut scopes: Vec<Scope> = stock.declared_scopes.to_vec();
    scopes.extend([Scope::TagWrite, Scope::TimeEntryWrite]);
    let mut json: Value = serde_json::from_str(stock.manifest_json).expect("the stock manifest");
    json["settings"] = json!({ "tabs": [{ "id": "flows", "name": "Flows",
        "settings": [{ "id": "tagName", "name": "Tag", "type": "TXT", "value": "needs-project", "accessLevel": "ADMINS" }] }] });
    Box::leak(Box::new(AddonManifest {
        declared_scopes: Box::leak(scopes.into_boxed_slice()),
        manifest_json: Box::leak(json.to_string().into_boxed_str()),
        ..*stock
    }))
}

struct Env {
    fake: FakeClockify,
    gw: TestGateway,
}

async fn config(backend: Backend, fake: &FakeClockify) -> clockify_gateway::Config {
    let mut c = config_for(backend).await;
    c.allowed_api_hosts.push(format!("http://{}", fake.addr()).parse().expect("http://host:port"));
    c.addon = manifest();
    c
}

async fn env(backend: Backend) -> Env {
    let fake = FakeClockify::start().await;
    let config = config(backend, &fake).await;
    let gw = TestGateway::start_with(config).await;
    Env { fake, gw }
}

/// One installation's tokens.
struct Installed {
    ws: String,
    installation: String,
    webhook: String,
    admin: String,
}

impl Env {
    async fn install(&self, ws: &str) -> Installed {
        self.fake.serve_webhooks(ws);
        let addon = format!("addon-{ws}");
        let mut installation = addon_claims(ws, &addon);
        installation["user"] = json!("owner1");
        installation["backendUrl"] = json!(self.fake.core_url());
        installation["reportsUrl"] = json!(self.fake.reports_url());
        let installation = self.gw.sign(&installation);
        let mut hook = addon_claims(ws, &addon);
        hook["purpose"] = json!(format!("webhook {EVENT}"));
        let webhook = self.gw.sign(&hook);
        let body = installed_body(ws, &addon, &installation, &[(EVENT.to_owned(), webhook.clone())]);
        let r = self.gw.post("/lifecycle/installed", ("X-Addon-Lifecycle-Token", &self.gw.addon_token(ws, &addon)), &body).await;
        assert_eq!(r.status(), 200, "install: {}", r.text().await.unwrap_or_default());
        let mut admin = addon_claims(ws, &addon);
        admin["user"] = json!("admin1");
        support::as_user(&mut admin, "OWNER");
        Installed { ws: ws.to_owned(), installation, webhook, admin: self.gw.sign(&admin) }
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut r = self.gw.http.request(method, self.gw.url(path)).header("X-Addon-Token", token);
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await.expect("request reaches the gateway");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, i: &Installed, flow: &Value) -> String {
        let (status, body) = self.call("POST", &format!("/admin/flows/{}", i.ws), &i.admin, Some(flow)).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }

    async fn deliver(&self, i: &Installed, entry: &Value) {
        let r = self.gw.deliver(EVENT, &i.webhook, entry).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }

    async fn executions(&self, i: &Installed) -> Vec<Value> {
        let (status, body) = self.call("GET", &format!("/admin/flows/{}/executions", i.ws), &i.admin, None).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `n` executions have finished (none running) and returns them, newest first.
    async fn wait_executions(&self, i: &Installed, n: usize) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..400 {
            last = self.executions(i).await;
            if last.len() >= n && last.iter().all(|e| e["outcome"] != "running") {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} finished executions, have {last:#?}");
    }

    async fn deliveries(&self, i: &Installed) -> Vec<Value> {
        let (status, body) = self.call("GET", &format!("/admin/deliveries/{}", i.ws), &i.admin, None).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until every delivery of the workspace is handled; returns them, newest first.
    async fn wait_handled(&self, i: &Installed, n: usize) -> Vec<Value> {
        let mut last = Vec::new();
        for _ in 0..400 {
            last = self.deliveries(i).await;
            if last.len() >= n && last.iter().all(|d| d["status"] == "done") {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} handled deliveries, have {last:#?}");
    }

    /// Requests the fake got for the flow's operations (not webhook registration).
    fn flow_requests(&self, ws: &str) -> Vec<String> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with(&format!("/api/v1/workspaces/{ws}/")) && !r.path.contains("/webhooks"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

/// "On NEW_TIME_ENTRY without a project, create the tag `needs-project` if
/// missing and add it to the entry" (the README's example).
fn needs_project_flow() -> Value {
    json!({
        "name": "Tag entries without a project",
        "trigger": {
            "events": ["NEW_TIME_ENTRY"],
            "conditions": [{ "pointer": "/payload/projectId", "op": "exists", "value": false }]
        },
        "steps": [
            { "id": "find_tag", "operationId": "getTags", "query": { "name": "needs-project", "strict-name-search": true } },
            { "id": "create_tag", "operationId": "createNewTag", "body": { "name": "needs-project" },
              "if": { "pointer": "/steps/find_tag/body/0", "op": "exists", "value": false } },
            { "id": "tag_entry", "operationId": "updateTimeEntry",
              "path": { "id": "{{payload.id}}" },
              "body": {
                  "start": "{{payload.timeInterval.start}}",
                  "end": "{{payload.timeInterval.end}}",
                  "description": "{{payload.description ?? ''}}",
                  "tagIds": ["{{steps.find_tag.body.0.id ?? steps.create_tag.body.id}}"]
              } }
        ]
    })
}

fn entry(ws: &str, id: &str, project: Option<&str>) -> Value {
    json!({
        "id": id,
        "workspaceId": ws,
        "userId": "u1",
        "description": format!("entry {id}"),
        "projectId": project,
        "tagIds": [],
        "billable": false,
        "timeInterval": { "start": "2026-01-05T09:00:00Z", "end": "2026-01-05T10:00:00Z", "duration": "PT1H" }
    })
}

fn serve_tag_answers(fake: &FakeClockify, ws: &str) {
    fake.on("api", "GET", &format!("/v1/workspaces/{ws}/tags"), 200, json!([]));
    fake.on(
        "api",
        "POST",
        &format!("/v1/workspaces/{ws}/tags"),
        201,
        json!({ "id": "tag-np", "name": "needs-project", "workspaceId": ws }),
    );
    for te in ["te1", "te2"] {
        fake.on("api", "PUT", &format!("/v1/workspaces/{ws}/time-entries/{te}"), 200, json!({ "id": te, "workspaceId": ws }));
    }
}

fn count(reqs: &[String], what: &str) -> usize {
    reqs.iter().filter(|r| *r == what).count()
}

async fn a_matching_flow_runs_once_per_delivery_and_again_only_when_forced(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    serve_tag_answers(&e.fake, "ws1");
    let flow = e.create(&ws1, &needs_project_flow()).await;

    e.deliver(&ws1, &entry("ws1", "te1", None)).await;
    let runs = e.wait_executions(&ws1, 1).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(
        (run["outcome"].as_str(), run["flowId"].as_str(), run["forced"].as_bool()),
        (Some("completed"), Some(flow.as_str()), Some(false)),
        "{run:#}"
    );
    let steps: Vec<(&str, &str)> =
        run["steps"].as_array().unwrap().iter().map(|s| (s["id"].as_str().unwrap(), s["outcome"].as_str().unwrap())).collect();
    assert_eq!(steps, [("find_tag", "completed"), ("create_tag", "completed"), ("tag_entry", "completed")]);
    let reqs = e.flow_requests("ws1");
    assert_eq!(
        reqs,
        ["GET /api/v1/workspaces/ws1/tags", "POST /api/v1/workspaces/ws1/tags", "PUT /api/v1/workspaces/ws1/time-entries/te1"]
    );
    let put = e.fake.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    let sent = put.json().unwrap();
    assert_eq!(sent["tagIds"], json!(["tag-np"]), "the created tag's id: {sent}");
    assert_eq!(sent["start"], json!("2026-01-05T09:00:00Z"));
    assert_eq!(run["steps"][2]["request"]["body"]["tagIds"], json!(["tag-np"]), "the log shows the resolved request");
    let get = e.fake.requests().into_iter().find(|r| r.method == "GET" && r.path.ends_with("/tags")).unwrap();
    assert_eq!(get.query_param("name").as_deref(), Some("needs-project"));

    // The tag exists now: a second delivery finds it and does not create it.
    e.fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([{ "id": "tag-np", "name": "needs-project", "workspaceId": "ws1" }]));
    e.deliver(&ws1, &entry("ws1", "te2", None)).await;
    let runs = e.wait_executions(&ws1, 2).await;
    assert_eq!(runs.len(), 2, "twice for two deliveries");
    let steps: Vec<&str> = runs[0]["steps"].as_array().unwrap().iter().map(|s| s["outcome"].as_str().unwrap()).collect();
    assert_eq!(steps, ["completed", "skipped", "completed"]);
    let reqs = e.flow_requests("ws1");
    assert_eq!(count(&reqs, "POST /api/v1/workspaces/ws1/tags"), 1, "{reqs:?}");
    assert_eq!(count(&reqs, "PUT /api/v1/workspaces/ws1/time-entries/te2"), 1, "{reqs:?}");

    // A forced replay of the first delivery handles it again, without running the flow again.
    let deliveries = e.wait_handled(&ws1, 2).await;
    let first = deliveries.iter().find(|d| d["body"]["id"] == "te1").expect("te1's delivery");
    let first_id = first["id"].as_str().unwrap().to_owned();
    let handled_at = first["handledAt"].as_i64().unwrap();
    let (status, body) =
        e.call("POST", "/admin/deliveries/ws1/replay", &ws1.admin, Some(&json!({ "ids": [first_id], "force": true }))).await;
    assert_eq!((status, body["replayed"].as_u64()), (200, Some(1)), "{body}");
    let mut handled_again = false;
    for _ in 0..400 {
        let d = e.deliveries(&ws1).await;
        if d.iter().any(|d| d["id"] == first_id.as_str() && d["status"] == "done" && d["handledAt"].as_i64() > Some(handled_at)) {
            handled_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(handled_again, "the replayed delivery was handled again");
    assert_eq!(e.executions(&ws1).await.len(), 2, "not again on replay");
    assert_eq!(count(&e.flow_requests("ws1"), "PUT /api/v1/workspaces/ws1/time-entries/te1"), 1);

    // Forced from the console: once more.
    let (status, body) = e.call("POST", &format!("/admin/flows/ws1/deliveries/{first_id}/run"), &ws1.admin, Some(&json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["executions"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!((body["executions"][0]["outcome"].as_str(), body["executions"][0]["forced"].as_bool()), (Some("completed"), Some(true)));
    let runs = e.executions(&ws1).await;
    assert_eq!(runs.len(), 3);
    assert_eq!(runs.iter().filter(|r| r["deliveryId"] == first_id.as_str()).count(), 2);
    assert_eq!(count(&e.flow_requests("ws1"), "PUT /api/v1/workspaces/ws1/time-entries/te1"), 2);

    let m = e.gw.metrics().await;
    assert_eq!(metric(&m, "gateway_flows_total{outcome=\"executed\"}"), 3.0, "{m}");
    assert_eq!(metric(&m, "gateway_flows_total{outcome=\"completed\"}"), 3.0);
    assert_eq!(metric(&m, "gateway_flows_total{outcome=\"failed\"}"), 0.0);
    assert_eq!(metric(&m, "gateway_flow_steps_total{outcome=\"executed\"}"), 7.0);
    assert_eq!(metric(&m, "gateway_flow_steps_total{outcome=\"skipped\"}"), 2.0);
    assert!(!m.contains("ws1"), "no workspace in the metrics");

    // Disabled, it runs no more.
    let (status, body) = e.call("POST", &format!("/admin/flows/ws1/{flow}/disable"), &ws1.admin, None).await;
    assert_eq!((status, body["enabled"].as_bool()), (200, Some(false)));
    e.deliver(&ws1, &entry("ws1", "te3", None)).await;
    e.wait_handled(&ws1, 3).await;
    assert_eq!(e.executions(&ws1).await.len(), 3);
}

async fn a_condition_that_does_not_match_runs_nothing(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    serve_tag_answers(&e.fake, "ws1");
    e.create(&ws1, &needs_project_flow()).await;
    e.deliver(&ws1, &entry("ws1", "te1", Some("p1"))).await;
    let delivery = e.wait_handled(&ws1, 1).await[0]["id"].as_str().unwrap().to_owned();
    assert!(e.flow_requests("ws1").is_empty(), "nothing was sent: {:?}", e.flow_requests("ws1"));
    assert!(e.executions(&ws1).await.is_empty(), "a closed gate is counted, not stored");
    let m = e.gw.metrics().await;
    assert_eq!(metric(&m, "gateway_flows_total{outcome=\"filtered\"}"), 1.0);
    assert_eq!(metric(&m, "gateway_flows_total{outcome=\"executed\"}"), 0.0);
    // Forced, it is recorded as filtered, with no step.
    let (status, body) = e.call("POST", &format!("/admin/flows/ws1/deliveries/{delivery}/run"), &ws1.admin, Some(&json!({}))).await;
    assert_eq!((status, body["executions"][0]["outcome"].as_str()), (200, Some("filtered")), "{body}");
    let runs = e.executions(&ws1).await;
    assert_eq!((runs.len(), runs[0]["outcome"].as_str(), runs[0]["steps"].clone()), (1, Some("filtered"), json!([])));
    assert!(e.flow_requests("ws1").is_empty());
}

fn pointers(body: &Value) -> Vec<String> {
    body["violations"].as_array().into_iter().flatten().map(|v| v["pointer"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn a_template_naming_a_missing_member_fails_at_save(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    let mut flow = needs_project_flow();
    flow["steps"][2]["path"]["id"] = json!("{{payload.entryId}}");
    let (status, body) = e.call("POST", "/admin/flows/ws1", &ws1.admin, Some(&flow)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(pointers(&body), ["/steps/2/path/id"], "{body:#}");
    let message = body["violations"][0]["message"].as_str().unwrap();
    assert!(message.contains("entryId") && message.contains("TimeEntryWithRatesDtoV1"), "{message}");

    // Every problem at once, each at its pointer.
    let flow = json!({
        "name": "broken",
        "trigger": { "events": ["NEW_TIME_ENTRY", "NEW_EXPENSE_X", "TAG_DELETED"],
                     "conditions": [{ "pointer": "/payload/projectIdd", "op": "exists" }, { "pointer": "/payload/description", "op": "matches", "value": "(" },
                                    { "pointer": "/settings/tagNme", "op": "exists" }] },
        "steps": [
            { "id": "a", "operationId": "getTags", "query": { "name": "{{steps.b.body.id}}", "page-size": "many" } },
            { "id": "b", "operationId": "createNewTag", "body": { "name": "{{steps.a.body.0.nme}}" } },
            { "id": "c", "operationId": "getTagz" },
            { "id": "d", "operationId": "createNewProject", "body": { "name": "Apollo" } },
            { "id": "e", "operationId": "createNewTag", "path": { "workspaceId": "other" }, "body": { "name": 5 } },
            { "id": "f", "operationId": "getTags", "query": { "name": "{{steps.zzz.body}} {{secrets.key}}" } },
            { "id": "a", "operationId": "getTags", "if": { "pointer": "/steps/f/status", "op": "in", "value": 200 } }
        ]
    });
    let (status, body) = e.call("POST", "/admin/flows/ws1", &ws1.admin, Some(&flow)).await;
    assert_eq!(status, 422, "{body}");
    let mut got = pointers(&body);
    got.sort();
    got.dedup();
    let mut want = vec![
        "/trigger/events/1",             // not an event
        "/trigger/events/2",             // not subscribed
        "/trigger/conditions/0/pointer", // no such member
        "/trigger/conditions/1/value",   // not a regex
        "/trigger/conditions/2/pointer", // a setting the manifest does not declare
        "/steps/0/query/name",           // a later step
        "/steps/0/query/page-size",      // not an integer
        "/steps/1/body/name",            // no member `nme`
        "/steps/2/operationId",          // unknown operation
        "/steps/3/operationId",          // PROJECT_WRITE not declared
        "/steps/4/path/workspaceId",     // always the flow's own
        "/steps/4/body/name",            // not a string
        "/steps/5/query/name",           // unknown step, unknown root
        "/steps/6/id",                   // duplicate id
        "/steps/6/if/value",             // `in` takes a list
    ];
    want.sort();
    assert_eq!(got, want, "{body:#}");
    let setting = body["violations"].as_array().unwrap().iter().find(|v| v["pointer"] == "/trigger/conditions/2/pointer").unwrap();
    assert!(setting["message"].as_str().unwrap().contains("no setting `tagNme` (it has tagName)"), "{setting}");
    assert!(e.executions(&ws1).await.is_empty());
    let (_, list) = e.call("GET", "/admin/flows/ws1", &ws1.admin, None).await;
    assert_eq!(list["items"], json!([]), "nothing was saved");
}

async fn a_step_answered_400_stops_the_flow_and_shows_its_request(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    serve_tag_answers(&e.fake, "ws1");
    e.fake.on("api", "POST", "/v1/workspaces/ws1/tags", 400, json!({ "message": "Tag name is not valid", "code": 501 }));
    e.create(&ws1, &needs_project_flow()).await;
    e.deliver(&ws1, &entry("ws1", "te1", None)).await;
    let runs = e.wait_executions(&ws1, 1).await;
    let run = &runs[0];
    assert_eq!(run["outcome"], "failed", "{run:#}");
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "the flow stopped at the failed step: {run:#}");
    let failed = &steps[1];
    assert_eq!(
        (failed["id"].as_str(), failed["outcome"].as_str(), failed["status"].as_u64()),
        (Some("create_tag"), Some("failed"), Some(400))
    );
    assert_eq!(failed["request"]["method"], "POST");
    assert!(failed["request"]["url"].as_str().unwrap().ends_with("/api/v1/workspaces/ws1/tags"), "{failed}");
    assert_eq!(failed["request"]["body"], json!({ "name": "needs-project" }));
    assert!(failed["error"].as_str().unwrap().contains("Tag name is not valid"), "{failed}");
    assert!(run["error"].as_str().unwrap().contains("create_tag"));
    let reqs = e.flow_requests("ws1");
    assert_eq!(count(&reqs, "POST /api/v1/workspaces/ws1/tags"), 1, "a write is not retried: {reqs:?}");
    assert_eq!(count(&reqs, "PUT /api/v1/workspaces/ws1/time-entries/te1"), 0, "nothing after the failed step");
    let m = e.gw.metrics().await;
    assert_eq!(metric(&m, "gateway_flows_total{outcome=\"failed\"}"), 1.0);
    assert_eq!(metric(&m, "gateway_flow_steps_total{outcome=\"failed\"}"), 1.0);
    // The delivery itself is handled: a flow's failure is the flow's.
    assert_eq!(e.wait_handled(&ws1, 1).await[0]["status"], "done");
}

async fn a_dry_run_sends_nothing(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    serve_tag_answers(&e.fake, "ws1");
    let mut flow = needs_project_flow();
    flow["enabled"] = json!(false);
    let id = e.create(&ws1, &flow).await;
    e.deliver(&ws1, &entry("ws1", "te1", None)).await;
    let delivery = e.wait_handled(&ws1, 1).await[0]["id"].as_str().unwrap().to_owned();
    let before = e.flow_requests("ws1");
    let (status, body) =
        e.call("POST", &format!("/admin/flows/ws1/{id}/dry-run"), &ws1.admin, Some(&json!({ "deliveryId": delivery }))).await;
    assert_eq!(status, 200, "{body}");
    let steps = body["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{body:#}");
    assert!(steps.iter().all(|s| s["outcome"] == "resolved"), "{body:#}");
    assert!(steps[0]["request"]["url"].as_str().unwrap().contains("/api/v1/workspaces/ws1/tags?"), "{body:#}");
    assert_eq!(steps[1]["request"]["body"], json!({ "name": "needs-project" }));
    assert!(steps[2]["request"]["url"].as_str().unwrap().ends_with("/api/v1/workspaces/ws1/time-entries/te1"));
    assert_eq!(steps[2]["request"]["body"]["tagIds"], json!(["<unresolved: steps.find_tag.body.0.id ?? steps.create_tag.body.id>"]));
    assert_eq!(e.flow_requests("ws1"), before, "nothing reached Clockify");
    assert!(before.is_empty(), "the disabled flow did not run on the delivery: {before:?}");
    assert!(e.executions(&ws1).await.is_empty(), "a dry run is not an execution");
    let (status, _) = e.call("POST", &format!("/admin/flows/ws1/{id}/dry-run"), &ws1.admin, Some(&json!({ "deliveryId": "nope" }))).await;
    assert_eq!(status, 404);
}

async fn another_workspaces_flow_is_neither_visible_nor_runnable(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    let ws2 = e.install("ws2").await;
    serve_tag_answers(&e.fake, "ws1");
    serve_tag_answers(&e.fake, "ws2");
    let flow = e.create(&ws1, &needs_project_flow()).await;
    e.deliver(&ws2, &entry("ws2", "te1", None)).await;
    let delivery2 = e.wait_handled(&ws2, 1).await[0]["id"].as_str().unwrap().to_owned();
    assert!(e.executions(&ws2).await.is_empty(), "ws1's flow does not run on ws2's delivery");
    assert!(e.executions(&ws1).await.is_empty());
    assert!(e.flow_requests("ws2").is_empty() && e.flow_requests("ws1").is_empty());

    let (status, list) = e.call("GET", "/admin/flows/ws2", &ws2.admin, None).await;
    assert_eq!((status, list["items"].clone()), (200, json!([])), "not visible to ws2");
    for (method, path, body) in [
        ("PUT", format!("/admin/flows/ws2/{flow}"), Some(needs_project_flow())),
        ("POST", format!("/admin/flows/ws2/{flow}/enable"), None),
        ("POST", format!("/admin/flows/ws2/{flow}/dry-run"), Some(json!({ "deliveryId": delivery2 }))),
        ("POST", format!("/admin/flows/ws2/deliveries/{delivery2}/run"), Some(json!({ "flowId": flow }))),
        ("DELETE", format!("/admin/flows/ws2/{flow}"), None),
    ] {
        let (status, body) = e.call(method, &path, &ws2.admin, body.as_ref()).await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    // ws2's admin token on ws1's routes.
    let (status, _) = e.call("GET", "/admin/flows/ws1", &ws2.admin, None).await;
    assert_eq!(status, 401);
    let (status, _) = e.call("POST", &format!("/admin/flows/ws1/deliveries/{delivery2}/run"), &ws1.admin, Some(&json!({}))).await;
    assert_eq!(status, 404, "ws2's delivery is not ws1's");
    assert!(e.flow_requests("ws2").is_empty() && e.flow_requests("ws1").is_empty(), "nothing ran");
    let (_, list) = e.call("GET", "/admin/flows/ws1", &ws1.admin, None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "ws1's flow is still there");
}

/// A finished execution of flow `f1` started `age_days` before `now`.
fn execution_row(id: &str, ws: &str, now: i64, age_days: i64) -> clockify_gateway::store::ExecutionRow {
    clockify_gateway::store::ExecutionRow {
        id: id.into(),
        workspace_id: ws.into(),
        flow_id: "f1".into(),
        flow_version: 1,
        flow_name: "f".into(),
        delivery_id: uuid::Uuid::new_v4().to_string(),
        event: EVENT.into(),
        run_key: "auto".into(),
        outcome: "completed".into(),
        steps: "[]".into(),
        error: None,
        started_at: now - age_days * 86_400_000,
        duration_us: 1,
    }
}

async fn retention_deletes_old_executions_only(backend: Backend) {
    let fake = FakeClockify::start().await;
    let mut config = config(backend, &fake).await;
    config.flow_execution_retention_days = 30;
    let gw = TestGateway::start_with(config.clone()).await;
    let now = clockify_gateway::store::now_ms();
    let row = |id: String, ws: &str, age_days: i64| execution_row(&id, ws, now, age_days);
    // More old rows than one batch (1,000), and young ones on both sides of the line.
    let flows = gw.state.flows.clone();
    for i in 0..1_100 {
        assert!(flows.start_execution(&row(format!("old-{i}"), if i % 2 == 0 { "ws1" } else { "ws2" }, 31)).await.unwrap());
    }
    for (i, age) in [0, 1, 29].into_iter().enumerate() {
        assert!(flows.start_execution(&row(format!("young-{i}"), "ws1", age)).await.unwrap());
    }
    gw.stop().await;
    // The retention job runs when an instance starts.
    let gw = TestGateway::start_with(config).await;
    let mut left = Vec::new();
    for _ in 0..400 {
        left = [
            gw.state.flows.executions("ws1", None, None, None, 2_000).await.unwrap(),
            gw.state.flows.executions("ws2", None, None, None, 2_000).await.unwrap(),
        ]
        .concat();
        if left.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut ids: Vec<String> = left.into_iter().map(|r| r.id).collect();
    ids.sort();
    assert_eq!(ids, ["young-0", "young-1", "young-2"]);
}

async fn a_retention_of_0_days_keeps_executions_forever(backend: Backend) {
    let fake = FakeClockify::start().await;
    let mut config = config(backend, &fake).await;
    config.flow_execution_retention_days = 0;
    let gw = TestGateway::start_with(config).await;
    let now = clockify_gateway::store::now_ms();
    for (id, age_days) in [("a", 31i64), ("b", 400), ("c", 0)] {
        let row = execution_row(id, "ws1", now, age_days);
        assert!(gw.state.flows.start_execution(&row).await.unwrap());
    }
    let ids = || async {
        let mut ids: Vec<String> =
            gw.state.flows.executions("ws1", None, None, None, 100).await.unwrap().into_iter().map(|r| r.id).collect();
        ids.sort();
        ids
    };
    let mut retention = gw.state.retention();
    retention.sweep_once(now).await.unwrap();
    assert_eq!(ids().await, ["a", "b", "c"], "0 days: kept forever");
    // The same sweep with 30 days deletes the old ones: the rows were due.
    retention.flow_execution_days = 30;
    retention.sweep_once(now).await.unwrap();
    assert_eq!(ids().await, ["c"]);
}

async fn settings_and_the_workspace_fill_templates(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    serve_tag_answers(&e.fake, "ws1");
    let settings =
        json!({ "workspaceId": "ws1", "addonId": "addon-ws1", "settings": [{ "id": "tagName", "name": "Tag", "value": "no-project" }] });
    let r = e.gw.post("/lifecycle/settings-updated", ("X-Addon-Lifecycle-Token", &e.gw.addon_token("ws1", "addon-ws1")), &settings).await;
    assert_eq!(r.status(), 200);
    let flow = json!({
        "name": "named by a setting",
        "trigger": { "events": ["NEW_TIME_ENTRY"], "match": "any",
                     "conditions": [{ "pointer": "/settings/tagName", "op": "matches", "value": "^no-" }, { "pointer": "/payload/billable", "op": "equals", "value": true }] },
        "steps": [{ "id": "create", "operationId": "createNewTag", "body": { "name": "{{settings.tagName}} in {{workspace.id}}" } }]
    });
    e.create(&ws1, &flow).await;
    e.deliver(&ws1, &entry("ws1", "te1", None)).await;
    let runs = e.wait_executions(&ws1, 1).await;
    assert_eq!(runs[0]["outcome"], "completed", "{runs:#?}");
    let post = e.fake.requests().into_iter().find(|r| r.method == "POST" && r.path == "/api/v1/workspaces/ws1/tags").expect("sent");
    assert_eq!(post.json().unwrap(), json!({ "name": "no-project in ws1" }));
}

async fn a_flow_is_updated_enabled_and_deleted(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    serve_tag_answers(&e.fake, "ws1");
    let mut flow = needs_project_flow();
    flow["enabled"] = json!(false);
    let id = e.create(&ws1, &flow).await;
    e.deliver(&ws1, &entry("ws1", "te1", None)).await;
    e.wait_handled(&ws1, 1).await;
    assert!(e.executions(&ws1).await.is_empty(), "created disabled, it does not run");

    // Updated: the next run is the new version, with the new tag name.
    flow["steps"][0]["query"]["name"] = json!("fix-me");
    flow["steps"][1]["body"]["name"] = json!("fix-me");
    let (status, body) = e.call("PUT", &format!("/admin/flows/ws1/{id}"), &ws1.admin, Some(&flow)).await;
    assert_eq!((status, body["version"].as_i64(), body["enabled"].as_bool()), (200, Some(2), Some(false)), "{body}");
    let (status, body) = e.call("POST", &format!("/admin/flows/ws1/{id}/enable"), &ws1.admin, None).await;
    assert_eq!((status, body["enabled"].as_bool()), (200, Some(true)), "{body}");
    e.deliver(&ws1, &entry("ws1", "te2", None)).await;
    let runs = e.wait_executions(&ws1, 1).await;
    assert_eq!((runs[0]["outcome"].as_str(), runs[0]["flowVersion"].as_i64()), (Some("completed"), Some(2)), "{runs:#?}");
    let post = e.fake.requests().into_iter().find(|r| r.method == "POST" && r.path == "/api/v1/workspaces/ws1/tags").expect("sent");
    assert_eq!(post.json().unwrap(), json!({ "name": "fix-me" }));

    // Deleted: gone from the list and runs no more.
    let (status, body) = e.call("DELETE", &format!("/admin/flows/ws1/{id}"), &ws1.admin, None).await;
    assert_eq!(status, 204, "{body}");
    let (_, list) = e.call("GET", "/admin/flows/ws1", &ws1.admin, None).await;
    assert_eq!(list["items"], json!([]));
    let sent = e.flow_requests("ws1").len();
    e.deliver(&ws1, &entry("ws1", "te3", None)).await;
    e.wait_handled(&ws1, 3).await;
    assert_eq!(e.flow_requests("ws1").len(), sent, "a deleted flow sends nothing");
    let (status, _) = e.call("PUT", &format!("/admin/flows/ws1/{id}"), &ws1.admin, Some(&flow)).await;
    assert_eq!(status, 404);
}

async fn a_read_is_retried_and_a_resolved_request_is_validated_again(backend: Backend) {
    let e = env(backend).await;
    let ws1 = e.install("ws1").await;
    serve_tag_answers(&e.fake, "ws1");
    // The read meets one 503 and is sent again; the flow completes.
    e.fake.fail_next("GET", "/api/v1/workspaces/ws1/tags", clockify_testkit::Fault::Status(503), 1);
    e.create(&ws1, &needs_project_flow()).await;
    e.deliver(&ws1, &entry("ws1", "te1", None)).await;
    let runs = e.wait_executions(&ws1, 1).await;
    assert_eq!(runs[0]["outcome"], "completed", "{runs:#?}");
    let reqs = e.flow_requests("ws1");
    assert_eq!(count(&reqs, "GET /api/v1/workspaces/ws1/tags"), 2, "the read was retried: {reqs:?}");
    assert_eq!(count(&reqs, "POST /api/v1/workspaces/ws1/tags"), 1);
    // Nothing secret is recorded: no token in the execution, the query's values as sent.
    let recorded = serde_json::to_string(&runs).unwrap();
    assert!(!recorded.contains(&ws1.installation) && !recorded.contains(&ws1.webhook), "a token in the log: {recorded}");
    assert!(runs[0]["steps"][0]["request"]["url"].as_str().unwrap().contains("name=needs-project"), "{runs:#?}");

    // A template whose value fits only at run time: a boolean where a tag's
    // name (a string) goes. Saved (the value is not known then), refused
    // before sending when it resolves.
    let flow = json!({
        "name": "named by a boolean",
        "trigger": { "events": ["NEW_TIME_ENTRY"] },
        "steps": [{ "id": "create", "operationId": "createNewTag", "body": { "name": "{{payload.billable}}" } }]
    });
    e.create(&ws1, &flow).await;
    let posts = count(&e.flow_requests("ws1"), "POST /api/v1/workspaces/ws1/tags");
    e.deliver(&ws1, &entry("ws1", "te2", Some("p1"))).await;
    let runs = e.wait_executions(&ws1, 2).await;
    let run = runs.iter().find(|r| r["flowName"] == "named by a boolean").expect("the second flow ran");
    assert_eq!(run["outcome"], "failed", "{run:#}");
    let step = &run["steps"][0];
    assert!(step["error"].as_str().unwrap().contains("does not fit the contract"), "{step}");
    assert!(step["status"].is_null() && step["request"].is_null(), "nothing was sent: {step}");
    assert_eq!(count(&e.flow_requests("ws1"), "POST /api/v1/workspaces/ws1/tags"), posts, "nothing was sent");
}

on_both_backends! {
    settings_and_the_workspace_fill_templates => settings_and_the_workspace_fill_templates;
    a_matching_flow_runs_once_per_delivery_and_again_only_when_forced => a_matching_flow_runs_once_per_delivery_and_again_only_when_forced;
    a_condition_that_does_not_match_runs_nothing => a_condition_that_does_not_match_runs_nothing;
    a_template_naming_a_missing_member_fails_at_save => a_template_naming_a_missing_member_fails_at_save;
    a_step_answered_400_stops_the_flow_and_shows_its_request => a_step_answered_400_stops_the_flow_and_shows_its_request;
    a_dry_run_sends_nothing => a_dry_run_sends_nothing;
    another_workspaces_flow_is_neither_visible_nor_runnable => another_workspaces_flow_is_neither_visible_nor_runnable;
    retention_deletes_old_executions_only => retention_deletes_old_executions_only;
    a_retention_of_0_days_keeps_executions_forever => a_retention_of_0_days_keeps_executions_forever;
    a_flow_is_updated_enabled_and_deleted => a_flow_is_updated_enabled_and_deleted;
    a_read_is_retried_and_a_resolved_request_is_validated_again => a_read_is_retried_and_a_resolved_request_is_validated_again;
}
