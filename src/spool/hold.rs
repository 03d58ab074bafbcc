//! Records committed but not yet to be delivered: a request whose events go
//! to several durable destinations has them committed in each spool, held,
//! and then, once it knows whether every destination took them, released
//! (delivered as usual) or voided (never delivered). So a request answered
//! 503 because one destination failed is forwarded by none.
//!
//! The writer registers an append's range `[start, end)` when it publishes
//! it; the reader does not read past the start of a range still undecided
//! (records after it wait too: delivery stays in order), passes over a
//! voided range (its end is acknowledged with the next batch, so the
//! records are not replayed), and forgets a released one. A decision comes
//! at the latest when the request ends: a [`Hold`] dropped undecided voids.
//!
//! Voided ranges are written with the acknowledged position (the `acked`
//! file, not synced), at once on [`Hold::void`], so a restart does not
//! deliver them either; a crash before that write, or a crash while a
//! range is undecided, replays it (at least once: a duplicate of what the
//! client sends again).

use super::{Pos, Shared};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

const UNDECIDED: u8 = 0;
const RELEASED: u8 = 1;
const VOIDED: u8 = 2;

/// The decision on one held append, shared by its [`Hold`] and the spool.
#[derive(Debug, Default)]
pub(super) struct Cell(AtomicU8);

impl Cell {
    fn get(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }

    pub(super) fn undecided(&self) -> bool {
        self.get() == UNDECIDED
    }

    pub(super) fn released(&self) -> bool {
        self.get() == RELEASED
    }

    pub(super) fn voided(&self) -> bool {
        self.get() == VOIDED
    }
}

/// A held append's records, as the spool tracks them.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) start: Pos,
    pub(super) end: Pos,
    pub(super) cell: Arc<Cell>,
}

impl Held {
    pub(super) fn new(start: Pos, end: Pos, cell: Arc<Cell>) -> Held {
        Held { start, end, cell }
    }

    /// A range voided in an earlier run.
    pub(super) fn voided(start: Pos, end: Pos) -> Held {
        Held {
            start,
            end,
            cell: Arc::new(Cell(AtomicU8::new(VOIDED))),
        }
    }
}

/// The decision on an append made with [`super::Spool::append_held`]:
/// [`Hold::release`] or [`Hold::void`]; dropped undecided, it voids.
pub struct Hold {
    shared: Arc<Shared>,
    cell: Arc<Cell>,
}

impl Hold {
    pub(super) fn new(shared: Arc<Shared>, cell: Arc<Cell>) -> Hold {
        Hold { shared, cell }
    }

    /// Its records are delivered like any others.
    pub fn release(self) {
        self.decide(RELEASED);
    }

    /// Its records are never delivered; recorded in the `acked` file.
    /// Blocking file I/O.
    pub fn void(self) {
        if self.decide(VOIDED) {
            self.shared.persist_acked();
        }
    }

    /// Sets the decision if there was none yet, and wakes the reader.
    fn decide(&self, to: u8) -> bool {
        let decided = {
            // Under the lock, so the reader cannot check and then wait
            // past the wake-up.
            let _st = self.shared.lock();
            self.cell
                .0
                .compare_exchange(UNDECIDED, to, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        };
        if decided {
            self.shared.wake.notify_all();
        }
        decided
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        // The request ended without a decision (its future was dropped):
        // its client got no success answer.
        self.decide(VOIDED);
    }
}
