//! The spool's writer thread: commits appends in groups. It takes every
//! append waiting (with `fsync = "interval"`, every append that arrives
//! until the window closes), seals each event into a frame, writes the
//! group with one `write`, syncs once as the policy says, publishes the new
//! end to the reader, and only then answers every append in the group.
//!
//! A segment is closed (synced, whatever the policy) once the next frame
//! would take it past `segment_bytes`; a new one gets a fresh salt. After a
//! failed write the segment is closed at its last committed frame and the
//! next append starts a new one: what was half-written is never read.

use super::{segment, Append, Msg, Seg, Shared, SpoolError};
use crate::config::{Fsync, SpoolConfig};
use crate::crypto::at_rest::{FileCipher, OVERHEAD};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Appends one group takes at most (the rest wait for the next group).
const MAX_GROUP: usize = 4096;

pub(super) struct Writer {
    shared: Arc<Shared>,
    fsync: Fsync,
    interval: Duration,
    segment_bytes: u64,
    next_seq: u64,
    active: Option<Active>,
    last_sync: Instant,
    buf: Vec<u8>,
    /// Held for the writer's life: one process per spool directory.
    _lock: File,
}

/// The segment being appended to.
struct Active {
    seq: u64,
    file: File,
    header: Vec<u8>,
    cipher: FileCipher,
    /// Bytes written and committed.
    end: u64,
    /// Frames committed.
    records: u32,
}

impl Writer {
    pub(super) fn new(
        shared: Arc<Shared>,
        config: &SpoolConfig,
        next_seq: u64,
        lock: File,
    ) -> Writer {
        Writer {
            shared,
            fsync: config.fsync,
            interval: config.fsync_interval,
            segment_bytes: config.segment_bytes,
            next_seq,
            active: None,
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
            let result = self.commit(&group);
            if result.is_err() {
                self.shared.metrics.write_errors.inc();
            }
            for Append { done, .. } in group {
                let _ = done.send(result.clone());
            }
        }
        // Whatever the policy, a clean stop leaves everything synced.
        if let Some(active) = &self.active {
            let _ = active.file.sync_data();
        }
    }

    /// Writes and syncs a group; on error the active segment is closed.
    fn commit(&mut self, group: &[Append]) -> Result<(), SpoolError> {
        let result = self.try_commit(group);
        if result.is_err() {
            self.close_active(false);
        }
        result
    }

    fn try_commit(&mut self, group: &[Append]) -> Result<(), SpoolError> {
        if group.iter().all(|a| a.events.is_empty()) {
            return Ok(());
        }
        self.buf.clear();
        let mut pending = 0u32;
        let mut events = 0u64;
        self.check_active();
        for event in group.iter().flat_map(|a| &a.events) {
            let frame = (segment::FRAME_HEADER + event.len() + OVERHEAD) as u64;
            let full = self.active.as_ref().is_some_and(|a| {
                a.records + pending > 0
                    && a.end + self.buf.len() as u64 + frame > self.segment_bytes
            });
            if full {
                self.flush(pending, events)?;
                (pending, events) = (0, 0);
                self.close_active(true);
            }
            if self.active.is_none() {
                self.open_segment()?;
            }
            let active = self.active.as_ref().expect("opened above");
            let index = active.records + pending;
            segment::push_frame(&mut self.buf, |out| {
                active.cipher.seal_into(index, &active.header, event, out)
            })
            .map_err(|_| SpoolError::NoKey)?;
            pending += 1;
            events += 1;
        }
        self.flush(pending, events)?;
        if self.fsync != Fsync::Never {
            let active = self.active.as_ref().expect("flushed above");
            active.file.sync_data().map_err(self.io("sync"))?;
            self.last_sync = Instant::now();
        }
        Ok(())
    }

    /// Writes the buffered frames to the active segment and publishes them.
    fn flush(&mut self, frames: u32, events: u64) -> Result<(), SpoolError> {
        if frames == 0 {
            return Ok(());
        }
        let active = self.active.as_mut().expect("frames need a segment");
        active
            .file
            .write_all(&self.buf)
            .map_err(|e| SpoolError::Io {
                what: "write",
                path: self.shared.dir.join(segment::file_name(active.seq)),
                kind: e.kind(),
            })?;
        let written = self.buf.len() as u64;
        self.buf.clear();
        active.end += written;
        active.records += frames;
        {
            let mut st = self.shared.lock();
            if let Some(seg) = st.segments.get_mut(&active.seq) {
                seg.end = active.end;
                seg.records = active.records;
                seg.disk = active.end;
                seg.newest = SystemTime::now();
            }
        }
        self.shared.add_bytes(written);
        self.shared.metrics.pending.add(events as i64);
        self.shared.wake.notify_all();
        Ok(())
    }

    /// A segment that expiry deleted under the writer is not written again.
    fn check_active(&mut self) {
        if let Some(active) = &self.active {
            if !self.shared.lock().segments.contains_key(&active.seq) {
                self.active = None;
            }
        }
    }

    /// Closes the active segment: synced when `sync` (a clean close), and
    /// marked sealed so the reader moves past it.
    fn close_active(&mut self, sync: bool) {
        let Some(active) = self.active.take() else {
            return;
        };
        if sync {
            let _ = active.file.sync_data();
        }
        if let Some(seg) = self.shared.lock().segments.get_mut(&active.seq) {
            seg.sealed = true;
        }
        self.shared.wake.notify_all();
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
        self.next_seq += 1;
        let path = self.shared.dir.join(segment::file_name(seq));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(SpoolError::io("create", &path))?;
        file.write_all(&header)
            .map_err(SpoolError::io("write", &path))?;
        if self.fsync != Fsync::Never {
            // The new name must survive a crash too.
            file.sync_data().map_err(SpoolError::io("sync", &path))?;
            File::open(&self.shared.dir)
                .and_then(|d| d.sync_all())
                .map_err(SpoolError::io("sync", &self.shared.dir))?;
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
        });
        Ok(())
    }

    fn io(&self, what: &'static str) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
        let seq = self.active.as_ref().map_or(0, |a| a.seq);
        move |e| SpoolError::Io {
            what,
            path: self.shared.dir.join(segment::file_name(seq)),
            kind: e.kind(),
        }
    }
}
