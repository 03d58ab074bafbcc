//! One budget for the bytes requests hold while privgate answers them,
//! across every connection and HTTP/2 stream: `server.max_inflight_bytes`.
//! Beyond it a request is answered 503 `overloaded` with `Retry-After`
//! and counted (`privgate_inflight_refused_total`); what is held is
//! `privgate_inflight_bytes`.
//!
//! **What is charged.** A request gets a [`Charge`] when it arrives, for
//! its head; the stack keeps it in the request's extensions. Its body is
//! charged as it arrives: the first frame, then the buffer the frames are
//! copied into, each time it grows (at most twice what arrived). A
//! synchronous step that expands it (gunzip, PostHog's unwrapping,
//! decoding into events) first [reserves](Charge::reserve) the most it
//! may make, and then keeps only
//! what it made ([`Reservation::settle`]): a step that could not fit is
//! refused before it allocates, whatever the number of worker threads
//! running such steps at once. A buffer is released when it is freed (the
//! compressed body once gunzipped, a first frame once copied); the rest
//! is held until the request's answer is made, or the request is dropped
//! (timeout, client gone).
//!
//! **Outside requests.** What a connection holds besides (a head on its
//! way, beyond hyper's first read buffer; each request's answer until it
//! is written) is charged to the same budget by [`super::conn`]. The admin
//! listener has a budget of its own ([`admin_budget`]).
//!
//! **What is not.** Events handed to a destination belong to its queue or
//! spool (bounded by their own settings); a relayed request's body streams
//! through; the few copies a step makes besides its output (the pipeline's
//! per destination) are small next to it.
//!
//! Never: a refusal that names the client, or a request charged twice for
//! its head.

use super::error::IngestError;
use super::memory_limit::MemoryLimit;
use super::settings::ServerConfig;
use crate::metrics::Metrics;
use crate::protocol::Decoded;
use prometheus::{IntCounter, IntGauge};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The most one request may hold with `server`'s limits (a budget below it
/// could never serve such a request): its head (hyper lets heads reach
/// [`HARD_BYTES_FACTOR`](super::server::HARD_BYTES_FACTOR) times
/// `max_header_bytes`), its answer
/// ([`ANSWER_COST`](super::conn::ANSWER_COST)), its body, its gunzipped form, room for PostHog's
/// unwrapping (twice the decompression limit: lz64 holds its UTF-16 units
/// and their text at once), and room for its events.
pub(crate) fn largest_request(server: &ServerConfig) -> usize {
    let head = server
        .max_header_bytes
        .saturating_mul(super::server::HARD_BYTES_FACTOR);
    let expanded = server.max_decompressed_bytes.saturating_mul(3);
    head.saturating_add(super::conn::ANSWER_COST)
        .saturating_add(server.max_body_bytes)
        .saturating_add(expanded)
        .saturating_add(Decoded::ceiling(server.json))
}

/// The admin listener's own budget: 8 MiB, or room for four of the
/// largest heads if more. Its own, so that a flood of the tracker
/// listener never refuses a health check or a scrape (and the reverse).
pub(crate) fn admin_budget(server: &ServerConfig) -> usize {
    let head = server
        .max_header_bytes
        .saturating_mul(super::server::HARD_BYTES_FACTOR)
        .saturating_add(super::conn::ANSWER_COST);
    (8 << 20).max(head.saturating_mul(4))
}

/// The budget, shared by every request of the process (and kept across
/// reloads: requests in flight stay charged to it).
pub(crate) struct Inflight {
    limit: AtomicUsize,
    used: AtomicUsize,
    refused: IntCounter,
    held: IntGauge,
    /// `server.memory_limit`, checked before a request is charged.
    memory: Arc<MemoryLimit>,
}

impl Inflight {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize, metrics: &Metrics) -> Arc<Inflight> {
        Arc::new(Inflight {
            limit: AtomicUsize::new(limit),
            used: AtomicUsize::new(0),
            refused: metrics.inflight_refused.clone(),
            held: metrics.inflight_bytes.clone(),
            memory: MemoryLimit::exported(None, metrics),
        })
    }

    /// The memory limit new requests are checked against (none until
    /// set); shared across reloads with the budget.
    pub(crate) fn memory(&self) -> &Arc<MemoryLimit> {
        &self.memory
    }

    /// Takes `other`'s limits, the byte budget's and the memory limit
    /// (a reload keeps this budget under the new config's limits).
    pub(crate) fn take_limits(&self, other: &Inflight) {
        self.set_limit(other.limit());
        self.memory.set_limit(other.memory.limit());
    }

    /// Takes a new limit (a reload); requests already charged stay so.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// The limit.
    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// The bytes held now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// A new request's charge, holding `bytes` (its head); refused while
    /// the heap is over the memory limit too.
    pub(crate) fn charge(self: &Arc<Self>, bytes: usize) -> Result<Charge, IngestError> {
        self.memory.check()?;
        self.take(bytes)?;
        Ok(Charge(Arc::new(Held {
            budget: self.clone(),
            bytes: AtomicUsize::new(bytes),
        })))
    }

    /// A budget of `limit` bytes whose use is not exported (the admin
    /// listener's, see [`admin_budget`]).
    pub(crate) fn unexported(limit: usize) -> Arc<Inflight> {
        let refused = IntCounter::new("unexported_refused", "-").expect("a valid name");
        let held = IntGauge::new("unexported_held", "-").expect("a valid name");
        let memory = MemoryLimit::new(None, refused.clone());
        Arc::new(Inflight {
            limit: AtomicUsize::new(limit),
            used: AtomicUsize::new(0),
            refused,
            held,
            memory,
        })
    }

    /// Holds `bytes` if they fit under the limit; counts a refusal if not.
    pub(crate) fn take(&self, bytes: usize) -> Result<(), IngestError> {
        let limit = self.limit.load(Ordering::Relaxed);
        let taken = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= limit)
            });
        match taken {
            Ok(_) => {
                self.held.add(bytes as i64);
                Ok(())
            }
            Err(_) => {
                self.refused.inc();
                Err(IngestError::Overloaded)
            }
        }
    }

    /// Holds `bytes` whether or not they fit (what is already made, such
    /// as an answer, counts even past the limit, so what comes next is
    /// refused).
    pub(crate) fn hold(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::AcqRel);
        self.held.add(bytes as i64);
    }

    /// Gives back `bytes` held by [`Inflight::take`] or [`Inflight::hold`].
    pub(crate) fn give(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
        self.held.sub(bytes as i64);
    }
}

