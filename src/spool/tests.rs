//! The spool against real files in a temporary directory: what is appended
//! comes out in order, acknowledged segments go, the unacknowledged
//! survive a restart, and damage is skipped, counted, and contained.

use super::*;
use crate::crypto::EncryptionKey;
use crate::metrics::Metrics;
use crate::spool::Fsync;
use std::time::Duration;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

pub(super) fn keyring(ids: &[&str]) -> Arc<Keyring> {
    let keys = ids
        .iter()
        .map(|id| EncryptionKey::from_text(id, KEY).unwrap())
        .collect::<Vec<_>>();
    let active = (!keys.is_empty()).then(|| keys.len() - 1);
    Arc::new(Keyring::new(Vec::new(), None, keys, active))
}

pub(super) fn config(dir: &Path, segment_bytes: u64) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_owned(),
        fsync: Fsync::Always,
        fsync_interval: Duration::from_millis(5),
        max_bytes: 1 << 30,
        max_age: Duration::from_secs(3600),
        segment_bytes,
    }
}

pub(super) struct Opened2 {
    pub(super) opened: Opened,
    pub(super) metrics: Metrics,
}

pub(super) fn open_at(config: &SpoolConfig, keys: Arc<Keyring>) -> Result<Opened2, SpoolError> {
    let metrics = Metrics::new();
    let opened = open(config, "dest", keys, SpoolMetrics::new(&metrics, "dest"), 2)?;
    Ok(Opened2 { opened, metrics })
}

pub(super) fn event(i: usize) -> Bytes {
    Bytes::from(format!(
        r#"{{"messageId":"m{i}","note":"SECRET-MARKER-{i:04}"}}"#
    ))
}

pub(super) async fn append(spool: &Spool, range: std::ops::Range<usize>) {
    spool.append(events(range)).wait().await.expect("committed");
}

/// Reads `n` records from the feed (bounded in time).
pub(super) async fn take(o: &mut Opened, n: usize) -> Vec<(Pos, Bytes)> {
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(5), o.feed.recv())
            .await
            .expect("records arrive in time")
            .expect("feed open");
        out.extend(chunk.records);
    }
    assert_eq!(out.len(), n, "no more than asked for");
    out
}

/// Appends events `0..n` in one group, reads them (unacknowledged) and
/// closes the spool; the last segment's path.
pub(super) async fn written_and_closed(cfg: &SpoolConfig, n: usize) -> PathBuf {
    written_in_groups(cfg, n, n).await
}

/// [`written_and_closed`], appending `group` events at a time.
pub(super) async fn written_in_groups(cfg: &SpoolConfig, n: usize, group: usize) -> PathBuf {
    let mut o = open_at(cfg, keyring(&["e1"])).unwrap();
    for from in (0..n).step_by(group) {
        append(&o.opened.spool, from..n.min(from + group)).await;
    }
    take(&mut o.opened, n).await;
    o.opened.closer.finish();
    segments(&cfg.dir).pop().unwrap()
}

/// Where each frame of the segment file `raw` starts, and where the last
/// ends.
pub(super) fn frames(raw: &[u8]) -> (Vec<usize>, usize) {
    let (_, mut at) = segment::Header::parse(raw).unwrap();
    let mut starts = Vec::new();
    while let (segment::Frame::Record(_), used) = segment::next_frame(&raw[at..]) {
        starts.push(at);
        at += used;
    }
    (starts, at)
}

/// Events `range`, as appended.
pub(super) fn events(range: std::ops::Range<usize>) -> Vec<Bytes> {
    range.map(event).collect()
}

pub(super) fn bodies(records: &[(Pos, Bytes)]) -> Vec<Bytes> {
    records.iter().map(|(_, b)| b.clone()).collect()
}

pub(super) fn ack_all(o: &Opened, records: &[(Pos, Bytes)]) {
    let end = records.last().unwrap().0.next();
    let t = o.acks.begin(end);
    o.acks.done(t);
}

