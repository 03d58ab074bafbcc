//! The ingest side of delivery: for each destination, where accepted
//! events go (a bounded memory queue, or the durable spool) and the room
//! check that turns a full destination into a 503 before anything of a
//! request is accepted.
//!
//! A memory queue's bounds count events, and the bytes they hold, from
//! the moment ingest reserves room until the batch holding them is
//! delivered or given up, so the depth gauge and the bounds cover
//! in-flight retries too. The byte bound is what `queue_max_events`
//! events make in full batches ([`super::settings::queue_max_bytes`]): a
//! count alone let a queue of large events hold gigabytes. A spool is
//! bounded by its bytes on disk.

use crate::spool::{Commit, Hold, Spool};
use bytes::Bytes;
use prometheus::{IntCounter, IntGauge};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The sending side of every destination's queue; cheap to share.
#[derive(Clone)]
pub struct Queues {
    pub(super) queues: Arc<[Queue]>,
}

#[derive(Clone)]
pub(super) struct Queue {
    pub(super) name: Arc<str>,
    pub(super) intake: Intake,
    pub(super) backpressure: IntCounter,
}

/// Where a destination's accepted events go.
#[derive(Clone)]
pub(super) enum Intake {
    /// `delivery = "memory"`.
    Memory {
        tx: mpsc::UnboundedSender<Vec<Bytes>>,
        depth: Arc<Depth>,
    },
    /// `delivery = "durable"`.
    Durable(Spool),
}

impl Intake {
    fn has_room(&self, n: usize) -> bool {
        match self {
            Intake::Memory { tx, depth } => !tx.is_closed() && depth.has_room(n),
            Intake::Durable(spool) => spool.has_room(),
        }
    }
}

/// Events queued or in flight for one memory destination, and the bytes
/// they hold, against its bounds.
pub(super) struct Depth {
    current: AtomicUsize,
    bytes: AtomicUsize,
    /// The bounds; a reload may change them.
    max: AtomicUsize,
    max_bytes: AtomicUsize,
    gauge: IntGauge,
}

impl Depth {
    /// Bounds of `max` events and `max_bytes` bytes. An empty queue takes
    /// any one request, however many events and bytes it holds, so that
    /// no request is refused for good.
    pub(super) fn new(max: usize, max_bytes: usize, gauge: IntGauge) -> Depth {
        Depth {
            current: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            max: AtomicUsize::new(max),
            max_bytes: AtomicUsize::new(max_bytes),
            gauge,
        }
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }

    fn max_bytes(&self) -> usize {
        self.max_bytes.load(Ordering::Relaxed)
    }

    /// New bounds (events already in are kept).
    pub(super) fn set_max(&self, max: usize, max_bytes: usize) {
        self.max.store(max, Ordering::Relaxed);
        self.max_bytes.store(max_bytes, Ordering::Relaxed);
    }

    /// Whether `n` more events (of a few bytes) would fit now.
    fn has_room(&self, n: usize) -> bool {
        self.get() + n <= self.max() && self.bytes() < self.max_bytes()
    }

