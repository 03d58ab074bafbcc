//! Adaptive request concurrency through the real server, against an
//! upstream written here that counts the requests it holds at once and
//! answers slower the more it holds beyond its capacity: the limit read
//! from `/metrics` rises while the upstream keeps up, the upstream never
//! sees more than `max_concurrency` requests at once, and an upstream
//! answering 503 brings the limit down.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Requests the upstream answers at its base speed at once.
const CAPACITY: usize = 8;
/// `max_concurrency` of the destination (below `CAPACITY`, so a limit
/// that keeps growing while answers stay fast reaches it).
const MAX: usize = 6;

#[derive(Default)]
struct Load {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    answered: AtomicUsize,
    overloaded: AtomicBool,
}

/// An upstream whose answer takes 5 ms up to `CAPACITY` requests at once
/// and 5 ms more for each one beyond; while `overloaded`, it answers 503
/// at once.
async fn upstream() -> (SocketAddr, Arc<Load>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let load = Arc::new(Load::default());
    let serving = load.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let load = serving.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let load = load.clone();
                    async move {
                        let now = load.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        load.peak.fetch_max(now, Ordering::SeqCst);
                        let _ = req.into_body().collect().await;
                        let status = if load.overloaded.load(Ordering::SeqCst) {
                            StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            let beyond = now.saturating_sub(CAPACITY) as u64;
                            tokio::time::sleep(Duration::from_millis(5 + 5 * beyond)).await;
                            StatusCode::OK
                        };
                        load.answered.fetch_add(1, Ordering::SeqCst);
                        load.in_flight.fetch_sub(1, Ordering::SeqCst);
                        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                        *response.status_mut() = status;
                        Ok::<_, std::io::Error>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, load)
}

fn batch_body(from: usize, n: usize) -> String {
    let events: Vec<String> = (from..from + n).map(|i| track(&format!("e-{i}"))).collect();
    format!(
        r#"{{"batch":[{}],"writeKey":"test-key"}}"#,
        events.join(",")
    )
}

const LIMIT: &str = "privgate_forward_concurrency_limit{destination=\"backend\"}";

/// Posts `requests` batches of 100 events, 10 at a time, and polls the
/// limit until the upstream has answered `answered` requests in all (or
/// 20 s passed); returns the highest and lowest limit seen.
async fn drive(
    pg: &privgate::app::Running,
    load: &Load,
    first: usize,
    requests: usize,
    answered: usize,
) -> (f64, f64) {
    let ingest = pg.ingest_addr();
    let posting = tokio::spawn(async move {
        for round in 0..requests / 10 {
            let posts = (0..10).map(|i| {
                let from = first + (round * 10 + i) * 100;
                post(ingest, "/v1/batch", batch_body(from, 100))
            });
            for answer in futures_util::future::join_all(posts).await {
                assert_eq!(answer.status, 200);
            }
        }
    });
    let (mut high, mut low) = (f64::MIN, f64::MAX);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let limit = metric(pg.admin_addr(), LIMIT)
            .await
            .expect("limit exported");
        high = high.max(limit);
        low = low.min(limit);
        let done = posting.is_finished() && load.answered.load(Ordering::SeqCst) >= answered;
        if done || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    posting.await.unwrap();
    (high, low)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_rises_while_the_backend_keeps_up_stays_capped_and_falls_on_503() {
    let (addr, load) = upstream().await;
    let pg = start_privgate(&segment_config(&format!(
        r#"
[[destinations]]
name = "backend"
kind = "http"
url = "http://{addr}/v1/batch"
delivery = "memory"
queue_max_events = 1000000
max_concurrency = {MAX}
batch = {{ max_events = 10, max_wait = "5ms" }}
retry = {{ max_retries = 3, initial_backoff = "10ms", max_backoff = "50ms" }}
circuit_breaker = {{ failures = 1000, cooldown = "50ms", max_cooldown = "200ms" }}
"#
    )))
    .await;
    let start = metric(pg.admin_addr(), LIMIT)
        .await
        .expect("exported from start");
    assert!((1.0..=MAX as f64).contains(&start), "start {start}");
    assert_eq!(
        metric(
            pg.admin_addr(),
            "privgate_forward_in_flight_batches{destination=\"backend\"}"
        )
        .await,
        Some(0.0)
    );

    // Fast answers, a backlog of batches: the limit grows to its cap.
    let (high, _) = drive(&pg, &load, 0, 100, 1000).await;
    assert!(
        high > start && high > 1.0,
        "the limit never rose above {start} (highest {high})"
    );
    let peak = load.peak.load(Ordering::SeqCst);
    assert!(
        peak <= MAX,
        "the upstream held {peak} requests at once, above max_concurrency {MAX}"
    );
    assert!(peak > 1, "requests were never concurrent (peak {peak})");
    eprintln!("fast upstream: limit {start} -> highest {high}, peak {peak} at the upstream");

    // Overloaded: every answer is a 503, and the limit comes down.
    load.overloaded.store(true, Ordering::SeqCst);
    let before = metric(pg.admin_addr(), LIMIT).await.unwrap();
    let answered = load.answered.load(Ordering::SeqCst);
    let (_, low) = drive(&pg, &load, 100_000, 20, answered + 30).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut now = metric(pg.admin_addr(), LIMIT).await.unwrap().min(low);
    while now > 1.0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = now.min(metric(pg.admin_addr(), LIMIT).await.unwrap());
    }
    eprintln!("503s: limit {before} -> {now}");
    assert!(now < before, "503s left the limit at {before}");
    assert_eq!(
        now, 1.0,
        "503s brought the limit from {before} down to {now} only"
    );
    assert!(load.peak.load(Ordering::SeqCst) <= MAX);
    load.overloaded.store(false, Ordering::SeqCst);
    pg.shutdown().await;
}

