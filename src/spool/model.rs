//! The spool against a model: random sequences of appends (plain, refused
//! by an injected sync failure, held and later released or voided), a
//! backend that takes, acknowledges or fails batches, expiry, clean
//! restarts and kills, run against the real spool on real files, with
//! small segments so they roll often (by size and by record count).
//!
//! The model knows each event's fate. Checked after every step and at the
//! end (a clean restart and a full drain):
//! - within a run, the feed gives events in append order, each at most
//!   once;
//! - an event never appears again once it may not: refused (its append
//!   failed), voided durably, expired, or acknowledged (in any order: a
//!   batch the backend took after a batch still in flight too) before a
//!   restart or a kill;
//! - every event the model holds pending is fed when it should be (a take
//!   that expects records gets them) and is delivered by the end: none is
//!   silently skipped, none counted as delivered without being delivered;
//! - expiry counts exactly what it deletes (the pending gauge before it),
//!   and the pending gauge ends at zero.
//!
//! Duplicates are allowed, and bounded: the backend has a batch from when
//! it takes it, so an event fed in an earlier run and fed again is a
//! duplicate, and each must be one that was in flight (taken, not
//! acknowledged: pending or failed) when a run stopped, once per stop.

use super::*;
use crate::crypto::EncryptionKey;
use crate::metrics::Metrics;
use crate::spool::Fsync;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use tokio::sync::mpsc::error::TryRecvError;

#[derive(Clone, Debug)]
enum Op {
    /// Append this many events.
    Append(usize),
    /// Append with the next sync failing: refused.
    AppendFailing(usize),
    /// Append held, undecided.
    AppendHeld(usize),
    /// Decide a held append: release (true) or void.
    Decide(usize, bool),
    /// The backend takes up to this many chunks as one batch.
    Take(usize),
    /// The backend acknowledges a batch it took.
    Ack(usize),
    /// The backend fails a batch: never acknowledged in this run.
    Fail(usize),
    /// Time passes beyond `max_age`.
    ExpireAll,
    /// Expiry runs with nothing old enough.
    ExpireNone,
    /// Time passes beyond `max_age`, and the process dies after expiry
    /// deleted the segments, before it wrote the `acked` file.
    ExpireAllKilled,
    /// The reader's next open of a segment file fails (EMFILE).
    OpenFails,
    /// The reader's next read of a segment file fails (EIO).
    ReadFails,
    Restart,
    Kill,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1..6usize).prop_map(Op::Append),
        1 => (1..4usize).prop_map(Op::AppendFailing),
        1 => (1..4usize).prop_map(Op::AppendHeld),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(i, r)| Op::Decide(i, r)),
        4 => (1..4usize).prop_map(Op::Take),
        4 => any::<usize>().prop_map(Op::Ack),
        1 => any::<usize>().prop_map(Op::Fail),
        1 => Just(Op::ExpireAll),
        1 => Just(Op::ExpireNone),
        1 => Just(Op::ExpireAllKilled),
        1 => Just(Op::OpenFails),
        1 => Just(Op::ReadFails),
        1 => Just(Op::Restart),
        1 => Just(Op::Kill),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Committed: must be delivered.
    Pending,
    /// Its append failed.
    Refused,
    /// Committed and held, undecided.
    Held,
    /// Voided: never delivered (if `durable`), or maybe (a kill came
    /// before the void was written down).
    Voided {
        durable: bool,
    },
    /// Acknowledged (in any order).
    Acked,
    Expired,
}

const MAX_AGE: Duration = Duration::from_secs(3600);
/// Frames of 30-90 bytes: a segment holds a few.
const SEGMENT_BYTES: u64 = 300;
const MAX_RECORDS: u32 = 5;
/// Chunks the reader may have read before an expiry and not yet handed
/// over: the feed's two, and one in hand.
const READ_AHEAD: usize = 3;