    /// Takes room for `n` events holding `bytes`, or none.
    fn try_add(&self, n: usize, bytes: usize) -> bool {
        let mut current = self.current.load(Ordering::Relaxed);
        loop {
            if current > 0 && current + n > self.max() {
                return false;
            }
            match self.current.compare_exchange_weak(
                current,
                current + n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let before = self.bytes.fetch_add(bytes, Ordering::AcqRel);
        if before > 0 && before + bytes > self.max_bytes() {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.current.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        self.gauge.add(n as i64);
        true
    }

    /// Gives back the room of `n` events holding `bytes`.
    pub(super) fn release(&self, n: usize, bytes: usize) {
        self.current.fetch_sub(n, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.gauge.sub(n as i64);
    }

    pub(super) fn get(&self) -> usize {
        self.current.load(Ordering::Acquire)
    }

    /// The bytes the events queued or in flight hold.
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}

/// Room reserved in some destinations' queues; released if not used.
pub struct Reservation<'a> {
    queues: &'a Queues,
    /// (destination, events, bytes).
    taken: Vec<(usize, usize, usize)>,
}

/// A destination's queue is full (or closed for shutdown).
#[derive(Debug, thiserror::Error)]
#[error("destination `{destination}` cannot take more events now")]
pub struct QueueFull {
    /// Which destination.
    pub destination: Arc<str>,
}

/// Events handed to a destination.
pub enum Accepted {
    /// In its memory queue.
    Queued,
    /// On their way into its spool: accepted once this resolves.
    Committing(Commit),
}

impl Queues {
    /// Reserves room in destinations, for each `(destination, events,
    /// bytes)` of `wanted` at once or not at all: `events` events holding
    /// `bytes` bytes together.
    pub fn reserve(&self, wanted: &[(usize, usize, usize)]) -> Result<Reservation<'_>, QueueFull> {
        let mut reservation = Reservation {
            queues: self,
            taken: Vec::with_capacity(wanted.len()),
        };
        for &(dest, n, bytes) in wanted {
            if n == 0 {
                continue;
            }
            let queue = &self.queues[dest];
            let room = match &queue.intake {
                Intake::Memory { tx, depth } => !tx.is_closed() && depth.try_add(n, bytes),
                Intake::Durable(spool) => spool.has_room(),
            };
            if !room {
                queue.backpressure.inc();
                return Err(QueueFull {
                    destination: queue.name.clone(),
                });
            }
            reservation.taken.push((dest, n, bytes));
        }
        Ok(reservation)
    }

    /// Whether destination `dest` keeps its events in a spool.
    pub fn is_durable(&self, dest: usize) -> bool {
        matches!(self.queues[dest].intake, Intake::Durable(_))
    }

    /// Whether destination `dest` could take one more event now. A cheap
    /// check before a body is read and parsed; [`Queues::reserve`] decides.
    pub fn has_room(&self, dest: usize) -> bool {
        let queue = &self.queues[dest];
        let room = queue.intake.has_room(1);
        if !room {
            queue.backpressure.inc();
        }
        room
    }

    /// Number of destinations.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Whether there are no destinations.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

impl Reservation<'_> {
    /// Hands `events` to destination `dest`, using room reserved for it.
    /// Fails only when a memory destination is shutting down (a closed
    /// spool fails its [`Commit`] instead).
    pub fn send(&mut self, dest: usize, events: Vec<Bytes>) -> Result<Accepted, QueueFull> {
        let queue = &self.queues.queues[dest];
        let n = events.len();
        let bytes = self.take(dest, n);
        match &queue.intake {
            Intake::Memory { tx, depth } => {
                if tx.send(events).is_err() {
                    depth.release(n, bytes);
                    return Err(QueueFull {
                        destination: queue.name.clone(),
                    });
                }
                Ok(Accepted::Queued)
            }
            Intake::Durable(spool) => Ok(Accepted::Committing(spool.append(events))),
        }
    }
}

impl Reservation<'_> {
    /// Appends `events` to durable destination `dest`'s spool, held until
    /// the [`Hold`] is released (see [`crate::spool::Spool::append_held`]).
    pub fn send_held(&mut self, dest: usize, events: Vec<Bytes>) -> (Commit, Hold) {
        let Intake::Durable(spool) = &self.queues.queues[dest].intake else {
            panic!("only a spool holds events");
        };
        self.take(dest, events.len());
        spool.append_held(events)
    }

    /// Uses the room reserved for `n` events of `dest`; the bytes it was
    /// reserved for.
    fn take(&mut self, dest: usize, n: usize) -> usize {
        let slot = self
            .taken
            .iter()
            .position(|&(d, m, _)| d == dest && m == n)
            .expect("a send matches a reservation");
        self.taken.swap_remove(slot).2
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        for &(dest, n, bytes) in &self.taken {
            if let Intake::Memory { depth, .. } = &self.queues.queues[dest].intake {
                depth.release(n, bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(max: usize, max_bytes: usize) -> Depth {
        Depth::new(max, max_bytes, IntGauge::new("depth", "test").unwrap())
    }

    #[test]
    fn room_is_bounded_in_events_and_in_bytes() {
        let d = depth(10, 1000);
        // Within both bounds.
        assert!(d.try_add(4, 600));
        assert!(d.has_room(1));
        // Too many bytes: refused, and nothing taken.
        assert!(!d.try_add(1, 401));
        assert_eq!((d.get(), d.bytes()), (4, 600));
        assert!(d.try_add(1, 400));
        assert!(!d.has_room(1), "the bytes are all taken");
        // Too many events, whatever their bytes.
        d.release(5, 1000);
        assert!(d.try_add(10, 10));
        assert!(!d.try_add(1, 0));
        assert!(!d.has_room(1));
        d.release(10, 10);
        assert_eq!((d.get(), d.bytes(), d.gauge.get()), (0, 0, 0));
    }

    #[test]
    fn an_empty_queue_takes_one_request_of_any_size() {
        let d = depth(10, 1000);
        assert!(d.try_add(1, 5000));
        assert!(!d.try_add(1, 1), "nothing more until it drains");
        d.release(1, 5000);
        // More events than the bound, too.
        assert!(d.try_add(25, 10));
        assert!(!d.try_add(1, 1), "nothing more until it drains");
        d.release(25, 10);
        assert!(d.try_add(2, 999));
        // A new bound applies to what comes next.
        d.set_max(10, 500);
        assert!(!d.has_room(1));
        assert!(!d.try_add(1, 1));
        d.release(2, 999);
        assert!(d.try_add(1, 500));
    }
}
