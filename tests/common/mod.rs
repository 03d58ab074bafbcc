//! Test harness: a real upstream HTTP server that records what it received
//! and can be scripted to fail, a privgate started in-process on ephemeral
//! loopback ports, and a small HTTP client. Everything binds 127.0.0.1:0.
#![allow(dead_code)]

mod certs;
mod explain;
mod load;
mod process;
mod tools;
mod yaml;
#[allow(unused_imports)] // Only the TLS tests use it.
pub use certs::*;
#[allow(unused_imports)] // Only the explain tests use it.
pub use explain::*;
#[allow(unused_imports)] // Only the fault tests use it.
pub use load::*;
#[allow(unused_imports)] // Only the tests that start the binary use it.
pub use process::*;
#[allow(unused_imports)] // Only the tests that run system tools use it.
pub use tools::*;
#[allow(unused_imports)] // Only the tests that read deploy/ use it.
pub use yaml::*;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// How the upstream answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status, empty body.
    Status(u16),
    /// This status with `Retry-After: secs`.
    RetryAfter(u16, u64),
    /// Wait, then 200.
    Delay(Duration),
    /// Close the connection without answering.
    Hangup,
    /// Hold the request until the next [`Upstream::heal`], then 200: a
    /// backend that takes nothing meanwhile, however long the test takes.
    Stall,
}

/// One request the upstream saw.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    /// The status it was answered with (0 for a hang-up).
    pub status: u16,
}

impl Received {
    /// Events in the body: `{"batch":[...]}` or NDJSON.
    pub fn events(&self) -> Vec<serde_json::Value> {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            if let Some(batch) = v.get("batch").and_then(|b| b.as_array()) {
                return batch.clone();
            }
            return vec![v];
        }
        self.body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("NDJSON line is JSON"))
            .collect()
    }
}

#[derive(Default)]
struct UpstreamState {
    script: VecDeque<Reply>,
    /// While set, every request gets this (the script waits).
    failing: Option<Reply>,
    received: Vec<Received>,
    /// How many times [`Upstream::heal`] was called ([`Reply::Stall`]
    /// waits for the next).
    heals: u64,
    /// Requests answered with the [`Upstream::fail_with`] reply.
    faulted: u64,
}

/// A recording upstream. Replies follow the script, then 200.
#[derive(Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    state: Arc<Mutex<UpstreamState>>,
    /// `https` when it serves TLS.
    scheme: &'static str,
}

impl Upstream {
    pub async fn start() -> Upstream {
        Upstream::with_script(Vec::new()).await
    }

    pub async fn with_script(script: Vec<Reply>) -> Upstream {
        Upstream::serve(
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
            script,
            None,
        )
    }

    /// An upstream that serves TLS with `tls` (see [`Leaf::server_config`]).
    pub async fn start_tls(tls: Arc<rustls::ServerConfig>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Upstream::serve(listener, Vec::new(), Some(tls.into()))
    }

    /// An upstream on a port that was down until now.
    pub async fn start_on(port: DownPort) -> Upstream {
        Upstream::serve(port.0.listen(1024).unwrap(), Vec::new(), None)
    }

