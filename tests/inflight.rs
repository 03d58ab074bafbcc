//! The in-flight budget (`server.max_inflight_bytes`, issue #15 point 5):
//! what requests hold, across HTTP/1.1 connections and HTTP/2 streams, is
//! one budget; past it a request gets 503 `overloaded` with `Retry-After`,
//! counted; the budget is given back when requests end. And an HTTP/2
//! connection gets at most `server.max_concurrent_streams` requests at
//! once.
//!
//! Slow uploads hold what they sent: each sends part of its body and
//! stalls, so the server holds those bytes until the client gives up.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// What each slow upload sends before it stalls.
const SENT: usize = 120_000;

/// A body that sends `first`, then nothing until `hold` fires or is
/// dropped.
struct Stalled {
    first: Option<Bytes>,
    hold: oneshot::Receiver<()>,
}

impl http_body::Body for Stalled {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        Pin::new(&mut self.hold).poll(cx).map(|_| None)
    }
}

/// The start of a Segment batch, `len` bytes long.
fn partial_batch(len: usize) -> Bytes {
    let start = br#"{"batch":[{"type":"track","properties":{"pad":""#;
    let mut body = start.to_vec();
    body.resize(len, b'x');
    Bytes::from(body)
}

/// One slow upload in flight: over HTTP/1.1 (its socket) or HTTP/2 (its
/// connection's task, and the stream's answer when it comes).
enum Upload {
    H1(TcpStream),
    H2 {
        answer: tokio::task::JoinHandle<Option<Answer>>,
        _hold: oneshot::Sender<()>,
    },
}

impl Upload {
    async fn h1(addr: SocketAddr) -> Upload {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/batch HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            AUTH.1,
            SENT + 1_000
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&partial_batch(SENT)).await.unwrap();
        Upload::H1(stream)
    }

    async fn h2(
        sender: &mut hyper::client::conn::http2::SendRequest<Stalled>,
        addr: SocketAddr,
    ) -> Upload {
        let (hold, held) = oneshot::channel();
        let request = Request::post(format!("http://{addr}/v1/batch"))
            .header("authorization", AUTH.1)
            .header("content-type", "application/json")
            .body(Stalled {
                first: Some(partial_batch(SENT)),
                hold: held,
            })
            .unwrap();
        // A connection at its stream limit holds one more request back.
        tokio::time::timeout(Duration::from_secs(5), sender.ready())
            .await
            .expect("the connection takes a request")
            .unwrap();
        let sent = sender.send_request(request);
        let answer = tokio::spawn(async move {
            let response = sent.await.ok()?;
            let (parts, body) = response.into_parts();
            let body = http_body_util::BodyExt::collect(body)
                .await
                .ok()?
                .to_bytes();
            Some(Answer {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body,
            })
        });
        Upload::H2 {
            answer,
            _hold: hold,
        }
    }

    /// The answer, if the server answered already (it refused).
    async fn refused(&mut self) -> Option<Answer> {
        match self {
            Upload::H1(stream) => {
                let mut got = vec![0; 4096];
                let read = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut got));
                let n = read.await.ok()?.ok().filter(|&n| n > 0)?;
                parse_h1(&got[..n])
            }
            Upload::H2 { answer, .. } if answer.is_finished() => answer.await.ok().flatten(),
            Upload::H2 { .. } => None,
        }
    }
}

/// A whole HTTP/1.1 response in `bytes` (status, headers, body).
fn parse_h1(bytes: &[u8]) -> Option<Answer> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut headers = http::HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            value.trim().parse().ok()?,
        );
    }
    Some(Answer {
        status,
        headers,
        body: Bytes::copy_from_slice(body.as_bytes()),
    })
}

/// An HTTP/2 connection with prior knowledge (cleartext h2c); dropping the
/// task ends the connection.
async fn h2(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<Stalled>,
    tokio::task::JoinHandle<()>,
) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, task)
}

/// `privgate_inflight_bytes` now.
async fn held(admin: SocketAddr) -> f64 {
    metric(admin, "privgate_inflight_bytes")
        .await
        .unwrap_or(0.0)
}

