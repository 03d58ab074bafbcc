//! Failures a test injects into the spool's file operations: the
//! writer's syncs (failed, or held in flight for as long as a test wants),
//! the reader's opens and reads; and where the reader found the records it
//! fed. In a build that is not a test, every hook is a no-op that the
//! compiler removes.

use std::io;
#[cfg(test)]
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
#[cfg(test)]
use std::sync::{Condvar, Mutex};

#[derive(Default)]
pub(super) struct Faults {
    /// Syncs to fail from now on.
    #[cfg(test)]
    pub(super) syncs: AtomicU32,
    /// Syncs started (failed ones included).
    #[cfg(test)]
    pub(super) started: AtomicU64,
    /// While true, a sync waits before it starts.
    #[cfg(test)]
    gate: (Mutex<bool>, Condvar),
    /// Records the reader took from the tail, and read from disk.
    #[cfg(test)]
    pub(super) fed: [AtomicU64; 2],
    /// The reader's opens of segment files to fail from now on.
    #[cfg(test)]
    pub(super) opens: AtomicU32,
    /// The reader's reads of segment files (headers and frames) to fail
    /// from now on.
    #[cfg(test)]
    pub(super) reads: AtomicU32,
}

impl Faults {
    /// Before the writer syncs: waits while a test holds syncs, then fails
    /// while a test asks for it.
    pub(super) fn sync(&self) -> io::Result<()> {
        #[cfg(test)]
        {
            let (closed, open) = &self.gate;
            let mut closed = closed.lock().unwrap_or_else(|p| p.into_inner());
            self.started.fetch_add(1, Ordering::AcqRel);
            while *closed {
                closed = open.wait(closed).unwrap_or_else(|p| p.into_inner());
            }
            if take_one(&self.syncs) {
                return Err(io::Error::other("injected sync failure"));
            }
        }
        Ok(())
    }

    /// Before the reader opens a segment file: fails as a process out of
    /// file descriptors does (EMFILE), while a test asks for it.
    pub(super) fn open(&self) -> io::Result<()> {
        #[cfg(test)]
        if take_one(&self.opens) {
            return Err(io::Error::from_raw_os_error(24));
        }
        Ok(())
    }

    /// Before the reader reads a segment file: fails as a passing I/O
    /// error does (EIO), while a test asks for it.
    pub(super) fn read(&self) -> io::Result<()> {
        #[cfg(test)]
        if take_one(&self.reads) {
            return Err(io::Error::from_raw_os_error(5));
        }
        Ok(())
    }

    /// Records the reader fed from the tail in memory, and from disk.
    #[cfg(test)]
    pub(super) fn fed(&self) -> [u64; 2] {
        self.fed.each_ref().map(|n| n.load(Ordering::Relaxed))
    }

    /// Holds (true) or lets go (false) every sync.
    #[cfg(test)]
    pub(super) fn hold_syncs(&self, hold: bool) {
        *self.gate.0.lock().unwrap_or_else(|p| p.into_inner()) = hold;
        self.gate.1.notify_all();
    }
}

/// Takes one of the failures `left` counts, if any.
#[cfg(test)]
fn take_one(left: &AtomicU32) -> bool {
    left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}
