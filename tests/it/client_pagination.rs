//! Pagination streams over every style the contract uses, against the fake.

use clockify_testkit::{FakeClockify, PageStyle, Shape};
use futures::TryStreamExt;
use serde_json::{Value, json};

use crate::support::client_for;

fn items(prefix: &str, n: usize) -> Vec<Value> {
    (0..n).map(|i| json!({ "id": format!("{prefix}{i}"), "name": format!("{prefix} {i}") })).collect()
}

#[tokio::test]
async fn page_and_page_size_array_stops_at_the_short_page() {
    let fake = FakeClockify::start().await;
    fake.paginated("api", "/v1/workspaces/ws1/projects", PageStyle::PageSize, Shape::Array, items("p", 450), false);
    let client = client_for(&fake, None);
    let got: Vec<_> = client.get_projects().workspace_id("ws1").stream().try_collect().await.unwrap();
    let ids: Vec<String> = got.iter().map(|p| p.id.clone().unwrap()).collect();
    assert_eq!(ids, (0..450).map(|i| format!("p{i}")).collect::<Vec<_>>(), "every item once, in order");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "ceil(450 / 200) pages");
    assert_eq!(reqs[0].query_param("page").as_deref(), Some("1"), "1-based");
    assert_eq!(reqs[2].query_param("page-size").as_deref(), Some("200"));
}

#[tokio::test]
async fn envelope_total_avoids_an_empty_extra_page() {
    let fake = FakeClockify::start().await;
    let envelope = Shape::Envelope { list_field: "invoices".into(), total_field: Some("total".into()) };
    fake.paginated("api", "/v1/workspaces/ws1/invoices", PageStyle::PageSize, envelope, items("i", 200), false);
    let client = client_for(&fake, None);
    let got: Vec<_> = client.get_invoices().workspace_id("ws1").stream_with_page_size(Some(100)).try_collect().await.unwrap();
    assert_eq!(got.len(), 200);
    assert_eq!(fake.requests().len(), 2, "total reached after two full pages");
}

#[tokio::test]
async fn last_page_header_is_honoured_when_present() {
    let fake = FakeClockify::start().await;
    fake.paginated("api", "/v1/workspaces/ws1/tags", PageStyle::PageSize, Shape::Array, items("t", 400), true);
    let client = client_for(&fake, None);
    let got: Vec<_> = client.get_tags().workspace_id("ws1").stream().try_collect().await.unwrap();
    assert_eq!(got.len(), 400);
    assert_eq!(fake.requests().len(), 2, "Last-Page: true on the second full page");
}

#[tokio::test]
async fn page_and_limit_as_strings_from_page_zero() {
    let fake = FakeClockify::start().await;
    let envelope = Shape::Envelope { list_field: "response".into(), total_field: None };
    fake.paginated("api", "/v1/workspaces/ws1/entities/deleted", PageStyle::Limit, envelope, items("d", 120), false);
    let client = client_for(&fake, None);
    let got: Vec<_> = client
        .get_deleted_entity_info()
        .workspace_id("ws1")
        .type_(vec!["TIME_ENTRY".to_string()])
        .stream_with_page_size(Some(50))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 120);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].query_param("page").as_deref(), Some("0"), "this family starts at page 0");
    assert_eq!(reqs[0].query_param("limit").as_deref(), Some("50"));
}

#[tokio::test]
async fn page_and_page_size_camel_on_the_reports_host() {
    let fake = FakeClockify::start().await;
    let envelope = Shape::Envelope { list_field: "reports".into(), total_field: Some("count".into()) };
    fake.paginated("reports", "/v1/workspaces/ws1/shared-reports", PageStyle::PageSizeCamel, envelope, items("r", 30), false);
    let client = client_for(&fake, None);
    let got: Vec<_> = client.get_shared_reports_v1().workspace_id("ws1").stream_with_page_size(Some(20)).try_collect().await.unwrap();
    assert_eq!(got.len(), 30);
    assert_eq!(fake.count("GET", "/reports/v1/workspaces/ws1/shared-reports"), 2);
    assert_eq!(fake.requests()[0].query_param("pageSize").as_deref(), Some("20"));
}

#[tokio::test]
async fn page_and_page_size_inside_a_post_filter_body_capped_by_the_contract() {
    let fake = FakeClockify::start().await;
    let envelope = Shape::Envelope { list_field: "requests".into(), total_field: Some("count".into()) };
    fake.paginated_post_body("api", "/v1/workspaces/ws1/time-off/requests", envelope, items("r", 450));
    let client = client_for(&fake, None);
    // The contract caps pageSize at 200 for this filter; asking for 1000 sends 200.
    let got: Vec<_> = client.get_time_off_request().workspace_id("ws1").stream_with_page_size(Some(1000)).try_collect().await.unwrap();
    assert_eq!(got.len(), 450);
    let bodies: Vec<Value> = fake.requests().iter().map(|r| r.json().unwrap()).collect();
    assert_eq!(bodies.len(), 3);
    assert_eq!((bodies[0]["page"].as_i64(), bodies[0]["pageSize"].as_i64()), (Some(1), Some(200)));
    assert_eq!(bodies[2]["page"].as_i64(), Some(3));
}

#[tokio::test]
async fn an_error_mid_stream_is_yielded_and_ends_the_stream() {
    let fake = FakeClockify::start().await;
    fake.paginated("api", "/v1/workspaces/ws1/projects", PageStyle::PageSize, Shape::Array, items("p", 450), false);
    fake.fail_next("GET", "/api/v1/workspaces/ws1/projects", clockify_testkit::Fault::Status(200), 0);
    let client = client_for(&fake, None);
    let mut stream = client.get_projects().workspace_id("ws1").stream();
    // First page comes through, then the fake starts refusing.
    for _ in 0..200 {
        stream.try_next().await.unwrap().unwrap();
    }
    fake.fail_next("GET", "/api/v1/workspaces/ws1/projects", clockify_testkit::Fault::Status(404), 1);
    let err = stream.try_next().await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(stream.try_next().await.unwrap().is_none(), "nothing after the error");
}

#[tokio::test]
async fn page_and_size_in_the_query_of_a_post_from_page_zero() {
    let fake = FakeClockify::start().await;
    fake.paginated_with_method(
        "api",
        "POST",
        "/v1/workspaces/ws1/webhooks/wh1/logs",
        PageStyle::Size,
        Shape::Array,
        items("l", 130),
        false,
    );
    let client = client_for(&fake, None);
    let got: Vec<_> = client
        .get_logs_for_webhook()
        .workspace_id("ws1")
        .webhook_id("wh1")
        .body(clockify_client::types::WebhookLogSearchRequestV1::builder().sort_by_newest(true))
        .stream_with_page_size(Some(50))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<String> = got.iter().map(|l| l.id.clone().unwrap()).collect();
    assert_eq!(ids, (0..130).map(|i| format!("l{i}")).collect::<Vec<_>>(), "every log once, in order");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "50 + 50 + 30 (short page ends it)");
    let pages: Vec<_> = reqs.iter().map(|r| r.query_param("page")).collect();
    assert_eq!(pages, [Some("0".into()), Some("1".into()), Some("2".into())], "this family starts at page 0");
    assert!(reqs.iter().all(|r| r.method == "POST" && r.query_param("size").as_deref() == Some("50")));
    assert_eq!(reqs[1].json().unwrap()["sortByNewest"], json!(true), "the filter body is sent with every page");
}
