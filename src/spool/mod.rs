//! The durable spool: per destination, an append-only write-ahead log of
//! the events it accepted and has not yet delivered, in segment files
//! encrypted at rest ([`segment`], [`crate::crypto::at_rest`]), bounded by
//! size (beyond `max_bytes` ingest answers 503) and by age (what is older
//! than `max_age` is deleted and counted, never silently).
//!
//! Flow: ingest [`Spool::append`]s a request's events and answers its client
//! only once the [`Commit`] resolves: written, and synced as the fsync
//! policy says. One writer thread commits appends in groups ([`writer`]).
//! One reader thread feeds committed records in order to the destination's
//! batcher ([`reader`]; from memory while it keeps up, [`tail`]), which
//! [`Acks`] each batch once the backend took it;
//! a segment is deleted once every record in it is acknowledged. On start,
//! what was not acknowledged is replayed ([`recover`]). Delivery is at
//! least once: an event delivered just before a crash, whose
//! acknowledgement was not yet recorded, is delivered again; every
//! acknowledgement is recorded before [`Acks::done`] returns, so after a
//! crash that is at most the batches in flight. An append may be held
//! until its request decides ([`hold`]).
//!
//! Positions: a record is at (segment number, index in the segment); the
//! acknowledged position says every record before it is done with, and is
//! written to the `acked` file ([`acked`]) with the ranges after it that
//! are done with too (voided, or acknowledged while an earlier batch was
//! still in flight). Invariants:
//! - positions only grow, across any sequence of runs: a new segment's
//!   number is above every segment on disk, the acknowledged position's
//!   segment and every segment a range in the `acked` file names, so
//!   nothing written later is ever taken for delivered; expiry moves the
//!   position past a prefix of segments only;
//! - a record is readable (published) only once its whole group is
//!   written and synced as the policy says, so the reader never feeds a
//!   record whose request was refused;
//! - a segment holds at most [`segment::MAX_RECORDS`] records: its record
//!   index, the end of the AES-GCM nonce, never wraps.
//!
//! Never: decides what to forward, looks inside an event, logs content.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod acked;
mod acks;
mod faults;
mod hold;
#[cfg(test)]
mod model;
mod reader;
mod recover;
pub(crate) mod segment;
mod settings;
mod tail;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_crash;
#[cfg(test)]
mod tests_expiry;
#[cfg(test)]
mod tests_resume;
#[cfg(test)]
mod tests_zeros;
mod writer;

use crate::crypto::Keyring;
use bytes::Bytes;
use faults::Faults;
use prometheus::{IntCounter, IntGauge};
pub use settings::{Fsync, SpoolConfig};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

pub(crate) use acks::Acks;
#[cfg(test)]
use acks::Ticket;
pub(crate) use hold::Hold;

/// Where a record is: its segment, and its index among the segment's frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    /// Segment sequence number.
    pub segment: u64,
    /// Frame index in the segment.
    pub index: u32,
}

impl Pos {
    /// The position just after this one.
    pub(crate) fn next(self) -> Pos {
        Pos {
            segment: self.segment,
            index: self.index + 1,
        }
    }
}

/// Why the spool could not open or take events.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed.
    #[error("spool {what} `{path}`: {kind}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error's kind (the message may carry nothing more useful).
        kind: io::ErrorKind,
    },
    /// Another process holds the directory.
    #[error("spool directory `{0}` is in use by another privgate process")]
    Locked(PathBuf),
    /// A segment was sealed with a key the keyring no longer holds.
    #[error("spool segment `{path}` is encrypted with key `{kid}`, which is not in [keys] encryption: add the key back (it need not be active) until the spool has drained, or move the segment away to give its events up")]
    UnknownKey {
        /// The segment.
        path: PathBuf,
        /// Its key id.
        kid: String,
    },
    /// A segment's key id is in the keyring, but that key opens none of
    /// its records: the key's material changed under the same id.
    #[error("spool segment `{path}` is encrypted with key `{kid}`, and the key configured under that id opens none of its records (its material changed): put the key it was sealed with back under `{kid}` (a new key takes a new id) until the spool has drained, or move the segment away to give its events up")]
    KeyChanged {
        /// The segment.
        path: PathBuf,
        /// Its key id.
        kid: String,
    },
    /// No active encryption key to seal new segments with.
    #[error("no active encryption key to seal spool segments with")]
    NoKey,
    /// The spool is shutting down.
    #[error("the spool is closed")]
    Closed,
}

impl SpoolError {
    fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
        move |e| SpoolError::Io {
            what,
            path: path.to_owned(),
            kind: e.kind(),
        }
    }
}