pub(super) fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join("dest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

pub(super) fn counter(metrics: &Metrics, name: &str) -> f64 {
    let text = String::from_utf8(metrics.render()).unwrap();
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn appended_events_come_out_in_order_and_acked_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    for k in 0..10 {
        append(&o.opened.spool, k * 10..k * 10 + 10).await;
    }
    let records = take(&mut o.opened, 100).await;
    assert_eq!(bodies(&records), events(0..100));
    let files = segments(dir.path());
    assert!(files.len() >= 2, "4 KiB segments roll: {files:?}");
    // Nothing on disk is readable as the events were sent.
    for f in &files {
        let raw = fs::read(f).unwrap();
        assert!(
            !raw.windows(13).any(|w| w == b"SECRET-MARKER"),
            "{f:?} holds plaintext"
        );
    }
    // Acknowledge the first half out of order: nothing moves until the
    // earlier batch is done too.
    let (first, second) = records.split_at(50);
    let t1 = o.opened.acks.begin(first.last().unwrap().0.next());
    let t2 = o.opened.acks.begin(second.last().unwrap().0.next());
    o.opened.acks.done(t2);
    assert_eq!(
        segments(dir.path()),
        files,
        "a later batch alone deletes nothing"
    );
    o.opened.acks.done(t1);
    let left = segments(dir.path());
    assert_eq!(left.len(), 1, "only the active segment stays: {left:?}");
    assert_eq!(o.metrics.queue_depth.with_label_values(&["dest"]).get(), 0);
    o.opened.closer.finish();
    // Reopened: nothing to replay.
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 0.0);
    o.opened.closer.finish();
}

#[tokio::test]
async fn unacknowledged_events_are_replayed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..60).await;
    let records = take(&mut o.opened, 60).await;
    ack_all(&o.opened, &records[..25]);
    o.opened.closer.finish();

    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 35.0);
    let replayed = take(&mut o.opened, 35).await;
    assert_eq!(bodies(&replayed), events(25..60));
    // New appends follow the replayed ones.
    append(&o.opened.spool, 60..65).await;
    let next = take(&mut o.opened, 5).await;
    assert_eq!(bodies(&next), events(60..65));
    o.opened.closer.finish();
}

#[tokio::test]
async fn a_corrupt_record_is_skipped_and_counted_and_the_rest_replays() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let file = written_and_closed(&cfg, 10).await;
    // Flip a byte inside the fourth record's payload.
    let mut raw = fs::read(&file).unwrap();
    let at = frames(&raw).0[3];
    raw[at + segment::FRAME_HEADER + 5] ^= 0x10;
    fs::write(&file, raw).unwrap();

    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let replayed = take(&mut o.opened, 9).await;
    let want: Vec<Bytes> = (0..10).filter(|&i| i != 3).map(event).collect();
    assert_eq!(bodies(&replayed), want);
    assert_eq!(
        counter(
            &o.metrics,
            "privgate_spool_corrupt_total{destination=\"dest\",kind=\"record\"}"
        ),
        1.0
    );
    o.opened.closer.finish();
}

#[tokio::test]
async fn segments_need_their_key_and_one_process_per_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert!(matches!(
        open_at(&cfg, keyring(&["e1"])),
        Err(SpoolError::Locked(_))
    ));
    append(&o.opened.spool, 0..3).await;
    o.opened.closer.finish();
    // Rotated with the old key kept: the old segment still replays.
    let mut o = open_at(&cfg, keyring(&["e1", "e2"])).unwrap();
    assert_eq!(bodies(&take(&mut o.opened, 3).await), events(0..3));
    o.opened.closer.finish();
    // The old key removed too early: a clear refusal, naming the key.
    let err = open_at(&cfg, keyring(&["e2"])).err().expect("refused");
    assert!(
        matches!(&err, SpoolError::UnknownKey { kid, .. } if kid == "e1"),
        "{err}"
    );
}

