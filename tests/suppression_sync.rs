//! Fleet sync of suppressions (issue 20): a replica privgate polls a
//! primary's change feed (`GET /admin/subjects?after=&limit=`) and keeps
//! what it learns in its own log. Two real privgates on loopback, each
//! with a recording upstream: a suppression on the primary makes the
//! replica drop that person's events after its next poll, across more
//! than one page; an unsuppression propagates; a replica restart keeps
//! the list and resumes from its cursor; a primary that is down, or
//! answers garbage, never corrupts the replica's list. The listing needs
//! the admin token.

mod common;

use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "a-long-admin-token-for-sync-tests";
/// `[admin] read_token`: what replicas poll with.
const READ_TOKEN: &str = "a-read-only-token-for-replicas";

fn primary_config(dir: &Path, upstream: &Upstream, admin: &str) -> String {
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    std::fs::write(dir.join("read-token"), READ_TOKEN).unwrap();
    format!(
        r#"[server]
listen = "127.0.0.1:0"
shutdown_timeout = "5s"
[admin]
listen = "{admin}"
token = "file:{dir}/token"
read_token = "file:{dir}/read-token"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["seg-key"]
destinations = ["seg"]
{}
[consent]
suppressions = "{dir}/primary/suppressions.jsonl"
"#,
        http_destination("seg", upstream, "batch = { max_wait = \"10ms\" }"),
        dir = dir.display(),
    )
}

fn replica_config(dir: &Path, upstream: &Upstream, primary_admin: SocketAddr) -> String {
    std::fs::write(dir.join("primary-token"), READ_TOKEN).unwrap();
    format!(
        r#"[server]
listen = "127.0.0.1:0"
shutdown_timeout = "5s"
[admin]
listen = "127.0.0.1:0"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["seg-key"]
destinations = ["seg"]
{}
[consent]
suppressions = "{dir}/replica/suppressions.jsonl"
[consent.suppression_sync]
url = "http://{primary_admin}/admin/subjects"
token = "file:{dir}/primary-token"
interval = "50ms"
timeout = "2s"
"#,
        http_destination("seg", upstream, "batch = { max_wait = \"10ms\" }"),
        dir = dir.display(),
    )
}

async fn track_for(addr: SocketAddr, user: &str, id: &str) {
    let event = json!({"type": "track", "event": "e", "messageId": id, "userId": user});
    let answer = send(
        "POST",
        addr,
        "/v1/t",
        &[
            ("authorization", "Basic c2VnLWtleTo="),
            ("content-type", "application/json"),
        ],
        event.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200);
}

async fn admin_call(addr: SocketAddr, method: &str, path: &str, body: Value) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    send(
        method,
        addr,
        path,
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
    .await
}

