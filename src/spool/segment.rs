//! The bytes of one segment file, and nothing about files: a header, then
//! framed records.
//!
//! ```text
//! header: "PGSPOOL1" | salt (8) | kid length (1) | kid (UTF-8)
//! frame:  payload length (u32 LE) | CRC32C of the payload (u32 LE) | payload
//! ```
//!
//! A file may go on in zeros after its last frame: the writer writes its
//! frames over zeros it put there first ([`super::writer`]). Here zeros
//! are a torn frame like any other bytes that are not one; recovery, which
//! sees the whole file, tells the writer's zeros from a cut
//! ([`super::recover`]).
//!
//! The payload is the record sealed by [`crate::crypto::at_rest`] (so never
//! shorter than its tag). Reading is total: any byte string splits into
//! records, records whose checksum fails (skipped, the frame is intact),
//! and at most one torn tail (a frame that cannot be trusted, e.g. a write
//! cut short by a crash, after which nothing in the file is read).

use crate::crypto::at_rest::OVERHEAD;

/// The first bytes of every segment (format version 1).
pub(crate) const MAGIC: &[u8; 8] = b"PGSPOOL1";

/// Bytes of a frame before its payload.
pub(crate) const FRAME_HEADER: usize = 8;

/// The largest payload a frame may hold; a larger length is a torn frame.
pub(crate) const MAX_PAYLOAD: usize = 64 << 20;

/// A segment header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The per-file nonce salt.
    pub salt: [u8; 8],
    /// Id of the encryption key the records are sealed with.
    pub kid: String,
}

/// Why a header could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum BadHeader {
    /// Too short, or not a spool segment (or another format version).
    #[error("not a privgate spool segment (version 1)")]
    NotASegment,
}

impl Header {
    /// The header's bytes (also the additional data of every record).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let kid = self.kid.as_bytes();
        let len = u8::try_from(kid.len()).expect("key ids are short");
        let mut out = Vec::with_capacity(MAGIC.len() + 9 + kid.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.salt);
        out.push(len);
        out.extend_from_slice(kid);
        out
    }

    /// The header at the start of `bytes`, and its length.
    pub(crate) fn parse(bytes: &[u8]) -> Result<(Header, usize), BadHeader> {
        let rest = bytes.strip_prefix(MAGIC).ok_or(BadHeader::NotASegment)?;
        let (salt, rest) = rest
            .split_first_chunk::<8>()
            .ok_or(BadHeader::NotASegment)?;
        let (&len, rest) = rest.split_first().ok_or(BadHeader::NotASegment)?;
        let kid = rest.get(..usize::from(len)).ok_or(BadHeader::NotASegment)?;
        let kid = std::str::from_utf8(kid).map_err(|_| BadHeader::NotASegment)?;
        Ok((
            Header {
                salt: *salt,
                kid: kid.to_owned(),
            },
            MAGIC.len() + 9 + usize::from(len),
        ))
    }
}

/// Appends one frame to `out`, its payload written by `payload` (which
/// only appends).
pub(crate) fn push_frame<E>(
    out: &mut Vec<u8>,
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    if let Err(e) = payload(out) {
        out.truncate(start);
        return Err(e);
    }
    let body = &out[start + FRAME_HEADER..];
    let len = u32::try_from(body.len()).expect("records are far below 4 GiB");
    let crc = crc32c::crc32c(body);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// What the bytes at a frame boundary hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A record whose checksum holds.
    Record(&'a [u8]),
    /// An intact frame whose checksum fails: skip it.
    Corrupt,
    /// Not a whole, plausible frame: nothing from here on can be trusted.
    Torn,
    /// No bytes left.
    End,
}

/// The frame at the start of `bytes`, and the bytes it spans.
pub(crate) fn next_frame(bytes: &[u8]) -> (Frame<'_>, usize) {
    if bytes.is_empty() {
        return (Frame::End, 0);
    }
    let Some((head, rest)) = bytes.split_first_chunk::<FRAME_HEADER>() else {
        return (Frame::Torn, bytes.len());
    };
    let len = u32::from_le_bytes(head[..4].try_into().expect("four bytes")) as usize;
    let crc = u32::from_le_bytes(head[4..].try_into().expect("four bytes"));
    // A sealed record is never shorter than its tag: zeros (a file the
    // crash extended but never wrote) are torn, not an empty record.
    if !(OVERHEAD..=MAX_PAYLOAD).contains(&len) || len > rest.len() {
        return (Frame::Torn, bytes.len());
    }
    let payload = &rest[..len];
    let frame = if crc32c::crc32c(payload) == crc {
        Frame::Record(payload)
    } else {
        Frame::Corrupt
    };
    (frame, FRAME_HEADER + len)
}

/// The most frames a segment holds: the writer starts a new segment at
/// this many, whatever its size, so a record's index (the last 32 bits of
/// its AES-GCM nonce) never wraps and no nonce is used twice.
pub(crate) const MAX_RECORDS: u32 = u32::MAX - 1;

/// The largest `segment_bytes` config accepts. Far below [`MAX_RECORDS`]
/// of the smallest frame, so the record bound is a second line of defence.
pub(crate) const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// The smallest frame: a header and an empty record's tag.
pub(crate) const MIN_FRAME: u64 = (FRAME_HEADER + OVERHEAD) as u64;

const _: () = assert!(MAX_SEGMENT_BYTES / MIN_FRAME < MAX_RECORDS as u64);

/// Whether `bytes` is the start of a header cut short (nothing, or part of
/// a header): what a failed create or first write leaves.
pub(crate) fn is_cut_header(bytes: &[u8]) -> bool {
    if bytes.len() < MAGIC.len() {
        return MAGIC.starts_with(bytes);
    }
    if !bytes.starts_with(MAGIC) {
        return false;
    }
    match bytes.get(MAGIC.len() + 8) {
        None => true,
        Some(&kid) => bytes.len() < MAGIC.len() + 9 + usize::from(kid),
    }
}

/// The extension of a file set aside as not a segment.
pub(crate) const SET_ASIDE_EXTENSION: &str = "corrupt";

/// The sequence number of a segment file set aside (`<20 digits>.corrupt`).
pub(crate) fn parse_set_aside_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".corrupt")?;
    parse_file_name(&format!("{digits}.seg"))
}