#[tokio::test]
async fn what_outlives_max_age_is_deleted_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..40).await;
    take(&mut o.opened, 40).await;
    let later = SystemTime::now() + Duration::from_secs(7200);
    assert_eq!(o.opened.spool.expire(SystemTime::now()), 0);
    assert_eq!(o.opened.spool.expire(later), 40);
    assert!(segments(dir.path()).is_empty());
    assert_eq!(
        counter(
            &o.metrics,
            "privgate_events_dropped_total{destination=\"dest\",reason=\"expired\"}"
        ),
        40.0
    );
    // The writer starts a new segment; the reader finds it.
    append(&o.opened.spool, 40..42).await;
    assert_eq!(bodies(&take(&mut o.opened, 2).await), events(40..42));
    o.opened.closer.finish();
}

#[tokio::test]
async fn a_full_spool_has_no_room_until_delivery_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 4096);
    cfg.max_bytes = 3 * 4096;
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let mut sent = 0;
    while o.opened.spool.has_room() {
        append(&o.opened.spool, sent..sent + 10).await;
        sent += 10;
        assert!(sent < 1000, "the bound is reached");
    }
    let records = take(&mut o.opened, sent).await;
    ack_all(&o.opened, &records);
    assert!(o.opened.spool.has_room());
    o.opened.closer.finish();
}

#[tokio::test]
async fn every_fsync_policy_commits_and_a_closed_spool_refuses() {
    for fsync in [Fsync::Always, Fsync::Interval, Fsync::Never] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 1 << 20);
        cfg.fsync = fsync;
        let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
        // Concurrent appends share commits.
        let commits: Vec<Commit> = (0..20)
            .map(|k| o.opened.spool.append(events(k * 5..k * 5 + 5)))
            .collect();
        for c in commits {
            c.wait().await.unwrap();
        }
        assert_eq!(bodies(&take(&mut o.opened, 100).await), events(0..100));
        let spool = o.opened.spool.clone();
        o.opened.closer.finish();
        assert!(matches!(
            spool.append(vec![event(0)]).wait().await,
            Err(SpoolError::Closed)
        ));
    }
}

#[tokio::test]
async fn appends_that_arrive_during_a_sync_share_the_next_one() {
    // Group commit: while one sync is in flight, the appends that arrive
    // wait and are committed together by one next sync; none is answered,
    // nor readable, before the sync that covers it returned.
    let dir = tempfile::tempdir().unwrap();
    let mut o = open_at(&config(dir.path(), 1 << 20), keyring(&["e1"])).unwrap();
    // The segment is opened (and its header synced) first.
    append(&o.opened.spool, 0..1).await;
    assert_eq!(bodies(&take(&mut o.opened, 1).await), events(0..1));
    let faults = &o.opened.spool.shared.faults;
    let before = faults.started.load(Ordering::Acquire);
    faults.hold_syncs(true);
    let mut first = o.opened.spool.append(events(1..2));
    let mut waited = 0;
    while faults.started.load(Ordering::Acquire) == before {
        waited += 1;
        assert!(waited < 5000, "the first append reaches its sync");
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = faults.started.load(Ordering::Acquire);
    let mut later: Vec<Commit> = (2..34)
        .map(|k| o.opened.spool.append(events(k..k + 1)))
        .collect();
    // A sync in flight: nothing is answered, nothing can be read.
    std::thread::sleep(Duration::from_millis(20));
    assert!(matches!(
        first.0.try_recv(),
        Err(oneshot::error::TryRecvError::Empty)
    ));
    for c in &mut later {
        assert!(matches!(
            c.0.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
    }
    assert!(o.opened.feed.try_recv().is_err(), "nothing is readable yet");
    faults.hold_syncs(false);
    first.wait().await.unwrap();
    for c in later {
        c.wait().await.unwrap();
    }
    assert_eq!(
        o.opened.spool.shared.faults.started.load(Ordering::Acquire),
        started + 1,
        "the 32 appends that arrived during the first sync shared one"
    );
    assert_eq!(bodies(&take(&mut o.opened, 33).await), events(1..34));
    o.opened.closer.finish();
}

/// Reads what the feed holds within `wait`; `None` if nothing came.
async fn try_take(o: &mut Opened, n: usize, wait: Duration) -> Option<Vec<(Pos, Bytes)>> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(wait, o.feed.recv()).await {
            Ok(Some(chunk)) => out.extend(chunk.records),
            _ => return None,
        }
    }
    Some(out)
}

#[tokio::test]
async fn new_segments_after_every_segment_went_are_read_not_skipped() {
    // The audit's repro: delivered, then restarts with no traffic, then new
    // events must not land below the recorded position.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..2).await;
    let records = take(&mut o.opened, 2).await;
    ack_all(&o.opened, &records);
    o.opened.closer.finish();
    for _ in 0..2 {
        open_at(&cfg, keyring(&["e1"]))
            .unwrap()
            .opened
            .closer
            .finish();
    }
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 2..4).await;
    let got = try_take(&mut o.opened, 2, Duration::from_secs(2)).await;
    o.opened.closer.finish();
    assert_eq!(got.map(|r| bodies(&r)), Some(events(2..4)));
    // And they survive a restart unread.
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(bodies(&take(&mut o.opened, 2).await), events(2..4));
    o.opened.closer.finish();
}

