//! Cutting batches from one destination's feed (by count, size and age)
//! and dispatching them to its sink, at most `concurrency` at once.
//!
//! From a memory queue, a batch that cannot be delivered is dropped and
//! counted. From a spool, it is kept: a batch is acknowledged to the spool
//! only once the backend took it (or rejected it for good, counted), and
//! until then it is retried, so the spool fills and ingest answers 503
//! rather than lose it. Nothing here looks inside an event, except to ask
//! [`Erasures::covers`] whether it names an erased subject: such an event
//! is skipped when taken from the feed, and a batch built before an erase
//! is filtered again before its next attempt, so after an erase is
//! answered none of its events is sent (an attempt already under way
//! finishes).

use super::queue::Depth;
use super::settings::{BatchConfig, BatchFormat};
use super::{DestMetrics, Sink};
use crate::consent::erasure::Erasures;
use crate::metrics::DropReason;
use crate::protocol::{Framing, Protocol};
use crate::spool::{self, Acks, Pos};
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Where a destination's events come from.
pub(super) enum Feed {
    /// Its memory queue.
    Memory {
        rx: mpsc::UnboundedReceiver<Vec<Bytes>>,
        depth: Arc<Depth>,
    },
    /// Its spool's reader, with the way to acknowledge what was delivered.
    Spool {
        rx: mpsc::Receiver<spool::Chunk>,
        acks: Arc<Acks>,
    },
}

/// The framing of `format`, as its protocol's codec writes a batch (see
/// [`crate::protocol::Codec::framing`]); `api_key` is what an Amplitude or
/// PostHog batch names.
pub(super) fn framing(format: BatchFormat, api_key: Option<&str>) -> Framing {
    let protocol = match format {
        BatchFormat::Segment => Protocol::Segment,
        BatchFormat::Amplitude => Protocol::Amplitude,
        BatchFormat::Posthog => Protocol::Posthog,
        BatchFormat::Snowplow => Protocol::Snowplow,
        BatchFormat::Ndjson => Protocol::Json,
        BatchFormat::Ga4 => Protocol::Ga4,
        BatchFormat::Ga4Mp => Protocol::Ga4Mp,
    };
    protocol.codec().framing(api_key)
}

/// Events of one batch, and once it is dispatched the body they are sent as.
///
/// The events are held as they came (each its own allocation, shared with
/// the feed) until the batch is dispatched; the body is then written once,
/// into one allocation of its exact size, and every attempt sends that
/// same buffer. Building the body as events arrive instead grew a buffer
/// by doubling and copied it again for each attempt: a batch in flight
/// held its bytes up to three times over (issue #21).
pub(super) struct Batch {
    /// The events, in their wire form. Given up once the body is built,
    /// unless erasure marks may ask for the body again without some.
    events: Vec<Bytes>,
    /// How many events the batch holds.
    count: usize,
    /// Bytes of the body so far, without what closes it.
    len: usize,
    /// Bytes of the events as their queue counted them (a memory queue's
    /// room is given back by these).
    queued: usize,
    framing: Framing,
    /// The body, once built.
    body: Option<Bytes>,
    /// From a spool: every record before this position is covered.
    end: Option<Pos>,
    /// With erasure marks: the marks' generation the events were checked
    /// under (the events are then kept, to filter again).
    generation: Option<u64>,
}

impl Batch {
    fn new(s: &Settings) -> Batch {
        Batch {
            events: Vec::new(),
            count: 0,
            len: 0,
            queued: 0,
            framing: s.framing.clone(),
            body: None,
            end: None,
            // Read before any event is checked: a later erase shows as a
            // newer generation at dispatch.
            generation: s.erasures.as_ref().map(|e| e.generation()),
        }
    }

    /// The bytes `event` adds to the body (its framing included).
    fn added(&self, event: &Bytes) -> usize {
        let f = &self.framing;
        let before = if self.count == 0 {
            f.open.len()
        } else {
            f.separator.len()
        };
        before + event.len() + f.terminator.len()
    }

