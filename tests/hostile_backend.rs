//! Backends that misbehave on purpose, against the real server: one that
//! accepts connections and never reads a byte must not make privgate keep
//! a connection (and the batch body it holds) per timed-out attempt; one
//! that takes a batch (2xx) and then trickles its answer's body forever
//! has the batch, which is neither sent again nor counted as dropped.

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections and keeps them, never reading.
async fn deaf_backend() -> (std::net::SocketAddr, Arc<Mutex<Vec<TcpStream>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().unwrap().push(stream);
        }
    });
    (addr, held)
}

#[tokio::test]
async fn a_backend_that_never_reads_gets_its_connections_closed_after_each_timeout() {
    let (addr, held) = deaf_backend().await;
    let dest = format!(
        r#"
[[destinations]]
name = "deaf"
kind = "http"
url = "http://{addr}/v1/batch"
delivery = "memory"
request_timeout = "200ms"
retry = {{ max_retries = 3, initial_backoff = "20ms", max_backoff = "50ms" }}
circuit_breaker = {{ failures = 100, cooldown = "50ms", max_cooldown = "50ms" }}
"#
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    // Events big enough that a batch body outgrows the socket buffers.
    let pad = "x".repeat(16 * 1024);
    for i in 0..4 {
        let events: Vec<String> = (0..25)
            .map(|j| {
                format!(
                    r#"{{"type":"track","event":"e","messageId":"m-{i}-{j}","anonymousId":"a","properties":{{"pad":"{pad}"}}}}"#
                )
            })
            .collect();
        let body = format!(r#"{{"batch":[{}]}}"#, events.join(","));
        let answer = send(
            "POST",
            pg.ingest_addr(),
            "/v1/batch",
            &[
                ("authorization", "Basic dGVzdC1rZXk6"),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let series = "privgate_events_dropped_total{destination=\"deaf\",reason=\"retries_exhausted\"}";
    wait_for_metric(pg.admin_addr(), series, 100.0).await;
    let streams: Vec<TcpStream> = std::mem::take(&mut *held.lock().unwrap());
    assert!(streams.len() >= 4, "{} connections", streams.len());
    // Every connection privgate gave up on reads to its end: it was closed.
    let mut open = 0;
    for mut stream in streams {
        let mut buf = vec![0; 1 << 20];
        let drained = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if drained.is_err() {
            open += 1;
        }
    }
    assert_eq!(open, 0, "connections privgate kept open to a deaf backend");
    pg.shutdown().await;
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body).
async fn read_request(stream: &mut TcpStream) -> Option<()> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while got.len() < head_end + length {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Some(())
}

#[tokio::test]
async fn a_2xx_whose_body_never_ends_is_delivered_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                if read_request(&mut stream).await.is_none() {
                    return;
                }
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head).await.is_err() {
                    return;
                }
                // One byte every 50ms, for ever.
                while stream.write_all(b"1\r\n \r\n").await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    let dest = format!(
        r#"
[[destinations]]
name = "trickle"
kind = "http"
url = "http://{addr}/v1/batch"
delivery = "memory"
request_timeout = "300ms"
retry = {{ max_retries = 2, initial_backoff = "20ms", max_backoff = "50ms" }}
batch = {{ max_wait = "10ms" }}
"#
    );
    let pg = start_privgate(&segment_config(&dest)).await;
    assert_eq!(
        post(pg.ingest_addr(), "/v1/t", track("once")).await.status,
        200
    );
    let forwarded = "privgate_events_forwarded_total{destination=\"trickle\"}";
    let dropped =
        "privgate_events_dropped_total{destination=\"trickle\",reason=\"retries_exhausted\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metric(pg.admin_addr(), forwarded).await.unwrap_or(0.0)
        + metric(pg.admin_addr(), dropped).await.unwrap_or(0.0)
        < 1.0
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything sent again would be sent by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        (
            requests.load(std::sync::atomic::Ordering::SeqCst),
            metric(pg.admin_addr(), forwarded).await,
            metric(pg.admin_addr(), dropped).await.unwrap_or(0.0),
        ),
        (1, Some(1.0), 0.0),
        "(requests, forwarded, dropped): the backend took it, once"
    );
    pg.shutdown().await;
}