#[tokio::test]
async fn new_segments_after_everything_expired_are_read_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..2).await;
    let later = SystemTime::now() + Duration::from_secs(7200);
    assert_eq!(o.opened.spool.expire(later), 2);
    o.opened.closer.finish();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 2..4).await;
    let got = try_take(&mut o.opened, 2, Duration::from_secs(2)).await;
    o.opened.closer.finish();
    assert_eq!(got.map(|r| bodies(&r)), Some(events(2..4)));
}

/// The names of the files in the spool directory, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join("dest"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_failed_sync_of_a_segment_rolled_mid_group_fails_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 512);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..3).await;
    assert_eq!(bodies(&take(&mut o.opened, 3).await), events(0..3));
    // The group rolls the segment once or more; only the first sync (the
    // rolled segment's) fails, the others would succeed.
    o.opened
        .spool
        .shared
        .faults
        .syncs
        .store(1, Ordering::Release);
    let refused = o.opened.spool.append(events(3..20)).wait().await;
    assert!(refused.is_err(), "no 2xx for a group whose sync failed");
    assert_eq!(
        o.opened.spool.shared.faults.syncs.load(Ordering::Acquire),
        0
    );
    assert_eq!(
        counter(&o.metrics, "privgate_spool_write_errors_total"),
        1.0
    );
    // Nothing of it is read; what comes next is.
    append(&o.opened.spool, 20..22).await;
    assert_eq!(bodies(&take(&mut o.opened, 2).await), events(20..22));
    o.opened.closer.finish();
    // Nor replayed after a restart (it was cut from the files).
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let replayed = take(&mut o.opened, 5).await;
    let want: Vec<Bytes> = events(0..3).into_iter().chain(events(20..22)).collect();
    assert_eq!(bodies(&replayed), want);
    assert!(try_take(&mut o.opened, 1, Duration::from_millis(100))
        .await
        .is_none());
    o.opened.closer.finish();
}

#[tokio::test]
async fn a_segment_closes_at_the_record_bound_whatever_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let metrics = Metrics::new();
    let mut o = open_with(
        &cfg,
        "dest",
        keyring(&["e1"]),
        SpoolMetrics::new(&metrics, "dest"),
        2,
        3,
    )
    .unwrap();
    o.spool.append(events(0..10)).wait().await.unwrap();
    let records = take(&mut o, 10).await;
    assert_eq!(bodies(&records), events(0..10));
    // Indexes 0, 1, 2 in each segment: a nonce index never reaches the bound.
    let indexes: Vec<u32> = records.iter().map(|(p, _)| p.index).collect();
    assert_eq!(indexes, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    assert_eq!(segments(dir.path()).len(), 4);
    o.closer.finish();
}

