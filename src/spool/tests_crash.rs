//! Crashes at the points between two file operations, and failing file
//! operations the other tests do not reach: what the spool directory holds
//! then is built here as the crash or the failure leaves it, and the next
//! run must still deliver every committed event.

use super::tests::{
    append, bodies, config, counter, event, events, keyring, open_at, take, Opened2,
};
use super::*;

/// Four segments' worth of records (`config(_, 512)` holds about five a
/// segment), read; the batch of the second segment acknowledged while the
/// batch of the first is still in flight, so the `acked` file records a
/// done range in the second segment. Then everything expires, and the
/// process dies after expiry deleted the segments and before it wrote the
/// `acked` file (the same files as an `acked` write failing on a full disk
/// and a crash after it, or a power loss the file's rename did not
/// survive: the file is behind, which must only ever mean duplicates).
#[tokio::test]
async fn segments_after_a_crash_in_expiry_are_new_numbers_not_recorded_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 512);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..20).await;
    let records = take(&mut o.opened, 20).await;
    let first = records[0].0.segment;
    let end_of = |seq: u64| {
        let last = records.iter().rfind(|(p, _)| p.segment == seq).unwrap();
        last.0.next()
    };
    let in_flight = o.opened.acks.begin(end_of(first));
    let taken = o.opened.acks.begin(end_of(first + 1));
    o.opened.acks.done(taken);
    let acked = dir.path().join("dest").join(acked::FILE);
    let before = fs::read(&acked).unwrap();
    assert!(
        String::from_utf8_lossy(&before).contains("done "),
        "a done range is recorded"
    );
    let later = SystemTime::now() + cfg.max_age + Duration::from_secs(60);
    assert_eq!(o.opened.spool.expire(later), 20);
    drop(in_flight);
    let Opened { feed, closer, .. } = o.opened;
    drop(feed);
    closer.kill();
    fs::write(&acked, &before).unwrap();

    // New events, acknowledged to their clients, over several segments.
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 100..120).await;
    let Opened { feed, closer, .. } = o.opened;
    drop(feed);
    closer.finish();
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(
        counter(&o.metrics, "privgate_spool_replayed_total"),
        20.0,
        "every new event is to be delivered"
    );
    assert_eq!(bodies(&take(&mut o.opened, 20).await), events(100..120));
    o.opened.closer.finish();
}

/// The reader cannot open a segment for a while (the process is out of
/// file descriptors: EMFILE, or ENFILE for the whole system): its records
/// are read once it can, not passed over and acknowledged with the batch
/// after them, which would delete them undelivered.
#[tokio::test]
async fn a_segment_the_reader_cannot_open_yet_is_read_later_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 512);
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    let shared = o.opened.closer.shared.clone();
    shared.faults.opens.store(1, Ordering::Release);
    let mut want = events(0..20);
    want.sort();
    let got = twenty_delivered_across_a_restart(&cfg, o).await;
    assert_eq!(got, want, "every event delivered, once");
    assert_eq!(
        shared.faults.opens.load(Ordering::Acquire),
        0,
        "the open failed"
    );
}

/// Appends events 0..20 to `o`; delivers what the feed gives, chunk by
/// chunk as the batcher does, until the last one came; then restarts
/// cleanly and takes what is replayed. Every event delivered, sorted.
async fn twenty_delivered_across_a_restart(cfg: &SpoolConfig, mut o: Opened2) -> Vec<Bytes> {
    append(&o.opened.spool, 0..20).await;
    let mut got = Vec::new();
    while !got.contains(&event(19)) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), o.opened.feed.recv())
            .await
            .expect("records arrive in time")
            .expect("feed open");
        got.extend(bodies(&chunk.records));
        let t = o.opened.acks.begin(chunk.end);
        o.opened.acks.done(t);
    }
    let Opened { feed, closer, .. } = o.opened;
    drop(feed);
    closer.finish();
    // What was not delivered yet comes after a restart.
    let mut o = open_at(cfg, keyring(&["e1"])).unwrap();
    let replayed = counter(&o.metrics, "privgate_spool_replayed_total") as usize;
    got.extend(bodies(&take(&mut o.opened, replayed).await));
    o.opened.closer.finish();
    got.sort();
    got
}

/// A restart whose key under the segments' key id is other material (a
/// key regenerated, or the wrong secret mounted): no record opens, and the
/// reader would count each corrupt and pass it over, so the batches after
/// it would acknowledge them and every segment would be deleted. The spool
/// must refuse to open instead, naming the key, and keep the segments for
/// the right key.
#[tokio::test]
async fn a_key_whose_material_changed_is_refused_and_the_segments_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..3).await;
    o.opened.closer.finish();
    let other = crate::crypto::generate_key();
    let changed = Arc::new(crate::crypto::Keyring::new(
        Vec::new(),
        None,
        vec![crate::crypto::EncryptionKey::from_text("e1", &other).unwrap()],
        Some(0),
    ));
    let err = open_at(&cfg, changed).err().expect("refused");
    assert!(
        matches!(&err, SpoolError::KeyChanged { kid, .. } if kid == "e1"),
        "{err}"
    );
    // The right key still has every event.
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(bodies(&take(&mut o.opened, 3).await), events(0..3));
    o.opened.closer.finish();
}

/// The reader's reads of a segment fail for a while (EIO from a passing
/// fault of the device or the network volume, ENOMEM), at the header or at
/// the frames: the records are read once the reads succeed, not passed
/// over and acknowledged with the batch after them, which would delete
/// them undelivered.
#[tokio::test]
async fn records_the_reader_cannot_read_yet_are_read_later_not_skipped() {
    let mut want = events(0..20);
    want.sort();
    for failing in 1..=3 {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 512);
        let o = open_at(&cfg, keyring(&["e1"])).unwrap();
        let shared = o.opened.closer.shared.clone();
        // Most records are read back from disk: the tests' tail holds a few.
        shared.faults.reads.store(failing, Ordering::Release);
        let got = twenty_delivered_across_a_restart(&cfg, o).await;
        assert_eq!(
            got, want,
            "{failing} failed reads: every event delivered, once"
        );
        assert_eq!(
            shared.faults.reads.load(Ordering::Acquire),
            0,
            "the reads failed"
        );
    }
}
