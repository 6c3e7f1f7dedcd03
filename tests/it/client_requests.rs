//! The typed client against a fake Clockify over real HTTP: hosts, credentials,
//! retry rules, the shared budget, multipart, errors.

use std::time::Duration;

use clockify_client::{Auth, ClockifyError, FilePart, RateBudget, RateLimit, types};
use clockify_testkit::{FakeClockify, Fault};
use serde_json::json;

use crate::support::{builder_for, client_for};

#[tokio::test]
async fn each_operation_goes_to_the_host_of_its_group_with_the_credential() {
    let fake = FakeClockify::start().await;
    fake.require_addon_token("addon-token-123");
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    fake.on("reports", "GET", "/v1/workspaces/ws1/shared-reports", 200, json!({ "count": 0, "reports": [] }));
    fake.on("pto", "GET", "/v1/workspaces/ws1/balance/user/u1", 200, json!({ "count": 0, "balances": [] }));
    let client = client_for(&fake, Some(Auth::AddonToken("addon-token-123".into())));

    client.get_tags().workspace_id("ws1").send().await.expect("core call");
    client.get_shared_reports_v1().workspace_id("ws1").send().await.expect("reports call");
    client.get_pto_balances_for_user().workspace_id("ws1").user_id("u1").send().await.expect("pto call");

    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 1);
    assert_eq!(fake.count("GET", "/reports/v1/workspaces/ws1/shared-reports"), 1);
    assert_eq!(fake.count("GET", "/pto/v1/workspaces/ws1/balance/user/u1"), 1);
    for r in fake.requests() {
        assert_eq!(r.header("x-addon-token"), Some("addon-token-123"), "{}", r.path);
        assert_eq!(r.header("x-api-key"), None);
        assert!(r.header("user-agent").is_some_and(|ua| ua.starts_with("clockify-client-rs/")));
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_credential_never_reaches_the_host_it_names() {
    // The other server would answer the redirected call, and records whether any came.
    let elsewhere = FakeClockify::start().await;
    elsewhere.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    let fake = FakeClockify::start().await;
    fake.redirect("api", "GET", "/v1/workspaces/ws1/tags", 302, &format!("{}/v1/workspaces/ws1/tags", elsewhere.core_url()));
    let client = client_for(&fake, Some(Auth::AddonToken("addon-token-123".into())));
    let err = client.get_tags().workspace_id("ws1").send().await.expect_err("a 302 is not the operation's success");
    assert_eq!(ClockifyError::from(err).status(), Some(302), "the redirect is the answer");
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 1);
    assert!(elsewhere.requests().is_empty(), "the redirect was followed: {:?}", elsewhere.requests());
}

#[tokio::test]
async fn an_exchange_with_a_response_limit_cuts_off_a_longer_answer() {
    use clockify_client::exchange::{Exchange, ExchangeMode};
    let fake = FakeClockify::start().await;
    let tags = |n: usize| json!([{ "id": "t1", "name": "x".repeat(n), "workspaceId": "ws1", "archived": false }]);
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, tags(2 * 1024 * 1024));
    let exchange = std::sync::Arc::new(Exchange::new(ExchangeMode::Send).with_response_limit(1024 * 1024));
    let client = builder_for(&fake, None).exchange(exchange.clone()).build().expect("client builds");
    client.get_tags().workspace_id("ws1").send().await.expect_err("the body was not read");
    let recorded = exchange.response().expect("the status was recorded");
    assert!(recorded.cut_off && recorded.body.is_empty(), "{:?}", (recorded.status, recorded.cut_off, recorded.body.len()));
    assert_eq!(recorded.status, 200);

    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, tags(1000));
    let exchange = std::sync::Arc::new(Exchange::new(ExchangeMode::Send).with_response_limit(1024 * 1024));
    let client = builder_for(&fake, None).exchange(exchange.clone()).build().expect("client builds");
    let got = client.get_tags().workspace_id("ws1").send().await.expect("within the limit");
    assert_eq!(got.into_inner().len(), 1);
    assert!(!exchange.response().expect("recorded").cut_off);
}

