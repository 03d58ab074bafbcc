//! What a connection holds outside the requests being read counts in the
//! in-flight budget (`server.max_inflight_bytes`), and a connection whose
//! client does not take its answers is closed (`server.send_timeout`):
//!
//! - unfinished request heads, each large (below hyper's ceiling), are
//!   charged as they arrive; connections whose head does not fit are
//!   closed, the rest wait for `header_read_timeout`;
//! - an HTTP/2 client with a zero flow-control window opens streams and
//!   never reads: each waiting answer is charged, requests past the budget
//!   get 503, and the connection is dropped after `send_timeout`;
//! - an HTTP/1.1 client that pipelines requests and never reads is
//!   dropped after `send_timeout`;
//! - an idle connection's graceful close that such a client holds up
//!   (a tiny window, and PINGs so that something is written) is forced
//!   after `send_timeout`.
//!
//! Each ends with the budget back at zero and a normal event delivered.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The budget of every test here.
const BUDGET: f64 = (1 << 20) as f64;

/// `send_timeout` of the tests here but the HTTP/2 one.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// `send_timeout` of the HTTP/2 test, whose first connection stalls
/// before the budget is filled by a second and a third: all that must
/// happen within it, on however busy a machine.
const SEND_TIMEOUT_H2: Duration = Duration::from_secs(5);

/// Timers fire late on a loaded machine (the checks run every quarter of
/// the shorter of `idle_timeout` and `send_timeout`), and a busy CI
/// runner stalls for a second or two. Well below `header_read_timeout`
/// (20 s) and the default `idle_timeout` (60 s), the other ways a
/// connection could end.
const SLACK: Duration = Duration::from_secs(8);

/// A 1 MiB budget (with limits under which one request fits it), a short
/// `send_timeout`, and the rest default.
fn config(upstream: &Upstream) -> String {
    config_sending(upstream, SEND_TIMEOUT)
}

/// [`config`] with this `send_timeout` (whole seconds).
fn config_sending(upstream: &Upstream, send_timeout: Duration) -> String {
    let server = format!(
        "max_body_bytes = \"128KiB\"\nmax_decompressed_bytes = \"128KiB\"\n\
        max_batch_events = 100\nmax_inflight_bytes = \"1MiB\"\nsend_timeout = \"{}s\"\n\
        header_read_timeout = \"20s\"",
        send_timeout.as_secs()
    );
    segment_config(&http_destination("backend", upstream, ""))
        .replace("[server]\n", &format!("[server]\n{server}\n"))
}

/// `privgate_inflight_bytes` now.
async fn held(admin: SocketAddr) -> f64 {
    metric(admin, "privgate_inflight_bytes")
        .await
        .unwrap_or(0.0)
}

