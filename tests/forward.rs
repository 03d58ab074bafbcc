//! Forwarding through the real server to a real upstream: every event
//! arrives (checked by messageId), batches respect their limits, failures are
//! retried or not as the status says, and destinations do not block each other.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

fn batch_body(ids: &[String]) -> String {
    let events: Vec<String> = ids.iter().map(|id| track(id)).collect();
    format!(
        r#"{{"batch":[{}],"writeKey":"test-key"}}"#,
        events.join(",")
    )
}

#[tokio::test]
async fn every_event_arrives_by_message_id() {
    let upstream = Upstream::start().await;
    let pg = start_privgate(&segment_config(&http_destination("backend", &upstream, ""))).await;

    let singles = ids("single", 20);
    for id in &singles {
        assert_eq!(post(pg.ingest_addr(), "/v1/t", track(id)).await.status, 200);
    }
    let batched = ids("batched", 150);
    let answer = post(pg.ingest_addr(), "/v1/batch", batch_body(&batched)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), serde_json::json!({"success": true}));

    let got = upstream
        .wait_for_delivered(170, Duration::from_secs(10))
        .await;
    let expected: BTreeSet<String> = singles.into_iter().chain(batched).collect();
    assert_eq!(got.len(), 170, "no duplicates");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), expected);
    // What the backend got is the Segment batch envelope, as JSON.
    let first = &upstream.received()[0];
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, "/v1/batch");
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(
        metric(
            pg.admin_addr(),
            "privgate_events_forwarded_total{destination=\"backend\"}"
        )
        .await,
        Some(170.0)
    );
    assert_eq!(
        metric(
            pg.admin_addr(),
            "privgate_events_received_total{source=\"web\"}"
        )
        .await,
        Some(170.0)
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn missing_message_ids_and_received_at_are_filled() {
    let upstream = Upstream::start().await;
    let pg = start_privgate(&segment_config(&http_destination("backend", &upstream, ""))).await;
    let answer = post(
        pg.ingest_addr(),
        "/v1/track",
        r#"{"event":"x","anonymousId":"a"}"#,
    )
    .await;
    assert_eq!(answer.status, 200);
    upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    let event = &upstream.received()[0].events()[0];
    assert_eq!(event["type"], "track");
    assert_eq!(event["event"], "x");
    assert!(event["messageId"]
        .as_str()
        .unwrap()
        .starts_with("privgate-"));
    let received_at = event["receivedAt"].as_str().unwrap();
    assert!(
        humantime::parse_rfc3339(received_at).is_ok(),
        "{received_at}"
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn batches_respect_max_events_and_max_bytes() {
    let upstream = Upstream::start().await;
    let dest = http_destination(
        "backend",
        &upstream,
        r#"batch = { max_events = 7, max_bytes = "2KiB", max_wait = "50ms" }
queue_max_events = 1000"#,
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    let sent = ids("b", 60);
    for chunk in sent.chunks(20) {
        assert_eq!(
            post(pg.ingest_addr(), "/v1/batch", batch_body(chunk))
                .await
                .status,
            200
        );
    }
    upstream
        .wait_for_delivered(60, Duration::from_secs(10))
        .await;
    let received = upstream.received();
    assert!(received.len() >= 60 / 7);
    for r in &received {
        assert!(r.events().len() <= 7, "batch of {}", r.events().len());
        assert!(r.body.len() <= 2048, "body of {} bytes", r.body.len());
    }
    // Small events: the byte limit bites before the count limit.
    let sizes: Vec<usize> = received.iter().map(|r| r.events().len()).collect();
    assert!(
        sizes.contains(&7),
        "count limit reached at least once: {sizes:?}"
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn linger_sends_a_partial_batch() {
    let upstream = Upstream::start().await;
    let dest = http_destination(
        "backend",
        &upstream,
        r#"batch = { max_events = 500, max_wait = "100ms" }"#,
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    // Timed from before the event exists to when the upstream took the
    // batch, by its own clock: how late this test sees either does not
    // matter (a run that sees the answer late may find it delivered).
    let before = std::time::Instant::now();
    post(pg.ingest_addr(), "/v1/t", track("lonely")).await;
    upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    let waited = upstream.received()[0].at - before;
    assert!(
        waited >= Duration::from_millis(100),
        "sent {waited:?} after the event, within max_wait"
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn retries_after_503_and_a_dropped_connection_deliver() {
    let upstream =
        Upstream::with_script(vec![Reply::Status(503), Reply::Hangup, Reply::Status(500)]).await;
    let pg = start_privgate(&segment_config(&http_destination("backend", &upstream, ""))).await;
    let sent = ids("r", 5);
    assert_eq!(
        post(pg.ingest_addr(), "/v1/batch", batch_body(&sent))
            .await
            .status,
        200
    );
    let got = upstream
        .wait_for_delivered(5, Duration::from_secs(10))
        .await;
    assert_eq!(got, sent);
    let statuses: Vec<u16> = upstream.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 0, 500, 200]);
    // Every attempt carried the same events.
    assert!(upstream.received().iter().all(|r| r.events().len() == 5));
    assert_eq!(
        metric(
            pg.admin_addr(),
            "privgate_upstream_retries_total{destination=\"backend\"}"
        )
        .await,
        Some(3.0)
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let upstream = Upstream::with_script(vec![Reply::RetryAfter(429, 1)]).await;
    let dest = http_destination(
        "backend",
        &upstream,
        r#"retry = { max_retries = 3, initial_backoff = "10ms", max_backoff = "5s" }"#,
    );
    // http_destination already sets retry; replace it.
    let dest = dest.replacen(
        "retry = { max_retries = 5, initial_backoff = \"20ms\", max_backoff = \"200ms\" }\n",
        "",
        1,
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    post(pg.ingest_addr(), "/v1/t", track("patient")).await;
    upstream
        .wait_for_delivered(1, Duration::from_secs(10))
        .await;
    let r = upstream.received();
    assert_eq!(r.len(), 2);
    let gap = r[1].at - r[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    pg.shutdown().await;
}

#[tokio::test]
async fn client_errors_are_not_retried_and_are_counted() {
    let upstream = Upstream::with_script(vec![Reply::Status(400)]).await;
    let pg = start_privgate(&segment_config(&http_destination("backend", &upstream, ""))).await;
    post(pg.ingest_addr(), "/v1/batch", batch_body(&ids("bad", 3))).await;
    let admin = pg.admin_addr();
    let series = "privgate_events_dropped_total{destination=\"backend\",reason=\"rejected\"}";
    wait_for_metric(admin, series, 3.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(upstream.received().len(), 1, "a 400 is not retried");
    pg.shutdown().await;
}

#[tokio::test]
async fn exhausted_retries_are_counted_not_hidden() {
    let upstream = Upstream::with_script(vec![Reply::Status(502); 3]).await;
    let dest =
        http_destination("backend", &upstream, "").replace("max_retries = 5", "max_retries = 2");
    let pg = start_privgate(&segment_config(&dest)).await;
    post(pg.ingest_addr(), "/v1/t", track("doomed")).await;
    let series =
        "privgate_events_dropped_total{destination=\"backend\",reason=\"retries_exhausted\"}";
    wait_for_metric(pg.admin_addr(), series, 1.0).await;
    assert_eq!(upstream.received().len(), 3);
    pg.shutdown().await;
}

#[tokio::test]
async fn a_slow_destination_does_not_stall_another() {
    let fast = Upstream::start().await;
    let slow = Upstream::with_script(vec![Reply::Delay(Duration::from_secs(30)); 4]).await;
    let config = segment_config(&format!(
        "{}{}",
        http_destination(
            "fast",
            &fast,
            r#"batch = { max_events = 10, max_wait = "20ms" }"#
        ),
        http_destination(
            "slow",
            &slow,
            r#"batch = { max_events = 10, max_wait = "20ms" }
concurrency = 1
request_timeout = "60s"
queue_max_events = 20"#
        ),
    ))
    .replace("shutdown_timeout = \"5s\"", "shutdown_timeout = \"1s\"");
    let pg = start_privgate(&config).await;
    // The slow backend holds its first batch; its queue fills; the fast one
    // keeps receiving everything that was accepted.
    let mut accepted = Vec::new();
    let mut refused = 0;
    for i in 0..40 {
        let id = format!("s-{i}");
        let answer = post(pg.ingest_addr(), "/v1/t", track(&id)).await;
        match answer.status {
            200 => accepted.push(id),
            503 => {
                refused += 1;
                assert!(answer.headers.contains_key("retry-after"));
                assert_eq!(answer.json()["error"], "backpressure");
            }
            s => panic!("unexpected status {s}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(refused > 0, "the slow destination's bound pushed back");
    let got = fast
        .wait_for_delivered(accepted.len(), Duration::from_secs(5))
        .await;
    assert_eq!(
        got.into_iter().collect::<BTreeSet<_>>(),
        accepted.into_iter().collect()
    );
    assert!(
        metric(
            pg.admin_addr(),
            "privgate_backpressure_total{destination=\"slow\"}"
        )
        .await
        .unwrap()
            >= 1.0
    );
    // Shutdown gives up on the stuck backend at its deadline and says so.
    let report = tokio::time::timeout(Duration::from_secs(10), pg.shutdown())
        .await
        .unwrap();
    assert!(report.undelivered > 0);
}

#[tokio::test]
async fn ndjson_format_and_secret_headers_reach_the_backend() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "Bearer s3cret\n").unwrap();
    let dest = http_destination(
        "backend",
        &upstream,
        &format!(
            r#"format = "ndjson"
headers = {{ "X-Source" = "privgate" }}
secret_headers = {{ "Authorization" = "file:{}" }}"#,
            dir.path().join("token").display()
        ),
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    post(pg.ingest_addr(), "/v1/batch", batch_body(&ids("n", 3))).await;
    upstream.wait_for_delivered(3, Duration::from_secs(5)).await;
    let r = &upstream.received()[0];
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    assert_eq!(r.headers["authorization"], "Bearer s3cret");
    assert_eq!(r.headers["x-source"], "privgate");
    assert_eq!(r.body.iter().filter(|&&b| b == b'\n').count(), 3);
    pg.shutdown().await;
}

#[tokio::test]
async fn file_destination_appends_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/events.ndjson");
    let dest = format!(
        "[[destinations]]\nname = \"file\"\nkind = \"file\"\npath = \"{}\"\nbatch = {{ max_wait = \"20ms\" }}\n",
        path.display()
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    // A pretty-printed event still lands on one line.
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<serde_json::Value>(&track("f-1")).unwrap(),
    )
    .unwrap();
    assert_eq!(post(pg.ingest_addr(), "/v1/t", pretty).await.status, 200);
    assert_eq!(
        post(pg.ingest_addr(), "/v1/t", track("f-2")).await.status,
        200
    );
    pg.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let ids = ndjson_message_ids(&text);
    assert_eq!(ids, ["f-1", "f-2"]);
}

#[tokio::test]
async fn a_failing_backend_opens_the_breaker_and_a_probe_closes_it() {
    // Three failures open the breaker; the fourth request, the probe, is
    // answered 200. Timed by the upstream's own clock, not by when the
    // test saw the breaker open: a busy machine runs the test late.
    let upstream = Upstream::with_script(vec![Reply::Status(503); 3]).await;
    let destination = http_destination(
        "backend",
        &upstream,
        r#"retry = { max_retries = 50, initial_backoff = "5ms", max_backoff = "10ms" }
circuit_breaker = { failures = 3, cooldown = "400ms", max_cooldown = "400ms" }
batch = { max_events = 1, max_wait = "5ms" }"#,
    )
    .replace(
        "retry = { max_retries = 5, initial_backoff = \"20ms\", max_backoff = \"200ms\" }\n",
        "",
    );
    let app = start_privgate(&segment_config(&destination)).await;
    assert_eq!(
        post(app.ingest_addr(), "/v1/track", track("b-1"))
            .await
            .status,
        200
    );
    let ids = upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    assert_eq!(ids, ["b-1"]);
    let got = upstream.received();
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 503, 200], "one probe delivered it");
    // Open: nothing is sent until the cooldown ends.
    let silence = got[3].at - got[2].at;
    assert!(
        silence >= Duration::from_millis(400),
        "the probe went {silence:?} after the third failure, within the cooldown"
    );
    let state = "privgate_circuit_state{destination=\"backend\"}";
    wait_for_metric(app.admin_addr(), state, 0.0).await;
    let transitions = |to: &str| {
        format!("privgate_circuit_transitions_total{{destination=\"backend\",to=\"{to}\"}}")
    };
    assert_eq!(
        metric(app.admin_addr(), &transitions("open")).await,
        Some(1.0)
    );
    assert_eq!(
        metric(app.admin_addr(), &transitions("closed")).await,
        Some(1.0)
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_gzip_destination_sends_gzipped_batches() {
    let upstream = Upstream::start().await;
    let pg = start_privgate(&segment_config(&http_destination(
        "backend",
        &upstream,
        "compression = \"gzip\"\nbatch = { max_wait = \"10ms\" }",
    )))
    .await;
    let sent = ids("gz", 20);
    let answer = send(
        "POST",
        pg.ingest_addr(),
        "/v1/batch",
        &[AUTH, ("content-type", "application/json")],
        batch_body(&sent),
    )
    .await;
    assert_eq!(answer.status, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut got = BTreeSet::new();
    while got.len() < sent.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        got.clear();
        for r in upstream.received() {
            assert_eq!(r.headers["content-encoding"], "gzip");
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut json)
                .expect("a gzip body");
            let batch: serde_json::Value = serde_json::from_slice(&json).unwrap();
            for event in batch["batch"].as_array().unwrap() {
                got.insert(event["messageId"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(got, sent.into_iter().collect::<BTreeSet<_>>());
    pg.shutdown().await;
}

/// Shedding is cheap: with the only Segment source's queue full, a
/// request whose write key is in its body (as analytics.js sends it) is
/// refused with 503 before its body is read. The request here announces
/// a body and never sends it: read first, it would get no answer.
#[tokio::test]
async fn a_full_queue_refuses_a_body_keyed_request_before_reading_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let slow = Upstream::with_script(vec![Reply::Delay(Duration::from_secs(30)); 4]).await;
    let config = segment_config(&http_destination(
        "slow",
        &slow,
        r#"batch = { max_events = 1, max_wait = "5ms" }
concurrency = 1
request_timeout = "60s"
queue_max_events = 2"#,
    ))
    .replace("shutdown_timeout = \"5s\"", "shutdown_timeout = \"1s\"");
    let pg = start_privgate(&config).await;
    let keyed_body = |id: &str| track(id).replacen('{', r#"{"writeKey":"test-key","#, 1);
    // Fill the queue: one batch held by the backend, then two queued.
    let mut refused = false;
    for i in 0..20 {
        let answer = post_unauthenticated(pg.ingest_addr(), &keyed_body(&format!("f-{i}"))).await;
        if answer.status == 503 {
            refused = true;
            break;
        }
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the queue filled");

    let mut stream = tokio::net::TcpStream::connect(pg.ingest_addr())
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /v1/t HTTP/1.1\r\nHost: privgate\r\ncontent-type: application/json\r\ncontent-length: 4000\r\n\r\n{\"writeKey\":\"test-key\",",
        )
        .await
        .unwrap();
    let mut head = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut head))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after"), "{head}");
    let _ = tokio::time::timeout(Duration::from_secs(10), pg.shutdown()).await;
}

/// POSTs a JSON body to `/v1/t` with no `Authorization` header.
async fn post_unauthenticated(addr: std::net::SocketAddr, body: &str) -> Answer {
    send(
        "POST",
        addr,
        "/v1/t",
        &[("content-type", "application/json")],
        body.to_owned(),
    )
    .await
}

/// A memory queue is bounded in bytes too, not only in events (issue #21):
/// large events meet the bytes that `queue_max_events` events make in full
/// batches, and the client gets 503 `backpressure` rather than the queue
/// growing by its events' sizes. Nothing accepted is lost, and the room
/// comes back as batches are delivered.
/// `queue_max_events` may be as low as `batch.max_events` while a request
/// may carry up to `server.max_batch_events`: an empty queue takes such a
/// request (config.md: "no request is refused for good"), rather than
/// answering 503 to it, and to every retry of it, for ever.
#[tokio::test]
async fn an_empty_memory_queue_takes_a_request_of_more_events_than_its_bound() {
    let upstream = Upstream::start().await;
    let dest = http_destination("backend", &upstream, "queue_max_events = 500");
    let pg = start_privgate(&segment_config(&dest)).await;
    let many = ids("many", 600);
    let answer = post(pg.ingest_addr(), "/v1/batch", batch_body(&many)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let got = upstream
        .wait_for_delivered(600, Duration::from_secs(10))
        .await;
    assert_eq!(got.len(), 600);
    pg.shutdown().await;
}

#[tokio::test]
async fn a_memory_queue_of_large_events_is_bounded_in_bytes() {
    let upstream = Upstream::start().await;
    // 1000 events in batches of at most 10 or 16 KiB: 100 batches' worth,
    // 1600 KiB. Each event here is about 64 KiB, a batch of its own.
    let dest = http_destination(
        "backend",
        &upstream,
        r#"batch = { max_events = 10, max_bytes = "16KiB", max_wait = "5ms" }
concurrency = 1
request_timeout = "30s"
queue_max_events = 1000"#,
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    let pad = "x".repeat(64 << 10);
    let large =
        |id: &str| track(id).replacen(r#""revenue""#, &format!(r#""pad":"{pad}","revenue""#), 1);
    let event_bytes = large("l-00").len();
    let max_bytes = 100 * (16 << 10);
    // The backend holds every batch until healed: the queue fills, and
    // nothing drains from it while this test sends, however slowly.
    upstream.fail_with(Reply::Stall);
    let (mut accepted, mut refused) = (Vec::new(), 0);
    for i in 0..60 {
        let id = format!("l-{i:02}");
        let answer = post(pg.ingest_addr(), "/v1/t", large(&id)).await;
        match answer.status {
            200 => accepted.push(id),
            503 => {
                assert_eq!(answer.json()["error"], "backpressure");
                assert!(answer.headers.contains_key("retry-after"));
                refused += 1;
            }
            s => panic!("unexpected status {s}"),
        }
    }
    // Without the byte bound, all 60 (of the 1000 events allowed) would
    // have been taken: about 4 MB held for one slow backend.
    assert!(refused > 0, "the byte bound pushed back");
    assert!(
        accepted.len() <= max_bytes / event_bytes + 1,
        "{} events of {event_bytes} bytes accepted",
        accepted.len()
    );
    let depth = metric(
        pg.admin_addr(),
        "privgate_queue_depth_events{destination=\"backend\"}",
    )
    .await
    .unwrap();
    assert!(
        depth <= (max_bytes / event_bytes + 1) as f64,
        "depth {depth}"
    );
    // Everything accepted arrives; then the queue has its room back.
    upstream.heal();
    let got = upstream
        .wait_for_delivered(accepted.len(), Duration::from_secs(30))
        .await;
    assert_eq!(
        got.into_iter().collect::<BTreeSet<_>>(),
        accepted.iter().cloned().collect()
    );
    for i in 0..3 {
        let answer = post(pg.ingest_addr(), "/v1/t", large(&format!("after-{i}"))).await;
        assert_eq!(answer.status, 200);
    }
    pg.shutdown().await;
}

/// Shedding keeps the connection (issue #21): with the queue full, a
/// request whose body arrives after its head (as over a slow link, or
/// TLS records written apart) is answered 503 `backpressure` with
/// `Retry-After` at once, its body is read through and dropped, and the
/// same connection carries the next request. Nothing refused is ever
/// delivered; everything accepted is, once the backend comes back.
#[tokio::test]
async fn a_refusal_on_a_full_queue_keeps_the_connection_and_loses_nothing() {
    use tokio::io::AsyncWriteExt;
    let down = DownPort::new();
    let destination = format!(
        r#"
[[destinations]]
name = "backend"
kind = "http"
url = "http://{}/v1/batch"
delivery = "memory"
retry = {{ max_retries = 10000, initial_backoff = "10ms", max_backoff = "50ms" }}
circuit_breaker = {{ cooldown = "50ms", max_cooldown = "100ms" }}
batch = {{ max_events = 1, max_wait = "5ms" }}
concurrency = 1
queue_max_events = 3
"#,
        down.addr()
    );
    let pg = start_privgate(&segment_config(&destination)).await;
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let id = format!("q-{i}");
        match post(pg.ingest_addr(), "/v1/t", track(&id)).await.status {
            200 => accepted.push(id),
            503 => refused.push(id),
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(accepted.len(), 3, "the queue holds 3: {accepted:?}");

    // One connection, three requests: the head, then the body 50 ms later.
    let mut stream = tokio::net::TcpStream::connect(pg.ingest_addr())
        .await
        .unwrap();
    for i in 0..3 {
        let id = format!("c-{i}");
        let body = track(&id);
        let head = format!(
            "POST /v1/t HTTP/1.1\r\nHost: privgate\r\nAuthorization: Basic dGVzdC1rZXk6\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(3), async {
            // Answered before the body is sent.
            let answer = read_answer(&mut stream).await;
            stream.write_all(body.as_bytes()).await.unwrap();
            answer
        })
        .await
        .expect("answered without waiting for the body");
        assert_error(&answer, 503, "backpressure");
        assert_eq!(answer.headers["retry-after"], "1");
        assert!(answer
            .headers
            .get("connection")
            .is_none_or(|c| c != "close"));
        refused.push(id);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A body too large to be worth reading is not read: that connection
    // closes after its 503 (the client reconnects).
    let mut large = tokio::net::TcpStream::connect(pg.ingest_addr())
        .await
        .unwrap();
    let head = "POST /v1/t HTTP/1.1\r\nHost: privgate\r\nAuthorization: Basic dGVzdC1rZXk6\r\n\
                Content-Length: 1000000\r\n\r\n";
    large.write_all(head.as_bytes()).await.unwrap();
    assert_error(&read_answer(&mut large).await, 503, "backpressure");
    let mut rest = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        use tokio::io::AsyncReadExt;
        matches!(large.read(&mut rest).await, Ok(0) | Err(_))
    });
    assert!(
        closed.await.expect("closed at once"),
        "closed, not more bytes"
    );

    // The backend comes back: everything accepted arrives, nothing refused.
    let upstream = Upstream::start_on(down).await;
    upstream
        .wait_for_delivered(accepted.len(), Duration::from_secs(10))
        .await;
    still_serving(pg.ingest_addr(), &upstream, "after").await;
    accepted.push("after".into());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let delivered: BTreeSet<String> = upstream.delivered_ids().into_iter().collect();
    assert_eq!(delivered, accepted.iter().cloned().collect());
    for id in &refused {
        assert!(!upstream.saw_message_id(id), "refused {id} was delivered");
    }
    pg.shutdown().await;
}

/// One HTTP/1.1 answer read off `stream` (its head, then the body its
/// `Content-Length` gives), header names lower-cased.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> Answer {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before an answer");
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(got[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap();
    let mut headers = http::HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        let name = http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap();
        headers.append(name, value.trim().parse().unwrap());
    }
    let length: usize = headers["content-length"].to_str().unwrap().parse().unwrap();
    while got.len() < end + length {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed within the body");
        got.extend_from_slice(&buf[..n]);
    }
    Answer {
        status: status.parse().unwrap(),
        headers,
        body: got[end..end + length].to_vec().into(),
    }
}