#[tokio::test]
async fn api_keys_are_sent_as_x_api_key_and_auth_failures_keep_clockifys_body() {
    let fake = FakeClockify::start().await;
    fake.require_api_key("right-key");
    fake.on("api", "GET", "/v1/user", 200, json!({ "id": "u1", "email": "a@b.c", "name": "A" }));
    let good = client_for(&fake, Some(Auth::ApiKey("right-key".into())));
    good.get_logged_user().send().await.expect("authorized");

    let bad = client_for(&fake, Some(Auth::ApiKey("wrong-key".into())));
    let err = ClockifyError::from(bad.get_logged_user().send().await.unwrap_err());
    match &err {
        ClockifyError::Api(f) => {
            assert_eq!((f.operation, f.status, f.code), ("get_logged_user", 401, Some(1000)));
            assert!(f.message.as_deref().unwrap().starts_with("Full authentication"));
            assert!(f.body.contains("\"code\""), "raw body kept: {}", f.body);
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains("get_logged_user") && shown.contains("401"), "{shown}");
    assert!(!format!("{bad:?}").contains("wrong-key"), "credentials are redacted in Debug");
}

#[tokio::test]
async fn a_post_that_got_a_503_is_sent_once() {
    let fake = FakeClockify::start().await;
    fake.on("api", "POST", "/v1/workspaces/ws1/clients", 201, json!({ "id": "c1", "name": "Acme" }));
    fake.fail_next("POST", "/api/v1/workspaces/ws1/clients", Fault::Status(503), 1);
    let client = client_for(&fake, None);
    let err = client
        .create_client()
        .workspace_id("ws1")
        .body(types::CreateClientRequestV1 { name: Some("Acme".parse().expect("a valid client name")), ..Default::default() })
        .send()
        .await
        .unwrap_err();
    assert_eq!(ClockifyError::from(err).status(), Some(503));
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/clients"), 1, "a write is never replayed");
}

#[tokio::test]
async fn a_patch_that_lost_its_connection_is_not_replayed() {
    let fake = FakeClockify::start().await;
    fake.fail_next("PATCH", "/api/v1/workspaces/ws1/webhooks/wh1/token", Fault::CloseConnection, 1);
    let client = client_for(&fake, None);
    let err = client.generate_new_token().workspace_id("ws1").webhook_id("wh1").send().await.unwrap_err();
    assert!(matches!(ClockifyError::from(err), ClockifyError::Transport(_)));
    assert_eq!(fake.count("PATCH", "/api/v1/workspaces/ws1/webhooks/wh1/token"), 1);
}

#[tokio::test]
async fn reads_are_retried_after_5xx_and_dropped_connections() {
    let fake = FakeClockify::start().await;
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([{ "id": "t1", "name": "x" }]));
    fake.fail_next("GET", "/api/v1/workspaces/ws1/tags", Fault::Status(502), 1);
    fake.fail_next("GET", "/api/v1/workspaces/ws1/tags", Fault::CloseConnection, 1);
    let client = client_for(&fake, None);
    let tags = client.get_tags().workspace_id("ws1").send().await.expect("third attempt succeeds");
    assert_eq!(tags.into_inner().len(), 1);
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 3);
}

