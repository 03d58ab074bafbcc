//! Acknowledgements: which records the backend has taken, written down
//! (through the spool's `acked` file) before [`Acks::done`] returns.

use super::{Pos, Shared};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Tells the spool which records the backend has taken. Batches are
/// registered in the order they were read and may finish in any order;
/// the acknowledged position only moves past a batch once every batch
/// before it has finished, and a batch finished before an earlier one is
/// recorded as a done range until then. Either is written to the `acked`
/// file before [`Acks::done`] returns, so a crash delivers again only the
/// batches not finished yet.
pub(crate) struct Acks {
    shared: Arc<Shared>,
    queue: Mutex<AckQueue>,
}

struct AckQueue {
    /// Ticket number of `entries[0]`.
    first: u64,
    /// Where the batch of `entries[0]` starts (where the last one popped
    /// ended).
    start: Pos,
    entries: VecDeque<AckEntry>,
}

struct AckEntry {
    end: Pos,
    done: bool,
}

/// A batch registered with [`Acks::begin`].
#[must_use = "a batch must be finished with Acks::done"]
pub(crate) struct Ticket(u64);

impl Acks {
    /// Acknowledgements for `shared`'s records after `acked`.
    pub(super) fn new(shared: Arc<Shared>, acked: Pos) -> Acks {
        Acks {
            shared,
            queue: Mutex::new(AckQueue {
                first: 0,
                start: acked,
                entries: VecDeque::new(),
            }),
        }
    }

    /// Registers a batch that covers every record before `end` not
    /// covered by an earlier batch.
    pub(crate) fn begin(&self, end: Pos) -> Ticket {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = q.first + q.entries.len() as u64;
        q.entries.push_back(AckEntry { end, done: false });
        Ticket(ticket)
    }

    /// The batch is done with: delivered, or given up and counted.
    /// Blocking file I/O: it is written down before this returns.
    pub(crate) fn done(&self, ticket: Ticket) {
        let doomed = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let at = (ticket.0 - q.first) as usize;
            q.entries[at].done = true;
            let mut end = None;
            while q.entries.front().is_some_and(|e| e.done) {
                let e = q.entries.pop_front().expect("checked");
                q.first += 1;
                q.start = e.end;
                end = Some(e.end);
            }
            // Under the queue's lock, so the state always holds the latest.
            self.shared.advance(end, q.done_ranges())
        };
        self.shared.persist_acked();
        self.shared.remove_segments(&doomed);
    }
}

impl AckQueue {
    /// The finished batches after the first unfinished one, merged.
    fn done_ranges(&self) -> Vec<(Pos, Pos)> {
        let mut ranges: Vec<(Pos, Pos)> = Vec::new();
        let mut start = self.start;
        for e in &self.entries {
            if e.done && start < e.end {
                match ranges.last_mut() {
                    Some(last) if last.1 >= start => last.1 = last.1.max(e.end),
                    _ => ranges.push((start, e.end)),
                }
            }
            start = start.max(e.end);
        }
        ranges
    }
}
