//! The accept loop shared by the tracker-facing and admin listeners: HTTP/1.1
//! and cleartext HTTP/2 on one port (or TLS, with the protocol ALPN chose),
//! a deadline for request heads, closing of idle keep-alive connections, and
//! a graceful drain on shutdown (stop accepting, let in-flight requests
//! finish, close connections).
//!
//! The TLS handshake runs in the connection's own task, never in the accept
//! loop, and within `header_read_timeout`: a client that stalls it holds one
//! task, for a bounded time, and blocks nobody.
//!
//! A listener serves a tower [`Service`]; each request carries its
//! connection's peer address as a [`ClientAddr`] extension.
//!
//! What a connection holds outside the requests the service reads (a head
//! on its way, answers not yet sent) is charged to the listener's budget
//! ([`ConnLimits::budget`], see [`super::conn`]); a request its budget has
//! no room for carries [`Overdrawn`], which the service answers 503 (or,
//! see there, its HTTP/2 stream is reset). A connection that owes its
//! client an answer and makes no progress sending it for `send_timeout` is
//! dropped, not drained: a graceful HTTP/2 shutdown would wait for the
//! streams the client never reads. For the same reason the graceful close
//! of an idle connection not finished within `send_timeout` is forced.
//!
//! Request heads: hyper itself refuses heads over [`HARD_HEADERS_FACTOR`]
//! times `max_headers` or [`HARD_BYTES_FACTOR`] times `max_header_bytes`
//! (431, or 400 for a head it cannot parse, both with an empty body: hyper
//! writes those answers itself and offers no hook). Heads between the
//! configured limits and those ceilings reach the service, which answers
//! with its own JSON error (see [`HeadLimits`]). The byte ceiling is also
//! each connection's largest read buffer, hence the smaller factor; more
//! header slots only cost hyper a larger, uninitialized parse array.

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use prometheus::{IntCounter, IntGauge};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Service, ServiceExt};

use super::conn::{Conn, Metered, Overdrawn, Refusal, Ticket, ANSWER_COST};
use super::error::IngestError;
use super::inflight::Inflight;

pub(crate) use crate::tracker_http::Body;

/// The address of the client a request came from (the TCP peer), in every
/// request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub SocketAddr);

/// How many times `max_headers` hyper allows before it refuses a head
/// itself (with an empty body).
pub(crate) const HARD_HEADERS_FACTOR: usize = 4;

/// How many times `max_header_bytes` hyper allows before it refuses a head
/// itself (with an empty body).
pub(crate) const HARD_BYTES_FACTOR: usize = 2;

/// The configured limits of a request head, which services check to answer
/// with their own error (hyper refuses only beyond [`HARD_HEADERS_FACTOR`]
/// and [`HARD_BYTES_FACTOR`] times these).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeadLimits {
    /// Most header fields.
    pub max_headers: usize,
    /// Most bytes in the request line and header fields.
    pub max_bytes: usize,
}

impl HeadLimits {
    /// Refuses `request` if its head is over the limits. The size is counted
    /// as on the wire (`name: value\r\n` per field, plus the request line),
    /// give or take the whitespace a client chose.
    pub(crate) fn check<B>(&self, request: &Request<B>) -> Result<(), IngestError> {
        if request.headers().len() > self.max_headers || head_bytes(request) > self.max_bytes {
            return Err(IngestError::HeadersTooLarge);
        }
        Ok(())
    }
}

/// The size of `request`'s head as on the wire (`name: value\r\n` per
/// field, plus the request line), give or take the whitespace a client
/// chose.
pub(crate) fn head_bytes<B>(request: &Request<B>) -> usize {
    let line = request.method().as_str().len()
        + request
            .uri()
            .path_and_query()
            .map_or(1, |p| p.as_str().len())
        + " HTTP/1.1\r\n ".len();
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line + fields
}

/// A handler a reload can replace while serving: each request is
/// answered by the handler current when it arrived, and finishes with it.
pub(crate) struct Swappable<H> {
    current: std::sync::RwLock<Arc<H>>,
}

impl<H> Swappable<H> {
    /// Serves with `handler` until [`Swappable::replace`].
    pub(crate) fn new(handler: H) -> Swappable<H> {
        Swappable {
            current: std::sync::RwLock::new(Arc::new(handler)),
        }
    }

    /// Requests arriving from now on go to `handler`.
    pub(crate) fn replace(&self, handler: H) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(handler);
    }

    /// The handler requests arriving now go to.
    pub(crate) fn get(&self) -> Arc<H> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Connection-level limits, and the budget a listener's connections
/// charge (see [`super::conn`]).
#[derive(Clone)]
pub(crate) struct ConnLimits {
    /// Deadline for a request head.
    pub header_read_timeout: Duration,
    /// Close a connection with nothing in flight after this long.
    pub idle_timeout: Duration,
    /// The configured head limits; hyper's own are larger (see the module
    /// doc).
    pub head: HeadLimits,
    /// Connections served at once; beyond it, new ones wait in the
    /// listen backlog until one closes.
    pub max_connections: usize,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Close a connection that owes its client an answer and has made no
    /// progress sending it for this long.
    pub send_timeout: Duration,
    /// What heads on their way and answers not yet sent are charged to.
    pub budget: Arc<Inflight>,
}

/// TLS on a listener.
#[derive(Clone)]
pub(crate) struct Tls {
    /// The certificates new connections get (swapped by reloads).
    pub acceptor: crate::tls::Acceptor,
    /// Handshakes not finished within `header_read_timeout`.
    pub timeouts: IntCounter,
    /// Handshakes that failed (untrusted certificate, plaintext, no
    /// common version or cipher suite, ...).
    pub failures: IntCounter,
}