/// The file name of segment `seq`: zero-padded so names sort in order.
pub(crate) fn file_name(seq: u64) -> String {
    format!("{seq:020}.seg")
}

/// The sequence number of a segment's file name.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_frame(&mut out, |o| {
            o.extend_from_slice(payload);
            Ok::<_, ()>(())
        })
        .unwrap();
        out
    }

    /// Every frame of `bytes`, as `next_frame` reads them.
    fn frames(mut bytes: &[u8]) -> Vec<Frame<'_>> {
        let mut out = Vec::new();
        loop {
            let (f, used) = next_frame(bytes);
            match f {
                Frame::End => return out,
                Frame::Torn => {
                    out.push(f);
                    return out;
                }
                _ => out.push(f),
            }
            bytes = &bytes[used..];
        }
    }

    #[test]
    fn headers_round_trip_and_reject_other_files() {
        let h = Header {
            salt: [1, 2, 3, 4, 5, 6, 7, 8],
            kid: "e1".into(),
        };
        let mut bytes = h.encode();
        let len = bytes.len();
        bytes.extend_from_slice(b"records");
        assert_eq!(Header::parse(&bytes), Ok((h, len)));
        assert!(Header::parse(b"PGSPOOL2........").is_err());
        assert!(Header::parse(&bytes[..len - 1]).is_err());
        assert!(Header::parse(b"").is_err());
    }

    #[test]
    fn torn_and_corrupt_frames_are_told_apart() {
        let a = [7u8; 20];
        let b = [9u8; 40];
        let mut bytes = frame(&a);
        bytes.extend(frame(&b));
        assert_eq!(frames(&bytes), [Frame::Record(&a), Frame::Record(&b)]);
        // A flipped payload byte: that frame is skipped, the next is read.
        let mut flipped = bytes.clone();
        flipped[FRAME_HEADER + 3] ^= 0x40;
        assert_eq!(frames(&flipped), [Frame::Corrupt, Frame::Record(&b)]);
        // Cut anywhere inside the second frame: a torn tail.
        for cut in a.len() + FRAME_HEADER + 1..bytes.len() {
            assert_eq!(frames(&bytes[..cut]), [Frame::Record(&a), Frame::Torn]);
        }
        // Zeros where the crash left the file longer than what was written.
        let mut zeros = frame(&a);
        zeros.extend([0; 64]);
        assert_eq!(frames(&zeros), [Frame::Record(&a), Frame::Torn]);
    }

    #[test]
    fn file_names_sort_and_parse_back() {
        assert_eq!(file_name(42), "00000000000000000042.seg");
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert!(file_name(9) < file_name(10));
        for bad in [
            "42.seg",
            "0000000000000000004x.seg",
            "00000000000000000042.tmp",
            "acked",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn cut_headers_are_told_from_other_files() {
        let h = Header {
            salt: [1; 8],
            kid: "e1".into(),
        }
        .encode();
        for cut in 0..h.len() {
            assert!(is_cut_header(&h[..cut]), "{cut}");
        }
        assert!(!is_cut_header(&h), "a whole header is not cut");
        assert!(!is_cut_header(b"PGSPOOL2"));
        assert!(!is_cut_header(&[0; 64]));
        assert!(!is_cut_header(b"garbage"));
        assert_eq!(
            parse_set_aside_name("00000000000000000042.corrupt"),
            Some(42)
        );
        assert_eq!(parse_set_aside_name("42.corrupt"), None);
        assert_eq!(parse_set_aside_name(&file_name(42)), None);
    }

    #[test]
    fn no_frame_is_smaller_than_min_frame() {
        // So a segment of MAX_SEGMENT_BYTES holds fewer than MAX_RECORDS
        // frames (checked at compile time above).
        let mut one = Vec::new();
        push_frame(&mut one, |o| {
            o.extend_from_slice(&[0; OVERHEAD]);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(one.len() as u64, MIN_FRAME);
        let mut smaller = Vec::new();
        push_frame(&mut smaller, |o| {
            o.extend_from_slice(&[0; OVERHEAD - 1]);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(next_frame(&smaller).0, Frame::Torn, "no frame is smaller");
    }

    proptest! {
        /// Frames round-trip, and any byte string reads without panicking
        /// as records, skips, and at most one torn tail at its end.
        #[test]
        fn frames_round_trip_and_any_bytes_read_totally(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 16..80), 0..5),
            noise in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let mut bytes = Vec::new();
            for p in &payloads {
                bytes.extend(frame(p));
            }
            let read = frames(&bytes);
            prop_assert_eq!(read.len(), payloads.len());
            for (f, p) in read.iter().zip(&payloads) {
                prop_assert_eq!(f, &Frame::Record(p));
            }
            bytes.extend(&noise);
            let read = frames(&bytes);
            prop_assert!(read.len() >= payloads.len());
            prop_assert!(read[..read.len().saturating_sub(1)].iter().all(|f| *f != Frame::Torn));
        }
    }
}
