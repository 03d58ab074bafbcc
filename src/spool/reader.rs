//! The spool's reader thread: feeds committed records, in order, to the
//! destination's batcher, in chunks of up to [`CHUNK`] bytes: taken from
//! the tail the writer left in memory ([`super::tail`]) when it holds the
//! next record, else read with one positioned read and opened. It never reads past the end the writer published, so
//! it never meets a half-written frame of this run; a record whose
//! checksum or authentication fails is skipped and counted. A segment it
//! cannot open or read for now (no file descriptor left, EIO, ENOMEM) it
//! tries again after [`RETRY`], from where it failed, until expiry deletes
//! it: never passed over. It stops at a
//! held range not yet decided and passes over a voided one ([`super::hold`]).
//! Each chunk says how far it covers, skipped records included, so they
//! are acknowledged with the batch that follows them. The feed channel is
//! bounded: a slow backend stops the reading, not the spool.
//!
//! It stops when the batcher goes away, or once the spool is closed and
//! every committed record it may deliver has been fed (a clean shutdown
//! drains).

use super::{segment, Chunk, Pos, Shared};
use crate::crypto::at_rest::FileCipher;
use bytes::Bytes;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;

/// Bytes read at once (a larger frame is read whole).
/// Small in tests, so that segments span several chunks (the model tests
/// read across chunks, and resume mid-segment after a restart).
const CHUNK: u64 = if cfg!(test) { 64 } else { 1 << 20 };

/// The pause before trying again to open a segment that could not be
/// opened for now. Short in tests, so that the model's failures cost little.
const RETRY: Duration = if cfg!(test) {
    Duration::from_millis(10)
} else {
    Duration::from_secs(1)
};

/// The segment being read.
struct Reading {
    seq: u64,
    file: File,
    header: Vec<u8>,
    cipher: FileCipher,
    /// File offset of the next frame.
    offset: u64,
    /// Index of the next frame.
    index: u32,
}

/// What may be read of the segment `want` is in, now.
struct Range {
    /// The committed end (a file offset).
    end: u64,
    /// The first index not to read yet (a held range starts there).
    stop: Option<u32>,
    /// Voided ranges to pass over.
    voids: Vec<(Pos, Pos)>,
}

impl Range {
    /// Whether the record at `pos` is fed: at or after `want`, not voided.
    fn feeds(&self, pos: Pos, want: Pos) -> bool {
        pos >= want && !self.voids.iter().any(|&(s, e)| s <= pos && pos < e)
    }
}