/// Polls `series` until `done` holds (panics after `within`), asserting on
/// the way that the budget is never exceeded.
async fn wait_for(admin: SocketAddr, series: &str, within: Duration, done: impl Fn(f64) -> bool) {
    let deadline = Instant::now() + within;
    loop {
        let held = held(admin).await;
        assert!(held <= BUDGET, "{held} bytes held, over the budget");
        let now = metric(admin, series).await.unwrap_or(0.0);
        if done(now) {
            return;
        }
        assert!(Instant::now() < deadline, "{series} still {now}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every connection is closed, and asserts it happened within
/// `send_timeout` (and the slack) of `since`, when the client stalled.
async fn all_dropped_after_the_send_timeout(
    admin: SocketAddr,
    send_timeout: Duration,
    since: Instant,
) {
    wait_for(
        admin,
        "privgate_open_connections",
        send_timeout * 3 + SLACK,
        |n| n == 0.0,
    )
    .await;
    assert!(
        since.elapsed() <= send_timeout + SLACK,
        "dropped after {:?}",
        since.elapsed()
    );
}

/// Waits until the budget is all given back.
async fn budget_given_back(admin: SocketAddr) {
    wait_for(
        admin,
        "privgate_inflight_bytes",
        Duration::from_secs(5),
        |n| n == 0.0,
    )
    .await;
}

/// Whether the server closed `stream` (reads end or fail within `wait`).
async fn closed(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0; 1024];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_heads_are_charged_and_those_past_the_budget_closed() {
    let upstream = Upstream::start().await;
    let app = start_privgate(&config(&upstream)).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());

    // 125 KB heads without their final CRLF (hyper's ceiling is 128 KiB):
    // about 109 KB each is charged, so 9 fit in 1 MiB.
    let line = format!("x-pad: {}\r\n", "a".repeat(1000));
    let head = format!("POST /v1/t HTTP/1.1\r\nhost: x\r\n{}", line.repeat(124));
    let mut streams = Vec::new();
    for _ in 0..16 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // A connection refused mid-head may be reset while writing.
        let _ = stream.write_all(head.as_bytes()).await;
        streams.push(stream);
    }
    wait_for(
        admin,
        "privgate_inflight_refused_total",
        Duration::from_secs(5),
        |n| n >= 6.0,
    )
    .await;
    let mut open = 0;
    for stream in &mut streams {
        if !closed(stream, Duration::from_millis(300)).await {
            open += 1;
        }
    }
    let now = held(admin).await;
    assert!((8..=10).contains(&open), "{open} of 16 heads held");
    assert!((800_000.0..=BUDGET).contains(&now), "{now} bytes held");

    // A small request still reaches the service meanwhile, and is refused
    // there with the budget's answer.
    let answer = post(addr, "/v1/t", track("squeezed")).await;
    assert_error(&answer, 503, "overloaded");

    // The clients go away: everything is given back, and events flow.
    drop(streams);
    budget_given_back(admin).await;
    still_serving(addr, &upstream, "after-the-heads").await;
    assert_eq!(held(admin).await, 0.0);
    app.shutdown().await;
}

/// An HTTP/2 connection whose client grants `window` bytes per stream: the
/// server can send answers' headers but (almost) none of their bodies.
async fn zero_window(
    addr: SocketAddr,
    window: u32,
) -> (
    hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    tokio::task::JoinHandle<()>,
) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(window)
        .handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    (sender, task)
}

/// An answer whose head arrived and whose body is never read (dropping it
/// would cancel the stream).
type Unread = Option<http::Response<hyper::body::Incoming>>;