#[tokio::test]
async fn files_a_full_disk_leaves_are_counted_and_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 4096);
    cfg.max_age = Duration::from_secs(60);
    let file = written_and_closed(&cfg, 3).await;
    let spool = dir.path().join("dest");
    let header = segment::Header {
        salt: [3; 8],
        kid: "e1".into(),
    }
    .encode();
    // A failed create, a header cut short, a header alone, and a file that
    // is not a segment at all.
    fs::write(spool.join(segment::file_name(5)), b"").unwrap();
    fs::write(spool.join(segment::file_name(6)), &header[..5]).unwrap();
    fs::write(spool.join(segment::file_name(7)), &header).unwrap();
    fs::write(spool.join(segment::file_name(8)), vec![0x5a; 700]).unwrap();

    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(
        counter(
            &o.metrics,
            "privgate_spool_files_removed_total{destination=\"dest\",kind=\"empty\"}"
        ),
        3.0
    );
    assert_eq!(
        counter(
            &o.metrics,
            "privgate_spool_corrupt_total{destination=\"dest\",kind=\"segment\"}"
        ),
        1.0
    );
    assert_eq!(
        files(dir.path()),
        [
            "00000000000000000001.seg",
            "00000000000000000008.corrupt",
            "LOCK",
            "acked"
        ]
    );
    let seg_bytes = fs::metadata(&file).unwrap().len();
    assert_eq!(
        o.metrics.spool_bytes.with_label_values(&["dest"]).get() as u64,
        seg_bytes + 700,
        "a file set aside counts against the bound"
    );
    assert_eq!(bodies(&take(&mut o.opened, 3).await), events(0..3));
    // New segments are numbered past the file set aside.
    append(&o.opened.spool, 3..4).await;
    assert!(segments(dir.path())
        .pop()
        .unwrap()
        .ends_with(segment::file_name(9)));
    assert_eq!(bodies(&take(&mut o.opened, 1).await), events(3..4));
    // Not yet max_age old: kept. Then: deleted and counted.
    o.opened.spool.expire(SystemTime::now());
    assert!(spool.join("00000000000000000008.corrupt").exists());
    o.opened
        .spool
        .expire(SystemTime::now() + Duration::from_secs(120));
    assert!(!spool.join("00000000000000000008.corrupt").exists());
    assert_eq!(
        counter(
            &o.metrics,
            "privgate_spool_files_removed_total{destination=\"dest\",kind=\"corrupt\"}"
        ),
        1.0
    );
    assert_eq!(o.metrics.spool_bytes.with_label_values(&["dest"]).get(), 0);
    o.opened.closer.finish();
}

#[tokio::test]
async fn a_damaged_acked_file_replays_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 4096);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..6).await;
    let records = take(&mut o.opened, 6).await;
    ack_all(&o.opened, &records[..4]);
    o.opened.closer.finish();
    let acked = dir.path().join("dest/acked");
    let text = fs::read_to_string(&acked).unwrap();
    // One digit changed: the position cannot be trusted.
    fs::write(&acked, text.replacen('4', "9", 1)).unwrap();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(bodies(&take(&mut o.opened, 6).await), events(0..6));
    o.opened.closer.finish();
}