#[tokio::test]
async fn idempotent_writes_are_retried_and_retries_are_bounded() {
    let fake = FakeClockify::start().await;
    fake.on("api", "DELETE", "/v1/workspaces/ws1/clients/c1", 200, json!({ "id": "c1" }));
    fake.fail_next("DELETE", "/api/v1/workspaces/ws1/clients/c1", Fault::Status(500), 1);
    let client = client_for(&fake, None);
    client.delete_client().workspace_id("ws1").id("c1").send().await.expect("DELETE is idempotent");
    assert_eq!(fake.count("DELETE", "/api/v1/workspaces/ws1/clients/c1"), 2);

    fake.fail_next("GET", "/api/v1/workspaces/ws1/tags", Fault::Status(500), 10);
    let err = client.get_tags().workspace_id("ws1").send().await.unwrap_err();
    assert_eq!(ClockifyError::from(err).status(), Some(500));
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 4, "max_attempts is 4");
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_even_for_a_post() {
    let fake = FakeClockify::start().await;
    fake.on("api", "POST", "/v1/workspaces/ws1/clients", 201, json!({ "id": "c1", "name": "Acme" }));
    fake.fail_next("POST", "/api/v1/workspaces/ws1/clients", Fault::TooManyRequests { retry_after_secs: Some(1) }, 1);
    let client = client_for(&fake, None);
    let started = std::time::Instant::now();
    let created = client
        .create_client()
        .workspace_id("ws1")
        .body(types::CreateClientRequestV1 { name: Some("Acme".parse().expect("a valid client name")), ..Default::default() })
        .send()
        .await
        .expect("retried after the 429");
    assert_eq!(created.status().as_u16(), 201);
    let posts: Vec<_> = fake.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 2, "a refused request was not processed, so it is sent again");
    let gap = posts[1].at - posts[0].at;
    assert!(gap >= Duration::from_millis(950), "Retry-After: 1 was honoured ({gap:?})");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn the_budget_is_shared_by_clones_and_tasks_of_one_workspace() {
    let fake = FakeClockify::start().await;
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    fake.on("api", "GET", "/v1/workspaces/ws2/tags", 200, json!([]));
    fake.enforce_rate_limit(10);
    // A wider margin than the default 50 ms: on a loaded 2-core machine a
    // request can reach the fake more than 50 ms late, and the fake's 429
    // would then make a retry. Unshared, two clients would still send 20
    // in a window, which the fake and the assertions below catch.
    let budget = RateBudget::new(RateLimit { max_requests: 10, window: std::time::Duration::from_millis(1200) });
    // Two separately built clients (say, installation and user token) share the budget.
    let a = builder_for(&fake, None).budget(budget.clone()).build().unwrap();
    let b = builder_for(&fake, None).budget(budget.clone()).build().unwrap();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let client = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move { client.get_tags().workspace_id("ws1").send().await.map(|_| ()) }));
    }
    let other = a.clone();
    tasks.push(tokio::spawn(async move { other.get_tags().workspace_id("ws2").send().await.map(|_| ()) }));
    for t in tasks {
        t.await.unwrap().expect("no request fails");
    }
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 30, "no 429, so no retries");
    assert!(fake.max_per_second("ws1") <= 10, "at most 10 in any one-second window, saw {}", fake.max_per_second("ws1"));
    assert!(fake.requests().iter().all(|r| r.status != 429));
}