fn event(id: u64) -> Bytes {
    let pad = "x".repeat((id % 7 * 9) as usize);
    Bytes::from(format!(r#"{{"id":{id},"pad":"{pad}"}}"#))
}

fn id_of(event: &Bytes) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(event).expect("an event");
    v["id"].as_u64().expect("an id")
}

/// A batch the backend took.
struct Taken {
    ids: Vec<u64>,
    ticket: Ticket,
}

/// One open of the spool.
struct Run {
    opened: Opened,
    metrics: Metrics,
    /// The last id fed in this run.
    fed_last: Option<u64>,
    /// Every record before this is in a batch or a ticket.
    covered: Option<Pos>,
    taken: Vec<Taken>,
    /// Ids fed in this run.
    fed: HashSet<u64>,
    /// Ids of the batches acknowledged in this run, in any order.
    settled: HashSet<u64>,
    /// Ids of the batches failed in this run: the backend may have them.
    failed: Vec<u64>,
    holds: Vec<(Vec<u64>, Hold)>,
}

struct Harness {
    dir: tempfile::TempDir,
    fate: Vec<Fate>,
    delivered: HashMap<u64, usize>,
    /// Ids that must not be fed again.
    never: HashSet<u64>,
    /// Ids expired in this run: chunks the reader had read before may
    /// still come (at most [`READ_AHEAD`] chunks), then never again.
    expired: HashSet<u64>,
    late_chunks: usize,
    /// Ids fed in an earlier run: the backend may have them.
    fed_before: HashSet<u64>,
    /// How many more times each id may be fed again after being fed in an
    /// earlier run: once per stop at which it was in flight.
    replays_allowed: HashMap<u64, usize>,
    /// Ids fed again after an earlier run (duplicates at the backend).
    duplicates: usize,
    run: Option<Run>,
}

fn config(dir: &Path) -> SpoolConfig {
    SpoolConfig {
        dir: dir.to_owned(),
        fsync: Fsync::Always,
        fsync_interval: Duration::from_millis(5),
        max_bytes: 1 << 30,
        max_age: MAX_AGE,
        segment_bytes: SEGMENT_BYTES,
    }
}

fn keyring() -> Arc<Keyring> {
    let key =
        EncryptionKey::from_text("e1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
    Arc::new(Keyring::new(Vec::new(), None, vec![key], Some(0)))
}

impl Harness {
    fn new() -> Harness {
        let mut h = Harness {
            dir: tempfile::tempdir().unwrap(),
            fate: Vec::new(),
            delivered: HashMap::new(),
            never: HashSet::new(),
            expired: HashSet::new(),
            late_chunks: 0,
            fed_before: HashSet::new(),
            replays_allowed: HashMap::new(),
            duplicates: 0,
            run: None,
        };
        h.open();
        h
    }

    fn open(&mut self) {
        let metrics = Metrics::new();
        let opened = open_with(
            &config(self.dir.path()),
            "dest",
            keyring(),
            SpoolMetrics::new(&metrics, "dest"),
            2,
            MAX_RECORDS,
        )
        .expect("the spool opens");
        self.run = Some(Run {
            opened,
            metrics,
            fed_last: None,
            covered: None,
            taken: Vec::new(),
            fed: HashSet::new(),
            settled: HashSet::new(),
            failed: Vec::new(),
            holds: Vec::new(),
        });
    }

    fn run(&mut self) -> &mut Run {
        self.run.as_mut().expect("open")
    }

    fn pending_gauge(&mut self) -> i64 {
        self.run()
            .metrics
            .queue_depth
            .with_label_values(&["dest"])
            .get()
    }

    fn new_ids(&mut self, n: usize) -> Vec<u64> {
        let start = self.fate.len() as u64;
        (start..start + n as u64).collect()
    }

    async fn append(&mut self, n: usize) {
        let ids = self.new_ids(n);
        let commit = self
            .run()
            .opened
            .spool
            .append(ids.iter().map(|&i| event(i)).collect());
        commit.wait().await.expect("the append commits");
        self.fate.extend(ids.iter().map(|_| Fate::Pending));
    }

    async fn append_failing(&mut self, n: usize) {
        let ids = self.new_ids(n);
        let run = self.run();
        run.opened
            .spool
            .shared
            .faults
            .syncs
            .store(1, Ordering::Release);
        let commit = run
            .opened
            .spool
            .append(ids.iter().map(|&i| event(i)).collect());
        let result = commit.wait().await;
        assert!(result.is_err(), "an append whose sync failed is refused");
        assert_eq!(
            run.opened.spool.shared.faults.syncs.load(Ordering::Acquire),
            0
        );
        self.fate.extend(ids.iter().map(|_| Fate::Refused));
        self.never.extend(ids);
    }

    async fn append_held(&mut self, n: usize) {
        let ids = self.new_ids(n);
        let run = self.run();
        let (commit, hold) = run
            .opened
            .spool
            .append_held(ids.iter().map(|&i| event(i)).collect());
        commit.wait().await.expect("the append commits");
        run.holds.push((ids.clone(), hold));
        self.fate.extend(ids.iter().map(|_| Fate::Held));
    }

    fn decide(&mut self, i: usize, release: bool) {
        let run = self.run();
        if run.holds.is_empty() {
            return;
        }
        let (ids, hold) = run.holds.remove(i % run.holds.len());
        if release {
            hold.release();
        } else {
            hold.void();
        }
        for id in ids {
            let fate = &mut self.fate[id as usize];
            if *fate == Fate::Held {
                *fate = if release {
                    Fate::Pending
                } else {
                    self.never.insert(id);
                    Fate::Voided { durable: true }
                };
            }
        }
    }

    /// Pending events the feed must still give in this run: after the last
    /// one fed, before the first held one.
    fn outstanding(&self) -> usize {
        let run = self.run.as_ref().expect("open");
        let from = run.fed_last.map_or(0, |l| l + 1) as usize;
        self.fate[from.min(self.fate.len())..]
            .iter()
            .take_while(|f| **f != Fate::Held)
            .filter(|f| **f == Fate::Pending)
            .count()
    }

    async fn take(&mut self, chunks: usize) {
        let mut ids = Vec::new();
        let mut end = None;
        for _ in 0..chunks {
            let run = self.run();
            let chunk = match run.opened.feed.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) if self.outstanding() == 0 => break,
                Err(TryRecvError::Empty) => {
                    let run = self.run();
                    let wait = tokio::time::timeout(Duration::from_secs(5), run.opened.feed.recv());
                    match wait.await {
                        Ok(Some(c)) => c,
                        _ => panic!("{} pending events were not fed", self.outstanding()),
                    }
                }
            };
            self.check_chunk(&chunk, &mut ids);
            end = Some(chunk.end);
        }
        if let Some(end) = end {
            self.batch(ids, end);
        }
    }

    /// Checks a chunk the feed gave; its ids go to `ids`.
    fn check_chunk(&mut self, chunk: &Chunk, ids: &mut Vec<u64>) {
        if chunk
            .records
            .iter()
            .any(|(_, e)| self.expired.contains(&id_of(e)))
        {
            assert!(self.late_chunks > 0, "expired records fed after expiry");
            self.late_chunks -= 1;
        }
        for (_, e) in &chunk.records {
            let id = id_of(e);
            self.fed(id);
            ids.push(id);
        }
    }

    /// The backend takes `ids`, covering every record before `end`, as one
    /// batch.
    fn batch(&mut self, ids: Vec<u64>, end: Pos) {
        let run = self.run();
        if ids.is_empty() && run.covered.is_some_and(|c| c >= end) {
            return;
        }
        run.covered = Some(end);
        let ticket = run.opened.acks.begin(end);
        let taken = Taken { ids, ticket };
        if taken.ids.is_empty() {
            // Only records passed over: acknowledged at once, as the batcher does.
            self.settle(taken);
        } else {
            self.run().taken.push(taken);
        }
    }

    /// Checks an id the feed gave.
    fn fed(&mut self, id: u64) {
        assert!(
            (id as usize) < self.fate.len(),
            "fed an id never appended: {id}"
        );
        let fate = self.fate[id as usize];
        assert!(
            !self.never.contains(&id),
            "fed id {id} that may not come again ({fate:?})"
        );
        if self.fed_before.contains(&id) {
            self.duplicates += 1;
            let allowed = self.replays_allowed.entry(id).or_default();
            assert!(
                *allowed > 0,
                "fed id {id} again although it was not in flight when a run stopped"
            );
            *allowed = allowed.saturating_sub(1);
        }
        assert_ne!(fate, Fate::Held, "fed held id {id} before its decision");
        let run = self.run();
        assert!(
            run.fed_last.is_none_or(|l| l < id),
            "fed {id} after {:?}: out of order or twice in one run",
            run.fed_last
        );
        run.fed_last = Some(id);
        run.fed.insert(id);
    }

    fn settle(&mut self, taken: Taken) {
        let run = self.run.as_mut().expect("open");
        run.opened.acks.done(taken.ticket);
        for &id in &taken.ids {
            *self.delivered.entry(id).or_default() += 1;
            run.settled.insert(id);
            let fate = &mut self.fate[id as usize];
            if *fate == Fate::Pending {
                *fate = Fate::Acked;
            }
        }
    }

    fn ack(&mut self, i: usize) {
        let run = self.run();
        if run.taken.is_empty() {
            return;
        }
        let taken = run.taken.remove(i % run.taken.len());
        self.settle(taken);
    }

    fn fail(&mut self, i: usize) {
        let run = self.run();
        if !run.taken.is_empty() {
            let len = run.taken.len();
            // Never acknowledged in this run: it blocks the position.
            let taken = run.taken.remove(i % len);
            drop(taken.ticket);
            run.failed.extend(taken.ids);
        }
    }

    fn expire(&mut self, all: bool) {
        let before = self.pending_gauge();
        let now = if all {
            SystemTime::now() + MAX_AGE + Duration::from_secs(60)
        } else {
            SystemTime::now()
        };
        let n = self.run().opened.spool.expire(now);
        if !all {
            assert_eq!(n, 0, "nothing is old enough");
            return;
        }
        assert_eq!(n as i64, before, "expiry counts every record it deletes");
        assert_eq!(self.pending_gauge(), 0);
        self.late_chunks = READ_AHEAD;
        for (id, fate) in self.fate.iter_mut().enumerate() {
            // Nothing appended so far may come again (but what was read).
            self.expired.insert(id as u64);
            if matches!(fate, Fate::Pending | Fate::Held) {
                *fate = Fate::Expired;
            }
        }
    }

    /// Stops the run: cleanly (the position written down) or as a crash.
    fn stop(&mut self, clean: bool) {
        let Run {
            opened,
            holds,
            taken,
            fed,
            settled,
            failed,
            ..
        } = self.run.take().expect("open");
        // What was fed in this run the backend may have; what was in flight
        // (taken, not acknowledged) may come once more.
        self.fed_before.extend(fed);
        let in_flight = taken.iter().flat_map(|t| t.ids.iter().copied());
        for id in in_flight.chain(failed) {
            *self.replays_allowed.entry(id).or_default() += 1;
        }
        let Opened {
            feed, acks, closer, ..
        } = opened;
        drop(feed);
        // Expiry was written down at once: a crash does not undo it.
        self.never.extend(self.expired.drain());
        // Requests that never decided: voided.
        for (ids, hold) in holds {
            drop(hold);
            for id in ids {
                let fate = &mut self.fate[id as usize];
                if *fate == Fate::Held {
                    *fate = Fate::Voided { durable: clean };
                    if clean {
                        self.never.insert(id);
                    }
                }
            }
        }
        drop(taken);
        drop(acks);
        // Acknowledged: written down at once, whatever the order.
        self.never.extend(settled);
        if clean {
            closer.finish();
        } else {
            closer.kill();
        }
    }

    async fn apply(&mut self, op: &Op) {
        match *op {
            Op::Append(n) => self.append(n).await,
            Op::AppendFailing(n) => self.append_failing(n).await,
            Op::AppendHeld(n) => self.append_held(n).await,
            Op::Decide(i, release) => self.decide(i, release),
            Op::Take(n) => self.take(n).await,
            Op::Ack(i) => self.ack(i),
            Op::Fail(i) => self.fail(i),
            Op::ExpireAll => self.expire(true),
            Op::ExpireNone => self.expire(false),
            Op::Restart | Op::Kill => {
                self.stop(matches!(op, Op::Restart));
                self.open();
            }
            Op::ExpireAllKilled => {
                let acked = self.dir.path().join("dest").join(acked::FILE);
                let before = fs::read(&acked).ok();
                self.expire(true);
                self.stop(false);
                // The file as it was: the kill came before expiry wrote it.
                match before {
                    Some(text) => fs::write(&acked, text).unwrap(),
                    // None was written: expiry found nothing, or wrote
                    // the first one.
                    None => fs::remove_file(&acked)
                        .or_else(|e| match e.kind() {
                            io::ErrorKind::NotFound => Ok(()),
                            _ => Err(e),
                        })
                        .unwrap(),
                }
                self.open();
            }
            Op::OpenFails => {
                let faults = &self.run().opened.spool.shared.faults;
                faults.opens.store(1, Ordering::Release);
            }
            Op::ReadFails => {
                let faults = &self.run().opened.spool.shared.faults;
                faults.reads.store(1, Ordering::Release);
            }
        }
    }

    /// A clean restart, then everything fed is delivered until nothing is
    /// left to feed; then the final checks.
    async fn drain_and_check(mut self) -> usize {
        self.stop(true);
        self.open();
        loop {
            self.take(64).await;
            while !self.run().taken.is_empty() {
                self.ack(0);
            }
            if self.outstanding() > 0 {
                continue;
            }
            // What may still come: replays after a kill, records passed over.
            let run = self.run();
            match tokio::time::timeout(Duration::from_millis(50), run.opened.feed.recv()).await {
                Ok(Some(chunk)) => {
                    let mut ids = Vec::new();
                    self.check_chunk(&chunk, &mut ids);
                    self.batch(ids, chunk.end);
                }
                _ => break,
            }
        }
        for (id, fate) in self.fate.iter().enumerate() {
            let times = self.delivered.get(&(id as u64)).copied().unwrap_or(0);
            match fate {
                Fate::Pending | Fate::Held => panic!("id {id} ({fate:?}) was never delivered"),
                Fate::Acked => assert!(times > 0, "id {id} acknowledged, never delivered"),
                Fate::Refused | Fate::Voided { durable: true } => {
                    assert_eq!(times, 0, "id {id} ({fate:?}) was delivered")
                }
                Fate::Voided { durable: false } | Fate::Expired => {}
            }
        }
        assert_eq!(self.pending_gauge(), 0, "nothing is left pending");
        let duplicates = self.duplicates;
        self.stop(true);
        duplicates
    }
}

