//! The admin subjects API through the real server (issue 20): a
//! suppression takes effect for the very next request on two source
//! protocols (Segment and PostHog, also for destinations that require no
//! consent), survives a restart, and is lifted by unsuppress; every bad
//! call gets a short JSON error that never quotes an id, and the API is
//! closed without a token or without `consent.suppressions`. Each case
//! asserts what the recording upstream received.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "a-long-admin-token-for-subject-tests";

fn config(dir: &std::path::Path, upstream: &Upstream, with_token: bool, with_log: bool) -> String {
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    let admin = if with_token {
        format!("token = \"file:{}/token\"\n", dir.display())
    } else {
        String::new()
    };
    let log = if with_log {
        format!(
            "[consent]\nsuppressions = \"{}/state/suppressions.jsonl\"\n",
            dir.display()
        )
    } else {
        String::new()
    };
    let batch = "batch = { max_wait = \"10ms\" }\n";
    format!(
        r#"[server]
listen = "127.0.0.1:0"
shutdown_timeout = "5s"
[admin]
listen = "127.0.0.1:0"
{admin}
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["seg-key"]
destinations = ["seg"]
[[sources]]
name = "ph"
protocol = "posthog"
write_keys = ["phc_test"]
destinations = ["ph"]
{}{}{log}"#,
        http_destination_at("seg", upstream, "/segment", batch),
        http_destination_at(
            "ph",
            upstream,
            "/posthog",
            &format!("{batch}api_key = \"VENDOR\"\n")
        ),
    )
}

/// Sends one Segment and one PostHog event for `user`, ids `<tag>-seg`
/// and `<tag>-ph`.
async fn send_both(pg: &privgate::app::Running, user: &str, tag: &str) {
    let seg =
        json!({"type": "track", "event": "e", "messageId": format!("{tag}-seg"), "userId": user});
    let auth = ("authorization", "Basic c2VnLWtleTo=");
    let answer = send(
        "POST",
        pg.ingest_addr(),
        "/v1/t",
        &[auth, ("content-type", "application/json")],
        seg.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200);
    let ph = json!({"api_key": "phc_test", "batch": [
        {"event": "e", "uuid": format!("{tag}-ph"), "distinct_id": user, "properties": {}}
    ]});
    let answer = send(
        "POST",
        pg.ingest_addr(),
        "/batch/",
        &[("content-type", "application/json")],
        ph.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200);
}