#[tokio::test]
async fn a_pinned_concurrency_is_what_the_limit_says() {
    let (addr, load) = upstream().await;
    let pg = start_privgate(&segment_config(&format!(
        r#"
[[destinations]]
name = "backend"
kind = "http"
url = "http://{addr}/v1/batch"
delivery = "memory"
queue_max_events = 1000000
concurrency = 3
batch = {{ max_events = 10, max_wait = "5ms" }}
"#
    )))
    .await;
    let (high, low) = drive(&pg, &load, 0, 30, 300).await;
    assert_eq!((high, low), (3.0, 3.0));
    let peak = load.peak.load(Ordering::SeqCst);
    assert!((2..=3).contains(&peak), "peak {peak}");
    pg.shutdown().await;
}

const TOKEN: &str = "reload-token-of-a-decent-length-0123";

async fn reload(pg: &privgate::app::Running) {
    let auth = format!("Bearer {TOKEN}");
    let answer = send(
        "POST",
        pg.admin_addr(),
        "/admin/reload",
        &[("authorization", auth.as_str())],
        Bytes::new(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

/// Waits until the destination holds nothing queued and nothing in
/// flight: from then on, nothing moves the limit.
async fn settle(pg: &privgate::app::Running) {
    let admin = pg.admin_addr();
    wait_for_metric(
        admin,
        "privgate_queue_depth_events{destination=\"backend\"}",
        0.0,
    )
    .await;
    wait_for_metric(
        admin,
        "privgate_forward_in_flight_batches{destination=\"backend\"}",
        0.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_what_the_limit_learned_unless_concurrency_changed() {
    let (addr, load) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    let config = |max_wait: &str, max: usize| {
        segment_config(&format!(
            r#"
[[destinations]]
name = "backend"
kind = "http"
url = "http://{addr}/v1/batch"
delivery = "memory"
queue_max_events = 1000000
max_concurrency = {max}
batch = {{ max_events = 10, max_wait = "{max_wait}" }}
"#
        ))
        .replace(
            "[admin]\n",
            &format!("[admin]\ntoken = \"file:{}/token\"\n", dir.path().display()),
        )
    };
    let file = dir.path().join("proxy.toml");
    std::fs::write(&file, config("5ms", MAX)).unwrap();
    let pg = start_privgate_file(&file).await;
    let start = metric(pg.admin_addr(), LIMIT).await.unwrap();
    // Learn until the limit ends above where it started. Where it ends is
    // up to the machine: a window slowed by a busy CI runner lowers it
    // again (6 -> 5 -> 4), and no request after the drive raises it back.
    // Once the drive stops, nothing changes it until the reload.
    let (mut learned, mut highest) = (start, start);
    for round in 0..4 {
        let (high, _) = drive(&pg, &load, round * 10_000, 100, (round + 1) * 1000).await;
        highest = highest.max(high);
        settle(&pg).await;
        learned = metric(pg.admin_addr(), LIMIT).await.unwrap();
        if learned > start {
            break;
        }
    }
    assert!(
        learned > start,
        "never ended above {start} in 4 drives (highest {highest})"
    );

    // Same concurrency: the learned limit stays.
    std::fs::write(&file, config("6ms", MAX)).unwrap();
    reload(&pg).await;
    assert_eq!(metric(pg.admin_addr(), LIMIT).await, Some(learned));

    // A new max_concurrency: learning starts over.
    std::fs::write(&file, config("6ms", MAX - 1)).unwrap();
    reload(&pg).await;
    assert_eq!(metric(pg.admin_addr(), LIMIT).await, Some(start));
    pg.shutdown().await;
}
