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
//! batcher ([`reader`]), which [`Acks`] each batch once the backend took it;
//! a segment is deleted once every record in it is acknowledged. On start,
//! what was not acknowledged is replayed. Delivery is at least once: an
//! event delivered just before a crash, whose acknowledgement was not yet
//! recorded, is delivered again.
//!
//! Never: decides what to forward, looks inside an event, logs content.

mod reader;
pub mod segment;
#[cfg(test)]
mod tests;
mod writer;

use crate::config::SpoolConfig;
use crate::crypto::Keyring;
use bytes::Bytes;
use prometheus::{IntCounter, IntGauge};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::oneshot;

/// Where a record is: its segment, and its index among the segment's frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Segment sequence number.
    pub segment: u64,
    /// Frame index in the segment.
    pub index: u32,
}

impl Pos {
    /// The position just after this one.
    pub fn next(self) -> Pos {
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
pub struct SpoolMetrics {
    /// Bytes of segment files on disk.
    pub bytes: IntGauge,
    /// Events in the spool not yet acknowledged by the backend.
    pub pending: IntGauge,
    /// Events found unacknowledged on start and delivered again.
    pub replayed: IntCounter,
    /// Records skipped because their checksum or authentication failed.
    pub corrupt_records: IntCounter,
    /// Torn tails skipped (one per segment).
    pub torn_tails: IntCounter,
    /// Appends that failed to reach the disk (answered 503).
    pub write_errors: IntCounter,
    /// Events deleted unacknowledged because they outlived `max_age`.
    pub expired: IntCounter,
}

impl SpoolMetrics {
    /// The handles of destination `name`.
    pub fn new(metrics: &crate::metrics::Metrics, name: &str) -> SpoolMetrics {
        use crate::metrics::DropReason;
        SpoolMetrics {
            bytes: metrics.spool_bytes.with_label_values(&[name]),
            pending: metrics.queue_depth.with_label_values(&[name]),
            replayed: metrics.spool_replayed.with_label_values(&[name]),
            corrupt_records: metrics.spool_corrupt.with_label_values(&[name, "record"]),
            torn_tails: metrics.spool_corrupt.with_label_values(&[name, "tail"]),
            write_errors: metrics.spool_write_errors.with_label_values(&[name]),
            expired: metrics
                .events_dropped
                .with_label_values(&[name, DropReason::Expired.as_str()]),
        }
    }
}

/// An append waiting for its commit.
struct Append {
    events: Vec<Bytes>,
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

/// What the writer, the reader, acknowledgements and expiry share.
struct State {
    segments: BTreeMap<u64, Seg>,
    /// Every record before this one is acknowledged (or expired).
    acked: Pos,
    closed: bool,
    last_persist: Instant,
}

struct Shared {
    name: Arc<str>,
    dir: PathBuf,
    keyring: Arc<Keyring>,
    state: Mutex<State>,
    /// Wakes the reader: new records, a sealed segment, or closing.
    wake: Condvar,
    /// Mirror of the bytes on disk, read without the lock by `has_room`.
    bytes: AtomicU64,
    max_bytes: u64,
    max_age: Duration,
    /// Serializes writes of the `acked` file.
    persist: Mutex<()>,
    metrics: SpoolMetrics,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.metrics.bytes.add(n as i64);
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
            self.bytes.fetch_sub(disk, Ordering::Relaxed);
            self.metrics.bytes.sub(disk as i64);
        }
    }

    /// Records that every record before `end` is done with, deletes the
    /// sealed segments that leaves empty, and now and then writes the
    /// `acked` file.
    fn advance(&self, end: Pos, events: u64) {
        self.metrics.pending.sub(events as i64);
        let (doomed, persist) = {
            let mut st = self.lock();
            st.acked = st.acked.max(end);
            let acked = st.acked;
            let doomed: Vec<(u64, u64)> = st
                .segments
                .iter()
                .take_while(|(&seq, seg)| {
                    seg.sealed
                        && (seq < acked.segment
                            || (seq == acked.segment && seg.records <= acked.index))
                })
                .map(|(&seq, seg)| (seq, seg.disk))
                .collect();
            for (seq, _) in &doomed {
                st.segments.remove(seq);
            }
            let persist = !doomed.is_empty() || st.last_persist.elapsed() >= PERSIST_EVERY;
            if persist {
                st.last_persist = Instant::now();
            }
            (doomed, persist)
        };
        self.remove_segments(&doomed);
        if persist {
            self.persist_acked();
        }
    }

    /// Writes the acknowledged position (write a temporary file, rename).
    /// Not synced: a stale file only means more replays after a crash.
    fn persist_acked(&self) {
        let _one = self.persist.lock().unwrap_or_else(|p| p.into_inner());
        let acked = self.lock().acked;
        let tmp = self.dir.join("acked.tmp");
        let text = format!("{} {}\n", acked.segment, acked.index);
        let result =
            fs::write(&tmp, text).and_then(|()| fs::rename(&tmp, self.dir.join(ACKED_FILE)));
        if let Err(e) = result {
            tracing::warn!(destination = %self.name, error = %e.kind(), "cannot record delivery progress; more events will be replayed after a restart");
        }
    }
}

/// How often, at most, the acknowledged position is written to disk.
const PERSIST_EVERY: Duration = Duration::from_millis(200);

const ACKED_FILE: &str = "acked";
const LOCK_FILE: &str = "LOCK";

/// The writing side of one destination's spool; cheap to clone.
#[derive(Clone)]
pub struct Spool {
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

impl Spool {
    /// Whether the spool is below its size bound: a cheap check before an
    /// append.
    pub fn has_room(&self) -> bool {
        self.shared.bytes.load(Ordering::Relaxed) < self.shared.max_bytes
    }