#[tokio::test]
async fn multipart_upload_sends_a_typed_form() {
    let fake = FakeClockify::start().await;
    fake.on("api", "POST", "/v1/file/image", 200, json!({ "name": "logo.png", "url": "https://img/logo.png" }));
    fake.on("api", "POST", "/v1/workspaces/ws1/expenses", 201, json!({ "id": "e1", "workspaceId": "ws1" }));
    let client = client_for(&fake, Some(Auth::AddonToken("t".into())));

    let uploaded = client
        .upload_image(clockify_client::generated::multipart::UploadImageForm {
            file: FilePart::new("logo.png", "image/png", vec![0x89, b'P', b'N', b'G']),
        })
        .await
        .expect("upload");
    assert_eq!(uploaded.into_inner().url.as_deref(), Some("https://img/logo.png"));

    client
        .create_expense(
            "ws1",
            clockify_client::generated::multipart::CreateExpenseForm {
                amount: 99.5,
                billable: Some(true),
                category_id: "cat1".into(),
                date: "2024-01-01T00:00:00Z".into(),
                file: FilePart::new("receipt.pdf", "application/pdf", b"%PDF-1.4".to_vec()),
                notes: None,
                project_id: "p1".into(),
                task_id: None,
                user_id: "u1".into(),
            },
        )
        .await
        .expect("create expense");

    let reqs = fake.requests();
    let upload = reqs.iter().find(|r| r.path == "/api/v1/file/image").unwrap();
    assert!(upload.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    let body = upload.body_text();
    assert!(body.contains("name=\"file\"; filename=\"logo.png\"") && body.contains("image/png"), "{body}");
    assert_eq!(upload.header("x-addon-token"), Some("t"), "multipart goes through the same hooks");
    let expense = reqs.iter().find(|r| r.path == "/api/v1/workspaces/ws1/expenses").unwrap().body_text();
    for part in ["name=\"amount\"", "99.5", "name=\"categoryId\"", "name=\"billable\"", "filename=\"receipt.pdf\""] {
        assert!(expense.contains(part), "missing {part} in {expense}");
    }
    assert!(!expense.contains("name=\"notes\""), "absent optional fields are not sent");
}

#[tokio::test]
async fn path_parameters_are_percent_encoded() {
    let fake = FakeClockify::start().await;
    let client = client_for(&fake, None);
    let _ = client.get_tags().workspace_id("../../v1/user?x=#").send().await;
    let r = &fake.requests()[0];
    assert!(r.path.starts_with("/api/v1/workspaces/"), "{}", r.path);
    assert!(r.path.ends_with("/tags"), "the value cannot change the path: {}", r.path);
    assert_eq!(r.query, "");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_only_idempotent_requests_are_tried_again() {
    let fake = FakeClockify::start().await;
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    fake.on("api", "POST", "/v1/workspaces/ws1/tags", 201, json!({ "id": "t1", "name": "x" }));
    // The first GET hangs far beyond the timeout; the retry gets a prompt answer.
    fake.fail_next("GET", "/api/v1/workspaces/ws1/tags", Fault::Delay(Duration::from_secs(20)), 1);
    fake.fail_next("POST", "/api/v1/workspaces/ws1/tags", Fault::Delay(Duration::from_secs(20)), 1);
    let client = builder_for(&fake, None).timeout(Duration::from_millis(300)).build().unwrap();

    client.get_tags().workspace_id("ws1").send().await.expect("GET succeeds on its second attempt");
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 2, "timed out once, tried again once");

    let started = std::time::Instant::now();
    let err = ClockifyError::from(
        client
            .create_new_tag()
            .workspace_id("ws1")
            .body(types::TagRequest::builder().name(Some("x".parse().unwrap())))
            .send()
            .await
            .unwrap_err(),
    );
    assert!(matches!(&err, ClockifyError::Transport(e) if e.is_timeout()), "a timeout, not {err:?}");
    assert!(started.elapsed() < Duration::from_secs(20), "the client gave up before the server answered");
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/tags"), 1, "a POST that timed out is never sent again");
}

#[tokio::test]
async fn an_operation_outside_the_declared_scopes_is_refused_before_sending() {
    use clockify_client::Scope;
    let fake = FakeClockify::start().await;
    fake.on("api", "GET", "/v1/workspaces/ws1/tags", 200, json!([]));
    fake.on("api", "POST", "/v1/workspaces/ws1/tags", 201, json!({ "id": "t1", "name": "x" }));
    fake.on("api", "GET", "/v1/workspaces/ws1/webhooks", 200, json!({ "webhooks": [], "workspaceWebhookCount": 0 }));
    let client = builder_for(&fake, None).declared_scopes([Scope::TagRead]).build().unwrap();

    client.get_tags().workspace_id("ws1").send().await.expect("TAG_READ is declared");
    // Webhook operations need no scope at all.
    client.get_webhooks().workspace_id("ws1").send().await.expect("no scope needed");
    let err = ClockifyError::from(
        client
            .create_new_tag()
            .workspace_id("ws1")
            .body(types::TagRequest::builder().name(Some("x".parse().unwrap())))
            .send()
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("createNewTag needs scope TAG_WRITE"), "{err}");
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/tags"), 0, "nothing was sent");
}