/// Sends `GET /privacy` on `sender`: its status (0: reset, or the
/// connection closed) and the answer, unread.
async fn unread(
    mut sender: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    addr: SocketAddr,
) -> (u16, Unread) {
    // Ready at once on an open connection; the bound only ends the wait
    // on one that no longer takes streams.
    let ready = tokio::time::timeout(Duration::from_secs(10), sender.ready()).await;
    if !matches!(ready, Ok(Ok(()))) {
        return (0, None);
    }
    let request = Request::get(format!("http://{addr}/privacy"))
        .body(Empty::new())
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request));
    match answer.await.expect("an answer or a failure within 10s") {
        // The answer's head arrives; its body never can.
        Ok(response) => (response.status().as_u16(), Some(response)),
        Err(_) => (0, None),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_http2_answers_are_charged_and_dropped_after_the_send_timeout() {
    let upstream = Upstream::start().await;
    let app = start_privgate(&config_sending(&upstream, SEND_TIMEOUT_H2)).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());
    let privacy = send("GET", addr, "/privacy", &[], Bytes::new()).await;
    assert_eq!(privacy.status, 200);

    // Answers never read: 6 KiB each is charged (the privacy page is
    // 3 KB), so at most 170 fit. A first connection's 100 fit. It grants a
    // 1-byte window: hyper hands each answer's body to h2, which holds it
    // unsent; each stays charged all the same.
    let mut statuses = std::collections::BTreeMap::new();
    let mut bodies = Vec::new();
    let (first, first_task) = zero_window(addr, 1).await;
    let answers = (0..100).map(|_| unread(first.clone(), addr));
    for (status, answer) in futures_util::future::join_all(answers).await {
        *statuses.entry(status).or_insert(0) += 1;
        bodies.push(answer);
    }
    assert_eq!(statuses.get(&200), Some(&100), "{statuses:?}");
    let now = held(admin).await;
    assert!(now >= 100.0 * 6144.0, "{now} bytes held for 100 answers");
    // A second connection's, one at a time, until the budget is full:
    // its first refused request gets 503 (which it cannot read either), the
    // next is reset (REFUSED_STREAM): a connection is owed one 503 at most.
    let (second, second_task) = zero_window(addr, 0).await;
    let mut admitted = 0;
    loop {
        let (status, answer) = unread(second.clone(), addr).await;
        bodies.push(answer);
        match status {
            200 => admitted += 1,
            503 => break,
            other => panic!("status {other} before the budget was full"),
        }
        assert!(admitted < 100, "no refusal after {admitted} more streams");
    }
    assert!((40..=70).contains(&admitted), "{admitted} more admitted");
    assert_eq!(unread(second.clone(), addr).await.0, 0, "not reset");
    let now = held(admin).await;
    assert!(now <= BUDGET, "{now} bytes held, over the budget");
    // A new client meanwhile gets the budget's answer.
    let answer = send("GET", addr, "/privacy", &[], Bytes::new()).await;
    assert_error(&answer, 503, "overloaded");
    // A third connection opening 100 streams at once is closed after 16
    // resets, at once: well before its unsent 503 would have it dropped
    // after send_timeout.
    let (third, third_task) = zero_window(addr, 0).await;
    let answers = (0..100).map(|_| unread(third.clone(), addr));
    let refused = futures_util::future::join_all(answers).await;
    let refused: Vec<u16> = refused.into_iter().map(|(status, _)| status).collect();
    assert!(refused.iter().all(|&s| s == 0 || s == 503), "{refused:?}");
    tokio::time::timeout(SEND_TIMEOUT_H2 / 2, third_task)
        .await
        .expect("the third connection is still open")
        .unwrap();
    let mut connections = vec![(first, first_task), (second, second_task)];
    let now = held(admin).await;
    assert!(now <= BUDGET, "{now} bytes held, over the budget");

    // No progress for send_timeout: every connection is dropped, not
    // drained, and the budget is given back.
    let opened = Instant::now();
    all_dropped_after_the_send_timeout(admin, SEND_TIMEOUT_H2, opened).await;
    for (_, task) in &mut connections {
        tokio::time::timeout(SLACK, task)
            .await
            .expect("the client saw its connection end")
            .unwrap();
    }
    budget_given_back(admin).await;
    drop(bodies);
    still_serving(addr, &upstream, "after-the-streams").await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_client_that_never_reads_is_dropped_after_the_send_timeout() {
    let upstream = Upstream::start().await;
    let app = start_privgate(&config(&upstream)).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());

    // Pipelined requests whose answers fill the socket's buffers, then a
    // client that reads nothing.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let request = "GET /privacy HTTP/1.1\r\nhost: x\r\n\r\n".repeat(2000);
    let (mut read, mut write) = stream.split();
    let writing = write.write_all(request.as_bytes());
    // The server stops reading once it cannot write; so does the writer.
    let _ = tokio::time::timeout(Duration::from_secs(2), writing).await;
    let stalled = Instant::now();
    all_dropped_after_the_send_timeout(admin, SEND_TIMEOUT, stalled).await;
    // Nothing read until now: what the kernel held (or a reset), then
    // the end.
    let mut got = Vec::new();
    let read_all = read.read_to_end(&mut got);
    let ended = tokio::time::timeout(Duration::from_secs(5), read_all).await;
    assert!(ended.is_ok(), "the connection did not end");
    budget_given_back(admin).await;
    still_serving(addr, &upstream, "after-the-deaf-client").await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_close_an_unreading_client_holds_up_is_forced() {
    let upstream = Upstream::start().await;
    let toml = config(&upstream).replace("[server]\n", "[server]\nidle_timeout = \"2s\"\n");
    let app = start_privgate(&toml).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());

    // A 1-byte window and PINGs every 100 ms: what privgate writes (the
    // PING answers) is progress, so send_timeout alone never ends it.
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(1)
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_millis(100))
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let opened = Instant::now();
    let (status, _answer) = unread(sender.clone(), addr).await;
    assert_eq!(status, 200);
    // Idle once the answer's body is handed over; its graceful close
    // waits for the stream, and is forced after send_timeout.
    let within = Duration::from_secs(2) + SEND_TIMEOUT + SLACK * 2;
    tokio::time::timeout(within, task)
        .await
        .unwrap_or_else(|_| panic!("still open after {:?}", opened.elapsed()))
        .unwrap();
    budget_given_back(admin).await;
    app.shutdown().await;
}