    /// Bytes the body would have with `event` added.
    fn size_with(&self, event: &Bytes) -> usize {
        self.len + self.added(event) + self.framing.close.len()
    }

    /// Adds `event` (its wire form), which its queue counted as `queued`
    /// bytes.
    fn push(&mut self, event: Bytes, queued: usize, pos: Option<Pos>) {
        debug_assert!(self.body.is_none(), "a built batch takes no more events");
        self.len += self.added(&event);
        self.queued += queued;
        self.count += 1;
        self.events.push(event);
        self.end = pos.map(Pos::next);
    }

    /// Writes the body (once, into a buffer from `bodies`), and gives the
    /// events up unless they may be filtered again.
    fn build(&mut self, bodies: &Bodies) {
        if self.body.is_some() || self.count == 0 {
            return;
        }
        let f = &self.framing;
        let mut body = bodies.take(self.len + f.close.len());
        for (i, event) in self.events.iter().enumerate() {
            body.put_slice(if i == 0 { &f.open } else { f.separator });
            body.put_slice(event);
            body.put_slice(f.terminator);
        }
        body.put_slice(f.close);
        debug_assert_eq!(body.len(), self.len + f.close.len());
        self.body = Some(body.freeze());
        if self.generation.is_none() {
            self.events = Vec::new();
        }
    }

    /// The batch again, without the events `erasures` now covers; returns
    /// how many it left out.
    fn refilter(&mut self, erasures: &Erasures) -> usize {
        let Some(generation) = self.generation else {
            return 0;
        };
        let kept = std::mem::take(&mut self.events);
        let mut fresh = Batch {
            events: Vec::with_capacity(kept.len()),
            count: 0,
            len: 0,
            queued: self.queued,
            framing: self.framing.clone(),
            body: None,
            end: self.end,
            generation: Some(generation.max(erasures.generation())),
        };
        let mut skipped = 0;
        for event in kept {
            if erasures.covers(&event) {
                skipped += 1;
            } else {
                // Its room was counted already (`queued` is kept whole).
                fresh.push(event, 0, None);
            }
        }
        fresh.end = self.end;
        *self = fresh;
        skipped
    }

    /// The finished body (built on first use) and its number of events.
    fn body(&mut self, bodies: &Bodies) -> (Bytes, usize) {
        self.build(bodies);
        (self.body.clone().unwrap_or_default(), self.count)
    }

    /// Whether an erase happened since its events were checked.
    fn stale(&self, erasures: Option<&Erasures>) -> bool {
        match (self.generation, erasures) {
            (Some(generation), Some(e)) => e.generation() != generation,
            _ => false,
        }
    }
}

/// What a destination's batcher works with; a reload replaces it as a
/// whole (see [`super::lane`]).
pub(super) struct Settings {
    pub(super) batch: BatchConfig,
    pub(super) framing: Framing,
    pub(super) concurrency: Arc<super::limiter::Limiter>,
    pub(super) sink: Arc<Sink>,
    pub(super) metrics: DestMetrics,
    /// Subjects whose waiting events are never sent.
    pub(super) erasures: Option<Arc<Erasures>>,
    /// Buffers of bodies sent, for the next batches.
    pub(super) bodies: Arc<Bodies>,
}

/// Buffers of batch bodies already sent, written into again by the next
/// batches rather than freed: a destination sends about its batches'
/// bytes per second in bodies of about one size (~850 KB in the batch load
/// test, hundreds a second), and freeing each to allocate the next had
/// the allocator give the pages back and fault them in again (issue #21).
/// It keeps buffers of at most [`Bodies::KEEP_BYTES`] in all, so what it
/// holds when the destination is idle is bounded whatever the batch size.
/// The pool never raises the peak: a buffer is only made when none waits,
/// that is when every one is in flight. A body still referenced after its
/// delivery (an attempt that timed out) is not taken back.
pub(super) struct Bodies {
    free: std::sync::Mutex<Vec<BytesMut>>,
}

