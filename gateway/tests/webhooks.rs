//! The inbox: deliveries handled once, retried, dead-lettered, mirrored,
//! safe across a crash and across instances.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clockify_gateway::{AddonHooks, HandlerError, WebhookDelivery};
use serde_json::{Value, json};
use support::{Backend, TestGateway, config_for};

/// Records every handler call; fails the first `fail_first` calls of each delivery.
#[derive(Default)]
struct Recorder {
    calls: Mutex<HashMap<String, u32>>,
    events: Mutex<Vec<(String, String, bool)>>,
    fail_first: u32,
}

impl AddonHooks for Recorder {
    fn on_webhook<'a>(
        &'a self,
        _ctx: &'a clockify_gateway::AddonContext,
        d: &'a WebhookDelivery,
    ) -> clockify_gateway::hooks::HandlerFuture<'a> {
        Box::pin(async move {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                let n = calls.entry(d.id.clone()).or_default();
                *n += 1;
                *n
            };
            self.events.lock().unwrap().push((d.workspace_id.clone(), d.event.to_string(), d.payload.is_typed()));
            if n <= self.fail_first { Err(HandlerError(format!("attempt {n} fails on purpose"))) } else { Ok(()) }
        })
    }
}

impl Recorder {
    fn total_calls(&self) -> u32 {
        self.calls.lock().unwrap().values().sum()
    }
    fn deliveries(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Like `eventually`, for checks that need the database.
macro_rules! eventually_async {
    ($what:expr, $check:expr) => {{
        let mut ok = false;
        for _ in 0..400 {
            if $check {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(ok, "timed out waiting for: {}", $what);
    }};
}

async fn a_duplicate_storm_is_handled_once(backend: Backend) {
    let hooks = Arc::new(Recorder::default());
    let gw = TestGateway::start_with_hooks(config_for(backend).await, hooks.clone()).await;
    let (_, tokens) = gw.install("ws1", "a1", &["NEW_TAG"]).await;
    let body = json!({ "id": "t1", "name": "urgent", "workspaceId": "ws1" });
    let storm = (0..40).map(|_| gw.deliver("NEW_TAG", &tokens[0].1, &body));
    let mut answers: Vec<String> = Vec::new();
    for r in futures::future::join_all(storm).await {
        assert_eq!(r.status(), 200);
        answers.push(r.json::<Value>().await.unwrap()["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(answers.iter().filter(|a| *a == "accepted").count(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|a| *a == "duplicate").count(), 39);
    eventually("the handler ran", || hooks.total_calls() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.total_calls(), 1, "handled once");
    // The mirror holds the tag, from the same transaction that completed the delivery.
    let mirrored = gw.state.deliveries.entity("ws1", "tag", "t1").await.unwrap().expect("mirrored");
    assert!(mirrored.contains("urgent"));
}

async fn a_failing_handler_is_retried_then_dead_lettered_and_nothing_is_lost(backend: Backend) {
    let mut config = config_for(backend).await;
    config.webhook_max_attempts = 2;
    let hooks = Arc::new(Recorder { fail_first: 1, ..Recorder::default() });
    let gw = TestGateway::start_with_hooks(config, hooks.clone()).await;
    let (_, tokens) = gw.install("ws2", "a2", &["NEW_PROJECT"]).await;
    gw.deliver("NEW_PROJECT", &tokens[0].1, &json!({ "id": "p1", "name": "x" })).await;
    // First attempt fails, the retry (after 1 s) succeeds.
    eventually("retried to success", || hooks.total_calls() == 2).await;
    eventually_async!("done", gw.state.deliveries.state_counts("ws2").await.unwrap().done == 1);
    let m = gw.metrics().await;
    assert_eq!(support::metric(&m, "gateway_webhook_handled_total{event=\"NEW_PROJECT\",outcome=\"retrying\"}"), 1.0);

    // A handler that always fails: dead after the configured attempts, kept with its error.
    let mut config = config_for(backend).await;
    config.webhook_max_attempts = 2;
    let hooks = Arc::new(Recorder { fail_first: u32::MAX, ..Recorder::default() });
    let gw = TestGateway::start_with_hooks(config, hooks.clone()).await;
    let (_, tokens) = gw.install("ws3", "a3", &["NEW_PROJECT"]).await;
    gw.deliver("NEW_PROJECT", &tokens[0].1, &json!({ "id": "p1" })).await;
    eventually_async!("dead", gw.state.deliveries.state_counts("ws3").await.unwrap().dead == 1);
    assert_eq!(hooks.total_calls(), 2);
    let error: String =
        sqlx::query_scalar("SELECT last_error FROM deliveries WHERE workspace_id = 'ws3'").fetch_one(gw.state.db.pool()).await.unwrap();
    assert!(error.contains("fails on purpose"));
}

async fn deliveries_accepted_before_a_crash_are_handled_once_after_restart(backend: Backend) {
    let mut config = config_for(backend).await;
    // The first instance only receives: it "dies" before any handler runs.
    config.webhook_workers = 0;
    let first = TestGateway::start_with(config.clone()).await;
    let (_, tokens) = first.install("ws4", "a4", &["NEW_CLIENT"]).await;
    for i in 0..5 {
        let r = first.deliver("NEW_CLIENT", &tokens[0].1, &json!({ "id": format!("c{i}") })).await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], json!("accepted"));
    }
    first.server.abort();
    let _ = first.server.await;

    config.webhook_workers = 2;
    let hooks = Arc::new(Recorder::default());
    let second = TestGateway::start_with_hooks(config, hooks.clone()).await;
    eventually("all five handled", || hooks.deliveries() == 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.total_calls(), 5, "each once");
    assert_eq!(second.state.deliveries.state_counts("ws4").await.unwrap().done, 5);
}

async fn a_delete_event_removes_the_mirrored_entity(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let (_, tokens) = gw.install("ws5", "a5", &["NEW_PROJECT"]).await;
    gw.deliver("NEW_PROJECT", &tokens[0].1, &json!({ "id": "p9", "name": "Apollo" })).await;
    eventually_async!("mirrored", gw.state.deliveries.entity("ws5", "project", "p9").await.unwrap().is_some());
    // PROJECT_DELETED is not a manifest event: its token comes from REST registration.
    let rest_token = gw.sign(&json!({ "iss": "clockify", "type": "access", "workspaceId": "ws5", "sub": "u1", "exp": 4102444800u64 }));
    gw.state.installations.store_registered_webhook("ws5", "PROJECT_DELETED", "wh1", &rest_token).await.unwrap();
    let r = gw.deliver("PROJECT_DELETED", &rest_token, &json!({ "id": "p9", "name": "Apollo" })).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    eventually_async!("unmirrored", gw.state.deliveries.entity("ws5", "project", "p9").await.unwrap().is_none());
}

/// The ingest can store new deliveries already leased to the instance that
/// accepted them (its inbox takes them without a claim). Nobody else claims
/// them until that lease runs out; then anyone does, as a second attempt,
/// so a delivery handed to an instance that stops is not lost.
async fn deliveries_stored_leased_are_claimed_by_others_only_after_the_lease(backend: Backend) {
    use clockify_gateway::store::{NewDelivery, Recorded};
    let mut config = config_for(backend).await;
    config.webhook_workers = 0;
    let gw = TestGateway::start_with(config).await;
    let store = gw.state.deliveries.clone();
    let new = |n: u32| NewDelivery {
        workspace_id: "ws-lease".into(),
        event: "NEW_TAG".into(),
        body: format!(r#"{{"id":"t{n}"}}"#),
        body_sha256: format!("{n:064}"),
    };
    let batch = vec![new(1), new(1), new(2)];
    let (_, stored) = store.ingest(vec!["ws-lease".into()], Some(400), move |_| ((), batch)).await.unwrap();
    let stored = stored.unwrap();
    assert_eq!(stored.recorded, [Recorded::New, Recorded::Duplicate, Recorded::New]);
    let leased: Vec<(&str, i64)> = stored.leased.iter().map(|d| (d.body.as_str(), d.attempt)).collect();
    assert_eq!(leased, [(r#"{"id":"t1"}"#, 1), (r#"{"id":"t2"}"#, 1)]);
    assert!(store.claim(10, 60_000).await.unwrap().is_empty(), "leased to the instance that stored them");
    assert_eq!(store.state_counts("ws-lease").await.unwrap().pending, 2);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut claimed: Vec<(String, i64)> = store.claim(10, 60_000).await.unwrap().into_iter().map(|d| (d.id, d.attempt)).collect();
    claimed.sort();
    let mut expected: Vec<(String, i64)> = stored.leased.iter().map(|d| (d.id.clone(), 2)).collect();
    expected.sort();
    assert_eq!(claimed, expected, "after the lease, claimed as their second attempt");

    // Stored without a lease: claimable at once, as the first attempt.
    let (_, stored) = store.ingest(vec!["ws-lease".into()], None, move |_| ((), vec![new(3)])).await.unwrap();
    let stored = stored.unwrap();
    assert_eq!((stored.recorded.as_slice(), stored.leased.len()), ([Recorded::New].as_slice(), 0));
    let claimed = store.claim(10, 60_000).await.unwrap();
    assert_eq!(claimed.iter().map(|d| (d.body.as_str(), d.attempt)).collect::<Vec<_>>(), [(r#"{"id":"t3"}"#, 1)]);
}

/// Each handler call waits for a permit; records the deliveries it ran.
struct Gated {
    permits: tokio::sync::Semaphore,
    started: Mutex<Vec<String>>,
}

impl Default for Gated {
    fn default() -> Self {
        Self { permits: tokio::sync::Semaphore::new(0), started: Mutex::default() }
    }
}

impl AddonHooks for Gated {
    fn on_webhook<'a>(
        &'a self,
        _ctx: &'a clockify_gateway::AddonContext,
        d: &'a WebhookDelivery,
    ) -> clockify_gateway::hooks::HandlerFuture<'a> {
        Box::pin(async move {
            self.started.lock().unwrap().push(d.id.clone());
            self.permits.acquire().await.map_err(|e| HandlerError(e.to_string()))?.forget();
            Ok(())
        })
    }
}

/// Stopped as by SIGTERM while a handler runs and more deliveries wait in
/// its hand-off (stored leased to it for a minute): the running handler
/// finishes and is recorded, and the leases of the others are given back,
/// so they are claimable at once, still as their first attempt.
async fn a_graceful_stop_gives_back_the_leases_of_deliveries_it_did_not_start(backend: Backend) {
    let mut config = config_for(backend).await;
    config.webhook_workers = 1;
    let hooks = Arc::new(Gated::default());
    let gw = TestGateway::start_with_hooks(config.clone(), hooks.clone()).await;
    let (_, tokens) = gw.install("ws-stop", "a-stop", &["NEW_TAG"]).await;
    for i in 0..5 {
        let r = gw.deliver("NEW_TAG", &tokens[0].1, &json!({ "id": format!("t{i}") })).await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], json!("accepted"));
    }
    eventually("the first handler runs", || hooks.started.lock().unwrap().len() == 1).await;
    let (state, inbox) = (gw.state.clone(), gw.inbox.clone());
    let stopping = tokio::spawn(gw.stop());
    eventually("the stop reaches the inbox", || inbox.is_stopping()).await;
    hooks.permits.add_permits(1);
    stopping.await.unwrap();

    let handled = hooks.started.lock().unwrap().clone();
    assert_eq!(handled.len(), 1, "nothing started after the stop began");
    let counts = state.deliveries.state_counts("ws-stop").await.unwrap();
    assert_eq!((counts.done, counts.pending), (1, 4), "the running handler's delivery is recorded as done");

    config.webhook_workers = 0;
    let next = TestGateway::start_with(config).await;
    let claimed = next.state.deliveries.claim(10, 60_000).await.unwrap();
    assert_eq!(claimed.len(), 4, "released leases are claimable at once, not after the minute");
    assert!(claimed.iter().all(|d| d.attempt == 1 && d.id != handled[0]), "first attempts, none of them the handled one");
}

/// The database refuses the inbox's insert (a trigger stands in for a full
/// disk or a broken table): every delivery of the batch is a 503 problem,
/// and nothing of it is written, not even its duplicate key, so Clockify's
/// retry after the repair is accepted as new rather than answered as a
/// duplicate and lost.
async fn a_refused_write_stores_nothing_so_the_retry_is_new(backend: Backend) {
    let gw = TestGateway::start(backend).await;
    let pool = gw.state.db.pool();
    let (_, tokens) = gw.install("ws-refused", "a-refused", &["NEW_TAG"]).await;
    let refuse: &[&str] = match backend {
        Backend::Sqlite => &["CREATE TRIGGER refuse_deliveries BEFORE INSERT ON deliveries \
                              BEGIN SELECT RAISE(ABORT, 'refused on purpose'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused on purpose'; END $$",
            "CREATE TRIGGER refuse_deliveries BEFORE INSERT ON deliveries FOR EACH ROW EXECUTE FUNCTION refuse_delivery()",
        ],
    };
    for sql in refuse {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
    let bodies: Vec<Value> = (0..3).map(|i| json!({ "id": format!("t{i}") })).collect();
    let refused = futures::future::join_all(bodies.iter().map(|b| gw.deliver("NEW_TAG", &tokens[0].1, b))).await;
    for r in refused {
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let keys: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM delivery_keys WHERE workspace_id = $1").bind("ws-refused").fetch_one(pool).await.unwrap();
    assert_eq!((keys, gw.state.deliveries.count("ws-refused", "NEW_TAG").await.unwrap()), (0, 0), "nothing written");

    let repair = match backend {
        Backend::Sqlite => "DROP TRIGGER refuse_deliveries",
        Backend::Postgres => "DROP TRIGGER refuse_deliveries ON deliveries",
    };
    sqlx::query(repair).execute(pool).await.unwrap();
    for b in &bodies {
        let r = gw.deliver("NEW_TAG", &tokens[0].1, b).await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], json!("accepted"), "the retry of {b} is new");
    }
    let again = gw.deliver("NEW_TAG", &tokens[0].1, &bodies[0]).await;
    assert_eq!(again.json::<Value>().await.unwrap()["status"], json!("duplicate"));
    eventually_async!("all three handled", gw.state.deliveries.state_counts("ws-refused").await.unwrap().done == 3);
}

on_both_backends! {
    a_refused_write_stores_nothing_so_the_retry_is_new => a_refused_write_stores_nothing_so_the_retry_is_new;
    a_graceful_stop_gives_back_the_leases_of_deliveries_it_did_not_start => a_graceful_stop_gives_back_the_leases_of_deliveries_it_did_not_start;
    deliveries_stored_leased_are_claimed_by_others_only_after_the_lease => deliveries_stored_leased_are_claimed_by_others_only_after_the_lease;
    a_duplicate_storm_is_handled_once => a_duplicate_storm_is_handled_once;
    a_failing_handler_is_retried_then_dead_lettered_and_nothing_is_lost => a_failing_handler_is_retried_then_dead_lettered_and_nothing_is_lost;
    deliveries_accepted_before_a_crash_are_handled_once_after_restart => deliveries_accepted_before_a_crash_are_handled_once_after_restart;
    a_delete_event_removes_the_mirrored_entity => a_delete_event_removes_the_mirrored_entity;
}

/// The ingest keeps its PostgreSQL connection from one batch to the next
/// (the pool would ping it on every hand-out and return). One the server
/// ended meanwhile costs at most the batch that finds out: a 503 problem,
/// so Clockify retries, and that retry and the deliveries after it are
/// stored on a fresh connection.
#[tokio::test]
async fn a_kept_ingest_connection_the_server_ended_costs_at_most_one_batch_on_postgres() {
    use sqlx::Connection;
    let mut config = config_for(Backend::Postgres).await;
    let app = format!("kept{}", uuid::Uuid::new_v4().simple());
    config.database_url = format!("{}&application_name={app}", config.database_url.as_str()).parse().expect("database URL");
    let gw = TestGateway::start_with(config).await;
    let (_, tokens) = gw.install("ws-kept", "a-kept", &["NEW_TAG"]).await;
    let first = gw.deliver("NEW_TAG", &tokens[0].1, &json!({ "id": "t0" })).await;
    assert_eq!(first.json::<Value>().await.unwrap()["status"], json!("accepted"));

    // Every connection of this gateway ends, the kept one among them.
    let mut admin = sqlx::PgConnection::connect(&support::postgres_url()).await.expect("PostgreSQL");
    let ended: Vec<bool> = sqlx::query_scalar("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
        .bind(&app)
        .fetch_all(&mut admin)
        .await
        .expect("terminate");
    assert!(ended.iter().any(|&e| e), "the gateway's connections were found and ended");

    let mut refused = 0;
    for i in 1..=3 {
        let body = json!({ "id": format!("t{i}") });
        let mut answer = gw.deliver("NEW_TAG", &tokens[0].1, &body).await;
        if answer.status() == 503 {
            assert_eq!(answer.headers()["content-type"], "application/problem+json");
            refused += 1;
            answer = gw.deliver("NEW_TAG", &tokens[0].1, &body).await;
        }
        assert_eq!(answer.json::<Value>().await.unwrap()["status"], json!("accepted"), "t{i}, or its retry");
    }
    assert!(refused <= 1, "{refused} deliveries refused: a failed connection was used again");
    assert_eq!(gw.state.deliveries.count("ws-kept", "NEW_TAG").await.unwrap(), 4);
    eventually_async!("all four handled", gw.state.deliveries.state_counts("ws-kept").await.unwrap().done == 4);
}

/// The ingest's commits wait for the WAL flush (the promise behind the
/// 200); only the inbox's bookkeeping connections skip that wait, and plan
/// each statement for its values.
#[tokio::test]
async fn only_the_bookkeeping_connections_commit_without_waiting_for_the_flush_on_postgres() {
    let gw = TestGateway::start(Backend::Postgres).await;
    async fn show(pool: &sqlx::AnyPool, setting: &str) -> String {
        sqlx::query_scalar(&format!("SHOW {setting}")).fetch_one(pool).await.expect(setting)
    }
    let (main, bookkeeping) = (gw.state.db.pool(), gw.state.db.bookkeeping_pool());
    assert_eq!(show(main, "synchronous_commit").await, "on", "the ingest's connections");
    assert_eq!(show(bookkeeping, "synchronous_commit").await, "off");
    assert_eq!(show(main, "plan_cache_mode").await, "auto");
    assert_eq!(show(bookkeeping, "plan_cache_mode").await, "force_custom_plan");
}

/// Two instances on one PostgreSQL, both receiving every delivery (as after
/// a load-balancer retry): each delivery is stored once and handled once.
#[tokio::test]
async fn two_instances_share_the_inbox_on_postgres() {
    let config = config_for(Backend::Postgres).await;
    let hooks_a = Arc::new(Recorder::default());
    let hooks_b = Arc::new(Recorder::default());
    let a = TestGateway::start_with_hooks(config.clone(), hooks_a.clone()).await;
    let b = TestGateway::start_with_hooks(config, hooks_b.clone()).await;
    let (_, tokens) = a.install("ws6", "a6", &["NEW_TASK"]).await;
    let bodies: Vec<Value> = (0..20).map(|i| json!({ "id": format!("t{i}") })).collect();
    let sends = bodies.iter().flat_map(|body| [a.deliver("NEW_TASK", &tokens[0].1, body), b.deliver("NEW_TASK", &tokens[0].1, body)]);
    let answers = futures::future::join_all(sends).await;
    assert!(answers.iter().all(|r| r.status() == 200));
    eventually("all handled", || hooks_a.deliveries() + hooks_b.deliveries() == 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks_a.total_calls() + hooks_b.total_calls(), 20, "each of the 20 handled once, by either instance");
    assert_eq!(a.state.deliveries.count("ws6", "NEW_TASK").await.unwrap(), 20);
}

/// A batch's mirror changes apply as if one by one, in arrival order.
#[tokio::test]
async fn a_batch_applies_only_each_entitys_last_change() {
    use clockify_gateway::store::{ClaimedDelivery, MirrorChange};
    let gw = TestGateway::start(Backend::Sqlite).await;
    let claimed = |n: i64| ClaimedDelivery {
        id: format!("d{n}"),
        workspace_id: "ws1".into(),
        event: "NEW_PROJECT".into(),
        body: "{}".into(),
        attempt: 1,
        received_at: n,
        leased_until: n + 60_000,
    };
    let upsert = |id: &str, body: &str| Some(MirrorChange::Upsert { entity_type: "project", entity_id: id.into(), body: body.into() });
    let delete = |id: &str| Some(MirrorChange::Delete { entity_type: "project", entity_id: id.into() });
    gw.state.deliveries.complete(&[(claimed(0), upsert("p3", "old"))]).await.unwrap();
    let batch = [
        (claimed(1), upsert("p1", "a")),
        (claimed(2), delete("p1")),
        (claimed(3), upsert("p2", "b")),
        (claimed(4), upsert("p2", "c")),
        (claimed(5), delete("p3")),
        (claimed(6), upsert("p3", "new")),
    ];
    gw.state.deliveries.complete(&batch).await.unwrap();
    let get = |id: &'static str| gw.state.deliveries.entity("ws1", "project", id);
    assert_eq!(get("p1").await.unwrap(), None);
    assert_eq!(get("p2").await.unwrap().as_deref(), Some("c"));
    assert_eq!(get("p3").await.unwrap().as_deref(), Some("new"));
}

/// Claimers racing on one PostgreSQL inbox, each completing what it took at
/// once: a delivery is claimed once. (A claim that waited on a row lock
/// re-checks the row it then sees; that check must exclude handled rows, or
/// a delivery completed meanwhile is claimed, and handled, again.)
#[tokio::test]
async fn racing_claimers_never_take_a_delivery_twice_on_postgres() {
    use std::collections::HashSet;

    use clockify_gateway::store::NewDelivery;
    let mut config = support::config_for(Backend::Postgres).await;
    config.webhook_workers = 0;
    let gw = TestGateway::start_with(config).await;
    let store = gw.state.deliveries.clone();
    const N: usize = 6000;
    for chunk in 0..N / 500 {
        let batch: Vec<NewDelivery> = (chunk * 500..(chunk + 1) * 500)
            .map(|n| NewDelivery {
                workspace_id: "ws-race".into(),
                event: "NEW_TAG".into(),
                body: format!(r#"{{"id":"t{n}"}}"#),
                body_sha256: format!("{n:064}"),
            })
            .collect();
        let (_, recorded) = store.ingest(vec!["ws-race".into()], None, move |_| ((), batch)).await.unwrap();
        assert_eq!(recorded.unwrap().recorded.len(), 500);
    }
    let mut claimers = Vec::new();
    for _ in 0..6 {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                let batch = store.claim(8, 60_000).await.unwrap();
                if batch.is_empty() {
                    return taken;
                }
                taken.extend(batch.iter().map(|d| d.id.clone()));
                let done: Vec<_> = batch.into_iter().map(|d| (d, None)).collect();
                store.complete(&done).await.unwrap();
            }
        }));
    }
    let mut times_taken: HashMap<String, usize> = HashMap::new();
    for c in claimers {
        for id in c.await.unwrap() {
            *times_taken.entry(id).or_default() += 1;
        }
    }
    let twice: HashSet<_> = times_taken.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id.clone()).collect();
    assert!(twice.is_empty(), "{} deliveries were claimed more than once", twice.len());
    assert_eq!(times_taken.len(), N, "every delivery claimed");
}
