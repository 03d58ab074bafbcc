//! What one connection holds outside the requests the service is reading,
//! charged to its listener's in-flight budget ([`Inflight`]), and whether
//! it still makes progress: [`server`](super::server) serves every
//! connection through these.
//!
//! - **A request head on its way** ([`Metered`], around the connection's
//!   IO): the bytes read while the connection has no request in the
//!   service are a head still arriving (hyper holds them in its read
//!   buffer, up to [`HARD_BYTES_FACTOR`](super::server::HARD_BYTES_FACTOR)
//!   times `max_header_bytes`, for up to `header_read_timeout`). Those
//!   beyond the first [`FREE_HEAD`] are charged as read, and given back
//!   when the head reaches the service (which charges the parsed head
//!   itself) or the connection ends. A read that does not fit fails: the
//!   connection closes, counted in the budget's refusals.
//! - **An answer** ([`Ticket`], then [`Owed`] around the answer's body):
//!   each request holds [`ANSWER_COST`] from the moment it reaches the
//!   service until its answer is written or abandoned, plus the body's
//!   known size beyond [`ANSWER_ALLOWANCE`]. Written: hyper has dropped the
//!   body and the connection has written at least as many bytes as all its
//!   answers' bodies so far (hyper's HTTP/2 side takes a whole chunk as
//!   soon as the client's window has one byte of room, and buffers what
//!   the window does not let through). An HTTP/2 client that opens streams
//!   and never reads their answers (a zero or tiny flow-control window)
//!   holds that much per stream.
//! - **A refusal**: a request that finds no room is marked [`Overdrawn`],
//!   and the service answers it 503 `overloaded` (uncharged). While its
//!   connection still owes the client such an answer, another HTTP/2
//!   request that finds no room is reset with `REFUSED_STREAM` instead
//!   ([`Refusal::Reset`]), which holds nothing: refusals hold at most one
//!   small answer per connection outside the budget. But hyper holds every
//!   stream a client opened (its state, its decoded head) until it is
//!   done, charged or not: a connection whose streams were reset
//!   [`MAX_RESETS`] times is closed at once ([`Conn::abort`]), so that a
//!   client opening streams past a full budget holds that only briefly.
//! - **Progress** (for `server.send_timeout`): an answer's body yielding a
//!   frame, or, when no body is waiting but answers are not all written
//!   or the socket refused a byte, a byte written. [`Conn::stall_mark`]
//!   says what to watch.
//!
//! Known slack: every byte written counts towards "written", an answer's
//! headers and framing and the connection's PING answers too, so a client
//! that keeps pinging while granting no window is released a little early
//! (a byte of charge per byte it makes privgate write) and is not stalled.
//!
//! Hot path: a read costs one load (and, for a head, the budget's
//! update), a write two stores and a load; an answer, its budget update
//! and a few counters of its own connection. No lock, no allocation.

use super::inflight::Inflight;
use super::server::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// What hyper holds for one request besides its body, measured: about
/// 1.9 KB per HTTP/2 stream whose answer waits for a zero flow-control
/// window (the stream's state, the request's head and the answer's
/// headers): 1,000 connections of 100 such streams, a release build, 223
/// MB of RSS against 34 MB for the connections alone.
pub(crate) const STREAM_OVERHEAD: usize = 2 << 10;

/// What each request holds of the budget from the moment it reaches the
/// service until its answer is done: the per-stream overhead and room for
/// a small answer.
pub(crate) const ANSWER_COST: usize = STREAM_OVERHEAD + ANSWER_ALLOWANCE;

/// What of an answer's body [`ANSWER_COST`] already covers; a larger
/// body's known size beyond it is charged too (even past the limit: the
/// answer is made).
pub(crate) const ANSWER_ALLOWANCE: usize = 4 << 10;

