//! The spool's reader thread: feeds committed records, in order, to the
//! destination's batcher, in chunks of up to [`CHUNK`] bytes read with one
//! positioned read. It never reads past the end the writer published, so
//! it never meets a half-written frame of this run; a record whose
//! checksum or authentication fails is skipped and counted. The feed
//! channel is bounded: a slow backend stops the reading, not the spool.
//!
//! It stops when the batcher goes away, or once the spool is closed and
//! every committed record has been fed (a clean shutdown drains).

use super::{segment, Pos, Shared};
use crate::crypto::at_rest::FileCipher;
use bytes::Bytes;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Duration;
use tokio::sync::mpsc::{error::TrySendError, Sender};

/// Bytes read at once (a larger frame is read whole).
const CHUNK: u64 = 1 << 20;

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

pub(super) fn run(shared: &Shared, feed: &Sender<Vec<(Pos, Bytes)>>, start: Pos) {
    let mut want = start;
    let mut reading: Option<Reading> = None;
    let mut buf = Vec::new();
    while let Some(end) = next_range(shared, &mut want, &mut reading) {
        if reading.is_none() {
            match open(shared, want.segment) {
                Some(r) => reading = Some(r),
                None => {
                    // Unreadable: skip the segment (its events stay counted as pending
                    // until expiry removes them).
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
        let chunk = read_chunk(shared, r, want, end, &mut buf);
        want = Pos {
            segment: r.seq,
            index: r.index,
        };
        if !chunk.is_empty() && !send(feed, chunk) {
            return;
        }
    }
}

/// Waits until there is something to read; the end of the committed bytes
/// of the segment to read (`reading`, or `want`'s when `None`). `None`:
/// stop.
fn next_range(shared: &Shared, want: &mut Pos, reading: &mut Option<Reading>) -> Option<u64> {
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
            match reading.as_ref().map(|r| r.offset) {
                None => return Some(seg.end),
                Some(offset) if offset < seg.end => return Some(seg.end),
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
        // At the end of what was committed.
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

/// Opens segment `seq` at its first frame; `None` if it cannot be read.
fn open(shared: &Shared, seq: u64) -> Option<Reading> {
    let path = shared.dir.join(segment::file_name(seq));
    let file = File::open(&path).ok()?;
    let mut head = vec![0; segment::MAGIC.len() + 9 + 255];
    let n = file.read_at(&mut head, 0).ok()?;
    let (header, len) = segment::Header::parse(&head[..n]).ok()?;
    let key = shared
        .keyring
        .encryption_keys()
        .iter()
        .find(|k| k.id() == header.kid)?;
    Some(Reading {
        seq,
        file,
        cipher: FileCipher::new(key, header.salt),
        header: head[..len].to_vec(),
        offset: len as u64,
        index: 0,
    })
}

/// Reads frames from `r` up to `end`, returns the records at or after
/// `want`, opened.
fn read_chunk(
    shared: &Shared,
    r: &mut Reading,
    want: Pos,
    end: u64,
    buf: &mut Vec<u8>,
) -> Vec<(Pos, Bytes)> {
    let mut len = (end - r.offset).min(CHUNK);
    let mut out = Vec::new();
    'read: loop {
        buf.resize(len as usize, 0);
        if r.file.read_exact_at(buf, r.offset).is_err() {
            // The committed bytes cannot be read back: skip the rest.
            skip_rest(shared, r, end);
            return out;
        }
        // The chunk stops before the committed end (so a frame may be cut).
        let cut = r.offset + len < end;
        let mut at = 0;
        loop {
            let (frame, used) = segment::next_frame(&buf[at..]);
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
                    return out;
                }
                segment::Frame::Record(sealed) if r.index >= want_index(want, r.seq) => {
                    match r.cipher.open(r.index, &r.header, sealed) {
                        Ok(plain) => out.push((
                            Pos {
                                segment: r.seq,
                                index: r.index,
                            },
                            Bytes::from(plain),
                        )),
                        Err(_) => shared.metrics.corrupt_records.inc(),
                    }
                }
                segment::Frame::Record(_) => {}
                segment::Frame::Corrupt => {
                    if r.index >= want_index(want, r.seq) {
                        shared.metrics.corrupt_records.inc();
                    }
                }
            }
            at += used;
            r.index += 1;
        }
        r.offset += at as u64;
        return out;
    }
}

/// The first index of segment `seq` still to deliver.
fn want_index(want: Pos, seq: u64) -> u32 {
    if want.segment == seq {
        want.index
    } else {
        0
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

/// Hands a chunk to the batcher, waiting while its feed is full; `false`
/// once the batcher is gone.
fn send(feed: &Sender<Vec<(Pos, Bytes)>>, mut chunk: Vec<(Pos, Bytes)>) -> bool {
    loop {
        match feed.try_send(chunk) {
            Ok(()) => return true,
            Err(TrySendError::Closed(_)) => return false,
            Err(TrySendError::Full(back)) => {
                chunk = back;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