/// The connection builders, one per protocol ALPN can choose.
struct Builders {
    /// No ALPN (plaintext, or a TLS client that offered none): detected
    /// from the first bytes.
    auto: auto::Builder<TokioExecutor>,
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
}

/// Accepts connections until `shutdown` fires, then drains them. Returns when
/// every connection has closed.
pub(crate) async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: ConnLimits,
    shutdown: CancellationToken,
    open: Option<IntGauge>,
    tls: Option<Tls>,
) where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S: Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let hard_bytes = limits.head.max_bytes.saturating_mul(HARD_BYTES_FACTOR);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(limits.head.max_headers.saturating_mul(HARD_HEADERS_FACTOR))
        // hyper's smallest read buffer is 8 KiB.
        .max_buf_size(hard_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(hard_bytes).unwrap_or(u32::MAX))
        // Each stream is a request holding its head at least: fewer than
        // hyper's 200 by default (see docs/config.md).
        .max_concurrent_streams(limits.max_concurrent_streams);
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let builders = Arc::new(Builders {
        h1: builder.clone().http1_only(),
        h2: builder.clone().http2_only(),
        auto: builder,
    });
    let tracker = TaskTracker::new();

    loop {
        // At the connection limit, new connections wait in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let builders = builders.clone();
        let shutdown = shutdown.clone();
        let open = open.clone();
        let tls = tls.clone();
        let limits = limits.clone();
        tracker.spawn(async move {
            if let Some(g) = &open {
                g.inc();
            }
            match tls {
                None => {
                    serve_connection(stream, peer, service, &builders.auto, &limits, shutdown).await
                }
                Some(tls) => {
                    serve_tls(stream, peer, service, &builders, &limits, shutdown, &tls).await
                }
            }
            if let Some(g) = &open {
                g.dec();
            }
            drop(slot);
        });
    }
    drop(listener);
    tracker.close();
    tracker.wait().await;
}

/// Handshakes within the header deadline, then serves the protocol ALPN
/// chose.
async fn serve_tls<S>(
    stream: TcpStream,
    peer: SocketAddr,
    service: S,
    builders: &Builders,
    limits: &ConnLimits,
    shutdown: CancellationToken,
    tls: &Tls,
) where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S: Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    let handshake = tls.acceptor.acceptor().accept(stream);
    let deadline = tokio::time::timeout(limits.header_read_timeout, handshake);
    let outcome = tokio::select! {
        outcome = deadline => outcome,
        () = shutdown.cancelled() => return,
    };
    let stream = match outcome {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tls.failures.inc();
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tls.timeouts.inc();
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let builder = match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => &builders.h2,
        Some(b"http/1.1") => &builders.h1,
        _ => &builders.auto,
    };
    serve_connection(stream, peer, service, builder, limits, shutdown).await;
}

/// Serves HTTP on an established stream (plaintext or TLS).
async fn serve_connection<S, I>(
    stream: I,
    peer: SocketAddr,
    service: S,
    builder: &auto::Builder<TokioExecutor>,
    limits: &ConnLimits,
    shutdown: CancellationToken,
) where
    S: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
    S: Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Conn::new(limits.budget.clone());
    let service = {
        let state = state.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ClientAddr(peer));
            let http2 = request.version() == http::Version::HTTP_2;
            let (ticket, refusal) = Ticket::new(&state, ANSWER_COST, http2);
            if refusal == Some(Refusal::Answer) {
                request.extensions_mut().insert(Overdrawn);
            }
            let service = service.clone();
            async move {
                if refusal == Some(Refusal::Reset) {
                    return Err(h2::Error::from(h2::Reason::REFUSED_STREAM));
                }
                let response = service.oneshot(request).await;
                Ok(response
                    .unwrap_or_else(|never| match never {})
                    .map(|body| ticket.owe(body)))
            }
        })
    };
    let io = TokioIo::new(Metered::new(stream, state.clone()));
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let check_every =
        (limits.idle_timeout.min(limits.send_timeout) / 4).max(Duration::from_millis(50));
    let mut check = tokio::time::interval(check_every);
    // Whether the connection is closing gracefully, and since when if it
    // is for being idle.
    let mut closing = false;
    let mut idle_since: Option<Instant> = None;
    // What the connection owed at the last check, and since when it has
    // made no progress sending it.
    let mut stall = (None, Instant::now());
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            () = state.abort.notified() => {
                tracing::debug!("connection closed: streams it opened past a full budget");
                return;
            }
            _ = check.tick() => {
                // Not a graceful shutdown: one waits for the answers the
                // client does not take. Checked while closing too.
                let mark = state.stall_mark();
                if mark.is_none() || mark != stall.0 {
                    stall = (mark, Instant::now());
                } else if stall.1.elapsed() >= limits.send_timeout {
                    tracing::debug!("connection closed: its answers made no progress");
                    return;
                }
                if !closing && state.idle_for() >= limits.idle_timeout {
                    closing = true;
                    idle_since = Some(Instant::now());
                    conn.as_mut().graceful_shutdown();
                }
                // A graceful close waits for every stream: an idle one
                // not finished within send_timeout is forced (an HTTP/2
                // client keeping streams it does not read). A shutdown
                // has its own deadline.
                if idle_since.is_some_and(|since| since.elapsed() >= limits.send_timeout) {
                    tracing::debug!("connection closed: its graceful close did not finish");
                    return;
                }
            }
        }
    }
}