    fn serve(
        listener: TcpListener,
        script: Vec<Reply>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Upstream {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(UpstreamState {
            script: script.into(),
            ..UpstreamState::default()
        }));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let upstream = Upstream {
            addr,
            state,
            scheme,
        };
        let serving = upstream.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let this = serving.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        async move { this.answer(req).await }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = match tls {
                        None => {
                            builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                        }
                        // A refused handshake (untrusted client) just ends the connection.
                        Some(tls) => match tls.accept(stream).await {
                            Ok(stream) => {
                                builder
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await
                            }
                            Err(_) => return,
                        },
                    };
                });
            }
        });
        upstream
    }

    async fn answer(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let (reply, heals) = {
            let mut state = self.state.lock().unwrap();
            let reply = match state.failing.clone() {
                Some(failing) => {
                    state.faulted += 1;
                    Some(failing)
                }
                None => state.script.pop_front(),
            };
            (reply, state.heals)
        };
        let (status, retry_after) = match reply {
            None | Some(Reply::Status(200)) => (200, None),
            Some(Reply::Status(s)) => (s, None),
            Some(Reply::RetryAfter(s, secs)) => (s, Some(secs)),
            Some(Reply::Delay(d)) => {
                tokio::time::sleep(d).await;
                (200, None)
            }
            Some(Reply::Hangup) => (0, None),
            Some(Reply::Stall) => {
                while self.state.lock().unwrap().heals == heals {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                (200, None)
            }
        };
        self.state.lock().unwrap().received.push(Received {
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or("/".into(), |p| p.to_string()),
            headers: parts.headers,
            body,
            at: Instant::now(),
            status,
        });
        if status == 0 {
            return Err(std::io::Error::other("hang up"));
        }
        let mut response = Response::new(Full::new(Bytes::from_static(b"{\"ok\":true}")));
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", secs.to_string().parse().unwrap());
        }
        Ok(response)
    }

    /// Answers every request with `reply` until [`Upstream::heal`].
    pub fn fail_with(&self, reply: Reply) {
        self.state.lock().unwrap().failing = Some(reply);
    }

    /// How many requests got the [`Upstream::fail_with`] reply so far
    /// (counted as they get it: a delayed one too).
    pub fn faulted(&self) -> u64 {
        self.state.lock().unwrap().faulted
    }

    /// Back to the script, then 200; stalled requests are answered.
    pub fn heal(&self) {
        let mut state = self.state.lock().unwrap();
        state.failing = None;
        state.heals += 1;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// messageIds of events in requests answered 2xx.
    pub fn delivered_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(|r| r.events())
            .map(|e| e["messageId"].as_str().expect("messageId").to_owned())
            .collect()
    }

    /// Whether a request answered 2xx carried an event with this messageId.
    /// Looks at the bytes, so a body that is deliberately odd JSON (one a
    /// test sent to see it refused or passed on) cannot hide it.
    pub fn saw_message_id(&self, id: &str) -> bool {
        let needle = format!("\"messageId\":\"{id}\"");
        let finder = memchr::memmem::Finder::new(needle.as_bytes());
        let state = self.state.lock().unwrap();
        state
            .received
            .iter()
            .any(|r| (200..300).contains(&r.status) && finder.find(&r.body).is_some())
    }

    /// Waits until `n` events were delivered (or panics after `timeout`).
    pub async fn wait_for_delivered(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let ids = self.delivered_ids();
            if ids.len() >= n {
                return ids;
            }
            assert!(
                Instant::now() < deadline,
                "upstream got {} of {n} events within {timeout:?}",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }
}

/// The segment files of a spool directory (`<[spool] dir>/<destination>`), in order.
pub fn spool_segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

/// A loopback port held for an upstream that is down until
/// [`Upstream::start_on`] it: the socket is bound but not listening, so
/// connections to it are refused, and no other test can take the port
/// meanwhile (a port bound and released could be handed to anyone).
pub struct DownPort(tokio::net::TcpSocket);

impl DownPort {
    /// A port of 127.0.0.1 the kernel picked.
    pub fn new() -> DownPort {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        DownPort(socket)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.0.local_addr().unwrap()
    }
}

impl Default for DownPort {
    fn default() -> DownPort {
        DownPort::new()
    }
}

/// A loopback port for an external program that takes its address on the
/// command line (Prometheus): bound, then released, so another process
/// may take it in between. Anything of ours binds `127.0.0.1:0` and
/// reports the port it got instead.
pub fn port_for_external_tool() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts privgate in-process from a config file (so that it can reload it).
pub async fn start_privgate_file(path: &Path) -> privgate::app::Running {
    let config = privgate::config::Config::load(path)
        .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    privgate::app::start(config).await.expect("privgate starts")
}

/// Starts privgate in-process from config text (listen/admin may be :0).
pub async fn start_privgate(toml: &str) -> privgate::app::Running {
    let config = privgate::config::Config::from_str(toml, Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("test config invalid:\n{e}"));
    privgate::app::start(config).await.expect("privgate starts")
}

/// A config on ephemeral ports with these sources and destinations (and
/// any other tables).
pub fn config_with(sources: &str, rest: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_timeout = "5s"
[admin]
listen = "127.0.0.1:0"
{sources}
{rest}
"#
    )
}

/// A config with one Segment source (write key `test-key`) on ephemeral ports
/// and the given destinations tables.
pub fn segment_config(destinations: &str) -> String {
    config_with(
        r#"[[sources]]
name = "web"
protocol = "segment"
write_keys = ["test-key"]
cors_origins = ["http://shop.test"]"#,
        destinations,
    )
}

/// An http destination table pointing at `upstream`; memory delivery
/// unless `extra` sets `delivery`.
pub fn http_destination(name: &str, upstream: &Upstream, extra: &str) -> String {
    http_destination_at(name, upstream, "/v1/batch", extra)
}

