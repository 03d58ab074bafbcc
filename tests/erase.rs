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

/// Two durable http destinations on `upstream` ("plain" gets ids raw,
/// "hashed" as pseudonyms) and a file one ("archive"); `deletion`: plain's
/// deletion calls go to the first (`/users/{id}`), hashed's to the second
/// (`/fail`).
fn config(
    dir: &std::path::Path,
    upstream: &Upstream,
    deletion: Option<(&Upstream, &Upstream)>,
) -> String {
    let d = dir.display();
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    std::fs::write(dir.join("del-token"), "Bearer deletion-secret").unwrap();
    let (plain_del, hashed_del) = match deletion {
        Some((ok, fail)) => (
            format!(
                "deletion = {{ url = \"{}\", method = \"DELETE\", headers = {{ Authorization = \"file:{d}/del-token\" }} }}\n",
                ok.url("/users/{id}")
            ),
            format!(
                r#"[destinations.deletion]
url = "{}"
body = "{{\"userId\":\"{{id}}\"}}"
max_attempts = 3
initial_backoff = "10ms"
max_backoff = "20ms"
"#,
                fail.url("/fail")
            ),
        ),
        None => (String::new(), String::new()),
    };
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
destinations = ["plain", "hashed", "archive"]
[keys]
hmac = [{{ id = "h1", secret = "file:{d}/h1.key" }}]
encryption = [{{ id = "e1", key = "file:{d}/e1.key" }}]
[spool]
dir = "{d}/spool"
[audit]
log = "{d}/audit/log.jsonl"
[consent]
suppressions = "{d}/state/suppressions.jsonl"
[[destinations]]
name = "archive"
kind = "file"
path = "{d}/archive.ndjson"
{}{}
[[destinations.rules]]
name = "pseudonymize"
select = ["@user_id", "@anonymous_id"]
action = "hash"
{hashed_del}"#,
        http_destination_at("plain", upstream, "/plain", &format!("{batch}{plain_del}")),
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
    let pg = start_privgate(&config(dir.path(), &upstream, None)).await;
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
    let text = config(dir.path(), &upstream, None);
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

/// GET /admin/requests/{id} until it is done (bounded).
async fn finished(pg: &privgate::app::Running, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = admin(pg, &format!("/admin/requests/{id}"), Some(TOKEN), "").await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let body = answer.json();
        let status = body["status"].as_str().unwrap().to_owned();
        if !["INITIALIZED", "RUNNING"].contains(&status.as_str()) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deletion_requests_reach_each_backend_and_report_their_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    // The first call is refused (then retried); every other succeeds.
    let ok = Upstream::with_script(vec![Reply::Status(503)]).await;
    let fail = Upstream::start().await;
    fail.fail_with(Reply::Status(500));
    let text = config(dir.path(), &upstream, Some((&ok, &fail)));
    let pg = start_privgate(&text).await;
    let answer = admin(
        &pg,
        "/admin/subjects/erase",
        Some(TOKEN),
        r#"{"ids":["person-a","anon a/1"]}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let id = answer.json()["request"].as_str().unwrap().to_owned();
    let body = finished(&pg, &id).await;
    assert_eq!(body["status"], "PARTIAL_SUCCESS", "{body}");
    assert_eq!(
        body["destinations"],
        json!({"plain": "FINISHED", "hashed": "FAILED", "archive": "NOT_SUPPORTED"})
    );
    assert_eq!(body["ids"], 2);
    assert!(!body.to_string().contains("person-a"));

    let got = ok.received();
    assert_eq!(got.len(), 3, "one refused, retried, and the second id");
    let mut paths: Vec<&str> = got
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.path.as_str())
        .collect();
    paths.sort();
    assert_eq!(paths, vec!["/users/anon%20a%2F1", "/users/person-a"]);
    for r in &got {
        assert_eq!(r.method, "DELETE");
        assert_eq!(r.headers["authorization"], "Bearer deletion-secret");
    }
    let fails = fail.received();
    // Three attempts per id, then given up.
    assert_eq!(fails.len(), 6);
    assert!(fails
        .iter()
        .all(|r| r.method == "POST" && r.path == "/fail"));
    let bodies: Vec<Value> = fails
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(bodies.contains(&json!({"userId": "person-a"})));
    assert!(bodies.contains(&json!({"userId": "anon a/1"})));

    for (dest, status) in [
        ("plain", "FINISHED"),
        ("hashed", "FAILED"),
        ("archive", "NOT_SUPPORTED"),
    ] {
        let series = format!(
            "privgate_deletion_requests_total{{destination=\"{dest}\",status=\"{status}\"}}"
        );
        assert_eq!(
            metric(pg.admin_addr(), &series).await,
            Some(1.0),
            "{series}"
        );
    }

    // The audit log has the erasure, by pseudonym only.
    let audit = std::fs::read_to_string(dir.path().join("audit/log.jsonl")).unwrap();
    let erase: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "erase")
        .collect();
    assert_eq!(erase.len(), 1, "{audit}");
    assert_eq!(erase[0]["pseudonyms"].as_array().unwrap().len(), 2);
    assert_eq!(erase[0]["request"], id.as_str());
    assert!(!audit.contains("person-a") && !audit.contains("anon a"));

    // Unknown request: 404; the statuses survive a restart.
    let unknown = admin(&pg, "/admin/requests/0123456789abcdef", Some(TOKEN), "").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"], "not_found");
    pg.shutdown().await;
    let pg = start_privgate(&text).await;
    let again = finished(&pg, &id).await;
    assert_eq!(again["destinations"], body["destinations"]);
    assert_eq!(ok.received().len(), 3, "finished calls are not made again");
    pg.shutdown().await;
}

