//! Where the reader resumes after a restart: at the acknowledged cursor,
//! however far into its segment that is. A reader that starts a segment
//! from its first frame reads its way to the cursor chunk by chunk (1 MiB;
//! 64 bytes in tests, so the model tests cross chunks too); the records it
//! passes on the way were delivered and must not be fed again. Here the
//! records before the cursor are more than a production chunk.

use super::tests::{ack_all, append, bodies, config, counter, events, keyring, open_at, take};
use std::time::Duration;

#[tokio::test]
async fn a_restart_resumes_at_the_cursor_past_the_first_chunk() {
    let dir = tempfile::tempdir().unwrap();
    // One segment holding several chunks' worth of records (~80 bytes a
    // frame: 40,000 frames are about 3 MiB).
    let cfg = config(dir.path(), 64 << 20);
    let (n, acked) = (40_000, 30_000);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..n).await;
    let records = take(&mut o.opened, n).await;
    assert_eq!(
        records.first().unwrap().0.segment,
        records.last().unwrap().0.segment,
        "all in one segment"
    );
    ack_all(&o.opened, &records[..acked]);
    o.opened.closer.finish();

    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    assert_eq!(
        counter(&o.metrics, "privgate_spool_replayed_total"),
        (n - acked) as f64
    );
    let replayed = take(&mut o.opened, n - acked).await;
    assert_eq!(bodies(&replayed), events(acked..n), "from the cursor on");
    // And nothing after them: no delivered record comes again.
    let more = tokio::time::timeout(Duration::from_millis(300), o.opened.feed.recv()).await;
    let extra = more.ok().flatten().map_or(0, |chunk| chunk.records.len());
    assert_eq!(extra, 0, "records fed again after the replay");
    o.opened.closer.finish();
}