/// The metrics of one destination's spool.
#[derive(Clone)]
pub(crate) struct SpoolMetrics {
    /// Bytes of segment files (and files set aside) on disk.
    pub bytes: IntGauge,
    /// Records in the spool the backend has not taken yet (records the
    /// reader passes over, corrupt or voided, until it has passed them).
    pub pending: IntGauge,
    /// Events found unacknowledged on start and delivered again.
    pub replayed: IntCounter,
    /// Records skipped because their checksum or authentication failed.
    pub corrupt_records: IntCounter,
    /// Torn tails skipped (one per segment).
    pub torn_tails: IntCounter,
    /// Files named as segments that are not, set aside as `.corrupt`.
    pub set_aside: IntCounter,
    /// Appends that failed to reach the disk (answered 503).
    pub write_errors: IntCounter,
    /// Events deleted unacknowledged because they outlived `max_age`.
    pub expired: IntCounter,
    /// Segments without records, deleted on start.
    pub empty_removed: IntCounter,
    /// Files set aside as `.corrupt`, deleted once `max_age` old.
    pub corrupt_removed: IntCounter,
}

impl SpoolMetrics {
    /// The handles of destination `name`.
    pub(crate) fn new(metrics: &crate::metrics::Metrics, name: &str) -> SpoolMetrics {
        use crate::metrics::DropReason;
        SpoolMetrics {
            bytes: metrics.spool_bytes.with_label_values(&[name]),
            pending: metrics.queue_depth.with_label_values(&[name]),
            replayed: metrics.spool_replayed.with_label_values(&[name]),
            corrupt_records: metrics.spool_corrupt.with_label_values(&[name, "record"]),
            torn_tails: metrics.spool_corrupt.with_label_values(&[name, "tail"]),
            set_aside: metrics.spool_corrupt.with_label_values(&[name, "segment"]),
            write_errors: metrics.spool_write_errors.with_label_values(&[name]),
            expired: metrics
                .events_dropped
                .with_label_values(&[name, DropReason::Expired.as_str()]),
            empty_removed: metrics
                .spool_files_removed
                .with_label_values(&[name, "empty"]),
            corrupt_removed: metrics
                .spool_files_removed
                .with_label_values(&[name, "corrupt"]),
        }
    }
}

/// An append waiting for its commit.
struct Append {
    events: Vec<Bytes>,
    /// Set when its records wait for a decision ([`Hold`]).
    hold: Option<Arc<hold::Cell>>,
    done: oneshot::Sender<Result<(), SpoolError>>,
}

enum Msg {
    Append(Append),
    Close,
}

/// One segment as the spool tracks it.
#[derive(Clone, Copy, Debug)]
struct Seg {
    /// Bytes committed (header and whole frames); readers stop here.
    end: u64,
    /// Frames committed.
    records: u32,
    /// No more frames will be added.
    sealed: bool,
    /// When the last frame was committed.
    newest: SystemTime,
    /// Bytes the file takes on disk (a torn tail included).
    disk: u64,
}

/// A file set aside as not a segment (see [`recover`]).
#[derive(Debug)]
struct SetAside {
    path: PathBuf,
    modified: SystemTime,
    bytes: u64,
}

/// What the writer, the reader, acknowledgements and expiry share.
struct State {
    segments: BTreeMap<u64, Seg>,
    /// Every record before this one is acknowledged (or expired).
    acked: Pos,
    /// Held and voided ranges at or after `acked`, in order ([`hold`]).
    holds: VecDeque<hold::Held>,
    /// Ranges after `acked` the backend took while an earlier batch was
    /// in flight, in order ([`Acks`]).
    done: Vec<(Pos, Pos)>,
    set_aside: Vec<SetAside>,
    /// Committed records not read yet, as the writer had them ([`tail`]).
    tail: tail::Tail,
    closed: bool,
}

impl State {
    /// Committed records in `[from, to)`.
    fn records_between(&self, from: Pos, to: Pos) -> u64 {
        if to <= from {
            return 0;
        }
        self.segments
            .range(from.segment..=to.segment)
            .map(|(&seq, seg)| {
                let lo = if seq == from.segment { from.index } else { 0 };
                let hi = if seq == to.segment {
                    to.index.min(seg.records)
                } else {
                    seg.records
                };
                u64::from(hi.saturating_sub(lo))
            })
            .sum()
    }

