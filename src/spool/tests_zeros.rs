//! Small groups are written into zeros the writer puts ahead of its frames
//! ([`super::writer`]): when it does, what a restart makes of those zeros,
//! and of a write a crash cut short, with and without zeros after it.

use super::recover::zeros;
use super::tests::{
    bodies, config, counter, events, frames, keyring, open_at, segments, take, written_and_closed,
    written_in_groups,
};
use super::{segment, Bytes};
use std::fs;
use std::path::Path;

const TORN: &str = "privgate_spool_corrupt_total{destination=\"dest\",kind=\"tail\"}";
const CORRUPT: &str = "privgate_spool_corrupt_total{destination=\"dest\",kind=\"record\"}";

/// Opens the spool over `file` as changed by `damage`; the torn tails and
/// corrupt records counted, and the events replayed (expecting `n`).
async fn reopened(
    dir: &Path,
    file: &Path,
    n: usize,
    damage: impl FnOnce(&mut Vec<u8>),
) -> (f64, f64, Vec<Bytes>) {
    let mut raw = fs::read(file).unwrap();
    damage(&mut raw);
    fs::write(file, raw).unwrap();
    let cfg = config(dir, 1 << 20);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let replayed = bodies(&take(&mut o.opened, n).await);
    let counts = (counter(&o.metrics, TORN), counter(&o.metrics, CORRUPT));
    o.opened.closer.finish();
    (counts.0, counts.1, replayed)
}

/// Ten events written one at a time, the file changed by `damage` (which
/// may look at it instead), then reopened as [`reopened`] says.
async fn written_one_by_one_then(
    n: usize,
    damage: impl FnOnce(&mut Vec<u8>),
) -> (f64, f64, Vec<Bytes>) {
    let dir = tempfile::tempdir().unwrap();
    let file = written_in_groups(&config(dir.path(), 1 << 20), 10, 1).await;
    reopened(dir.path(), &file, n, damage).await
}

#[tokio::test]
async fn the_zeros_after_the_last_frame_are_its_end_not_a_torn_tail() {
    let (torn, corrupt, replayed) = written_one_by_one_then(10, |raw| {
        // Not damaged: looked at.
        let (starts, end) = frames(raw);
        assert_eq!(starts.len(), 10);
        assert!(raw.len() > end, "no zeros ahead of the frames");
        assert!(zeros(&raw[end..]));
    })
    .await;
    assert_eq!((torn, corrupt), (0.0, 0.0));
    assert_eq!(replayed, events(0..10));
}

#[tokio::test]
async fn a_torn_tail_is_skipped_and_counted_and_the_rest_replays() {
    // A crash cut the last write short, and nothing followed it (a file
    // without zeros ahead, as earlier versions wrote them).
    let (torn, corrupt, replayed) = written_one_by_one_then(9, |raw| {
        let end = frames(raw).1;
        raw.truncate(end - 7);
    })
    .await;
    assert_eq!((torn, corrupt), (1.0, 0.0));
    assert_eq!(replayed, events(0..9));
}

#[tokio::test]
async fn a_write_cut_short_into_the_zeros_is_a_torn_tail() {
    // The last frame's header reached the disk, the end of its payload
    // did not: zeros follow where it was cut.
    let (torn, corrupt, replayed) = written_one_by_one_then(9, |raw| {
        let (starts, end) = frames(raw);
        let cut = starts[9] + segment::FRAME_HEADER + 5;
        raw[cut..end].fill(0);
    })
    .await;
    assert_eq!((torn, corrupt), (1.0, 0.0));
    assert_eq!(replayed, events(0..9));

    // Nothing of it did: its place is zeros, the segment's end.
    let (torn, corrupt, replayed) = written_one_by_one_then(9, |raw| {
        let (starts, end) = frames(raw);
        raw[starts[9]..end].fill(0);
    })
    .await;
    assert_eq!((torn, corrupt), (0.0, 0.0));
    assert_eq!(replayed, events(0..9));
}

#[tokio::test]
async fn a_damaged_frame_before_more_data_is_still_a_corrupt_record() {
    // Zeros inside the ninth frame, the tenth intact after it: not a cut.
    let (torn, corrupt, replayed) = written_one_by_one_then(9, |raw| {
        let (starts, _) = frames(raw);
        raw[starts[8] + segment::FRAME_HEADER + 5..starts[9]].fill(0);
    })
    .await;
    assert_eq!((torn, corrupt), (0.0, 1.0));
    let want: Vec<Bytes> = events(0..10)
        .into_iter()
        .enumerate()
        .filter(|&(i, _)| i != 8)
        .map(|(_, e)| e)
        .collect();
    assert_eq!(replayed, want);
}

#[tokio::test]
async fn appends_that_fit_in_the_zeros_leave_the_file_length_alone() {
    // What makes a sync write no metadata: the length changes once per
    // stretch of zeros, not once per append.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let mut lengths = Vec::new();
    for i in 0..40 {
        o.opened
            .spool
            .append(vec![Bytes::from_static(b"x")])
            .wait()
            .await
            .expect("committed");
        let file = segments(&cfg.dir).pop().unwrap();
        let raw = fs::read(&file).unwrap();
        let (starts, end) = frames(&raw);
        assert_eq!(starts.len(), i + 1);
        assert!(zeros(&raw[end..]));
        lengths.push(raw.len());
    }
    lengths.dedup();
    // Frames of 25 bytes, zeros 150 bytes at a time in tests: 1,000 bytes
    // of frames take 7 stretches.
    assert!(
        lengths.len() <= 8,
        "the length changed {} times",
        lengths.len()
    );
    take(&mut o.opened, 40).await;
    o.opened.closer.finish();
}

#[tokio::test]
async fn a_large_group_appends_without_zeros() {
    let dir = tempfile::tempdir().unwrap();
    // Ten events in one group: more than a small group's bytes in tests.
    let file = written_and_closed(&config(dir.path(), 1 << 20), 10).await;
    let raw = fs::read(&file).unwrap();
    let (starts, end) = frames(&raw);
    assert_eq!((starts.len(), raw.len()), (10, end));
    let (torn, corrupt, replayed) = reopened(dir.path(), &file, 10, |_| {}).await;
    assert_eq!((torn, corrupt), (0.0, 0.0));
    assert_eq!(replayed, events(0..10));
}

#[tokio::test]
async fn a_header_and_zeros_is_an_empty_segment() {
    // The only group's frame never reached the disk; its zeros did.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let file = written_in_groups(&cfg, 1, 1).await;
    let mut raw = fs::read(&file).unwrap();
    let (starts, end) = frames(&raw);
    assert!(raw.len() > end, "no zeros ahead of the frame");
    raw[starts[0]..end].fill(0);
    fs::write(&file, raw).unwrap();
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let empty = "privgate_spool_files_removed_total{destination=\"dest\",kind=\"empty\"}";
    assert_eq!(counter(&o.metrics, empty), 1.0);
    assert_eq!(counter(&o.metrics, TORN), 0.0);
    assert!(!file.exists());
    o.opened.closer.finish();
}