/// What of a head on its way is not charged: hyper's first read buffer
/// (8 KiB asked, 16 KiB read at once observed), which every connection
/// that sent a byte holds anyway, bounded by `max_connections`. A head
/// within it reaches the service, whose answer to a full budget is a 503
/// rather than a closed connection.
pub(crate) const FREE_HEAD: usize = 16 << 10;

/// A request the in-flight budget had no room for: the service must
/// answer it 503 `overloaded` (it is in the request's extensions).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Overdrawn;

/// Streams of one connection reset for want of room before it is closed.
/// A client opening many streams past a full budget at once holds a
/// connection's worth of hyper's stream state, uncharged, until then;
/// measured: ~1 KB per stream.
pub(crate) const MAX_RESETS: usize = 16;

/// How a request that found no room in the budget is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The service answers it ([`Overdrawn`]).
    Answer,
    /// Its HTTP/2 stream is reset (`REFUSED_STREAM`): the connection
    /// already owes its client a refusal.
    Reset,
}

/// One connection's state, shared by its IO, its requests' answers and
/// the task serving it.
pub(crate) struct Conn {
    budget: Arc<Inflight>,
    started: Instant,
    /// Requests in the service or with their answer's body not yet done.
    open: AtomicUsize,
    /// Answers' bodies returned by the service and not yet done.
    owed: AtomicUsize,
    /// Refused requests not yet done (their 503 not yet written).
    refusals: AtomicUsize,
    /// Frames the answers' bodies yielded, and their ends.
    answered: AtomicU64,
    /// Bytes written to the socket.
    written: AtomicU64,
    /// Bytes the answers' bodies handed to hyper: all are written only
    /// once `written` is at least this (headers and framing come on top).
    body_bytes: AtomicU64,
    /// Answers whose bodies are done but whose bytes may not all be
    /// written yet (hyper's HTTP/2 side buffers a chunk past the client's
    /// window), what they hold, and the refusals among them: given back
    /// once `written` reaches `unsent_until` (`body_bytes` when the last
    /// was done), or the connection ends.
    unsent: AtomicUsize,
    unsent_bytes: AtomicUsize,
    unsent_refusals: AtomicUsize,
    unsent_until: AtomicU64,
    /// The IO is dropped: nothing more is written.
    closed: AtomicBool,
    /// Streams reset for want of room (see [`MAX_RESETS`]).
    resets: AtomicUsize,
    /// Wakes the serving task to close the connection at once.
    pub(crate) abort: Notify,
    /// The last write found the socket full.
    blocked: AtomicBool,
    /// The bytes of the head on its way read so far.
    head_read: AtomicUsize,
    /// What of them is charged (beyond [`FREE_HEAD`]), not yet given back.
    head: AtomicUsize,
    /// When the last request finished, in ms since `started`.
    last_ms: AtomicU64,
}

impl Conn {
    /// A new connection, charging to `budget`.
    pub(crate) fn new(budget: Arc<Inflight>) -> Arc<Conn> {
        Arc::new(Conn {
            budget,
            started: Instant::now(),
            open: AtomicUsize::new(0),
            owed: AtomicUsize::new(0),
            refusals: AtomicUsize::new(0),
            answered: AtomicU64::new(0),
            written: AtomicU64::new(0),
            body_bytes: AtomicU64::new(0),
            unsent: AtomicUsize::new(0),
            unsent_bytes: AtomicUsize::new(0),
            unsent_refusals: AtomicUsize::new(0),
            unsent_until: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            resets: AtomicUsize::new(0),
            abort: Notify::new(),
            blocked: AtomicBool::new(false),
            head_read: AtomicUsize::new(0),
            head: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        })
    }