    /// Records between `from` and `to` settled without the position having
    /// passed them: in a done range (delivered while an earlier batch was
    /// in flight, counted as forwarded then) or voided (refused to their
    /// client). A record in both counts once.
    fn settled_between(&self, from: Pos, to: Pos) -> u64 {
        let voided = self.holds.iter().filter(|h| h.cell.voided());
        let mut ranges: Vec<(Pos, Pos)> = (self.done.iter().copied())
            .chain(voided.map(|h| (h.start, h.end)))
            .map(|(start, end)| (start.max(from), end.min(to)))
            .filter(|(start, end)| start < end)
            .collect();
        ranges.sort_unstable();
        let (mut total, mut reached) = (0, from);
        for (start, end) in ranges {
            if end > reached {
                total += self.records_between(start.max(reached), end);
                reached = end;
            }
        }
        total
    }

    /// Moves the acknowledged position to `to` if that is later; the
    /// records passed. Holds behind it are forgotten.
    fn pass(&mut self, to: Pos) -> u64 {
        if to <= self.acked {
            return 0;
        }
        let passed = self.records_between(self.acked, to);
        self.acked = to;
        self.holds.retain(|h| h.end > to);
        self.done.retain(|&(_, end)| end > to);
        passed
    }
}

struct Shared {
    name: Arc<str>,
    dir: PathBuf,
    keyring: Arc<Keyring>,
    state: Mutex<State>,
    /// Wakes the reader: new records, a sealed segment, a decided hold, or
    /// closing.
    wake: Condvar,
    /// Mirror of the bytes on disk, read without the lock by `has_room`.
    bytes: AtomicU64,
    max_bytes: u64,
    max_age: Duration,
    /// Serializes writes of the `acked` file.
    persist: Mutex<()>,
    metrics: SpoolMetrics,
    faults: Faults,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.metrics.bytes.add(n as i64);
    }

    fn sub_bytes(&self, n: u64) {
        self.bytes.fetch_sub(n, Ordering::Relaxed);
        self.metrics.bytes.sub(n as i64);
    }

    fn remove_segments(&self, doomed: &[(u64, u64)]) {
        for &(seq, disk) in doomed {
            let path = self.dir.join(segment::file_name(seq));
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(destination = %self.name, segment = seq, error = %e.kind(), "cannot delete a delivered spool segment");
                    continue;
                }
            }
            self.sub_bytes(disk);
        }
    }

    /// Records that every record before `end` (if any) is done with, and
    /// the ranges `done` after it; the sealed segments that leaves without
    /// a record to deliver, taken out of the state (to be deleted).
    fn advance(&self, end: Option<Pos>, done: Vec<(Pos, Pos)>) -> Vec<(u64, u64)> {
        let mut st = self.lock();
        if let Some(end) = end {
            let passed = st.pass(end);
            self.metrics.pending.sub(passed as i64);
        }
        let acked = st.acked;
        st.done = done;
        st.done.retain(|&(_, end)| end > acked);
        let doomed: Vec<(u64, u64)> = st
            .segments
            .iter()
            .take_while(|(&seq, seg)| {
                seg.sealed
                    && (seq < acked.segment || (seq == acked.segment && seg.records <= acked.index))
            })
            .map(|(&seq, seg)| (seq, seg.disk))
            .collect();
        for (seq, _) in &doomed {
            st.segments.remove(seq);
        }
        doomed
    }

    /// Writes the acknowledged position and the voided and done ranges
    /// after it (see [`acked`]): the state as it is when the write starts,
    /// so a later call never writes an earlier state.
    fn persist_acked(&self) {
        let _one = self.persist.lock().unwrap_or_else(|p| p.into_inner());
        let progress = {
            let st = self.lock();
            acked::Progress {
                acked: st.acked,
                voids: st
                    .holds
                    .iter()
                    .filter(|h| h.cell.voided())
                    .map(|h| (h.start, h.end))
                    .collect(),
                done: st.done.clone(),
            }
        };
        if let Err(e) = acked::write(&self.dir, &progress) {
            tracing::warn!(destination = %self.name, error = %e.kind(), "cannot record delivery progress; more events will be replayed after a restart");
        }
    }
}

const LOCK_FILE: &str = "LOCK";

/// The writing side of one destination's spool; cheap to clone.
#[derive(Clone)]
pub(crate) struct Spool {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
}

/// An append on its way to the disk.
pub struct Commit(oneshot::Receiver<Result<(), SpoolError>>);

impl Commit {
    /// Resolves once the events are committed, or why they were not.
    pub async fn wait(self) -> Result<(), SpoolError> {
        self.0.await.unwrap_or(Err(SpoolError::Closed))
    }
}

/// Committed records as the reader hands them to the batcher: in order,
/// and the position after everything the chunk covers (records the reader
/// passed over too), for the acknowledgement.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// The records to deliver.
    pub records: Vec<(Pos, Bytes)>,
    /// Every record before this position was read (delivered or passed over).
    pub end: Pos,
}