#[tokio::test]
async fn expiry_takes_the_segments_before_an_old_one_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 300);
    written_and_closed(&cfg, 12).await;
    assert!(segments(dir.path()).len() >= 3);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(bodies(&take(&mut o.opened, 12).await), events(0..12));
    // Make a middle segment look newer (a clock step, a touched file): it
    // goes with the older ones around it, and acked never jumps a segment
    // that stays.
    {
        let mut st = o.opened.spool.shared.lock();
        let (&seq, _) = st.segments.iter().nth(1).unwrap();
        st.segments.get_mut(&seq).unwrap().newest = SystemTime::now() + Duration::from_secs(7200);
    }
    let cutoff = SystemTime::now();
    append(&o.opened.spool, 12..14).await;
    let n = o.opened.spool.expire(cutoff + cfg.max_age);
    assert_eq!(n, 12, "all of the earlier run's, none of this one's");
    assert_eq!(bodies(&take(&mut o.opened, 2).await), events(12..14));
    o.opened.closer.finish();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(bodies(&take(&mut o.opened, 2).await), events(12..14));
    o.opened.closer.finish();
}

#[tokio::test]
async fn a_held_append_waits_for_its_decision() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 512);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..2).await;
    let (commit, released) = o.opened.spool.append_held(events(2..4));
    commit.wait().await.unwrap();
    let (commit, voided) = o.opened.spool.append_held(events(4..16));
    commit.wait().await.unwrap();
    let (commit, dropped) = o.opened.spool.append_held(events(16..17));
    commit.wait().await.unwrap();
    append(&o.opened.spool, 17..18).await;
    // Only what comes before the first undecided append is fed.
    assert_eq!(bodies(&take(&mut o.opened, 2).await), events(0..2));
    assert!(try_take(&mut o.opened, 1, Duration::from_millis(100))
        .await
        .is_none());
    released.release();
    assert_eq!(bodies(&take(&mut o.opened, 2).await), events(2..4));
    assert!(try_take(&mut o.opened, 1, Duration::from_millis(100))
        .await
        .is_none());
    voided.void();
    drop(dropped);
    let rest = take(&mut o.opened, 1).await;
    assert_eq!(bodies(&rest), events(17..18));
    ack_all(&o.opened, &rest);
    o.opened.closer.finish();
    // The voided records are not replayed either.
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 0.0);
    assert!(try_take(&mut o.opened, 1, Duration::from_millis(100))
        .await
        .is_none());
    o.opened.closer.finish();
}

#[tokio::test]
async fn voided_records_at_the_end_are_acknowledged_and_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 512);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..2).await;
    let (commit, hold) = o.opened.spool.append_held(events(2..12));
    commit.wait().await.unwrap();
    let records = take(&mut o.opened, 2).await;
    ack_all(&o.opened, &records);
    // A dropped hold voids without writing it down; the chunk that passes
    // over the records says how far, and acknowledging it moves the position.
    drop(hold);
    let mut chunks = 0;
    while let Ok(Some(chunk)) =
        tokio::time::timeout(Duration::from_millis(200), o.opened.feed.recv()).await
    {
        assert!(chunk.records.is_empty());
        let t = o.opened.acks.begin(chunk.end);
        o.opened.acks.done(t);
        chunks += 1;
    }
    assert!(chunks >= 2, "the voided records span segments");
    assert_eq!(o.metrics.queue_depth.with_label_values(&["dest"]).get(), 0);
    o.opened.closer.kill();
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 0.0);
    o.opened.closer.finish();
}

#[tokio::test]
async fn a_void_is_written_down_at_once_and_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 512);
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let (commit, voided) = o.opened.spool.append_held(events(0..3));
    commit.wait().await.unwrap();
    let (commit, dropped) = o.opened.spool.append_held(events(3..5));
    commit.wait().await.unwrap();
    append(&o.opened.spool, 5..6).await;
    voided.void();
    // Dropped undecided (the request's future went away): voided in memory
    // only, and a crash comes before anything writes it down.
    drop(dropped);
    let Opened { feed, closer, .. } = o.opened;
    drop(feed);
    closer.kill();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 3.0);
    // At least once: the dropped append comes back, the voided one not.
    let replayed = take(&mut o.opened, 3).await;
    assert_eq!(bodies(&replayed), events(3..6));
    o.opened.closer.finish();
}