    /// How long the connection has had no request in flight (zero while
    /// one is, its answer included).
    pub(crate) fn idle_for(&self) -> Duration {
        if self.open.load(Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// What progress to watch, if the connection owes its client
    /// something: the answers' frames while a body is waiting, else the
    /// bytes written while answers are not all written or the socket
    /// refuses them. `None`: nothing owed.
    pub(crate) fn stall_mark(&self) -> Option<(bool, u64)> {
        if self.owed.load(Relaxed) > 0 {
            Some((true, self.answered.load(Relaxed)))
        } else if self.unsent.load(Relaxed) > 0 || self.blocked.load(Relaxed) {
            Some((false, self.written.load(Relaxed)))
        } else {
            None
        }
    }

    /// Charges `read` more bytes of a head on its way, beyond the first
    /// [`FREE_HEAD`]; false if they do not fit.
    fn charge_head(&self, read: usize) -> bool {
        let total = self.head_read.fetch_add(read, Relaxed) + read;
        let beyond = total.saturating_sub(FREE_HEAD);
        let more = beyond.saturating_sub(self.head.load(Relaxed));
        if more == 0 {
            return true;
        }
        if self.budget.take(more).is_err() {
            return false;
        }
        self.head.fetch_add(more, Relaxed);
        true
    }

    /// An answer whose body is done, holding `bytes` (and a refusal, if
    /// it is one) until `until` bytes are written.
    fn defer(&self, bytes: usize, refusal: bool, until: u64) {
        self.unsent_until.fetch_max(until, SeqCst);
        if refusal {
            self.unsent_refusals.fetch_add(1, SeqCst);
        }
        self.unsent_bytes.fetch_add(bytes, SeqCst);
        self.unsent.fetch_add(1, SeqCst);
        // Written already, or never will be.
        if self.closed.load(SeqCst) || self.written.load(SeqCst) >= self.unsent_until.load(SeqCst) {
            self.release_unsent();
        }
    }

    /// Gives back what answers done and written held.
    fn release_unsent(&self) {
        self.unsent.swap(0, SeqCst);
        self.unsent_refusals.swap(0, SeqCst);
        let bytes = self.unsent_bytes.swap(0, SeqCst);
        if bytes > 0 {
            self.budget.give(bytes);
        }
    }

    /// Refusals the client has not been sent yet.
    fn refusals_owed(&self) -> usize {
        self.refusals.load(Relaxed) + self.unsent_refusals.load(Relaxed)
    }

    fn release_head(&self) {
        self.head_read.store(0, Relaxed);
        let head = self.head.swap(0, Relaxed);
        if head > 0 {
            self.budget.give(head);
        }
    }
}

/// The connection's IO, charging head bytes and counting written ones
/// (see the module doc).
pub(crate) struct Metered<I> {
    io: I,
    conn: Arc<Conn>,
    written: u64,
}

impl<I> Metered<I> {
    /// `io`, metered for `conn`.
    pub(crate) fn new(io: I, conn: Arc<Conn>) -> Metered<I> {
        Metered {
            io,
            conn,
            written: 0,
        }
    }

    fn wrote(&mut self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(n)) => {
                self.written += *n as u64;
                self.conn.written.store(self.written, SeqCst);
                self.conn.blocked.store(false, Relaxed);
                if self.conn.unsent.load(Relaxed) > 0
                    && self.written >= self.conn.unsent_until.load(SeqCst)
                {
                    self.conn.release_unsent();
                }
            }
            Poll::Pending => self.conn.blocked.store(true, Relaxed),
            Poll::Ready(Err(_)) => {}
        }
    }
}