/// Waits until `privgate_inflight_bytes` is at least `at_least` (panics
/// after 5 s).
async fn wait_until_held(admin: SocketAddr, at_least: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while held(admin).await < at_least {
        assert!(
            Instant::now() < deadline,
            "held {} bytes, want at least {at_least}",
            held(admin).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Adds slow uploads to `holding`, over HTTP/1.1 and HTTP/2 in turn,
/// each held before the next starts, until one is refused; returns that
/// answer.
async fn hold_until_refused(
    addr: SocketAddr,
    admin: SocketAddr,
    sender: &mut hyper::client::conn::http2::SendRequest<Stalled>,
    holding: &mut Vec<Upload>,
) -> Answer {
    for i in 0..20 {
        let before = held(admin).await;
        let mut upload = if i % 2 == 0 {
            Upload::h1(addr).await
        } else {
            Upload::h2(sender, addr).await
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(answer) = upload.refused().await {
                return answer;
            }
            if held(admin).await >= before + SENT as f64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "upload {i} neither held nor refused"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        holding.push(upload);
    }
    panic!("the budget never refused an upload");
}

/// Limits under which one request may hold about 800 KB (its head, its
/// body, room to decompress, unwrap and decode it), and a budget.
fn limits(budget: &str) -> String {
    format!(
        "max_body_bytes = \"128KiB\"\nmax_decompressed_bytes = \"128KiB\"\nmax_batch_events = 100\nmax_inflight_bytes = \"{budget}\""
    )
}

fn config(upstream: &Upstream, server: &str) -> String {
    segment_config(&http_destination("backend", upstream, ""))
        .replace("[server]\n", &format!("[server]\n{server}\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_in_flight_budget_requests_get_503_until_it_is_given_back() {
    let upstream = Upstream::start().await;
    let app = start_privgate(&config(&upstream, &limits("1MiB"))).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());

    // Slow uploads over HTTP/1.1 connections and HTTP/2 streams, until one
    // is refused: they share the one budget.
    let (mut sender, connection) = h2(addr).await;
    let mut holding = Vec::new();
    let refusal = hold_until_refused(addr, admin, &mut sender, &mut holding).await;
    assert_error(&refusal, 503, "overloaded");
    assert_eq!(refusal.headers["retry-after"], "1");
    let h1 = holding
        .iter()
        .filter(|u| matches!(u, Upload::H1(_)))
        .count();
    assert!(
        h1 >= 2 && holding.len() - h1 >= 2,
        "{h1} of {} held over HTTP/1.1",
        holding.len()
    );
    assert!(held(admin).await <= (1 << 20) as f64);

    // Meanwhile a small event finds no room to be decoded.
    let answer = post(addr, "/v1/t", track("squeezed")).await;
    assert_error(&answer, 503, "overloaded");
    assert_eq!(answer.headers["retry-after"], "1");
    let refused = metric(admin, "privgate_inflight_refused_total").await;
    assert_eq!(refused, Some(2.0));

    // The clients give up: everything is given back, and events flow again.
    drop(holding);
    connection.abort();
    let deadline = Instant::now() + Duration::from_secs(5);
    while held(admin).await > 0.0 {
        assert!(
            Instant::now() < deadline,
            "{} bytes still held",
            held(admin).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    still_serving(addr, &upstream, "after-the-squeeze").await;
    assert_eq!(
        held(admin).await,
        0.0,
        "a finished request still holds bytes"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_requests_in_flight_charged_under_its_new_limit() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proxy.toml");
    std::fs::write(&path, config(&upstream, &limits("4MiB"))).unwrap();
    let app = start_privgate_file(&path).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());
    let (mut sender, connection) = h2(addr).await;
    let mut holding = Vec::new();
    for _ in 0..3 {
        holding.push(Upload::h1(addr).await);
    }
    wait_until_held(admin, (3 * SENT) as f64).await;

    // 900 KiB now: the three uploads of the old config still count, so
    // only four more fit (seven would, in a budget of its own).
    std::fs::write(&path, config(&upstream, &limits("900KiB"))).unwrap();
    app.reload().await.expect("reloads");
    let refusal = hold_until_refused(addr, admin, &mut sender, &mut holding).await;
    assert_error(&refusal, 503, "overloaded");
    assert_eq!(holding.len(), 7);
    drop(holding);
    connection.abort();
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_gets_at_most_max_concurrent_streams_requests_at_once() {
    let upstream = Upstream::start().await;
    let app = start_privgate(&config(&upstream, "max_concurrent_streams = 3")).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());

    // Four slow uploads on one connection: three reach the server, the
    // fourth waits for a stream (in the client, or refused by the server
    // if the client sent it before it knew the limit).
    let (mut sender, connection) = h2(addr).await;
    let mut uploads = Vec::new();
    for _ in 0..4 {
        uploads.push(Upload::h2(&mut sender, addr).await);
    }
    wait_until_held(admin, (3 * SENT) as f64).await;
    // Time for a fourth to arrive, were it let through.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = held(admin).await;
    assert!(
        now < (4 * SENT) as f64,
        "{now} bytes held: more than 3 streams"
    );
    drop(uploads);
    connection.abort();
    app.shutdown().await;
}
