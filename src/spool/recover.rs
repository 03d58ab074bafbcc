//! What a spool directory holds when the spool opens: which segments still
//! have records to deliver, what the files a failure left behind are, and
//! the number the next segment gets.
//!
//! The rule for files (SECURITY.md, promise 4):
//! - a segment whose every record is before the acknowledged position was
//!   delivered: deleted;
//! - a segment with no whole record (a zero-length file or a cut-off header
//!   from a failed create on a full disk, a header alone, a header and a
//!   torn frame): deleted and counted
//!   (`privgate_spool_files_removed_total{kind="empty"}`). Nothing in it was
//!   ever acknowledged: records are committed only after the header is;
//! - a file named as a segment that is not one (its header is not a
//!   segment's): renamed `.corrupt` and counted
//!   (`privgate_spool_corrupt_total{kind="segment"}`), kept for inspection
//!   until it is `max_age` old (then deleted and counted,
//!   `privgate_spool_files_removed_total{kind="corrupt"}`); until then its
//!   bytes count in `privgate_spool_bytes` and against `max_bytes`.
//!
//! Zeros after a segment's last frame (the writer writes frames over zeros
//! it put ahead of them) are where it would have written next: the end,
//! not a torn tail. A frame failing its checksum with only zeros after it
//! is a write a crash cut short after its length reached the disk: a torn
//! tail. Either is after every committed record: a group's records are
//! acknowledged only once they, and everything before them, are synced.
//!
//! Positions only ever grow: the next segment number is above every
//! segment or `.corrupt` file on disk and above the acknowledged position's
//! segment and every segment a recorded range names, so a segment written
//! from now on is never taken for one delivered before (which is what the
//! acknowledged position says of every segment below it, and a done or
//! voided range of the records in it).

use super::{acked, segment, Pos, Seg, SetAside, SpoolError, SpoolMetrics};
use crate::crypto::at_rest::FileCipher;
use crate::crypto::Keyring;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

/// What the directory held.
pub(super) struct Recovered {
    pub segments: BTreeMap<u64, Seg>,
    pub set_aside: Vec<SetAside>,
    /// Bytes of the segments and `.corrupt` files kept.
    pub bytes: u64,
    /// Records at or after the acknowledged position (voided ones too).
    pub pending: u64,
    /// Valid, not voided records at or after the acknowledged position.
    pub replayed: u64,
    /// The number of the next segment.
    pub next_seq: u64,
}

/// What a file named as a segment turned out to be.
enum Found {
    /// With the number of its valid records that count as replayed.
    Segment {
        seg: Seg,
        replayed: u64,
    },
    /// No whole record.
    Empty,
    NotASegment,
}

/// Reads `dir` as [`Recovered`] says, deleting and renaming as the module
/// doc says.
pub(super) fn recover(
    dir: &Path,
    progress: &acked::Progress,
    keyring: &Keyring,
    metrics: &SpoolMetrics,
) -> Result<Recovered, SpoolError> {
    let acked = progress.acked;
    let mut seqs = Vec::new();
    let mut out = Recovered {
        segments: BTreeMap::new(),
        set_aside: Vec::new(),
        bytes: 0,
        pending: 0,
        replayed: 0,
        // Above the segments the recorded ranges name too: expiry deletes
        // segments before it writes the file, so after a crash between the
        // two the ranges may name segments gone since, and records of a new
        // segment of such a number would be passed over as done.
        next_seq: (progress.voids.iter().chain(&progress.done))
            .map(|&(_, end)| end.segment)
            .fold(acked.segment, u64::max)
            .saturating_add(1),
    };
    for entry in fs::read_dir(dir).map_err(SpoolError::io("list", dir))? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = segment::parse_file_name(name) {
            seqs.push(seq);
        } else if let Some(seq) = segment::parse_set_aside_name(name) {
            out.next_seq = out.next_seq.max(seq.saturating_add(1));
            let meta = entry
                .metadata()
                .map_err(SpoolError::io("read", &entry.path()))?;
            out.set_aside.push(SetAside {
                path: entry.path(),
                modified: meta.modified().unwrap_or_else(|_| SystemTime::now()),
                bytes: meta.len(),
            });
        }
    }
    seqs.sort_unstable();
    if let Some(&last) = seqs.last() {
        out.next_seq = out.next_seq.max(last.saturating_add(1));
    }
    for seq in seqs {
        let path = dir.join(segment::file_name(seq));
        let first = if seq == acked.segment { acked.index } else { 0 };
        let replays = |index: u32| {
            let p = Pos {
                segment: seq,
                index,
            };
            let skipped = (progress.voids.iter()).chain(&progress.done);
            p >= acked && !skipped.clone().any(|&(s, e)| s <= p && p < e)
        };
        match scan(&path, keyring, metrics, replays)? {
            Found::Segment { seg, replayed } => {
                if seq < acked.segment || seg.records <= first {
                    // Delivered before the restart.
                    let _ = fs::remove_file(&path);
                    continue;
                }
                out.pending += u64::from(seg.records - first);
                out.replayed += replayed;
                out.bytes += seg.disk;
                out.segments.insert(seq, seg);
            }
            Found::Empty => {
                tracing::info!(segment = %path.display(), "spool segment without records removed");
                metrics.empty_removed.inc();
                let _ = fs::remove_file(&path);
            }
            Found::NotASegment => {
                let aside = path.with_extension(segment::SET_ASIDE_EXTENSION);
                tracing::warn!(segment = %path.display(), "not a spool segment; set aside as .corrupt until it is max_age old (delete it to free its space sooner)");
                metrics.set_aside.inc();
                if fs::rename(&path, &aside).is_ok() {
                    let meta = fs::metadata(&aside).ok();
                    out.set_aside.push(SetAside {
                        path: aside,
                        modified: meta
                            .as_ref()
                            .and_then(|m| m.modified().ok())
                            .unwrap_or_else(SystemTime::now),
                        bytes: meta.map_or(0, |m| m.len()),
                    });
                }
            }
        }
    }
    out.bytes += out.set_aside.iter().map(|s| s.bytes).sum::<u64>();
    Ok(out)
}