/// Waits (at most 10 s) until `series` on `admin` satisfies `ok`.
async fn wait_until(admin: SocketAddr, series: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = metric(admin, series).await;
        if let Some(v) = now.filter(|v| ok(*v)) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} is {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a control event after `ids` and waits for it: everything sent
/// before it had its chance to arrive.
async fn delivered_after(addr: SocketAddr, upstream: &Upstream, control: &str) -> Vec<String> {
    track_for(addr, "control-person", control).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !upstream.saw_message_id(control) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{control} never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    upstream.delivered_ids()
}

#[tokio::test]
async fn a_replica_follows_the_primary_across_pages_restarts_and_outages() {
    let dir = tempfile::tempdir().unwrap();
    let primary_up = Upstream::start().await;
    let replica_up = Upstream::start().await;
    let primary = start_privgate(&primary_config(dir.path(), &primary_up, "127.0.0.1:0")).await;
    let primary_admin = primary.admin_addr();

    // More than two pages (a replica asks for 1,000 at a time).
    let mut ids: Vec<String> = (0..2500).map(|i| format!("bulk-{i}")).collect();
    ids.push("person-1".into());
    ids.push("person-3".into());
    let answer = admin_call(
        primary_admin,
        "POST",
        "/admin/subjects/suppress",
        json!({ "ids": ids }),
    )
    .await;
    assert_eq!(answer.status, 200);

    let replica_text = replica_config(dir.path(), &replica_up, primary_admin);
    let replica = start_privgate(&replica_text).await;
    wait_until(replica.admin_addr(), "privgate_suppressed_subjects", |v| {
        v == 2502.0
    })
    .await;
    track_for(replica.ingest_addr(), "person-1", "p1-suppressed").await;
    track_for(replica.ingest_addr(), "person-2", "p2-free").await;
    let got = delivered_after(replica.ingest_addr(), &replica_up, "control-1").await;
    assert!(got.contains(&"p2-free".to_owned()), "{got:?}");
    assert!(!got.contains(&"p1-suppressed".to_owned()), "{got:?}");

    // Lifted on the primary: lifted on the replica after its next poll.
    let answer = admin_call(
        primary_admin,
        "POST",
        "/admin/subjects/unsuppress",
        json!({ "ids": ["person-1"] }),
    )
    .await;
    assert_eq!(answer.json()["unsuppressed"], 1);
    wait_until(replica.admin_addr(), "privgate_suppressed_subjects", |v| {
        v == 2501.0
    })
    .await;
    track_for(replica.ingest_addr(), "person-1", "p1-lifted").await;
    let got = delivered_after(replica.ingest_addr(), &replica_up, "control-2").await;
    assert!(got.contains(&"p1-lifted".to_owned()), "{got:?}");

    // The primary goes down; the replica restarts: it keeps its list (and
    // counts the failed polls).
    primary.shutdown().await;
    replica.shutdown().await;
    let cursor = dir.path().join("replica/suppressions.jsonl.cursor");
    let kept: Value = serde_json::from_slice(&std::fs::read(&cursor).unwrap()).unwrap();
    assert!(kept["after"].as_u64().unwrap() >= 2503, "{kept}");
    let replica = start_privgate(&replica_text).await;
    wait_until(
        replica.admin_addr(),
        r#"privgate_suppression_sync_total{outcome="unreachable"}"#,
        |v| v >= 2.0,
    )
    .await;
    track_for(replica.ingest_addr(), "person-3", "p3-still-suppressed").await;
    let got = delivered_after(replica.ingest_addr(), &replica_up, "control-3").await;
    assert!(!got.contains(&"p3-still-suppressed".to_owned()), "{got:?}");
    assert_eq!(
        metric(replica.admin_addr(), "privgate_suppressed_subjects").await,
        Some(2501.0)
    );

    // The primary comes back on its address with what it had; a change
    // made there reaches the replica, which resumed from its cursor.
    let primary = start_privgate(&primary_config(
        dir.path(),
        &primary_up,
        &primary_admin.to_string(),
    ))
    .await;
    let ok_before = metric(
        replica.admin_addr(),
        r#"privgate_suppression_sync_total{outcome="ok"}"#,
    )
    .await
    .unwrap();
    let answer = admin_call(
        primary_admin,
        "POST",
        "/admin/subjects/suppress",
        json!({ "ids": ["person-2"] }),
    )
    .await;
    assert_eq!(answer.json()["suppressed"], 1);
    wait_until(replica.admin_addr(), "privgate_suppressed_subjects", |v| {
        v == 2502.0
    })
    .await;
    assert!(
        metric(
            replica.admin_addr(),
            r#"privgate_suppression_sync_total{outcome="ok"}"#
        )
        .await
        .unwrap()
            > ok_before
    );
    assert!(
        metric(
            replica.admin_addr(),
            "privgate_suppression_sync_last_success_timestamp_seconds"
        )
        .await
        .unwrap()
            > 1.7e9
    );
    track_for(replica.ingest_addr(), "person-2", "p2-now-suppressed").await;
    let got = delivered_after(replica.ingest_addr(), &replica_up, "control-4").await;
    assert!(!got.contains(&"p2-now-suppressed".to_owned()), "{got:?}");
    // Metrics and the replica's log never name anyone in labels.
    let metrics = send("GET", replica.admin_addr(), "/metrics", &[], "").await;
    assert!(!String::from_utf8_lossy(&metrics.body).contains("person-"));
    replica.shutdown().await;
    primary.shutdown().await;
}

#[tokio::test]
async fn the_listing_pages_the_feed_and_needs_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let primary = start_privgate(&primary_config(dir.path(), &upstream, "127.0.0.1:0")).await;
    let addr = primary.admin_addr();
    for (ids, path) in [
        (json!({"ids": ["a", "b", "c"]}), "/admin/subjects/suppress"),
        (json!({"ids": ["b"]}), "/admin/subjects/unsuppress"),
    ] {
        assert_eq!(admin_call(addr, "POST", path, ids).await.status, 200);
    }
    for (auth, status) in [
        (None, 401),
        (Some("Bearer wrong-token-of-the-right-length"), 401),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let answer = send("GET", addr, "/admin/subjects?after=0", &headers, "").await;
        assert_eq!(answer.status, status);
        assert!(!String::from_utf8_lossy(&answer.body).contains("\"a\""));
    }
    // The read token reads the subjects API, and does nothing else.
    let read = format!("Bearer {READ_TOKEN}");
    for (method, path, status) in [
        ("GET", "/admin/subjects?after=0", 200),
        ("GET", "/admin/subjects/a", 200),
        ("POST", "/admin/subjects/suppress", 403),
        ("POST", "/admin/subjects/unsuppress", 403),
        ("POST", "/admin/reload", 403),
    ] {
        let answer = send(
            method,
            addr,
            path,
            &[("authorization", &read)],
            json!({"ids": ["a"]}).to_string(),
        )
        .await;
        assert_eq!(answer.status, status, "{method} {path}");
    }
    // Two at a time: a and c suppressed, b's lifting (its latest change).
    let page = admin_call(addr, "GET", "/admin/subjects?limit=2", json!(null)).await;
    assert_eq!(page.status, 200);
    let page = page.json();
    assert_eq!(page["more"], true);
    let ops: Vec<(String, String)> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["op"].as_str().unwrap().into(),
                c["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("suppress".into(), "a".into()),
            ("suppress".into(), "c".into())
        ]
    );
    assert!(page["changes"][0]["at"].as_u64().unwrap() > 1_700_000_000);
    let next = page["next"].as_str().unwrap();
    let rest = admin_call(
        addr,
        "GET",
        &format!("/admin/subjects?after={next}&limit=2"),
        json!(null),
    )
    .await
    .json();
    assert_eq!(rest["more"], false);
    assert_eq!(rest["changes"][0]["op"], "unsuppress");
    assert_eq!(rest["changes"][0]["id"], "b");
    assert_eq!(rest["changes"].as_array().unwrap().len(), 1);
    // Bad queries: a short error.
    for query in ["limit=0", "limit=5001", "after=x", "after=-1", "what=1"] {
        let answer = admin_call(
            addr,
            "GET",
            &format!("/admin/subjects?{query}"),
            json!(null),
        )
        .await;
        assert_eq!(answer.status, 400, "{query}");
        assert_eq!(answer.json()["error"], "invalid_query");
    }
    let answer = admin_call(addr, "POST", "/admin/subjects", json!({})).await;
    assert_eq!(answer.status, 405);
    primary.shutdown().await;
}