/// What one request holds of the budget. Clones share it; it is given
/// back when the last is dropped.
#[derive(Clone)]
pub(crate) struct Charge(Arc<Held>);

struct Held {
    budget: Arc<Inflight>,
    bytes: AtomicUsize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give(*self.bytes.get_mut());
    }
}

impl Charge {
    /// Holds `bytes` more, or 503 `overloaded`.
    pub(crate) fn add(&self, bytes: usize) -> Result<(), IngestError> {
        self.0.budget.take(bytes)?;
        self.0.bytes.fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// Holds `bytes` for a step that makes at most that much; see
    /// [`Reservation::settle`].
    pub(crate) fn reserve(&self, bytes: usize) -> Result<Reservation<'_>, IngestError> {
        self.add(bytes)?;
        Ok(Reservation {
            charge: self,
            bytes,
        })
    }

    /// What the request holds.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.0.bytes.load(Ordering::Acquire)
    }

    /// Gives back `bytes` the request no longer holds (at most what it
    /// holds).
    pub(crate) fn release(&self, bytes: usize) {
        let mut held = self.0.bytes.load(Ordering::Acquire);
        loop {
            let given = bytes.min(held);
            match self.0.bytes.compare_exchange(
                held,
                held - given,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return self.0.budget.give(given),
                Err(now) => held = now,
            }
        }
    }
}

/// Room held for one step; what it did not use goes back when it is
/// settled, all of it when the step failed (dropped unsettled).
pub(crate) struct Reservation<'c> {
    charge: &'c Charge,
    bytes: usize,
}

impl Reservation<'_> {
    /// Keeps `kept` bytes of the room (what the step made) and gives back
    /// the rest.
    pub(crate) fn settle(mut self, kept: usize) {
        let unused = self.bytes - kept.min(self.bytes);
        self.charge.release(unused);
        self.bytes = 0;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.charge.release(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_hold_what_they_were_charged_until_they_end() {
        let metrics = Metrics::new();
        let budget = Inflight::new(1_000, &metrics);
        let a = budget.charge(100).unwrap();
        a.add(500).unwrap();
        let b = budget.charge(300).unwrap();
        assert_eq!(budget.used(), 900);
        // Past the limit: refused, counted, and nothing taken.
        assert!(matches!(b.add(101), Err(IngestError::Overloaded)));
        assert!(matches!(budget.charge(101), Err(IngestError::Overloaded)));
        assert_eq!(metrics.inflight_refused.get(), 2);
        assert_eq!(budget.used(), 900);
        // Clones share one charge; the last one gives it back.
        let a2 = a.clone();
        drop(a);
        assert_eq!(budget.used(), 900);
        drop(a2);
        assert_eq!((budget.used(), metrics.inflight_bytes.get()), (300, 300));
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_reservation_keeps_what_its_step_made() {
        let metrics = Metrics::new();
        let budget = Inflight::new(1_000, &metrics);
        let charge = budget.charge(100).unwrap();
        let room = charge.reserve(800).unwrap();
        assert_eq!(budget.used(), 900);
        // Another request's step does not fit meanwhile.
        assert!(budget.charge(200).is_err());
        room.settle(250);
        assert_eq!((charge.bytes(), budget.used()), (350, 350));
        // A failed step (dropped unsettled) gives all of it back.
        drop(charge.reserve(600).unwrap());
        assert_eq!(budget.used(), 350);
        // More than was reserved keeps only the reservation.
        charge.reserve(10).unwrap().settle(50);
        assert_eq!(budget.used(), 360);
        // A reload's new limit applies to what comes next.
        budget.set_limit(400);
        assert!(charge.add(41).is_err());
        charge.add(40).unwrap();
        drop(charge);
        assert_eq!((budget.used(), metrics.inflight_bytes.get()), (0, 0));
    }
}