pub(super) fn run(shared: &Shared, feed: &Sender<Chunk>, start: Pos) {
    let mut want = start;
    let mut sent = start;
    let mut reading: Option<Reading> = None;
    let mut buf = Vec::new();
    // Opens or reads failed in a row: logged at the first, then once a
    // minute (a failure that lasts is tried every second until expiry).
    let mut failures = 0u32;
    while let Some(range) = next_range(shared, &mut want, &mut reading) {
        if reading.is_none() {
            match open(shared, want.segment) {
                Ok(r) => reading = Some(r),
                // Its records are committed: passed over, the next batch
                // would acknowledge them, and they would be deleted.
                Err(Unopened::Later(kind)) => {
                    if !retry_later(shared, &mut failures, (want.segment, "open"), kind) {
                        // Closed: what was not fed is replayed after a restart.
                        return;
                    }
                    continue;
                }
                Err(Unopened::Never) => {
                    // Unreadable for good: skip the segment (its records
                    // are passed over with the next batch, counted once).
                    shared.metrics.corrupt_records.inc();
                    want = Pos {
                        segment: want.segment + 1,
                        index: 0,
                    };
                    continue;
                }
            }
        }
        let r = reading.as_mut().expect("opened above");
        let (records, _from) = match from_tail(shared, r, want, &range) {
            Some(records) => (records, 0),
            None => match read_chunk(shared, r, want, &range, &mut buf) {
                Ok(records) => (records, 1),
                // Its records are committed: read again from where it
                // failed, as for a segment not opened yet.
                Err(kind) => {
                    if !retry_later(shared, &mut failures, (r.seq, "read"), kind) {
                        return;
                    }
                    continue;
                }
            },
        };
        failures = 0;
        #[cfg(test)]
        shared.faults.fed[_from]
            .fetch_add(records.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // Past what was read, never back: a reader that starts a segment
        // from its first frame reads up to `start` in chunks that feed
        // nothing, and the records before `start` were delivered.
        want = want.max(Pos {
            segment: r.seq,
            index: r.index,
        });
        if records.is_empty() && want <= sent {
            continue;
        }
        sent = want;
        if !send(feed, Chunk { records, end: want }) {
            return;
        }
    }
}

/// Waits until there is something to read; what may be read of the
/// segment to read (`reading`, or `want`'s when `None`). `None`: stop.
fn next_range(shared: &Shared, want: &mut Pos, reading: &mut Option<Reading>) -> Option<Range> {
    let mut st = shared.lock();
    loop {
        let found = st
            .segments
            .range(want.segment..)
            .next()
            .map(|(&seq, &seg)| (seq, seg));
        if let Some((seq, seg)) = found {
            if seq != want.segment {
                // Skipped past (expired, or never written).
                *want = Pos {
                    segment: seq,
                    index: 0,
                };
            }
            if reading.as_ref().is_some_and(|r| r.seq != seq) {
                *reading = None;
            }
            let next = reading.as_ref().map_or(*want, |r| Pos {
                segment: seq,
                index: r.index,
            });
            let mut stop = None;
            let mut voids = Vec::new();
            if !st.holds.is_empty() {
                st.holds.retain(|h| !h.cell.released());
                stop = st
                    .holds
                    .iter()
                    .find(|h| h.cell.undecided())
                    .map(|h| h.start);
                voids = st
                    .holds
                    .iter()
                    .filter(|h| h.cell.voided() && h.end > next && h.start.segment <= seq)
                    .map(|h| (h.start, h.end))
                    .collect();
            }
            let held = stop.is_some_and(|s| s <= next);
            let offset = reading.as_ref().map(|r| r.offset);
            match offset {
                _ if held => {}
                None => {
                    return Some(Range {
                        end: seg.end,
                        stop: stop.map(|s| index_in(s, seq)),
                        voids,
                    })
                }
                Some(offset) if offset < seg.end => {
                    return Some(Range {
                        end: seg.end,
                        stop: stop.map(|s| index_in(s, seq)),
                        voids,
                    })
                }
                Some(_) if seg.sealed => {
                    *reading = None;
                    *want = Pos {
                        segment: seq + 1,
                        index: 0,
                    };
                    continue;
                }
                Some(_) => {}
            }
        }
        // At the end of what was committed, or of what may be read now.
        if st.closed {
            return None;
        }
        st = shared
            .wake
            .wait_timeout(st, Duration::from_secs(1))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// The index in segment `seq` where reading must stop for a held range
/// starting at `start` (no stop in this segment: past its end).
fn index_in(start: Pos, seq: u64) -> u32 {
    if start.segment == seq {
        start.index
    } else {
        u32::MAX
    }
}

/// Why a segment was not opened.
enum Unopened {
    /// Not now (out of file descriptors or memory, a permission): the
    /// file is there, try again.
    Later(io::ErrorKind),
    /// Gone, or not a segment the keyring can read.
    Never,
}

/// After the `step` (open or read) of `segment` failed for now with
/// `kind`, the `failures`-th time in a row: logged at the first and once a
/// minute after, then waits [`pause`]; `false` once the spool is closed.
fn retry_later(
    shared: &Shared,
    failures: &mut u32,
    (segment, step): (u64, &'static str),
    kind: io::ErrorKind,
) -> bool {
    if failures.is_multiple_of(60) {
        tracing::warn!(destination = %shared.name, segment, step, error = %kind, failures = *failures, "a spool segment cannot be read for now; trying again every second");
    }
    *failures = failures.saturating_add(1);
    pause(shared)
}

/// Waits [`RETRY`] (a wake-up ends it only once the spool is closed);
/// `false` once it is closed.
fn pause(shared: &Shared) -> bool {
    let until = Instant::now() + RETRY;
    let mut st = shared.lock();
    while !st.closed {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        st = shared
            .wake
            .wait_timeout(st, until - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    false
}

/// Opens segment `seq` at its first frame.
fn open(shared: &Shared, seq: u64) -> Result<Reading, Unopened> {
    let path = shared.dir.join(segment::file_name(seq));
    let file = shared
        .faults
        .open()
        .and_then(|()| File::open(&path))
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Unopened::Never,
            kind => Unopened::Later(kind),
        })?;
    let mut head = vec![0; segment::MAGIC.len() + 9 + 255];
    // A short file is read short, and then fails as not a segment.
    let n = shared
        .faults
        .read()
        .and_then(|()| file.read_at(&mut head, 0))
        .map_err(|e| Unopened::Later(e.kind()))?;
    let (header, len) = segment::Header::parse(&head[..n]).map_err(|_| Unopened::Never)?;
    let key = shared
        .keyring
        .encryption_keys()
        .iter()
        .find(|k| k.id() == header.kid)
        .ok_or(Unopened::Never)?;
    Ok(Reading {
        seq,
        file,
        cipher: FileCipher::new(key, header.salt),
        header: head[..len].to_vec(),
        offset: len as u64,
        index: 0,
    })
}

/// The records [`read_chunk`] would read next, taken from the tail
/// ([`super::tail`]) instead, as far as it holds them in order; `None`
/// when it does not hold the next one.
fn from_tail(
    shared: &Shared,
    r: &mut Reading,
    want: Pos,
    range: &Range,
) -> Option<Vec<(Pos, Bytes)>> {
    let mut st = shared.lock();
    let mut out = Vec::new();
    let (mut bytes, mut any) = (0, false);
    while bytes < CHUNK as usize && range.stop != Some(r.index) {
        let pos = Pos {
            segment: r.seq,
            index: r.index,
        };
        let Some(record) = st.tail.take(pos, range.end) else {
            break;
        };
        any = true;
        if range.feeds(pos, want) {
            bytes += record.event.len();
            out.push((pos, record.event));
        }
        r.index += 1;
        r.offset = record.end;
    }
    any.then_some(out)
}

/// Reads frames from `r` within `range`, returns the records at or after
/// `want` and not voided, opened. A read that fails for now (EIO, ENOMEM)
/// returns its error with `r` where it was; a file shorter than what was
/// committed in it (cut from outside) has lost those bytes for good, and
/// the rest of the segment is passed over.
fn read_chunk(
    shared: &Shared,
    r: &mut Reading,
    want: Pos,
    range: &Range,
    buf: &mut Vec<u8>,
) -> Result<Vec<(Pos, Bytes)>, io::ErrorKind> {
    let end = range.end;
    let mut len = (end - r.offset).min(CHUNK);
    let mut out = Vec::new();
    'read: loop {
        buf.resize(len as usize, 0);
        let read = shared.faults.read();
        match read.and_then(|()| r.file.read_exact_at(buf, r.offset)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                skip_rest(shared, r, end);
                return Ok(out);
            }
            // Nothing is taken yet: a frame larger than a chunk is read
            // again whole before any frame of the chunk is.
            Err(e) => return Err(e.kind()),
        }
        // The chunk stops before the committed end (so a frame may be cut).
        let cut = r.offset + len < end;
        let mut at = 0;
        loop {
            if range.stop == Some(r.index) {
                break;
            }
            let (frame, used) = segment::next_frame(&buf[at..]);
            let pos = Pos {
                segment: r.seq,
                index: r.index,
            };
            let wanted = range.feeds(pos, want);
            match frame {
                segment::Frame::End => break,
                // Cut by the chunk: the next chunk starts with it.
                segment::Frame::Torn if cut && at > 0 => break,
                // A frame larger than a chunk: read it whole.
                segment::Frame::Torn if cut && frame_len(buf) > len => {
                    len = frame_len(buf).min(end - r.offset);
                    continue 'read;
                }
                segment::Frame::Torn => {
                    skip_rest(shared, r, end);
                    return Ok(out);
                }
                segment::Frame::Record(sealed) if wanted => {
                    match r.cipher.open(r.index, &r.header, sealed) {
                        Ok(plain) => out.push((pos, Bytes::from(plain))),
                        Err(_) => shared.metrics.corrupt_records.inc(),
                    }
                }
                segment::Frame::Record(_) => {}
                segment::Frame::Corrupt => {
                    if wanted {
                        shared.metrics.corrupt_records.inc();
                    }
                }
            }
            at += used;
            r.index += 1;
        }
        r.offset += at as u64;
        return Ok(out);
    }
}

/// The whole length of the frame `buf` starts with.
fn frame_len(buf: &[u8]) -> u64 {
    let len = u32::from_le_bytes(buf[..4].try_into().expect("a frame header"));
    (segment::FRAME_HEADER as u64) + u64::from(len)
}

/// Committed bytes that cannot be read as frames: count, and move on.
fn skip_rest(shared: &Shared, r: &mut Reading, end: u64) {
    tracing::warn!(destination = %shared.name, segment = r.seq, "unreadable committed spool bytes skipped");
    shared.metrics.torn_tails.inc();
    r.offset = end;
}

/// Hands a chunk to the batcher, waiting while its feed is full (woken
/// as soon as it has room: meanwhile the writer's tail fills, and what
/// does not fit there is read back from disk); `false` once the batcher
/// is gone.
fn send(feed: &Sender<Chunk>, chunk: Chunk) -> bool {
    feed.blocking_send(chunk).is_ok()
}
