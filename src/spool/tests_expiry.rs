//! What expiry counts as lost (`reason="expired"`): only records no batch
//! delivered. Records of a batch acknowledged while an earlier one was
//! still in flight (a done range) were counted as forwarded already, and
//! voided ones were refused to their client: when their segment expires,
//! they are deleted with it but not counted again.

use super::tests::{append, config, counter, events, keyring, open_at, take};
use std::time::{Duration, SystemTime};

const EXPIRED: &str = "privgate_events_dropped_total{destination=\"dest\",reason=\"expired\"}";

#[tokio::test]
async fn expiry_counts_only_what_no_batch_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1 << 20);
    let mut o = open_at(&cfg, keyring(&["e1"])).unwrap();
    append(&o.opened.spool, 0..20).await;
    // A request refused after its records were committed: voided.
    let (commit, voided) = o.opened.spool.append_held(events(20..25));
    commit.wait().await.expect("committed");
    voided.void();
    append(&o.opened.spool, 25..45).await;
    let records = take(&mut o.opened, 40).await;
    // Two batches: the first (events 0..10) still in flight, the second
    // (10..20, then the void, then 25..45) acknowledged by the backend.
    let first = o.opened.acks.begin(records[9].0.next());
    let second = o.opened.acks.begin(records[39].0.next());
    o.opened.acks.done(second);
    let later = SystemTime::now() + cfg.max_age + Duration::from_secs(60);
    assert_eq!(o.opened.spool.expire(later), 45, "every record is deleted");
    assert_eq!(
        counter(&o.metrics, EXPIRED),
        10.0,
        "only the batch in flight counts as expired"
    );
    drop(first);
    o.opened.closer.finish();
}
