//! Backends that misbehave on purpose, against the real server: one that
//! accepts connections and never reads a byte must not make privgate keep
//! a connection (and the batch body it holds) per timed-out attempt.

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
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