impl Spool {
    /// Whether the spool is below its size bound: a cheap check before an
    /// append.
    pub(crate) fn has_room(&self) -> bool {
        self.shared.bytes.load(Ordering::Relaxed) < self.shared.max_bytes
    }

    /// Appends `events`; commits in order of calls.
    pub(crate) fn append(&self, events: Vec<Bytes>) -> Commit {
        self.send(events, None)
    }

    /// Appends `events` to be delivered only once the returned [`Hold`] is
    /// released; until then the reader stops at them.
    pub(crate) fn append_held(&self, events: Vec<Bytes>) -> (Commit, Hold) {
        let cell = Arc::new(hold::Cell::default());
        let commit = self.send(events, Some(cell.clone()));
        (commit, Hold::new(self.shared.clone(), cell))
    }

    fn send(&self, events: Vec<Bytes>, hold: Option<Arc<hold::Cell>>) -> Commit {
        let (done, rx) = oneshot::channel();
        // A closed writer drops the message, and with it `done`.
        let _ = self.tx.send(Msg::Append(Append { events, hold, done }));
        Commit(rx)
    }

    /// Deletes what outlived `max_age`, as of `now`: segments (their
    /// undelivered records counted as expired; those delivered out of
    /// order or voided are not) and files set aside. Returns how many
    /// records were deleted. Blocking file I/O.
    ///
    /// A segment expires once its newest record is older than `max_age`,
    /// and with it every segment before it: records are appended in order,
    /// so those are older still, whatever the file times say.
    pub(crate) fn expire(&self, now: SystemTime) -> u64 {
        let shared = &self.shared;
        let Some(cutoff) = now.checked_sub(shared.max_age) else {
            return 0;
        };
        let (doomed, aside, events, undelivered) = {
            let mut st = shared.lock();
            let last = st
                .segments
                .iter()
                .rev()
                .find(|(_, seg)| seg.newest < cutoff)
                .map(|(&seq, _)| seq);
            let mut doomed = Vec::new();
            let (mut events, mut undelivered) = (0, 0);
            if let Some(last) = last {
                let to = Pos {
                    segment: last + 1,
                    index: 0,
                };
                let settled = st.settled_between(st.acked, to);
                events = st.pass(to);
                undelivered = events.saturating_sub(settled);
                while let Some(entry) = st.segments.first_entry() {
                    if *entry.key() > last {
                        break;
                    }
                    let (seq, seg) = entry.remove_entry();
                    doomed.push((seq, seg.disk));
                }
            }
            let (aside, kept) = std::mem::take(&mut st.set_aside)
                .into_iter()
                .partition(|s| s.modified < cutoff);
            st.set_aside = kept;
            (doomed, aside, events, undelivered)
        };
        for file in aside {
            match fs::remove_file(&file.path) {
                Ok(()) => {
                    shared.sub_bytes(file.bytes);
                    shared.metrics.corrupt_removed.inc();
                    tracing::info!(destination = %shared.name, file = %file.path.display(), "spool file set aside as corrupt deleted at max_age");
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => shared.sub_bytes(file.bytes),
                Err(e) => {
                    tracing::warn!(destination = %shared.name, file = %file.path.display(), error = %e.kind(), "cannot delete a spool file set aside as corrupt");
                    shared.lock().set_aside.push(file);
                }
            }
        }
        if doomed.is_empty() {
            return 0;
        }
        shared.remove_segments(&doomed);
        shared.metrics.expired.inc_by(undelivered);
        shared.metrics.pending.sub(events as i64);
        shared.persist_acked();
        shared.wake.notify_all();
        if undelivered > 0 {
            tracing::warn!(destination = %shared.name, events = undelivered, segments = doomed.len(), "undelivered events outlived spool max_age and were deleted");
        }
        events
    }
}

/// A destination's spool, opened: the writing side, the records to
/// deliver, and the way to acknowledge them.
pub(crate) struct Opened {
    /// For ingest.
    pub spool: Spool,
    /// Committed records, in order, in chunks.
    pub feed: tokio::sync::mpsc::Receiver<Chunk>,
    /// For the batcher.
    pub acks: Acks,
    /// Stops the threads.
    pub closer: Closer,
}

/// Stops a spool's threads.
pub(crate) struct Closer {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
    writer: Option<JoinHandle<()>>,
    reader: Option<JoinHandle<()>>,
}

impl Closer {
    /// Stops taking appends (later ones fail), commits and syncs what was
    /// sent before, then lets the reader stop once it has fed every
    /// committed record. Blocking.
    pub(crate) fn close(&mut self) {
        let _ = self.tx.send(Msg::Close);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }

    /// Closes, waits for the reader (it stops once it has fed everything,
    /// or when the batcher is gone) and records the acknowledged position.
    /// Blocking.
    pub(crate) fn finish(mut self) {
        self.close();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.shared.persist_acked();
    }

    /// A crash, as far as the files can tell: the threads stop without the
    /// final record of the acknowledged position (the `acked` file is as
    /// the last periodic write left it). The feed must be dropped first.
    #[cfg(test)]
    fn kill(mut self) {
        self.close();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// The spool's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Events in the spool not yet acknowledged.
    pub(crate) fn pending(&self) -> u64 {
        self.shared.metrics.pending.get().max(0) as u64
    }
}

/// Opens (creating if needed) the spool of destination `name` under
/// `config.dir`, replays what it holds, and starts its threads. Blocking.
pub(crate) fn open(
    config: &SpoolConfig,
    name: &str,
    keyring: Arc<Keyring>,
    metrics: SpoolMetrics,
    feed_chunks: usize,
) -> Result<Opened, SpoolError> {
    open_with(
        config,
        name,
        keyring,
        metrics,
        feed_chunks,
        segment::MAX_RECORDS,
    )
}

/// [`open`], with segments closed at `max_records` frames.
fn open_with(
    config: &SpoolConfig,
    name: &str,
    keyring: Arc<Keyring>,
    metrics: SpoolMetrics,
    feed_chunks: usize,
    max_records: u32,
) -> Result<Opened, SpoolError> {
    let dir = config.dir.join(name);
    fs::create_dir_all(&dir).map_err(SpoolError::io("create directory", &dir))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = File::create(&lock_path).map_err(SpoolError::io("create", &lock_path))?;
    lock.try_lock().map_err(|e| match e {
        fs::TryLockError::WouldBlock => SpoolError::Locked(dir.clone()),
        fs::TryLockError::Error(e) => SpoolError::io("lock", &lock_path)(e),
    })?;

    let (mut progress, damaged) = acked::read(&dir);
    if damaged {
        tracing::warn!(
            destination = name,
            "the spool's acked file is unreadable; every event in the spool is delivered again"
        );
    }
    let found = recover::recover(&dir, &progress, &keyring, &metrics)?;
    if found.replayed > 0 {
        tracing::info!(
            destination = name,
            events = found.replayed,
            segments = found.segments.len(),
            "replaying undelivered events from the spool"
        );
    }
    metrics.replayed.inc_by(found.replayed);
    metrics.pending.add(found.pending as i64);
    metrics.bytes.add(found.bytes as i64);
    let acked = progress.acked;
    // For this run, what an earlier one recorded as done is, like what it
    // voided, a range the reader passes over.
    let mut skip = std::mem::take(&mut progress.voids);
    skip.append(&mut progress.done);
    skip.retain(|&(_, end)| end > acked);
    skip.sort_unstable();

    let shared = Arc::new(Shared {
        name: name.into(),
        dir: dir.clone(),
        keyring,
        state: Mutex::new(State {
            segments: found.segments,
            acked,
            holds: skip
                .into_iter()
                .map(|(start, end)| hold::Held::voided(start, end))
                .collect(),
            done: Vec::new(),
            set_aside: found.set_aside,
            tail: tail::Tail::default(),
            closed: false,
        }),
        wake: Condvar::new(),
        bytes: AtomicU64::new(found.bytes),
        max_bytes: config.max_bytes,
        max_age: config.max_age,
        persist: Mutex::new(()),
        metrics,
        faults: Faults::default(),
    });
    let (tx, rx) = mpsc::channel();
    let (feed_tx, feed) = tokio::sync::mpsc::channel(feed_chunks.max(1));
    let writer = writer::Writer::new(shared.clone(), config, max_records, found.next_seq, lock);
    let writer = spawn(format!("spool-w-{name}"), move || writer.run(rx))?;
    let reader = spawn(format!("spool-r-{name}"), {
        let shared = shared.clone();
        move || reader::run(&shared, &feed_tx, acked)
    })?;
    Ok(Opened {
        spool: Spool {
            shared: shared.clone(),
            tx: tx.clone(),
        },
        feed,
        acks: Acks::new(shared.clone(), acked),
        closer: Closer {
            shared,
            tx,
            writer: Some(writer),
            reader: Some(reader),
        },
    })
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, SpoolError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(|e| SpoolError::Io {
            what: "start thread",
            path: PathBuf::new(),
            kind: e.kind(),
        })
}