/// A primary that answers what the test says, and records the queries.
#[derive(Clone)]
struct FakePrimary {
    addr: SocketAddr,
    answer: Arc<Mutex<(u16, Vec<u8>)>>,
    queries: Arc<Mutex<Vec<String>>>,
}

impl FakePrimary {
    async fn start() -> FakePrimary {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakePrimary {
            addr: listener.local_addr().unwrap(),
            answer: Arc::new(Mutex::new((200, b"{}".to_vec()))),
            queries: Arc::new(Mutex::new(Vec::new())),
        };
        let serving = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let this = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: http::Request<_>| {
                        let this = this.clone();
                        async move {
                            let query = req.uri().query().unwrap_or_default().to_owned();
                            let authorized = req.headers().get("authorization").is_some_and(|v| {
                                v.as_bytes() == format!("Bearer {READ_TOKEN}").as_bytes()
                            });
                            this.queries.lock().unwrap().push(query);
                            let (status, body) = this.answer.lock().unwrap().clone();
                            let status = if authorized { status } else { 401 };
                            let mut r = http::Response::new(http_body_util::Full::new(
                                bytes::Bytes::from(body),
                            ));
                            *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(r)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
        fake
    }

    fn set(&self, status: u16, body: impl Into<Vec<u8>>) {
        *self.answer.lock().unwrap() = (status, body.into());
    }

    fn queries(&self) -> Vec<String> {
        self.queries.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_hostile_primary_never_corrupts_the_replica() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let fake = FakePrimary::start().await;
    fake.set(
        200,
        json!({"changes": [{"op": "suppress", "id": "person-1", "at": 1_700_000_000u64}],
               "next": "5", "more": false})
        .to_string(),
    );
    let text = replica_config(dir.path(), &upstream, fake.addr);
    let replica = start_privgate(&text).await;
    let admin = replica.admin_addr();
    wait_until(admin, "privgate_suppressed_subjects", |v| v == 1.0).await;

    let good_then = |change: Value| {
        json!({"changes": [{"op": "suppress", "id": "person-2", "at": 1u64}, change],
               "next": "9", "more": false})
        .to_string()
    };
    let hostile: Vec<(&str, u16, Vec<u8>)> = vec![
        ("too_large", 200, vec![b' '; 20 << 20]),
        ("invalid", 200, b"{\"changes\": [".to_vec()),
        ("invalid", 200, b"not json at all".to_vec()),
        (
            "invalid",
            200,
            good_then(json!({"op": "suppress", "id": "x".repeat(600), "at": 1})).into(),
        ),
        (
            "invalid",
            200,
            good_then(json!({"op": "suppress", "id": "bell\u{7}", "at": 1})).into(),
        ),
        (
            "invalid",
            200,
            good_then(json!({"op": "erase-all", "id": "person-1", "at": 1})).into(),
        ),
        (
            "invalid",
            200,
            json!({"changes": [{"op": "unsuppress", "id": "person-1", "at": 1}],
                   "next": "1", "more": false})
            .to_string()
            .into(),
        ),
        (
            "invalid",
            200,
            json!({"changes": [], "next": "5", "more": true})
                .to_string()
                .into(),
        ),
        ("status", 500, b"{}".to_vec()),
        ("status", 404, b"{}".to_vec()),
    ];
    for (outcome, status, body) in hostile {
        let series = format!(r#"privgate_suppression_sync_total{{outcome="{outcome}"}}"#);
        let before = metric(admin, &series).await.unwrap();
        fake.set(status, body);
        wait_until(admin, &series, |v| v >= before + 2.0).await;
    }
    // Nothing of it was applied, and the cursor never moved.
    assert_eq!(
        metric(admin, "privgate_suppressed_subjects").await,
        Some(1.0)
    );
    track_for(replica.ingest_addr(), "person-1", "p1").await;
    track_for(replica.ingest_addr(), "person-2", "p2").await;
    let got = delivered_after(replica.ingest_addr(), &upstream, "control").await;
    assert!(
        !got.contains(&"p1".to_owned()) && got.contains(&"p2".to_owned()),
        "{got:?}"
    );
    let queries = fake.queries();
    assert!(
        queries[1..].iter().all(|q| q.starts_with("after=5&")),
        "{queries:?}"
    );
    assert!(queries[0].starts_with("after=0&"), "{queries:?}");

    // A restart resumes from the kept cursor, with the list it had.
    replica.shutdown().await;
    let seen = fake.queries().len();
    fake.set(
        200,
        json!({"changes": [{"op": "unsuppress", "id": "person-1", "at": 2_000_000_000u64}],
               "next": "6", "more": false})
        .to_string(),
    );
    let replica = start_privgate(&text).await;
    let ok = r#"privgate_suppression_sync_total{outcome="ok"}"#;
    wait_until(replica.admin_addr(), ok, |v| v >= 1.0).await;
    assert_eq!(
        metric(replica.admin_addr(), "privgate_suppressed_subjects").await,
        Some(0.0)
    );
    assert!(
        fake.queries()[seen].starts_with("after=5&limit=1000"),
        "{:?}",
        fake.queries()
    );
    replica.shutdown().await;
}

#[test]
fn a_mistyped_sync_section_is_refused_at_its_key_and_line() {
    let base = r#"[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "out"
kind = "stdout"
[consent]
suppressions = "state/s.jsonl"
[consent.suppression_sync]
"#;
    let cases = [
        (
            "url = \"ftp://x/admin/subjects\"\ntoken = \"env:PATH\"\n",
            "consent.suppression_sync.url",
            11,
        ),
        (
            "url = \"http://127.0.0.1:9/admin/subjects\"\ntoken = \"a-literal-token-value\"\n",
            "consent.suppression_sync.token",
            12,
        ),
        (
            "url = \"http://127.0.0.1:9/admin/subjects\"\ntoken = \"env:PATH\"\ninterval = \"0s\"\n",
            "consent.suppression_sync.interval",
            13,
        ),
    ];
    for (tail, key, line) in cases {
        let err =
            privgate::config::Config::from_str(&format!("{base}{tail}"), Path::new("proxy.toml"))
                .unwrap_err();
        assert_eq!(err.problems[0].key, key, "{err}");
        assert_eq!(err.problems[0].line, Some(line), "{err}");
        assert!(!err.to_string().contains("a-literal-token-value"), "{err}");
    }
    // A replica needs a log to keep what it syncs.
    let text = base.replace("suppressions = \"state/s.jsonl\"\n", "")
        + "url = \"http://127.0.0.1:9/admin/subjects\"\ntoken = \"env:PATH\"\n";
    let err = privgate::config::Config::from_str(&text, Path::new("proxy.toml")).unwrap_err();
    assert_eq!(err.problems[0].key, "consent.suppression_sync");
}

#[test]
fn a_read_token_needs_the_admin_token() {
    let text = r#"[admin]
read_token = "env:PATH"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "out"
kind = "stdout"
"#;
    let err = privgate::config::Config::from_str(text, Path::new("proxy.toml")).unwrap_err();
    assert_eq!(err.problems[0].key, "admin.read_token", "{err}");
    assert_eq!(err.problems[0].line, Some(2), "{err}");
}

/// The same with the replica as the real binary, a process of its own.
#[tokio::test]
async fn a_replica_process_follows_the_primary() {
    let dir = tempfile::tempdir().unwrap();
    let primary_up = Upstream::start().await;
    let replica_up = Upstream::start().await;
    let primary = start_privgate(&primary_config(dir.path(), &primary_up, "127.0.0.1:0")).await;
    let config = write(
        dir.path(),
        "replica.toml",
        &replica_config(dir.path(), &replica_up, primary.admin_addr()),
    );
    let replica = spawn(&config);
    let answer = admin_call(
        primary.admin_addr(),
        "POST",
        "/admin/subjects/suppress",
        json!({ "ids": ["person-1"] }),
    )
    .await;
    assert_eq!(answer.status, 200);
    wait_until(replica.admin, "privgate_suppressed_subjects", |v| v == 1.0).await;
    track_for(replica.ingest, "person-1", "p1-suppressed").await;
    let got = delivered_after(replica.ingest, &replica_up, "control").await;
    assert!(!got.contains(&"p1-suppressed".to_owned()), "{got:?}");
    let log = replica.log_tail();
    assert!(
        !log.contains("person-1") && !log.contains(READ_TOKEN),
        "{log}"
    );
    drop(replica);
    primary.shutdown().await;
}
