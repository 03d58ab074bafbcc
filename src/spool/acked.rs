//! The `acked` file: how far delivery got (every record before the
//! position is acknowledged or expired), and the ranges of records after it
//! that a restart must not deliver either: voided ones (held for a request
//! that was then refused, see [`super::hold`]) and done ones (batches the
//! backend took while an earlier batch was still in flight).
//!
//! ```text
//! <segment> <index>
//! void <segment> <index> <segment> <index>     (zero or more: [start, end))
//! done <segment> <index> <segment> <index>     (zero or more: [start, end))
//! crc <CRC32C of the lines above, 8 hex digits>
//! ```
//!
//! Written to a temporary file and renamed, not synced, each time a batch
//! is acknowledged ([`super::Acks::done`] returns only once it is written):
//! a process that dies (kill -9 included) leaves the file as of its last
//! acknowledgement, so what a restart delivers again is at most what was in
//! flight. The file only ever says what the backend already took, so it is
//! never ahead of the truth; after a power loss it may be behind (the OS
//! had not written it back): duplicates, never a loss. A file that cannot
//! be read, or whose checksum fails, is taken as "nothing acknowledged":
//! everything on disk is replayed. A lone `<segment> <index>` line is the
//! format of earlier versions and is still read; earlier versions read a
//! file with `done` lines as damaged (they replay everything).

use super::Pos;
use std::fs;
use std::io;
use std::path::Path;

/// The file's name in a spool directory.
pub(super) const FILE: &str = "acked";
const TMP: &str = "acked.tmp";

/// What the file records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Progress {
    /// Every record before this one is done with.
    pub acked: Pos,
    /// Voided ranges `[start, end)` at or after `acked`, in order.
    pub voids: Vec<(Pos, Pos)>,
    /// Ranges `[start, end)` after `acked` the backend took, in order.
    pub done: Vec<(Pos, Pos)>,
}

/// The file's text for `progress`.
fn encode(progress: &Progress) -> String {
    let mut text = format!("{} {}\n", progress.acked.segment, progress.acked.index);
    let ranges = (progress.voids.iter().map(|r| ("void", r)))
        .chain(progress.done.iter().map(|r| ("done", r)));
    for (kind, (start, end)) in ranges {
        text += &format!(
            "{kind} {} {} {} {}\n",
            start.segment, start.index, end.segment, end.index
        );
    }
    let crc = crc32c::crc32c(text.as_bytes());
    text += &format!("crc {crc:08x}\n");
    text
}

/// `text` read back; `None` if it is not a whole, intact file.
fn decode(text: &str) -> Option<Progress> {
    let body = match text.rfind("crc ") {
        Some(at) => {
            let (body, tail) = text.split_at(at);
            let crc = u32::from_str_radix(tail["crc ".len()..].trim_end(), 16).ok()?;
            (crc32c::crc32c(body.as_bytes()) == crc).then_some(body)?
        }
        // Earlier versions: one line, no checksum.
        None if text.lines().count() == 1 => text,
        None => return None,
    };
    let mut lines = body.lines();
    let mut nums = lines.next()?.split(' ').map(str::parse::<u64>);
    let acked = pos(nums.next()?.ok()?, nums.next()?.ok()?)?;
    if nums.next().is_some() {
        return None;
    }
    let (mut voids, mut done) = (Vec::new(), Vec::new());
    for line in lines {
        let (list, rest) = match line.split_once(' ')? {
            ("void", rest) => (&mut voids, rest),
            ("done", rest) => (&mut done, rest),
            _ => return None,
        };
        let nums: Vec<u64> = rest
            .split(' ')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [s1, i1, s2, i2] = nums[..] else {
            return None;
        };
        list.push((pos(s1, i1)?, pos(s2, i2)?));
    }
    Some(Progress { acked, voids, done })
}

fn pos(segment: u64, index: u64) -> Option<Pos> {
    Some(Pos {
        segment,
        index: u32::try_from(index).ok()?,
    })
}

/// What the file in `dir` records; the start (replay everything) if it is
/// missing, unreadable or damaged. Whether it was damaged is returned too.
pub(super) fn read(dir: &Path) -> (Progress, bool) {
    match fs::read_to_string(dir.join(FILE)) {
        Ok(text) => match decode(&text) {
            Some(p) => (p, false),
            None => (Progress::default(), true),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => (Progress::default(), false),
        Err(_) => (Progress::default(), true),
    }
}

/// Records `progress` in `dir` (temporary file, then rename).
pub(super) fn write(dir: &Path, progress: &Progress) -> io::Result<()> {
    let tmp = dir.join(TMP);
    fs::write(&tmp, encode(progress))?;
    fs::rename(&tmp, dir.join(FILE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(segment: u64, index: u32) -> Pos {
        Pos { segment, index }
    }

    #[test]
    fn reads_back_what_it_wrote_and_the_old_format() {
        let progress = Progress {
            acked: p(7, 3),
            voids: vec![(p(7, 5), p(8, 2)), (p(9, 0), p(9, 4))],
            done: vec![(p(8, 2), p(8, 9)), (p(10, 0), p(11, 1))],
        };
        assert_eq!(decode(&encode(&progress)), Some(progress));
        assert_eq!(
            decode("12 40\n"),
            Some(Progress {
                acked: p(12, 40),
                ..Progress::default()
            })
        );
        assert_eq!(
            decode("12 40"),
            Some(Progress {
                acked: p(12, 40),
                ..Progress::default()
            })
        );
    }

    #[test]
    fn a_damaged_file_reads_as_nothing() {
        let good = encode(&Progress {
            acked: p(7, 3),
            voids: vec![(p(7, 5), p(8, 2))],
            done: vec![(p(8, 4), p(9, 1))],
        });
        // Any single changed digit is caught.
        for (at, b) in good.bytes().enumerate() {
            if b.is_ascii_digit() {
                let mut bad = good.clone().into_bytes();
                bad[at] = if b == b'9' { b'0' } else { b + 1 };
                let bad = String::from_utf8(bad).unwrap();
                assert_eq!(decode(&bad), None, "{bad:?}");
            }
        }
        for bad in [
            "",
            "12",
            "12 x\n",
            "12 5 6\n",
            "1 2\n3 4\n",
            "12 99999999999\n",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        // Cut anywhere: never a different position.
        for cut in 0..good.len() {
            let read = decode(&good[..cut]);
            assert!(
                read.is_none() || read.as_ref().is_some_and(|r| r.acked <= p(7, 3)),
                "{:?}",
                &good[..cut]
            );
        }
    }

    proptest! {
        #[test]
        fn any_text_reads_without_panicking(text in ".{0,80}") {
            let _ = decode(&text);
        }
    }
}
