//! Erasure through the real server (issue 20): `POST /admin/subjects/erase`
//! while the backend is down and events of two people wait in durable
//! spools (one destination gets ids raw, one as pseudonyms). When the
//! backend comes back, the erased person's events never arrive and the
//! other's all do, with or without a restart in between. Each case
//! asserts what the recording upstream received.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "a-long-admin-token-for-erase-tests";
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn config(dir: &std::path::Path, upstream: &Upstream, extra: &str) -> String {
    let d = dir.display();
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    std::fs::write(dir.join("h1.key"), KEY).unwrap();
    std::fs::write(dir.join("e1.key"), KEY).unwrap();
    let batch = "delivery = \"durable\"\nbatch = { max_wait = \"10ms\" }\n";
    format!(
        r#"[server]
listen = "127.0.0.1:0"
shutdown_timeout = "1s"
[admin]
listen = "127.0.0.1:0"
token = "file:{d}/token"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["seg-key"]
destinations = ["plain", "hashed"]
[keys]
hmac = [{{ id = "h1", secret = "file:{d}/h1.key" }}]
encryption = [{{ id = "e1", key = "file:{d}/e1.key" }}]
[spool]
dir = "{d}/spool"
[consent]
suppressions = "{d}/state/suppressions.jsonl"
{}{}
[[destinations.rules]]
name = "pseudonymize"
select = ["@user_id", "@anonymous_id"]
action = "hash"
{extra}"#,
        http_destination_at("plain", upstream, "/plain", batch),
        http_destination_at("hashed", upstream, "/hashed", batch),
    )
}

async fn track(pg: &privgate::app::Running, user: &str, id: &str) {
    let event = json!({"type": "track", "event": "e", "messageId": id, "userId": user,
        "context": {"device": {"id": format!("{user}-device")}}});
    let answer = send(
        "POST",
        pg.ingest_addr(),
        "/v1/t",
        &[
            ("authorization", "Basic c2VnLWtleTo="),
            ("content-type", "application/json"),
        ],
        event.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

async fn admin(pg: &privgate::app::Running, path: &str, token: Option<&str>, body: &str) -> Answer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    let method = if body.is_empty() { "GET" } else { "POST" };
    send(method, pg.admin_addr(), path, &headers, body.to_owned()).await
}

/// (path, messageId, userId) of every event answered 2xx.
fn delivered(upstream: &Upstream) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = upstream
        .received()
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .flat_map(|r| {
            r.events()
                .into_iter()
                .map(|e: Value| {
                    (
                        r.path.clone(),
                        e["messageId"].as_str().unwrap().to_owned(),
                        e["userId"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    all
}

async fn settle(upstream: &Upstream, n: usize) -> Vec<(String, String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while delivered(upstream).len() < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything still coming would come now.
    tokio::time::sleep(Duration::from_millis(400)).await;
    delivered(upstream)
}

/// Sends three events of person-a and three of person-b while the backend
/// answers 503, so they wait in both spools (and in batches being
/// retried), then erases person-a.
async fn wait_then_erase(pg: &privgate::app::Running, upstream: &Upstream) {
    for i in 0..3 {
        track(pg, "person-a", &format!("a-{i}")).await;
        track(pg, "person-b", &format!("b-{i}")).await;
    }
    // The batches are being tried (and refused) by now.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while upstream.received().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = admin(
        pg,
        "/admin/subjects/erase",
        Some(TOKEN),
        r#"{"ids":["person-a"]}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.json()["erased"], 1);
    assert_eq!(answer.json()["suppressed"], 1);
}

fn assert_only_b(got: &[(String, String, String)]) {
    let ids: Vec<(&str, &str)> = got
        .iter()
        .map(|(p, m, _)| (p.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("/hashed", "b-0"),
            ("/hashed", "b-1"),
            ("/hashed", "b-2"),
            ("/plain", "b-0"),
            ("/plain", "b-1"),
            ("/plain", "b-2"),
        ]
    );
    for (path, _, user) in got {
        if path == "/hashed" {
            // The hashed destination got a pseudonym: the erase matched it.
            assert!(user.starts_with("h1:"), "{user}");
        } else {
            assert_eq!(user, "person-b");
        }
    }
}

#[tokio::test]
async fn erased_events_waiting_for_a_down_backend_never_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    upstream.fail_with(Reply::Status(503));
    let pg = start_privgate(&config(dir.path(), &upstream, "")).await;
    wait_then_erase(&pg, &upstream).await;
    upstream.heal();
    let got = settle(&upstream, 6).await;
    assert_only_b(&got);
    // New events of person-a are refused as suppressed; person-b's flow.
    track(&pg, "person-a", "a-after").await;
    track(&pg, "person-b", "b-after").await;
    let got = settle(&upstream, 8).await;
    assert!(got.iter().all(|(_, m, _)| !m.starts_with('a')), "{got:?}");
    assert_eq!(got.len(), 8);
    // Counted per destination, never naming anyone.
    let metrics = send("GET", pg.admin_addr(), "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    for dest in ["plain", "hashed"] {
        let series = format!("privgate_erased_events_skipped_total{{destination=\"{dest}\"}}");
        let n = metric(pg.admin_addr(), &series).await.unwrap();
        assert!(n >= 3.0, "{series} {n}");
    }
    assert!(text.contains(r#"privgate_admin_subject_requests_total{action="erase",result="ok"} 1"#));
    assert!(!text.contains("person-a"));
    pg.shutdown().await;
}

#[tokio::test]
async fn an_erasure_holds_across_a_restart_before_the_backend_returns() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    upstream.fail_with(Reply::Status(503));
    let text = config(dir.path(), &upstream, "");
    let pg = start_privgate(&text).await;
    wait_then_erase(&pg, &upstream).await;
    pg.shutdown().await;
    // The spools replay on start: person-a's events are still there, and
    // still never sent.
    let pg = start_privgate(&text).await;
    upstream.heal();
    let got = settle(&upstream, 6).await;
    assert_only_b(&got);
    pg.shutdown().await;
}