/// Whether `bytes` are all zeros.
pub(super) fn zeros(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Reads a segment left by an earlier run: counts its frames, finds where
/// its whole frames end (zeros after them are where the writer would have
/// written next; a torn tail is counted and left unread), and checks that
/// its key is still held.
/// `replays` says which record indexes count as replayed.
fn scan(
    path: &Path,
    keyring: &Keyring,
    metrics: &SpoolMetrics,
    replays: impl Fn(u32) -> bool,
) -> Result<Found, SpoolError> {
    let bytes = fs::read(path).map_err(SpoolError::io("read", path))?;
    let newest = fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now());
    let Ok((header, mut at)) = segment::Header::parse(&bytes) else {
        return Ok(if segment::is_cut_header(&bytes) {
            Found::Empty
        } else {
            Found::NotASegment
        });
    };
    let Some(key) = keyring
        .encryption_keys()
        .iter()
        .find(|k| k.id() == header.kid)
    else {
        return Err(SpoolError::UnknownKey {
            path: path.to_owned(),
            kid: header.kid,
        });
    };
    // Records to replay are opened until one opens: with other material
    // under the key's id none would, and the reader would pass each over
    // as corrupt, to be acknowledged and deleted with the next batch.
    let cipher = FileCipher::new(key, header.salt);
    let aad = &bytes[..at];
    // Whether a record to replay was tried, and whether one opened.
    let (mut tried, mut opened) = (false, false);
    let mut records = 0u32;
    let mut replayed = 0;
    loop {
        let (frame, used) = segment::next_frame(&bytes[at..]);
        // More frames than the writer ever puts in a segment: not its own.
        let frame = match frame {
            segment::Frame::End => segment::Frame::End,
            _ if records == segment::MAX_RECORDS => segment::Frame::Torn,
            // The zeros the writer writes ahead of its frames.
            segment::Frame::Torn if zeros(&bytes[at..]) => segment::Frame::End,
            // A write cut short into those zeros: its frame's length made
            // it, not all of its payload.
            segment::Frame::Corrupt if at + used < bytes.len() && zeros(&bytes[at + used..]) => {
                segment::Frame::Torn
            }
            frame => frame,
        };
        match frame {
            segment::Frame::End => break,
            segment::Frame::Torn => {
                tracing::warn!(segment = %path.display(), bytes = used, "torn spool tail skipped (a write cut short)");
                metrics.torn_tails.inc();
                break;
            }
            segment::Frame::Record(sealed) if replays(records) => {
                replayed += 1;
                if !opened {
                    tried = true;
                    opened = cipher.open(records, aad, sealed).is_ok();
                }
            }
            segment::Frame::Record(_) => {}
            segment::Frame::Corrupt => {}
        }
        at += used;
        records += 1;
    }
    if records == 0 {
        return Ok(Found::Empty);
    }
    if tried && !opened {
        return Err(SpoolError::KeyChanged {
            path: path.to_owned(),
            kid: header.kid,
        });
    }
    Ok(Found::Segment {
        seg: Seg {
            end: at as u64,
            records,
            sealed: true,
            newest,
            disk: bytes.len() as u64,
        },
        replayed,
    })
}