/// [`http_destination`] posting to `path` (and query) on `upstream`.
pub fn http_destination_at(name: &str, upstream: &Upstream, path: &str, extra: &str) -> String {
    let delivery = if extra.contains("delivery") {
        ""
    } else {
        "delivery = \"memory\""
    };
    // Short breaker pauses keep tests quick.
    let breaker = if extra.contains("circuit_breaker") {
        ""
    } else {
        "circuit_breaker = { cooldown = \"50ms\", max_cooldown = \"200ms\" }"
    };
    format!(
        r#"
[[destinations]]
name = "{name}"
kind = "http"
url = "{}"
retry = {{ max_retries = 5, initial_backoff = "20ms", max_backoff = "200ms" }}
{delivery}
{breaker}
{extra}
"#,
        upstream.url(path)
    )
}

/// A response as the test sees it.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request over a fresh client.
pub async fn send(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    try_send(method, addr, path, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Like [`send`], but a request that fails or takes over 10 s is an `Err`
/// describing it (for tests that report rather than stop at the first one).
pub async fn try_send(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Answer, String> {
    try_send_within(method, addr, path, headers, body, Duration::from_secs(10)).await
}

/// [`try_send`], with `within` for the answer and again for its body.
pub async fn try_send_within(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
    within: Duration,
) -> Result<Answer, String> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let request = req
        .body(Full::new(body.into()))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(within, client.request(request))
        .await
        .map_err(|_| format!("no answer within {within:?}"))?
        .map_err(|e| format!("request failed: {e:?}"))?;
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(within, body.collect())
        .await
        .map_err(|_| format!("no complete body within {within:?}"))?
        .map_err(|e| format!("body failed: {e}"))?
        .to_bytes();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    })
}

/// `Authorization` for write key `test-key`.
pub const AUTH: (&str, &str) = ("authorization", "Basic dGVzdC1rZXk6");

/// POSTs JSON with the test write key.
pub async fn post(addr: SocketAddr, path: &str, body: impl Into<Bytes>) -> Answer {
    send(
        "POST",
        addr,
        path,
        &[AUTH, ("content-type", "application/json")],
        body,
    )
    .await
}

/// A track event with this messageId.
pub fn track(id: &str) -> String {
    format!(
        r#"{{"type":"track","event":"Order Completed","messageId":"{id}","anonymousId":"a-1","properties":{{"revenue":42.5}}}}"#
    )
}

/// The value of one metric series in the Prometheus text output.
pub async fn metric(admin: SocketAddr, series: &str) -> Option<f64> {
    let answer = send("GET", admin, "/metrics", &[], Bytes::new()).await;
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// messageIds of NDJSON lines, in order.
pub fn ndjson_message_ids(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).expect("NDJSON line is JSON");
            event["messageId"].as_str().expect("messageId").to_owned()
        })
        .collect()
}

/// Polls a metric series until it has `value` (panics after 5 s).
pub async fn wait_for_metric(admin: SocketAddr, series: &str, value: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = metric(admin, series).await;
        if now == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {now:?}, expected {value}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// What is wrong with `answer` as the error `code` with `status`: privgate's
/// JSON error shape, `{"success":false,"error":code,"message":...}`.
pub fn error_mismatch(answer: &Answer, status: u16, code: &str) -> Option<String> {
    let shown = || String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)]).into_owned();
    if answer.status != status {
        return Some(format!(
            "status {} (want {status}), body {:?}",
            answer.status,
            shown()
        ));
    }
    if answer.headers.get("content-type").map(|v| v.as_bytes()) != Some(b"application/json") {
        return Some(format!(
            "content-type {:?}, body {:?}",
            answer.headers.get("content-type"),
            shown()
        ));
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&answer.body) else {
        return Some(format!("body is not JSON: {:?}", shown()));
    };
    let message_ok = body["message"].as_str().is_some_and(|m| !m.is_empty());
    if body["success"] != false || body["error"] != code || !message_ok {
        return Some(format!("error body {body} (want error {code:?})"));
    }
    None
}

/// Asserts `answer` is the error `code` with `status` (see [`error_mismatch`]).
pub fn assert_error(answer: &Answer, status: u16, code: &str) {
    if let Some(wrong) = error_mismatch(answer, status, code) {
        panic!("{wrong}");
    }
}

/// A good event sent by a new client still goes through end to end.
pub async fn still_serving(addr: SocketAddr, upstream: &Upstream, id: &str) {
    assert_eq!(post(addr, "/v1/t", track(id)).await.status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !upstream.saw_message_id(id) {
        assert!(Instant::now() < deadline, "{id} not delivered within 5s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A field of a process's `/proc/<pid>/status` given in kB (`VmRSS`,
/// `VmHWM`), in KiB; 0 when it cannot be read.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