    /// Appends `events`; commits in order of calls.
    pub fn append(&self, events: Vec<Bytes>) -> Commit {
        let (done, rx) = oneshot::channel();
        // A closed writer drops the message, and with it `done`.
        let _ = self.tx.send(Msg::Append(Append { events, done }));
        Commit(rx)
    }

    /// Deletes what outlived `max_age` (counted as expired); returns how
    /// many events that was. Blocking file I/O.
    pub fn expire(&self, now: SystemTime) -> u64 {
        let shared = &self.shared;
        let Some(cutoff) = now.checked_sub(shared.max_age) else {
            return 0;
        };
        let (doomed, events) = {
            let mut st = shared.lock();
            let acked = st.acked;
            let old: Vec<u64> = st
                .segments
                .iter()
                .filter(|(_, seg)| seg.newest < cutoff)
                .map(|(&seq, _)| seq)
                .collect();
            let mut events = 0u64;
            let mut doomed = Vec::new();
            for seq in old {
                let seg = st.segments.remove(&seq).expect("listed above");
                events += u64::from(match seq.cmp(&acked.segment) {
                    std::cmp::Ordering::Less => 0,
                    std::cmp::Ordering::Equal => seg.records.saturating_sub(acked.index),
                    std::cmp::Ordering::Greater => seg.records,
                });
                st.acked = st.acked.max(Pos {
                    segment: seq + 1,
                    index: 0,
                });
                doomed.push((seq, seg.disk));
            }
            (doomed, events)
        };
        if doomed.is_empty() {
            return 0;
        }
        shared.remove_segments(&doomed);
        shared.metrics.expired.inc_by(events);
        shared.metrics.pending.sub(events as i64);
        shared.persist_acked();
        shared.wake.notify_all();
        if events > 0 {
            tracing::warn!(destination = %shared.name, events, segments = doomed.len(), "undelivered events outlived spool max_age and were deleted");
        }
        events
    }
}

/// Tells the spool which records the backend has taken. Batches are
/// registered in the order they were read and may finish in any order;
/// the acknowledged position only moves past a batch once every batch
/// before it has finished.
pub struct Acks {
    shared: Arc<Shared>,
    queue: Mutex<AckQueue>,
}

#[derive(Default)]
struct AckQueue {
    /// Ticket number of `entries[0]`.
    first: u64,
    entries: VecDeque<AckEntry>,
}

struct AckEntry {
    end: Pos,
    events: u64,
    done: bool,
}

/// A batch registered with [`Acks::begin`].
#[must_use = "a batch must be finished with Acks::done"]
pub struct Ticket(u64);

impl Acks {
    /// Registers a batch whose last record is just before `end`.
    pub fn begin(&self, end: Pos, events: usize) -> Ticket {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = q.first + q.entries.len() as u64;
        q.entries.push_back(AckEntry {
            end,
            events: events as u64,
            done: false,
        });
        Ticket(ticket)
    }

