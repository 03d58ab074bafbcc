//! The memory limit (`server.memory_limit`): while the process's heap is
//! over it, the tracker listener refuses new requests (503 `overloaded`,
//! `Retry-After: 1`) from their heads, before it reads a body, as the
//! in-flight budget ([`super::inflight`]) does when full. It is the last
//! line behind the bounds that each hold one kind of memory (the budget,
//! the queues and spools, the connections): whatever they miss, or a
//! sum of them larger than the memory the operator gave privgate, stops
//! growing here instead of ending in the OOM killer, which would lose
//! every event a memory queue held.
//!
//! **What is measured.** The process's anonymous resident memory
//! (`RssAnon` in `/proc/self/status`): its heap and stacks, not the
//! binary's pages (mapped from its file, given back by the kernel under
//! pressure). A thread (`mem-limit`) reads it every 10 ms while it is over
//! half the limit, every 100 ms below, and once a second while no limit
//! is set (a reload may set one). So the limit is soft: memory can pass it
//! by what requests already accepted make, and by what arrives within one
//! reading's interval. Where `/proc` cannot be read, nothing is refused.
//!
//! Owns the limit, the last reading and the refusals' count
//! (`privgate_memory_refused_total`). Never reads a request, never logs per
//! request, never allocates on the request path.

use super::error::IngestError;
use crate::metrics::Metrics;
use prometheus::IntCounter;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the heap is read while it is over half the limit.
const NEAR: Duration = Duration::from_millis(10);

/// How often below half the limit.
const FAR: Duration = Duration::from_millis(100);

/// How often while no limit is set.
const UNSET: Duration = Duration::from_secs(1);

/// The limit, shared by every config's handler across reloads (it lives
/// in the in-flight budget, which is shared so).
pub(crate) struct MemoryLimit {
    /// Bytes; 0: no limit.
    limit: AtomicU64,
    /// The last reading, in bytes; 0 before the first, or without `/proc`.
    anonymous: AtomicU64,
    refused: IntCounter,
}

impl MemoryLimit {
    /// A limit of `limit` bytes (`None`: none), refusals counted in
    /// `refused`.
    pub(crate) fn new(limit: Option<u64>, refused: IntCounter) -> Arc<MemoryLimit> {
        Arc::new(MemoryLimit {
            limit: AtomicU64::new(limit.unwrap_or(0)),
            anonymous: AtomicU64::new(0),
            refused,
        })
    }

    /// One for `metrics`' counter.
    pub(crate) fn exported(limit: Option<u64>, metrics: &Metrics) -> Arc<MemoryLimit> {
        MemoryLimit::new(limit, metrics.memory_refused.clone())
    }

    /// Takes a new limit (a reload).
    pub(crate) fn set_limit(&self, limit: Option<u64>) {
        self.limit.store(limit.unwrap_or(0), Ordering::Relaxed);
    }

    /// The limit, if any.
    pub(crate) fn limit(&self) -> Option<u64> {
        Some(self.limit.load(Ordering::Relaxed)).filter(|&l| l > 0)
    }

    /// A new request may start: refused (and counted) while the last
    /// reading is over the limit.
    pub(crate) fn check(&self) -> Result<(), IngestError> {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit > 0 && self.anonymous.load(Ordering::Relaxed) > limit {
            self.refused.inc();
            return Err(IngestError::Overloaded);
        }
        Ok(())
    }

    /// Records a reading of `bytes`; how long until the next one.
    fn record(&self, bytes: u64) -> Duration {
        self.anonymous.store(bytes, Ordering::Relaxed);
        match self.limit.load(Ordering::Relaxed) {
            0 => UNSET,
            limit if bytes > limit / 2 => NEAR,
            _ => FAR,
        }
    }

