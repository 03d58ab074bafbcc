//! The spool's writer thread: commits appends in groups. It takes every
//! append waiting (with `fsync = "interval"`, every append that arrives
//! until the window closes), seals each event into a frame, writes the
//! group, syncs as the policy says, and only once every write and sync of
//! the group succeeded publishes the new ends to the reader and answers
//! every append in the group, and hands the group's events to the
//! reader's tail ([`super::tail`]). One failure fails the whole group (503 for
//! all of its requests): nothing of it is read. A large group is written
//! in pieces of about [`MAX_BUFFERED`] bytes (still synced and published
//! once), so the writer never buffers a whole group.
//!
//! Small groups are written into zeros. A group of fewer than
//! [`SMALL_GROUP`] bytes that finds fewer zeros ahead of the segment's
//! frames than it took leaves [`ZEROS_AHEAD`] bytes of zeros after its
//! frames (never past `segment_bytes`), synced with it. The groups after
//! it write their frames over those zeros: that changes neither the file's
//! length nor its blocks, so their syncs write data and no metadata, one
//! disk write less per sync (on ext4, the inode's), about a third of a
//! small sync's time and CPU (load-tests/README.md). A large group appends
//! as it comes: its sync's metadata write is shared by many records, and
//! zeros it would write over cost more. Recovery reads zeros after the
//! last frame as the end of the segment ([`super::recover`]).
//!
//! A segment is closed (synced, whatever the policy) once the next frame
//! would take it past `segment_bytes`, or it holds [`segment::MAX_RECORDS`]
//! frames; a new one gets a fresh salt. After a failed write or sync, every
//! segment the group wrote to is cut back to its last committed frame
//! (best effort: what a failed cut leaves is replayed after a restart, a
//! duplicate, never a loss) and closed, and the next append starts a new
//! segment; a segment left without records is deleted.

use super::hold::Held;
use super::tail::Record;
use super::{segment, Append, Msg, Pos, Seg, Shared, SpoolError};
use super::{Fsync, SpoolConfig};
use crate::crypto::at_rest::{FileCipher, OVERHEAD};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Appends one group takes at most (the rest wait for the next group).
const MAX_GROUP: usize = 4096;

/// Zeros a small group leaves ahead (see the module doc). A few frames'
/// worth in tests, so that the model writes over zeros and past them.
const ZEROS_AHEAD: u64 = if cfg!(test) { 150 } else { 1 << 20 };

/// The bytes of frames below which a group is small (see the module doc).
/// One small frame or two in tests.
const SMALL_GROUP: u64 = if cfg!(test) { 150 } else { 32 << 10 };

/// Sealed bytes buffered before they are written (a group holding more is
/// written in pieces, then synced once): a group of 32 requests of 100
/// events would otherwise hold 5 MB here, kept as the buffer's capacity.
/// Tests use a few frames' worth, so that the model and the unit tests
/// write most groups in pieces (failures included).
const MAX_BUFFERED: usize = if cfg!(test) { 200 } else { 1 << 20 };

pub(super) struct Writer {
    shared: Arc<Shared>,
    fsync: Fsync,
    interval: Duration,
    segment_bytes: u64,
    max_records: u32,
    next_seq: u64,
    active: Option<Active>,
    /// Segments closed during the group being committed, not yet published.
    rolled: Vec<Active>,
    /// Held appends of the group being committed.
    held: Vec<Held>,
    /// The group's records, for the reader's tail once published.
    fresh: Vec<Record>,
    last_sync: Instant,
    buf: Vec<u8>,
    /// Held for the writer's life: one process per spool directory.
    _lock: File,
}

/// A segment being appended to.
struct Active {
    seq: u64,
    file: File,
    header: Vec<u8>,
    cipher: FileCipher,
    /// Bytes and frames written.
    end: u64,
    records: u32,
    /// The file's length: `end`, then zeros.
    len: u64,
    /// Bytes and frames committed and published (readers stop here).
    committed_end: u64,
    committed_records: u32,
    /// The file's length when the last group was published.
    committed_len: u64,
}

impl Active {
    fn path(&self, shared: &Shared) -> std::path::PathBuf {
        shared.dir.join(segment::file_name(self.seq))
    }