impl Bodies {
    /// Capacity kept at most, in buffers waiting for a batch: with two
    /// buffers (~850 KB each under the batch load test, where the adaptive
    /// limit has several batches in flight) most bodies were made afresh
    /// and ~0.13 page faults per event went to writing them; with room for
    /// six, ~0.02.
    const KEEP_BYTES: usize = 6 << 20;

    /// Capacities are rounded up to this, so that a buffer serves batches
    /// a little larger than the one it was made for.
    const ROUND: usize = 64 << 10;

    pub(super) fn new() -> Bodies {
        Bodies {
            free: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// An empty buffer of at least `capacity` bytes.
    fn take(&self, capacity: usize) -> BytesMut {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        match free.iter().position(|b| b.capacity() >= capacity) {
            Some(at) => free.swap_remove(at),
            None => {
                drop(free);
                BytesMut::with_capacity(capacity.next_multiple_of(Self::ROUND))
            }
        }
    }

    /// Takes `body`'s buffer back, if nothing else holds it.
    fn give(&self, body: Bytes) {
        let Ok(mut buf) = body.try_into_mut() else {
            return;
        };
        buf.clear();
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let kept: usize = free.iter().map(BytesMut::capacity).sum();
        if kept + buf.capacity() <= Self::KEEP_BYTES {
            free.push(buf);
        }
    }
}

/// Cuts batches from one destination's feed and dispatches them.
pub(super) struct Batcher;

/// How a dispatched batch is settled.
#[derive(Clone)]
enum Settle {
    /// Memory: release its room in the queue; undeliverable is dropped.
    Release(Arc<Depth>),
    /// Spool: acknowledge it once done; undeliverable is kept and retried.
    Ack(Arc<Acks>),
}

impl Batcher {
    pub(super) async fn run(
        mut settings: watch::Receiver<Arc<Settings>>,
        feed: Feed,
        mut close: watch::Receiver<bool>,
    ) {
        let (mut rx, settle) = match feed {
            Feed::Memory { rx, depth } => (Rx::Memory(rx), Settle::Release(depth)),
            Feed::Spool { rx, acks } => (Rx::Spool(rx), Settle::Ack(acks)),
        };
        let mut s = settings.borrow_and_update().clone();
        let mut batch = Batch::new(&s);
        // One timer, re-armed when a batch starts: no timer per event.
        let linger = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(linger);
        let mut armed = false;
        let mut inflight = JoinSet::new();
        let mut reloadable = true;
        // Closed (or its sender gone): the branch is not polled again, or a
        // spool's batcher, whose feed `close` does not end, would spin on it.
        let mut closed = false;
        // From a spool: every record before this is in a batch or a ticket.
        let mut covered: Option<Pos> = None;
        loop {
            let chunk = tokio::select! {
                biased;
                msg = rx.recv() => match msg {
                    Some(chunk) => chunk,
                    None => break,
                },
                () = &mut linger, if armed => {
                    armed = false;
                    let full = std::mem::replace(&mut batch, Batch::new(&s));
                    dispatch(&s, full, &settle, &mut inflight).await;
                    continue;
                }
                changed = settings.changed(), if reloadable => {
                    reloadable = changed.is_ok();
                    if reloadable {
                        // The batch so far goes out as its settings said.
                        let full = std::mem::replace(&mut batch, Batch::new(&s));
                        dispatch(&s, full, &settle, &mut inflight).await;
                        armed = false;
                        s = settings.borrow_and_update().clone();
                        batch = Batch::new(&s);
                    }
                    continue;
                }
                changed = close.changed(), if !closed => {
                    // Stop taking new events; what is already queued drains
                    // below. (A spool's reader stops by itself once closed.)
                    if changed.is_err() || *close.borrow() {
                        rx.close();
                        closed = true;
                    }
                    continue;
                }
            };
            for i in 0..chunk.len() {
                let (pos, event) = chunk.get(i);
                if s.erasures.as_ref().is_some_and(|e| e.covers(event)) {
                    s.metrics.erased.inc();
                    skip(pos, event.len(), &mut batch, &settle, &mut inflight);
                    continue;
                }
                let queued = event.len();
                let event = s.framing.wire(event).into_owned();
                if batch.count > 0 && batch.size_with(&event) > s.batch.max_bytes {
                    let full = std::mem::replace(&mut batch, Batch::new(&s));
                    dispatch(&s, full, &settle, &mut inflight).await;
                    armed = false;
                }
                if batch.count == 0 {
                    linger.as_mut().reset(Instant::now() + s.batch.max_wait);
                    armed = true;
                }
                batch.push(event, queued, pos);
                if batch.count >= s.batch.max_events {
                    let full = std::mem::replace(&mut batch, Batch::new(&s));
                    dispatch(&s, full, &settle, &mut inflight).await;
                    armed = false;
                }
            }
            if let (Chunk::Spool(chunk), Settle::Ack(acks)) = (&chunk, &settle) {
                if let Some((last, _)) = chunk.records.last() {
                    covered = Some(last.next());
                }
                // Records the reader passed over after the last one it fed
                // go with the batch so far, or are acknowledged now.
                if covered.is_none_or(|c| c < chunk.end) {
                    if batch.count > 0 {
                        batch.end = Some(chunk.end);
                    } else {
                        let ticket = acks.begin(chunk.end);
                        let acks = acks.clone();
                        inflight.spawn(async move {
                            let _ = tokio::task::spawn_blocking(move || acks.done(ticket)).await;
                        });
                    }
                    covered = Some(chunk.end);
                }
            }
            // Reap finished deliveries so the set does not grow.
            while inflight.try_join_next().is_some() {}
        }
        dispatch(&s, batch, &settle, &mut inflight).await;
        while inflight.join_next().await.is_some() {}
    }
}

/// Settles an event skipped for an erasure: from a spool, it goes with the
/// batch so far or is acknowledged now; from memory, its room is released.
fn skip(
    pos: Option<Pos>,
    bytes: usize,
    batch: &mut Batch,
    settle: &Settle,
    inflight: &mut JoinSet<()>,
) {
    match (settle, pos) {
        (Settle::Ack(_), Some(pos)) if batch.count > 0 => batch.end = Some(pos.next()),
        (Settle::Ack(acks), Some(pos)) => {
            let ticket = acks.begin(pos.next());
            let acks = acks.clone();
            inflight.spawn(async move {
                let _ = tokio::task::spawn_blocking(move || acks.done(ticket)).await;
            });
        }
        (Settle::Release(depth), _) => depth.release(1, bytes),
        (Settle::Ack(_), None) => {}
    }
}

async fn dispatch(s: &Settings, batch: Batch, settle: &Settle, inflight: &mut JoinSet<()>) {
    if batch.count == 0 {
        return;
    }
    // Waiting here holds the batcher back while the backend is slow; the
    // queue bound then pushes back on ingest.
    let permit = s.concurrency.acquire().await;
    let ticket = match (settle, batch.end) {
        (Settle::Ack(acks), Some(end)) => Some(acks.begin(end)),
        _ => None,
    };
    let sink = s.sink.clone();
    let metrics = s.metrics.clone();
    let settle = settle.clone();
    let erasures = s.erasures.clone();
    let bodies = s.bodies.clone();
    let mut batch = batch;
    inflight.spawn(async move {
        let (taken, queued) = (batch.count, batch.queued);
        metrics.batch_size.observe(taken as f64);
        loop {
            // Filtered again after an erase, before every attempt.
            if let Some(e) = erasures.as_deref().filter(|e| batch.stale(Some(e))) {
                metrics.erased.inc_by(batch.refilter(e) as u64);
            }
            let (body, events) = batch.body(&bodies);
            if events == 0 {
                break;
            }
            let erasures = erasures.as_deref();
            let fresh = || !batch.stale(erasures);
            match sink.deliver(body, &fresh).await {
                Ok(()) => metrics.forwarded.inc_by(events as u64),
                // An erase came while it was retried: filter and go on.
                Err(_) if batch.stale(erasures) => continue,
                // Kept in the spool: try again after a pause.
                Err(DropReason::RetriesExhausted) if matches!(settle, Settle::Ack(_)) => {
                    tracing::warn!(destination = %metrics.name, events, "batch not delivered yet; it stays in the spool and is retried");
                    tokio::time::sleep(sink.pause()).await;
                    continue;
                }
                Err(reason) => {
                    metrics.dropped(reason, events);
                    tracing::warn!(destination = %metrics.name, events, reason = reason.as_str(), "batch not delivered");
                }
            }
            break;
        }
        // Sent (or given up): its buffer serves a next batch.
        if let Some(body) = batch.body.take() {
            bodies.give(body);
        }
        match (settle, ticket) {
            (Settle::Release(depth), _) => depth.release(taken, queued),
            (Settle::Ack(acks), Some(ticket)) => {
                // Acknowledging may delete segment files.
                let _ = tokio::task::spawn_blocking(move || acks.done(ticket)).await;
            }
            (Settle::Ack(_), None) => {}
        }
        drop(permit);
    });
}

/// The receiving end of a [`Feed`].
enum Rx {
    Memory(mpsc::UnboundedReceiver<Vec<Bytes>>),
    Spool(mpsc::Receiver<spool::Chunk>),
}

/// Events as a feed hands them over: from a spool, with their positions.
enum Chunk {
    Memory(Vec<Bytes>),
    Spool(spool::Chunk),
}

impl Rx {
    async fn recv(&mut self) -> Option<Chunk> {
        match self {
            Rx::Memory(rx) => rx.recv().await.map(Chunk::Memory),
            Rx::Spool(rx) => rx.recv().await.map(Chunk::Spool),
        }
    }

    /// A memory queue stops taking events (a spool's reader stops by itself).
    fn close(&mut self) {
        if let Rx::Memory(rx) = self {
            rx.close();
        }
    }
}

impl Chunk {
    fn len(&self) -> usize {
        match self {
            Chunk::Memory(events) => events.len(),
            Chunk::Spool(chunk) => chunk.records.len(),
        }
    }

    fn get(&self, i: usize) -> (Option<Pos>, &Bytes) {
        match self {
            Chunk::Memory(events) => (None, &events[i]),
            Chunk::Spool(chunk) => (Some(chunk.records[i].0), &chunk.records[i].1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_body_is_written_into_again_and_at_most_a_few_are_kept() {
        let bodies = Bodies::new();
        let mut buf = bodies.take(100_000);
        assert!(buf.capacity() >= 100_000);
        buf.put_slice(&[b'x'; 100_000]);
        let body = buf.freeze();
        let ptr = body.as_ptr();
        bodies.give(body);
        // The next batch, a little larger, writes into the same buffer.
        let again = bodies.take(100_100);
        assert_eq!((again.as_ptr(), again.len()), (ptr, 0));
        // A body still held elsewhere (an attempt not finished) stays there.
        let mut held = again;
        held.put_slice(b"{}");
        let body = held.freeze();
        let elsewhere = body.clone();
        bodies.give(body);
        assert!(bodies.free.lock().unwrap().is_empty());
        drop(elsewhere);
        // At most KEEP_BYTES of buffers wait for a batch.
        let each = Bodies::ROUND;
        let room = Bodies::KEEP_BYTES / each;
        for _ in 0..room + 3 {
            let mut buf = bodies.take(10);
            buf.put_u8(b'x');
            bodies.give(buf.freeze());
            let mut other = BytesMut::with_capacity(each);
            other.put_u8(b'y');
            bodies.give(other.freeze());
        }
        let free = bodies.free.lock().unwrap();
        assert_eq!(free.len(), room);
        assert!(free.iter().map(BytesMut::capacity).sum::<usize>() <= Bodies::KEEP_BYTES);
    }
}