    /// Starts the thread that reads the heap, for as long as this limit
    /// is in use (it ends within a reading's interval of the last drop).
    /// Without `/proc` (or a thread), nothing is ever refused: logged once.
    pub(crate) fn watch(self: &Arc<Self>) -> Option<std::thread::JoinHandle<()>> {
        let Some(status) = Status::open() else {
            if self.limit().is_some() {
                tracing::warn!(
                    "cannot read RssAnon from /proc/self/status: server.memory_limit has no effect"
                );
            }
            return None;
        };
        let mut wait = self.record(status.anonymous().unwrap_or(0));
        let limit: Weak<MemoryLimit> = Arc::downgrade(self);
        // The thread allocates nothing: a first allocation would give it an
        // allocator heap of its own, resident for good (about 1 MiB).
        let spawned = std::thread::Builder::new()
            .name("mem-limit".into())
            .spawn(move || loop {
                std::thread::sleep(wait);
                let Some(limit) = limit.upgrade() else { return };
                // A reading that fails refuses nothing, as without /proc.
                wait = limit.record(status.anonymous().unwrap_or(0));
            });
        if spawned.is_err() {
            tracing::warn!(
                "cannot start the memory limit's thread: server.memory_limit has no effect"
            );
        }
        spawned.ok()
    }
}

/// `/proc/self/status`, kept open and read again from its start (which
/// makes the kernel write it anew), into a buffer on the stack.
struct Status(File);

impl Status {
    fn open() -> Option<Status> {
        let status = Status(File::open("/proc/self/status").ok()?);
        status.anonymous().map(|_| status)
    }

    /// The process's anonymous resident bytes now (`RssAnon`).
    fn anonymous(&self) -> Option<u64> {
        // About 1.5 KB; the line sought comes in its first half.
        let mut buf = [0u8; 4096];
        let n = self.0.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(&buf[..n]).ok()?;
        crate::metrics::status_kib(text, "RssAnon:").map(|kib| kib.saturating_mul(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> IntCounter {
        IntCounter::new("t", "-").unwrap()
    }

    #[test]
    fn requests_are_refused_only_while_the_reading_is_over_the_limit() {
        let limit = MemoryLimit::new(Some(100 << 20), counter());
        // No reading yet (or no /proc): never refused.
        assert!(limit.check().is_ok());
        assert_eq!(limit.record(40 << 20), FAR);
        assert!(limit.check().is_ok());
        assert_eq!(limit.record(60 << 20), NEAR);
        assert!(limit.check().is_ok());
        assert_eq!(limit.record(100 << 20), NEAR);
        assert!(limit.check().is_ok(), "at the limit is not over it");
        limit.record((100 << 20) + 1);
        assert!(matches!(limit.check(), Err(IngestError::Overloaded)));
        assert!(limit.check().is_err());
        assert_eq!(limit.refused.get(), 2);
        // A reload lifts it, or sets none.
        limit.set_limit(Some(200 << 20));
        assert!(limit.check().is_ok());
        limit.set_limit(None);
        assert_eq!(limit.limit(), None);
        assert_eq!(limit.record(u64::MAX), UNSET);
        assert!(limit.check().is_ok());
        assert_eq!(limit.refused.get(), 2);
    }

    #[test]
    fn the_heap_is_read_from_the_process_and_follows_it() {
        let status = Status::open().expect("this test runs where /proc is");
        let before = status.anonymous().expect("a reading");
        let touched = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = status.anonymous().expect("a reading");
        assert!(after >= before + (60 << 20), "{before} -> {after}");
        drop(touched);
    }

    #[test]
    fn the_thread_reads_until_the_limit_is_dropped() {
        let limit = MemoryLimit::new(Some(1 << 20), counter());
        let thread = limit.watch().expect("this test runs where /proc is");
        // This process's heap is over 1 MiB: the first reading refuses.
        assert!(limit.check().is_err());
        // The thread keeps nothing alive, and ends with the limit (were it
        // to hold the limit, or not look, this would never return).
        let weak = Arc::downgrade(&limit);
        drop(limit);
        thread.join().expect("the thread ends without a panic");
        assert!(weak.upgrade().is_none());
    }
}
