//! The committed records the reader has not read yet, as the writer had
//! them in memory: the reader takes them from here instead of reading
//! their frames back from the file and opening them, which cost as much
//! CPU as sealing them did. Only a copy: every record is on disk (written
//! and synced as the policy says) before it is here, and the reader
//! stays a disk reader whenever the tail cannot serve it: after a
//! restart, behind more than [`MAX_BYTES`] of records, or at a record the
//! tail does not hold. What the tail hands out is exactly what was sealed
//! into the frame, so the feed is the same either way (a frame damaged on
//! disk after it was committed is only noticed by a disk read: the copy
//! in memory is the one that was committed).
//!
//! The writer adds a group's records once the group is published (under
//! the state's lock, so the reader never sees a record here that is not
//! committed); the reader drops what it passed.

use super::Pos;
use bytes::Bytes;
use std::collections::VecDeque;

/// Record bytes the tail holds at most; past that, new records are left on
/// disk only. Tests keep a few records' worth, so the model reads both
/// ways.
pub(super) const MAX_BYTES: usize = if cfg!(test) { 150 } else { 4 << 20 };

/// One committed record.
#[derive(Debug)]
pub(super) struct Record {
    pub pos: Pos,
    /// The file offset just past its frame.
    pub end: u64,
    /// The event, as sealed.
    pub event: Bytes,
}

#[derive(Debug, Default)]
pub(super) struct Tail {
    records: VecDeque<Record>,
    bytes: usize,
}

impl Tail {
    /// Adds records just published, in order, while they fit.
    pub(super) fn extend(&mut self, records: impl IntoIterator<Item = Record>) {
        for record in records {
            // A record left out leaves a gap: the reader reads it from
            // disk, then takes what follows from here again.
            if self.bytes + record.event.len() > MAX_BYTES {
                continue;
            }
            self.bytes += record.event.len();
            self.records.push_back(record);
        }
    }

    /// Drops the records before `pos` (read from disk, passed over, or in
    /// segments expiry deleted).
    pub(super) fn drop_before(&mut self, pos: Pos) {
        while self.records.front().is_some_and(|r| r.pos < pos) {
            self.pop();
        }
    }

    /// The next record, if it is the one at `pos` and its frame ends by
    /// `end`.
    pub(super) fn take(&mut self, pos: Pos, end: u64) -> Option<Record> {
        self.drop_before(pos);
        let next = self.records.front()?;
        (next.pos == pos && next.end <= end).then(|| self.pop())?
    }

    fn pop(&mut self) -> Option<Record> {
        let record = self.records.pop_front()?;
        self.bytes -= record.event.len();
        Some(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(segment: u64, index: u32, len: usize) -> Record {
        Record {
            pos: Pos { segment, index },
            end: u64::from(index + 1) * 100,
            event: Bytes::from(vec![b'x'; len]),
        }
    }

    #[test]
    fn serves_in_order_within_its_bound_and_skips_gaps() {
        let mut tail = Tail::default();
        tail.extend([record(1, 0, 40), record(1, 1, 40), record(1, 2, 90)]);
        // The third did not fit.
        assert_eq!(tail.bytes, 80);
        let at = |index| Pos { segment: 1, index };
        // Not committed as far as the reader knows: not served.
        assert!(tail.take(at(0), 99).is_none());
        assert_eq!(tail.take(at(0), 100).unwrap().pos, at(0));
        // The reader read record 1 from disk: record 2 is not here.
        assert!(tail.take(at(2), u64::MAX).is_none());
        assert_eq!(tail.bytes, 0);
        tail.extend([record(1, 3, 40), record(2, 0, 40)]);
        assert!(tail.take(at(4), u64::MAX).is_none(), "a gap");
        let next = Pos {
            segment: 2,
            index: 0,
        };
        assert_eq!(tail.take(next, u64::MAX).unwrap().pos, next);
        assert_eq!((tail.records.len(), tail.bytes), (0, 0));
    }
}