#[tokio::test]
async fn bad_erase_calls_get_short_errors_that_never_quote_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let pg = start_privgate(&config(dir.path(), &upstream, None)).await;
    let secret = "secret-person@example.com";
    let cases: Vec<(Option<&str>, String, u16)> = vec![
        (None, format!(r#"{{"ids":["{secret}"]}}"#), 401),
        (
            Some("wrong-token-of-the-same-sort-here"),
            format!(r#"{{"ids":["{secret}"]}}"#),
            401,
        ),
        (Some(TOKEN), format!(r#"{{"ids":"{secret}"}}"#), 400),
        (
            Some(TOKEN),
            format!(r#"{{"ids":["{secret}"],"scope":1}}"#),
            400,
        ),
        (Some(TOKEN), format!("not json {secret}"), 400),
        (
            Some(TOKEN),
            json!({"ids": vec![secret; 5001]}).to_string(),
            400,
        ),
        (
            Some(TOKEN),
            json!({"ids": [secret, "x".repeat(600)]}).to_string(),
            400,
        ),
    ];
    for (token, body, status) in cases {
        let answer = admin(&pg, "/admin/subjects/erase", token, &body).await;
        assert_eq!(answer.status, status, "{body:.60}");
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(!text.contains("secret-person"), "{text}");
        assert!(answer.json().get("error").is_some(), "{text}");
    }
    // The requests endpoint is authenticated too, and 404s an unknown id.
    let answer = admin(&pg, "/admin/requests/abc", None, "").await;
    assert_eq!(answer.status, 401);
    let answer = admin(
        &pg,
        "/admin/requests/abc",
        Some("wrong-token-of-the-same-sort-here"),
        "",
    )
    .await;
    assert_eq!(answer.status, 401);
    let answer = admin(&pg, "/admin/requests/abc", Some(TOKEN), "").await;
    assert_eq!(answer.status, 404);
    // Nothing bad was recorded: the id is neither suppressed nor erased.
    let lookup = admin(
        &pg,
        "/admin/subjects/secret-person%40example.com",
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(lookup.json(), json!({"suppressed": false}));
    let erased =
        std::fs::read_to_string(dir.path().join("state/suppressions.erased.jsonl")).unwrap();
    assert!(!erased.contains("secret-person"));
    let metrics = send("GET", pg.admin_addr(), "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        text.contains(
            r#"privgate_admin_subject_requests_total{action="erase",result="invalid"} 5"#
        ),
        "{text}"
    );
    pg.shutdown().await;
}

/// The breaker is open (one failure opens it) when the erase comes: the
/// batch waiting for its probe gives up that attempt to be filtered again.
/// Giving it up must not leave the breaker half-open with no probe out,
/// which held every later attempt back for good: person-b's events never
/// arrived once the backend came back.
#[tokio::test]
async fn an_erase_while_the_breaker_is_open_does_not_stall_the_destination() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    upstream.fail_with(Reply::Status(503));
    let text = config(dir.path(), &upstream, None).replace(
        "circuit_breaker = { cooldown",
        "circuit_breaker = { failures = 1, cooldown",
    );
    assert!(text.contains("failures = 1"));
    let pg = start_privgate(&text).await;
    wait_then_erase(&pg, &upstream).await;
    upstream.heal();
    let got = settle(&upstream, 6).await;
    assert_only_b(&got);
    pg.shutdown().await;
}