/// Every id the upstream got, Segment's messageIds and PostHog's uuids.
fn received(upstream: &Upstream) -> Vec<String> {
    let mut ids: Vec<String> = upstream
        .received()
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .flat_map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let key = if r.path.starts_with("/segment") {
                "messageId"
            } else {
                "uuid"
            };
            body["batch"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e[key].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort();
    ids
}

async fn settle(upstream: &Upstream, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while received(upstream).len() < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    received(upstream)
}

async fn admin(
    pg: &privgate::app::Running,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Answer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    send(method, pg.admin_addr(), path, &headers, body.to_owned()).await
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_suppression_holds_from_the_next_request_and_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let text = config(dir.path(), &upstream, true, true);
    let pg = start_privgate(&text).await;

    send_both(&pg, "person-1", "before").await;
    assert_eq!(
        settle(&upstream, 2).await,
        sorted(&["before-seg", "before-ph"])
    );

    let answer = admin(
        &pg,
        "POST",
        "/admin/subjects/suppress",
        Some(TOKEN),
        r#"{"ids":["person-1","person-1","other-9"]}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.json(), json!({"suppressed": 2, "ids": 3}));
    // The very next requests: person-1 is out on both protocols, others not.
    send_both(&pg, "person-1", "after").await;
    send_both(&pg, "person-2", "control").await;
    assert_eq!(
        settle(&upstream, 4).await,
        sorted(&["before-seg", "before-ph", "control-seg", "control-ph"])
    );
    let lookup = admin(&pg, "GET", "/admin/subjects/person-1", Some(TOKEN), "").await;
    assert_eq!(lookup.status, 200);
    assert_eq!(lookup.json()["suppressed"], true);
    let since = lookup.json()["since"].as_str().unwrap().to_owned();
    let lookup = admin(&pg, "GET", "/admin/subjects/person-2", Some(TOKEN), "").await;
    assert_eq!(lookup.json(), json!({"suppressed": false}));

    // A restart keeps it, with its time.
    pg.shutdown().await;
    let pg = start_privgate(&text).await;
    let lookup = admin(&pg, "GET", "/admin/subjects/person-1", Some(TOKEN), "").await;
    assert_eq!(lookup.json()["since"], since.as_str());
    send_both(&pg, "person-1", "restarted").await;

    // Lifted: person-1's events flow again.
    let answer = admin(
        &pg,
        "POST",
        "/admin/subjects/unsuppress",
        Some(TOKEN),
        r#"{"ids":["person-1"]}"#,
    )
    .await;
    assert_eq!(answer.json(), json!({"unsuppressed": 1, "ids": 1}));
    send_both(&pg, "person-1", "lifted").await;
    assert_eq!(
        settle(&upstream, 6).await,
        sorted(&[
            "before-seg",
            "before-ph",
            "control-seg",
            "control-ph",
            "lifted-seg",
            "lifted-ph"
        ])
    );
    // Counted, without ids.
    let metrics = send("GET", pg.admin_addr(), "/metrics", &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(text
        .contains(r#"privgate_admin_subject_requests_total{action="unsuppress",result="ok"} 1"#));
    assert!(!text.contains("person-1"));
    pg.shutdown().await;
}

#[tokio::test]
async fn bad_calls_get_short_errors_that_never_quote_an_id() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let pg = start_privgate(&config(dir.path(), &upstream, true, true)).await;
    let secret = "secret-person@example.com";
    let cases: Vec<(Option<&str>, &str, &str, String, u16)> = vec![
        (
            None,
            "POST",
            "/admin/subjects/suppress",
            format!(r#"{{"ids":["{secret}"]}}"#),
            401,
        ),
        (
            Some("wrong-token-of-the-same-sort-here"),
            "POST",
            "/admin/subjects/suppress",
            format!(r#"{{"ids":["{secret}"]}}"#),
            401,
        ),
        (
            Some(TOKEN),
            "POST",
            "/admin/subjects/suppress",
            format!(r#"{{"ids":"{secret}"}}"#),
            400,
        ),
        (
            Some(TOKEN),
            "POST",
            "/admin/subjects/suppress",
            format!(r#"{{"ids":["{secret}"],"x":1}}"#),
            400,
        ),
        (
            Some(TOKEN),
            "POST",
            "/admin/subjects/suppress",
            "not json".into(),
            400,
        ),
        (
            Some(TOKEN),
            "POST",
            "/admin/subjects/suppress",
            json!({"ids": vec![secret; 5001]}).to_string(),
            400,
        ),
        (
            Some(TOKEN),
            "POST",
            "/admin/subjects/suppress",
            json!({"ids": [secret, format!("{secret}\u{7}")]}).to_string(),
            400,
        ),
        (
            Some(TOKEN),
            "POST",
            "/admin/subjects/suppress",
            json!({"ids": ["x".repeat(600)]}).to_string(),
            400,
        ),
        (
            Some(TOKEN),
            "GET",
            "/admin/subjects/%FF%FE",
            String::new(),
            400,
        ),
        (
            Some(TOKEN),
            "DELETE",
            "/admin/subjects/suppress",
            String::new(),
            404,
        ),
        (
            Some(TOKEN),
            "POST",
            "/admin/subjects/erase-everything",
            "{}".into(),
            404,
        ),
    ];
    for (token, method, path, body, status) in cases {
        let answer = admin(&pg, method, path, token, &body).await;
        assert_eq!(answer.status, status, "{method} {path} {body:.60}");
        let text = String::from_utf8_lossy(&answer.body).into_owned();
        assert!(!text.contains("secret-person"), "{text}");
        if status != 404 || path.contains("erase") {
            assert!(answer.json().get("error").is_some(), "{text}");
        }
    }
    // A body beyond the bound is refused before it is all read.
    let huge = format!(r#"{{"ids":["{}"]}}"#, "y".repeat(20 << 20));
    let answer = admin(&pg, "POST", "/admin/subjects/suppress", Some(TOKEN), &huge).await;
    assert_eq!(answer.status, 413);
    // Nothing bad was recorded.
    let lookup = admin(
        &pg,
        "GET",
        "/admin/subjects/secret-person%40example.com",
        Some(TOKEN),
        "",
    )
    .await;
    assert_eq!(lookup.json(), json!({"suppressed": false}));
    pg.shutdown().await;
}

#[tokio::test]
async fn the_api_is_closed_without_a_token_or_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let pg = start_privgate(&config(dir.path(), &upstream, false, true)).await;
    let answer = admin(
        &pg,
        "POST",
        "/admin/subjects/suppress",
        None,
        r#"{"ids":["a"]}"#,
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.json()["error"], "token_required");
    pg.shutdown().await;

    let pg = start_privgate(&config(dir.path(), &upstream, true, false)).await;
    let answer = admin(
        &pg,
        "POST",
        "/admin/subjects/suppress",
        Some(TOKEN),
        r#"{"ids":["a"]}"#,
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"], "not_configured");
    pg.shutdown().await;
}

/// `[admin] rate_limit` holds for every `/admin/*` call, good token or
/// bad: beyond the burst, 429 in JSON with `Retry-After`, counted; the
/// calls under it are answered as usual.
#[tokio::test]
async fn admin_calls_beyond_the_rate_limit_get_429() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &upstream, true, true).replace(
        "[admin]\n",
        "[admin]\nrate_limit = { requests_per_second = 1, burst = 3 }\n",
    );
    let pg = start_privgate(&config).await;
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for i in 0..8 {
        let token = if i % 2 == 0 {
            Some(TOKEN)
        } else {
            Some("wrong-token-guess-0000")
        };
        let answer = admin(&pg, "GET", "/admin/subjects/someone", token, "").await;
        if answer.status == 429 {
            assert_eq!(answer.headers["retry-after"], "1");
            assert_eq!(answer.json()["error"], "rate_limited");
        }
        statuses.push(answer.status);
    }
    // The burst passes (a lookup answers 200, a wrong token 401); past it
    // only the refill (1 a second) does.
    let elapsed = started.elapsed().as_secs();
    assert_eq!(&statuses[..3], &[200, 401, 200], "{statuses:?}");
    let limited_calls = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        8 - limited_calls <= 3 + elapsed as usize + 1 && limited_calls >= 1,
        "{statuses:?} in {elapsed}s"
    );
    let limited = "privgate_rate_limited_total{limit=\"admin\",source=\"none\"}";
    assert_eq!(
        metric(pg.admin_addr(), limited).await,
        Some(limited_calls as f64)
    );
    // Metrics and health are not /admin/* calls: never limited.
    assert_eq!(
        send("GET", pg.admin_addr(), "/healthz", &[], "")
            .await
            .status,
        200
    );
    pg.shutdown().await;
}