impl<I> Drop for Metered<I> {
    fn drop(&mut self) {
        self.conn.release_head();
        self.conn.closed.store(true, SeqCst);
        self.conn.release_unsent();
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Metered<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        // Bytes read while a request is in the service are its body (which
        // ingest charges), or pipelined behind it.
        if read > 0 && this.conn.open.load(Relaxed) == 0 && !this.conn.charge_head(read) {
            return Poll::Ready(Err(io::Error::other(
                "a request head does not fit the in-flight budget",
            )));
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Metered<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_flush(cx);
        if result.is_pending() {
            this.conn.blocked.store(true, Relaxed);
        }
        result
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// What one request holds from the moment it reaches the service until
/// its answer is done or abandoned.
pub(crate) struct Ticket {
    conn: Arc<Conn>,
    /// Bytes held in the budget.
    held: usize,
    /// A refusal: nothing held, counted in [`Conn::refusals`].
    refused: bool,
    /// Its answer's body is out (counted in [`Conn::owed`]).
    owed: bool,
}

impl Ticket {
    /// A request reaching the service on `conn`: its head is no longer
    /// the connection's to hold, and its answer needs `cost` bytes. With
    /// the ticket, how to refuse the request if the budget had no room
    /// (`http2`: whether its stream can be reset).
    pub(crate) fn new(conn: &Arc<Conn>, cost: usize, http2: bool) -> (Ticket, Option<Refusal>) {
        conn.open.fetch_add(1, Relaxed);
        conn.release_head();
        let refused = conn.budget.take(cost).is_err();
        let refusal = match refused {
            false => None,
            true if conn.refusals_owed() > 0 && http2 => Some(Refusal::Reset),
            true => Some(Refusal::Answer),
        };
        if refused {
            conn.refusals.fetch_add(1, Relaxed);
        }
        if refusal == Some(Refusal::Reset) && conn.resets.fetch_add(1, Relaxed) + 1 >= MAX_RESETS {
            conn.abort.notify_one();
        }
        let ticket = Ticket {
            conn: conn.clone(),
            held: if refused { 0 } else { cost },
            refused,
            owed: false,
        };
        (ticket, refusal)
    }

    /// The answer's body, holding its known size beyond
    /// [`ANSWER_ALLOWANCE`] (unless a refusal) until it is done.
    pub(crate) fn owe(mut self, body: Body) -> Owed {
        let hint = http_body::Body::size_hint(&body);
        let size = hint.exact().unwrap_or(hint.lower()) as usize;
        let beyond = size.saturating_sub(ANSWER_ALLOWANCE);
        if beyond > 0 && !self.refused {
            self.conn.budget.hold(beyond);
            self.held += beyond;
        }
        self.conn.owed.fetch_add(1, Relaxed);
        self.owed = true;
        Owed { body, ticket: self }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let conn = &self.conn;
        if self.owed {
            // Done with its body; held until the connection has written
            // as many bytes as all its answers' bodies so far.
            conn.defer(self.held, self.refused, conn.body_bytes.load(SeqCst));
            conn.owed.fetch_sub(1, Relaxed);
        } else if self.held > 0 {
            conn.budget.give(self.held);
        }
        if self.refused {
            conn.refusals.fetch_sub(1, Relaxed);
        }
        conn.last_ms
            .store(conn.started.elapsed().as_millis() as u64, Relaxed);
        conn.open.fetch_sub(1, Relaxed);
    }
}

/// An answer's body, holding its [`Ticket`] until it is done or dropped,
/// and counting its frames as the connection's progress.
pub(crate) struct Owed {
    body: Body,
    ticket: Ticket,
}

impl http_body::Body for Owed {
    type Data = Bytes;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.body).poll_frame(cx));
        if let Some(Ok(Some(data))) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
            let conn = &this.ticket.conn;
            conn.body_bytes.fetch_add(data.len() as u64, SeqCst);
        }
        this.ticket.conn.answered.fetch_add(1, Relaxed);
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use crate::tracker_http::full;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_head_on_its_way_is_charged_beyond_the_free_part_until_served() {
        let metrics = Metrics::new();
        let budget = Inflight::new(100_000, &metrics);
        let conn = Conn::new(budget.clone());
        let (client, server) = tokio::io::duplex(1 << 20);
        let mut io = Metered::new(server, conn.clone());
        let mut client = client;
        let mut buf = vec![0; 1 << 20];
        client
            .write_all(&vec![b'a'; FREE_HEAD + 1_000])
            .await
            .unwrap();
        let mut read = 0;
        while read < FREE_HEAD + 1_000 {
            read += io.read(&mut buf).await.unwrap();
        }
        assert_eq!(budget.used(), 1_000);
        // The head reaches the service: the service charges it itself.
        let (ticket, refusal) = Ticket::new(&conn, ANSWER_COST, false);
        assert_eq!((budget.used(), refusal), (ANSWER_COST, None));
        drop(ticket);
        assert_eq!(budget.used(), 0);
        // A head that does not fit fails the read, counted.
        client
            .write_all(&vec![b'a'; FREE_HEAD + 100_001])
            .await
            .unwrap();
        let mut failed = false;
        for _ in 0..100 {
            if io.read(&mut buf).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a head over the budget was read");
        assert_eq!(metrics.inflight_refused.get(), 1);
        // The connection ends: what its head held is given back.
        drop(io);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn answers_hold_their_cost_until_done_and_refusals_are_reset_past_one() {
        let metrics = Metrics::new();
        let budget = Inflight::new(3 * ANSWER_COST, &metrics);
        let conn = Conn::new(budget.clone());
        // A large answer holds its size beyond the allowance, even past
        // the limit.
        let (big, _) = Ticket::new(&conn, ANSWER_COST, true);
        let big = big.owe(full(vec![0; ANSWER_ALLOWANCE + 10 * ANSWER_COST].into()));
        assert_eq!(budget.used(), 11 * ANSWER_COST);
        assert_eq!(conn.stall_mark(), Some((true, 0)));
        // Past the limit: one refusal answered, then resets, then closed.
        let (answer, refusal) = Ticket::new(&conn, ANSWER_COST, true);
        assert_eq!(refusal, Some(Refusal::Answer));
        for _ in 0..MAX_RESETS {
            let (reset, refusal) = Ticket::new(&conn, ANSWER_COST, true);
            assert_eq!(refusal, Some(Refusal::Reset));
            drop(reset);
        }
        let aborted = tokio::time::timeout(Duration::from_secs(1), conn.abort.notified());
        aborted.await.expect("closed after MAX_RESETS resets");
        // Over HTTP/1.1 a refusal is always answered.
        let h1 = Conn::new(budget.clone());
        let (_first, _) = Ticket::new(&h1, ANSWER_COST, false);
        assert_eq!(
            Ticket::new(&h1, ANSWER_COST, false).1,
            Some(Refusal::Answer)
        );
        drop((big, answer));
        assert_eq!(budget.used(), 0);
        assert!(conn.stall_mark().is_none() && conn.idle_for() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn an_answer_done_is_held_until_its_bytes_are_written() {
        use http_body_util::BodyExt;
        let metrics = Metrics::new();
        let budget = Inflight::new(1 << 20, &metrics);
        let conn = Conn::new(budget.clone());
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let mut io = Metered::new(server, conn.clone());
        // hyper takes the body's one frame and drops it, before writing.
        let (ticket, _) = Ticket::new(&conn, ANSWER_COST, true);
        let mut body = ticket.owe(full(vec![b'x'; 3_000].into()));
        assert!(body.frame().await.unwrap().unwrap().is_data());
        drop(body);
        assert_eq!(budget.used(), ANSWER_COST);
        assert!(conn.stall_mark().is_some());
        // Written in part (a client granting a small window): still held.
        io.write_all(&[b'x'; 2_000]).await.unwrap();
        assert_eq!(budget.used(), ANSWER_COST);
        io.write_all(&[b'x'; 1_000]).await.unwrap();
        assert_eq!(budget.used(), 0);
        assert!(conn.stall_mark().is_none());
        // An answer done on a connection already closed is given back.
        let (ticket, _) = Ticket::new(&conn, ANSWER_COST, true);
        let mut body = ticket.owe(full(vec![b'x'; 3_000].into()));
        assert!(body.frame().await.unwrap().unwrap().is_data());
        drop(io);
        drop(body);
        assert_eq!(budget.used(), 0);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 3_000);
    }
}
