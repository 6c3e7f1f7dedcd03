//! The explorer's web page in a real browser: headless Chromium driven
//! through chromedriver (fantoccini), against a started gateway and the fake
//! Clockify. Skipped loudly without chromedriver; `cargo xtask test` installs
//! it and makes a skip a failure.

#[path = "support/browser.rs"]
mod browser;
mod support;

use std::time::{Duration, Instant};

use browser::{count, wait_text};
use clockify_testkit::{FakeClockify, PageStyle, Shape};
use fantoccini::Locator;
use serde_json::json;
use support::{TestGateway, addon_claims, test_config};

#[tokio::test]
async fn the_page_lists_searches_builds_a_form_dry_runs_and_calls() {
    let Some(browser) = browser::start("explorer_page").await else { return };
    let c = browser.client.clone();

    let fake = FakeClockify::start().await;
    let mut config = test_config();
    config.allowed_api_hosts.push(fake.url().parse().expect("http://host:port"));
    let gw = TestGateway::start_with(config).await;
    // The explorer serves workspaces with a live installation only.
    gw.install("ws1", "a1", &[]).await;
    let mut claims = addon_claims("ws1", "a1");
    claims["user"] = json!("u1");
    claims["backendUrl"] = json!(fake.core_url());
    claims["reportsUrl"] = json!(fake.reports_url());
    support::as_user(&mut claims, "TEAM_MANAGER");
    let token = gw.sign(&claims);
    fake.require_addon_token(&token);
    fake.paginated(
        "api",
        "/v1/workspaces/ws1/tags",
        PageStyle::PageSize,
        Shape::Array,
        (0..3)
            .map(|i| json!({"id": format!("t{i}"), "name": format!("tag number {i}"), "workspaceId": "ws1", "archived": false}))
            .collect(),
        true,
    );

    c.goto(&gw.url(&format!("/ui/api-explorer?auth_token={token}"))).await.expect("page loads");
    let total = clockify_client::catalog::OPERATIONS.len();
    wait_text(&c, "#count", |t| t == format!("{total} of {total} operations")).await;
    let url = c.current_url().await.expect("url");
    assert!(!url.as_str().contains("auth_token"), "the token leaves the address bar: {url}");

    // Search.
    c.find(Locator::Id("search")).await.unwrap().send_keys("workspaces/{workspaceId}/tags").await.unwrap();
    let shown = wait_text(&c, "#count", |t| !t.starts_with(&format!("{total} of"))).await;
    let shown: usize = shown.split(' ').next().and_then(|n| n.parse().ok()).expect("a count");
    assert!((2..10).contains(&shown), "{shown} operations on tags paths");
    assert_eq!(count(&c, "button.op").await, shown);
    assert_eq!(count(&c, "[data-op=getTags]").await, 1);
    assert_eq!(count(&c, "[data-op=getProjects]").await, 0, "filtered out");

    // A form from the operation's parameters; a dry run.
    c.find(Locator::Css("[data-op=getTags]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("input[name='query.page-size']")).await.unwrap().send_keys("2").await.unwrap();
    c.find(Locator::Css("select[name='query.sort-order']")).await.unwrap().select_by_value("DESCENDING").await.unwrap();
    c.find(Locator::Id("dry-run")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#status", |t| t == "dry run (nothing sent)").await;
    let request = c.find(Locator::Id("request-view")).await.unwrap().text().await.unwrap();
    assert!(request.starts_with(&format!("GET {}/v1/workspaces/ws1/tags?", fake.core_url())), "{request}");
    assert!(request.contains("page-size=2") && request.contains("sort-order=DESCENDING"), "{request}");
    assert!(request.contains("x-addon-token: <redacted>") && !request.contains(&token), "{request}");
    assert!(fake.requests().is_empty(), "a dry run sends nothing");

    // A real GET: Clockify's status, body and paging header on the page.
    c.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#status", |t| t == "200").await;
    let body = wait_text(&c, "#result-body", |t| t.contains("tag number 1")).await;
    assert!(!body.contains("tag number 2"), "page size 2 was sent: {body}");
    let headers = c.find(Locator::Id("headers-view")).await.unwrap().text().await.unwrap();
    assert!(headers.contains("last-page: false"), "{headers}");
    let duration = c.find(Locator::Id("duration")).await.unwrap().text().await.unwrap();
    assert!(duration.parse::<f64>().is_ok(), "{duration}");
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), 1);

    // A write is marked and asks before sending.
    let search = c.find(Locator::Id("search")).await.unwrap();
    search.clear().await.unwrap();
    search.send_keys("createNewTag").await.unwrap();
    wait_text(&c, "#count", |t| t.starts_with("1 of")).await;
    c.find(Locator::Css("[data-op=createNewTag]")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#op-access", |t| t == "write").await;
    c.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
    assert!(c.find(Locator::Id("confirm")).await.unwrap().is_displayed().await.unwrap(), "confirmation shown");
    c.find(Locator::Id("confirm-cancel")).await.unwrap().click().await.unwrap();
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/tags"), 0, "nothing sent without confirmation");
    fake.on(
        "api",
        "POST",
        "/v1/workspaces/ws1/tags",
        201,
        json!({"id": "t9", "name": "from the page", "workspaceId": "ws1", "archived": false}),
    );
    let body = c.find(Locator::Id("body")).await.unwrap();
    body.clear().await.unwrap();
    body.send_keys(r#"{"name": "from the page"}"#).await.unwrap();
    c.find(Locator::Id("send")).await.unwrap().click().await.unwrap();
    c.find(Locator::Id("confirm-send")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#status", |t| t == "201").await;
    let sent = fake.requests().into_iter().find(|r| r.method == "POST").expect("the write was sent");
    assert_eq!(sent.json(), Some(json!({"name": "from the page"})));

    // Invalid input: the page lists the violations with their pointers.
    body.clear().await.unwrap();
    body.send_keys(r#"{"name": 5}"#).await.unwrap();
    c.find(Locator::Id("dry-run")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#status", |t| t == "422").await;
    wait_text(&c, "#violations", |t| t.contains("/body/name")).await;

    // The history: a read replays at once; a write asks first.
    let gets = fake.count("GET", "/api/v1/workspaces/ws1/tags");
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&c, "#history-rows tr[data-op=getTags]").await < 2 {
        assert!(Instant::now() < deadline, "the history lists the calls");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.find(Locator::Css("#history-rows tr[data-op=getTags] .history-replay")).await.unwrap().click().await.unwrap();
    wait_text(&c, "#result-kind", |t| t == "Replayed.").await;
    wait_text(&c, "#status", |t| t == "200").await;
    assert_eq!(fake.count("GET", "/api/v1/workspaces/ws1/tags"), gets + 1, "the read was sent again");
    let posts = fake.count("POST", "/api/v1/workspaces/ws1/tags");
    c.find(Locator::Css("#history-rows tr[data-op=createNewTag] .history-replay")).await.unwrap().click().await.unwrap();
    assert!(c.find(Locator::Id("history-confirm")).await.unwrap().is_displayed().await.unwrap(), "a write asks before it is replayed");
    c.find(Locator::Id("history-confirm-cancel")).await.unwrap().click().await.unwrap();
    assert_eq!(fake.count("POST", "/api/v1/workspaces/ws1/tags"), posts, "nothing replayed without confirmation");

    c.close().await.expect("session closes");
}