    /// The batch is done with: delivered, or given up and counted. Blocking
    /// file I/O when segments become deletable.
    pub fn done(&self, ticket: Ticket) {
        let (end, events) = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            let at = (ticket.0 - q.first) as usize;
            q.entries[at].done = true;
            let mut end = None;
            let mut events = 0;
            while q.entries.front().is_some_and(|e| e.done) {
                let e = q.entries.pop_front().expect("checked");
                q.first += 1;
                end = Some(e.end);
                events += e.events;
            }
            (end, events)
        };
        if let Some(end) = end {
            self.shared.advance(end, events);
        }
    }
}

/// A destination's spool, opened: the writing side, the records to
/// deliver, and the way to acknowledge them.
pub struct Opened {
    /// For ingest.
    pub spool: Spool,
    /// Committed records, in order, in chunks.
    pub feed: tokio::sync::mpsc::Receiver<Vec<(Pos, Bytes)>>,
    /// For the batcher.
    pub acks: Acks,
    /// Stops the threads.
    pub closer: Closer,
}

/// Stops a spool's threads.
pub struct Closer {
    shared: Arc<Shared>,
    tx: mpsc::Sender<Msg>,
    writer: Option<JoinHandle<()>>,
    reader: Option<JoinHandle<()>>,
}

impl Closer {
    /// Stops taking appends (later ones fail), commits and syncs what was
    /// sent before, then lets the reader stop once it has fed every
    /// committed record. Blocking.
    pub fn close(&mut self) {
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
    pub fn finish(mut self) {
        self.close();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.shared.persist_acked();
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Events in the spool not yet acknowledged.
    pub fn pending(&self) -> u64 {
        self.shared.metrics.pending.get().max(0) as u64
    }
}

/// What a segment file held when the spool was opened.
struct Scanned {
    seg: Seg,
    /// Valid records at or after the acknowledged position.
    unacked: u64,
}

/// Opens (creating if needed) the spool of destination `name` under
/// `config.dir`, replays what it holds, and starts its threads. Blocking.
pub fn open(
    config: &SpoolConfig,
    name: &str,
    keyring: Arc<Keyring>,
    metrics: SpoolMetrics,
    feed_chunks: usize,
) -> Result<Opened, SpoolError> {
    let dir = config.dir.join(name);
    fs::create_dir_all(&dir).map_err(SpoolError::io("create directory", &dir))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = File::create(&lock_path).map_err(SpoolError::io("create", &lock_path))?;
    lock.try_lock().map_err(|e| match e {
        fs::TryLockError::WouldBlock => SpoolError::Locked(dir.clone()),
        fs::TryLockError::Error(e) => SpoolError::io("lock", &lock_path)(e),
    })?;

    let acked = read_acked(&dir);
    let mut seqs: Vec<u64> = fs::read_dir(&dir)
        .map_err(SpoolError::io("list", &dir))?
        .filter_map(|entry| segment::parse_file_name(entry.ok()?.file_name().to_str()?))
        .collect();
    seqs.sort_unstable();

    let mut segments = BTreeMap::new();
    let mut bytes = 0;
    let mut replayed = 0;
    for &seq in &seqs {
        let path = dir.join(segment::file_name(seq));
        match scan(&path, seq, acked, &keyring, &metrics)? {
            Some(s)
                if seq > acked.segment || (seq == acked.segment && s.seg.records > acked.index) =>
            {
                bytes += s.seg.disk;
                replayed += s.unacked;
                segments.insert(seq, s.seg);
            }
            // Delivered before the restart (or set aside): gone.
            _ => {
                let _ = fs::remove_file(&path);
            }
        }
    }
    if replayed > 0 {
        tracing::info!(
            destination = name,
            events = replayed,
            segments = segments.len(),
            "replaying undelivered events from the spool"
        );
    }
    metrics.replayed.inc_by(replayed);
    metrics.pending.add(replayed as i64);
    metrics.bytes.add(bytes as i64);

    let shared = Arc::new(Shared {
        name: name.into(),
        dir: dir.clone(),
        keyring,
        state: Mutex::new(State {
            segments,
            acked,
            closed: false,
            last_persist: Instant::now(),
        }),
        wake: Condvar::new(),
        bytes: AtomicU64::new(bytes),
        max_bytes: config.max_bytes,
        max_age: config.max_age,
        persist: Mutex::new(()),
        metrics,
    });
    let next_seq = seqs.last().map_or(1, |&s| s + 1);
    let (tx, rx) = mpsc::channel();
    let (feed_tx, feed) = tokio::sync::mpsc::channel(feed_chunks.max(1));
    let writer = writer::Writer::new(shared.clone(), config, next_seq, lock);
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
        acks: Acks {
            shared: shared.clone(),
            queue: Mutex::new(AckQueue::default()),
        },
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

/// The acknowledged position the `acked` file records (the start if it
/// is missing or unreadable: then everything on disk is replayed).
fn read_acked(dir: &Path) -> Pos {
    let text = fs::read_to_string(dir.join(ACKED_FILE)).unwrap_or_default();
    let mut parts = text.split_ascii_whitespace().map(str::parse);
    match (parts.next(), parts.next()) {
        (Some(Ok(segment)), Some(Ok(index))) => Pos {
            segment,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        },
        _ => Pos::default(),
    }
}

/// Reads a segment left by an earlier run: counts its frames, finds where
/// its whole frames end (a torn tail is counted and left unread), and
/// checks that its key is still held. `None`: not a segment (set aside as
/// `.corrupt`, counted).
fn scan(
    path: &Path,
    seq: u64,
    acked: Pos,
    keyring: &Keyring,
    metrics: &SpoolMetrics,
) -> Result<Option<Scanned>, SpoolError> {
    let bytes = fs::read(path).map_err(SpoolError::io("read", path))?;
    let newest = fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now());
    let Ok((header, mut at)) = segment::Header::parse(&bytes) else {
        tracing::warn!(segment = %path.display(), "not a spool segment; set aside as .corrupt");
        metrics.torn_tails.inc();
        let _ = fs::rename(path, path.with_extension("corrupt"));
        return Ok(None);
    };
    if !keyring
        .encryption_keys()
        .iter()
        .any(|k| k.id() == header.kid)
    {
        return Err(SpoolError::UnknownKey {
            path: path.to_owned(),
            kid: header.kid,
        });
    }
    let first = if seq == acked.segment { acked.index } else { 0 };
    let mut records = 0u32;
    let mut unacked = 0;
    loop {
        let (frame, used) = segment::next_frame(&bytes[at..]);
        match frame {
            segment::Frame::End => break,
            segment::Frame::Torn => {
                tracing::warn!(segment = %path.display(), bytes = used, "torn spool tail skipped (a write cut short)");
                metrics.torn_tails.inc();
                break;
            }
            segment::Frame::Record(_) => unacked += u64::from(records >= first),
            segment::Frame::Corrupt => {}
        }
        at += used;
        records += 1;
    }
    Ok(Some(Scanned {
        seg: Seg {
            end: at as u64,
            records,
            sealed: true,
            newest,
            disk: bytes.len() as u64,
        },
        unacked: if seq >= acked.segment { unacked } else { 0 },
    }))
}