fn run_case(ops: &[Op]) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut h = Harness::new();
        for op in ops {
            h.apply(op).await;
        }
        h.drain_and_check().await
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn the_spool_keeps_every_committed_event(ops in prop::collection::vec(op(), 1..40)) {
        run_case(&ops);
    }
}

#[test]
fn the_audit_sequences_hold_in_the_model() {
    use Op::*;
    // Delivered, quiet restarts, new events.
    run_case(&[
        Append(2),
        Take(1),
        Ack(0),
        Restart,
        Restart,
        Restart,
        Append(2),
    ]);
    // Everything expired, a restart, new events.
    run_case(&[Append(2), ExpireAll, Restart, Append(2)]);
    // A kill after delivery, with rolled segments.
    run_case(&[Append(5), Append(5), Take(3), Ack(0), Kill, Append(3)]);
    // Expiry deletes every segment, the process dies before it writes the
    // acked file, whose done range names a segment number the next run
    // must not take again.
    run_case(&[
        Append(5),
        Take(1),
        Take(1),
        Take(1),
        Ack(2),
        ExpireAllKilled,
        Append(5),
        Append(5),
    ]);
    // The reader cannot open a segment at first: it reads it later.
    run_case(&[OpenFails, Append(5), Take(3), Ack(0)]);
    // The reader cannot read a segment at first, after a restart (the tail
    // is empty): it reads it later.
    run_case(&[Append(5), Restart, ReadFails, Take(3), Ack(0)]);
    // A held append waits, a later one behind it too; voided, it is never fed.
    run_case(&[
        AppendHeld(2),
        Append(2),
        Take(1),
        Decide(0, false),
        Take(2),
        Ack(0),
        Restart,
    ]);
}