    /// The error a failed `what` on this segment makes; its path is only
    /// made then, not for every group.
    fn failed<'a>(
        &'a self,
        what: &'static str,
        shared: &'a Shared,
    ) -> impl FnOnce(io::Error) -> SpoolError + 'a {
        move |e| SpoolError::io(what, &self.path(shared))(e)
    }

    /// After a small group of `group` bytes: zeros ahead of the frames,
    /// if fewer are left than it took (see the module doc).
    fn zeros_ahead(&mut self, group: u64, segment_bytes: u64) -> io::Result<()> {
        if self.len - self.end >= group {
            return Ok(());
        }
        let to = (self.end + ZEROS_AHEAD).min(segment_bytes);
        static ZEROS: [u8; 1 << 16] = [0; 1 << 16];
        while self.len < to {
            let n = (to - self.len).min(ZEROS.len() as u64) as usize;
            self.file.write_all_at(&ZEROS[..n], self.len)?;
            self.len += n as u64;
        }
        Ok(())
    }
}

/// The bytes of the frame an event of `len` bytes is sealed into.
fn frame_bytes(len: usize) -> u64 {
    (segment::FRAME_HEADER + len + OVERHEAD) as u64
}

impl Writer {
    pub(super) fn new(
        shared: Arc<Shared>,
        config: &SpoolConfig,
        max_records: u32,
        next_seq: u64,
        lock: File,
    ) -> Writer {
        Writer {
            shared,
            fsync: config.fsync,
            interval: config.fsync_interval,
            segment_bytes: config.segment_bytes,
            max_records: max_records.clamp(1, segment::MAX_RECORDS),
            next_seq,
            active: None,
            rolled: Vec::new(),
            held: Vec::new(),
            fresh: Vec::new(),
            last_sync: Instant::now(),
            buf: Vec::with_capacity(1 << 16),
            _lock: lock,
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        let mut closing = false;
        while !closing {
            let first = match rx.recv() {
                Ok(Msg::Append(a)) => a,
                Ok(Msg::Close) | Err(_) => break,
            };
            let mut group = vec![first];
            let deadline = match self.fsync {
                Fsync::Interval => self.last_sync + self.interval,
                Fsync::Always | Fsync::Never => Instant::now(),
            };
            while group.len() < MAX_GROUP {
                let now = Instant::now();
                let msg = if now < deadline {
                    rx.recv_timeout(deadline - now)
                        .map_err(|e| e == RecvTimeoutError::Disconnected)
                } else {
                    rx.try_recv().map_err(|e| e == TryRecvError::Disconnected)
                };
                match msg {
                    Ok(Msg::Append(a)) => group.push(a),
                    Ok(Msg::Close) | Err(true) => {
                        closing = true;
                        break;
                    }
                    Err(false) if now < deadline => continue,
                    Err(false) => break,
                }
            }
            let result = self.commit(&mut group);
            if result.is_err() {
                self.shared.metrics.write_errors.inc();
            }
            for Append { done, .. } in group {
                let _ = done.send(result.clone());
            }
        }
        // Whatever the policy, a clean stop leaves everything synced.
        if let Some(active) = &self.active {
            let _ = self.sync(&active.file);
        }
    }

    /// Writes, syncs and publishes a group, or none of it.
    fn commit(&mut self, group: &mut [Append]) -> Result<(), SpoolError> {
        let result = self.try_commit(group);
        if result.is_err() {
            self.roll_back();
        }
        result
    }

    fn try_commit(&mut self, group: &mut [Append]) -> Result<(), SpoolError> {
        if group.iter().all(|a| a.events.is_empty()) {
            return Ok(());
        }
        self.buf.clear();
        self.check_active();
        let mut pending = 0u32;
        let mut bytes = 0;
        for append in group {
            let mut start = None;
            // Moved to the tail: the group's events are not needed after.
            for event in std::mem::take(&mut append.events) {
                let frame = frame_bytes(event.len());
                pending = self.place(frame, pending)?;
                bytes += frame;
                let active = self.active.as_ref().expect("placed above");
                let index = active.records + pending;
                start.get_or_insert(Pos {
                    segment: active.seq,
                    index,
                });
                segment::push_frame(&mut self.buf, |out| {
                    active.cipher.seal_into(index, &active.header, &event, out)
                })
                .map_err(|_| SpoolError::NoKey)?;
                self.fresh.push(Record {
                    pos: Pos {
                        segment: active.seq,
                        index,
                    },
                    end: active.end + self.buf.len() as u64,
                    event,
                });
                pending += 1;
                if self.buf.len() >= MAX_BUFFERED {
                    // Not yet published: a failure cuts it with the rest.
                    self.write_buf(pending)?;
                    pending = 0;
                }
            }
            if let (Some(cell), Some(start)) = (&append.hold, start) {
                let active = self.active.as_ref().expect("placed above");
                let end = Pos {
                    segment: active.seq,
                    index: active.records + pending,
                };
                self.held.push(Held::new(start, end, cell.clone()));
            }
        }
        self.write_buf(pending)?;
        if bytes < SMALL_GROUP {
            let active = self.active.as_mut().expect("written above");
            active
                .zeros_ahead(bytes, self.segment_bytes)
                .map_err(active.failed("write", &self.shared))?;
        }
        if self.fsync != Fsync::Never {
            let active = self.active.as_ref().expect("written above");
            self.sync(&active.file)
                .map_err(active.failed("sync", &self.shared))?;
            self.last_sync = Instant::now();
        }
        self.publish()
    }

    /// Makes room for a frame of `frame` bytes, `pending` frames
    /// being buffered for the active segment: closes the active segment if
    /// the frame does not fit, opens one if there is none. The frames then
    /// buffered for the active segment.
    fn place(&mut self, frame: u64, pending: u32) -> Result<u32, SpoolError> {
        let full = self.active.as_ref().is_some_and(|a| {
            let records = a.records + pending;
            records >= self.max_records
                || (records > 0 && a.end + self.buf.len() as u64 + frame > self.segment_bytes)
        });
        if full {
            self.write_buf(pending)?;
            self.roll()?;
        }
        if self.active.is_none() {
            self.open_segment()?;
            return Ok(0);
        }
        Ok(pending)
    }

    /// Writes the buffered frames (`frames` of them) to the active segment.
    fn write_buf(&mut self, frames: u32) -> Result<(), SpoolError> {
        if frames == 0 {
            return Ok(());
        }
        let active = self.active.as_mut().expect("frames need a segment");
        let end = active.end + self.buf.len() as u64;
        active
            .file
            .write_all_at(&self.buf, active.end)
            .map_err(active.failed("write", &self.shared))?;
        active.end = end;
        active.len = active.len.max(end);
        active.records += frames;
        self.buf.clear();
        Ok(())
    }

    /// Closes the active segment mid-group: synced whatever the policy (a
    /// failed sync fails the group), published with the group.
    fn roll(&mut self) -> Result<(), SpoolError> {
        let active = self.active.take().expect("rolling a segment");
        let synced = self.sync(&active.file);
        let path = active.path(&self.shared);
        self.rolled.push(active);
        synced.map_err(SpoolError::io("sync", &path))
    }

    /// Makes what the group wrote visible to the reader, and counted.
    fn publish(&mut self) -> Result<(), SpoolError> {
        let now = SystemTime::now();
        let (bytes, records) = {
            let mut st = self.shared.lock();
            let parts = self.rolled.iter().chain(&self.active);
            // Expiry may have deleted a segment while it was written: then
            // what went into it is gone, and the group fails.
            if let Some(gone) = parts.clone().find(|a| !st.segments.contains_key(&a.seq)) {
                return Err(SpoolError::Io {
                    what: "write",
                    path: gone.path(&self.shared),
                    kind: io::ErrorKind::NotFound,
                });
            }
            let (mut bytes, mut records) = (0, 0);
            for a in parts {
                let seg = st.segments.get_mut(&a.seq).expect("checked above");
                seg.end = a.end;
                seg.records = a.records;
                seg.disk = a.len;
                seg.newest = now;
                bytes += a.len - a.committed_len;
                records += u64::from(a.records - a.committed_records);
            }
            for a in &self.rolled {
                st.segments.get_mut(&a.seq).expect("checked above").sealed = true;
            }
            st.holds.extend(self.held.drain(..));
            st.tail.extend(self.fresh.drain(..));
            (bytes, records)
        };
        self.rolled.clear();
        if let Some(a) = &mut self.active {
            a.committed_end = a.end;
            a.committed_records = a.records;
            a.committed_len = a.len;
        }
        self.shared.add_bytes(bytes);
        self.shared.metrics.pending.add(records as i64);
        self.shared.wake.notify_all();
        Ok(())
    }

    /// After a failure: every segment the group wrote to goes back to its
    /// last committed frame and is closed.
    fn roll_back(&mut self) {
        self.buf.clear();
        self.held.clear();
        self.fresh.clear();
        let parts: Vec<Active> = self.rolled.drain(..).chain(self.active.take()).collect();
        for a in parts {
            let path = a.path(&self.shared);
            if a.committed_records == 0 {
                // Nothing of it was ever committed: it goes.
                let removed = self.shared.lock().segments.remove(&a.seq);
                let _ = fs::remove_file(&path);
                if let Some(seg) = removed {
                    self.shared.sub_bytes(seg.disk);
                }
                continue;
            }
            let mut cut = false;
            if a.len > a.committed_end {
                match a.file.set_len(a.committed_end) {
                    Ok(()) => cut = true,
                    // Zeros left after the frames read as the end anyway.
                    Err(e) if a.end > a.committed_end => {
                        tracing::warn!(destination = %self.shared.name, segment = a.seq, error = %e.kind(), "cannot cut a failed write from a spool segment; its events may be delivered after a restart although they were refused");
                    }
                    Err(_) => {}
                }
            }
            if let Some(seg) = self.shared.lock().segments.get_mut(&a.seq) {
                seg.sealed = true;
                if cut {
                    // Its published zeros went with the cut.
                    self.shared.sub_bytes(seg.disk - a.committed_end);
                    seg.disk = a.committed_end;
                }
            }
        }
        self.shared.wake.notify_all();
    }

    /// A segment that expiry deleted under the writer is not written again.
    fn check_active(&mut self) {
        if let Some(active) = &self.active {
            if !self.shared.lock().segments.contains_key(&active.seq) {
                self.active = None;
            }
        }
    }

    fn open_segment(&mut self) -> Result<(), SpoolError> {
        let key = self
            .shared
            .keyring
            .active_encryption()
            .ok_or(SpoolError::NoKey)?;
        let salt = FileCipher::fresh_salt().map_err(|_| SpoolError::NoKey)?;
        let header = segment::Header {
            salt,
            kid: key.id().to_owned(),
        }
        .encode();
        let seq = self.next_seq;
        self.next_seq = seq.checked_add(1).ok_or(SpoolError::Io {
            what: "number",
            path: self.shared.dir.clone(),
            kind: io::ErrorKind::InvalidData,
        })?;
        let path = self.shared.dir.join(segment::file_name(seq));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(SpoolError::io("create", &path))?;
        let written = file
            .write_all(&header)
            .map_err(SpoolError::io("write", &path));
        let written = written.and_then(|()| {
            if self.fsync == Fsync::Never {
                return Ok(());
            }
            // The new name must survive a crash too.
            self.sync(&file).map_err(SpoolError::io("sync", &path))?;
            File::open(&self.shared.dir)
                .and_then(|d| d.sync_all())
                .map_err(SpoolError::io("sync", &self.shared.dir))
        });
        if let Err(e) = written {
            // A file without a whole header holds nothing: it goes.
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        let end = header.len() as u64;
        self.shared.lock().segments.insert(
            seq,
            Seg {
                end,
                records: 0,
                sealed: false,
                newest: SystemTime::now(),
                disk: end,
            },
        );
        self.shared.add_bytes(end);
        self.active = Some(Active {
            seq,
            file,
            cipher: FileCipher::new(key, salt),
            header,
            end,
            records: 0,
            len: end,
            committed_end: end,
            committed_records: 0,
            committed_len: end,
        });
        Ok(())
    }

    fn sync(&self, file: &File) -> io::Result<()> {
        self.shared.faults.sync()?;
        file.sync_data()
    }
}