#[tokio::test]
async fn an_acknowledgement_is_written_down_before_done_returns() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..10).await;
    let records = take(&mut o.opened, 10).await;
    // The backend took the first six: acknowledged, then a crash at once.
    ack_all(&o.opened, &records[..6]);
    let Opened { feed, closer, .. } = o.opened;
    drop(feed);
    closer.kill();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 4.0);
    assert_eq!(bodies(&take(&mut o.opened, 4).await), events(6..10));
    o.opened.closer.finish();
}

#[tokio::test]
async fn batches_done_out_of_order_are_not_replayed_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 512);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..20).await;
    let records = take(&mut o.opened, 20).await;
    // Four batches of five, over several segments.
    let tickets: Vec<Ticket> = records
        .chunks(5)
        .map(|b| o.opened.acks.begin(b.last().unwrap().0.next()))
        .collect();
    let [first, second, third, fourth] = <[Ticket; 4]>::try_from(tickets).ok().unwrap();
    // The backend took all four; the second and the fourth were
    // acknowledged, the first was still in flight and the third failing
    // when the process died.
    o.opened.acks.done(fourth);
    o.opened.acks.done(second);
    drop((first, third));
    let Opened { feed, closer, .. } = o.opened;
    drop(feed);
    closer.kill();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 10.0);
    let again = take(&mut o.opened, 10).await;
    assert_eq!(bodies(&again), [events(0..5), events(10..15)].concat());
    // Once they are acknowledged too (and the records passed over after
    // them, as the batcher does), nothing is left, after a crash as well.
    let t = o.opened.acks.begin(again.last().unwrap().0.next());
    o.opened.acks.done(t);
    while let Ok(Some(chunk)) =
        tokio::time::timeout(Duration::from_millis(200), o.opened.feed.recv()).await
    {
        assert!(chunk.records.is_empty(), "only records passed over");
        let t = o.opened.acks.begin(chunk.end);
        o.opened.acks.done(t);
    }
    assert_eq!(o.metrics.queue_depth.with_label_values(&["dest"]).get(), 0);
    let Opened { feed, closer, .. } = o.opened;
    drop(feed);
    closer.kill();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(counter(&o.metrics, "privgate_spool_replayed_total"), 0.0);
    assert!(try_take(&mut o.opened, 1, Duration::from_millis(100))
        .await
        .is_none());
    o.opened.closer.finish();
}

#[tokio::test]
async fn records_come_from_memory_while_the_reader_keeps_up_else_from_disk() {
    let fed = |o: &Opened| o.closer.shared.faults.fed();
    let dir = tempfile::tempdir().unwrap();
    let (cfg, keys) = (config(dir.path(), 1 << 20), keyring(&["e1"]));
    let mut o = open_at(&cfg, keys.clone()).unwrap();
    for i in 0..3 {
        append(&o.opened.spool, i..i + 1).await;
        assert_eq!(bodies(&take(&mut o.opened, 1).await), events(i..i + 1));
    }
    assert_eq!(fed(&o.opened), [3, 0], "read from memory");
    // More at once than the tail holds (a few records in tests): the
    // first from memory, the rest from disk, in order.
    append(&o.opened.spool, 3..13).await;
    assert_eq!(bodies(&take(&mut o.opened, 10).await), events(3..13));
    let [tail, disk] = fed(&o.opened);
    assert!(tail > 3 && disk > 0 && tail + disk == 13, "{tail} {disk}");
    o.opened.closer.finish();
    // After a restart, what was not acknowledged comes from disk: the same.
    let mut o = open_at(&cfg, keys).unwrap();
    assert_eq!(bodies(&take(&mut o.opened, 13).await), events(0..13));
    assert_eq!(fed(&o.opened), [0, 13]);
    o.opened.closer.finish();
}
