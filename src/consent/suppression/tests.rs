//! Suppressions against a model: random sequences of suppress and
//! unsuppress calls (ids repeated within and across calls, some refused),
//! clean reopens, and crashes that leave a torn last line, run against the
//! real log on real files. After every step, for every id of the
//! universe: suppressed exactly when the model says, matched by lookups
//! (raw and as its pseudonym) exactly then, and its time unchanged since
//! it was suppressed, across reopens and crashes.

use super::*;
use crate::crypto::HmacKey;
use proptest::prelude::*;
use std::collections::HashMap;

const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn keys() -> Arc<Keyring> {
    let key = HmacKey::from_text("h1", K1).unwrap();
    Arc::new(Keyring::new(vec![key], Some(0), Vec::new(), None))
}

/// The ids the steps draw from.
const UNIVERSE: [&str; 6] = ["u-1", "u-2", "anon-3", "4711", "dev/5", "ü-6"];

#[derive(Clone, Debug)]
enum Op {
    Suppress(Vec<usize>),
    Unsuppress(Vec<usize>),
    /// A call with one bad id among good ones: refused whole.
    Refused(Vec<usize>),
    /// Closed and opened again.
    Reopen,
    /// A crash in the middle of an append: part of a line is on disk.
    TornAppend(usize),
    /// A write that failed part way while running: part of a line is on
    /// disk, and the log stays open for the next call.
    TornInPlace(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let ids = prop::collection::vec(0..UNIVERSE.len(), 0..5);
    prop_oneof![
        3 => ids.clone().prop_map(Op::Suppress),
        2 => ids.clone().prop_map(Op::Unsuppress),
        1 => ids.prop_map(Op::Refused),
        1 => Just(Op::Reopen),
        1 => (1usize..30).prop_map(Op::TornAppend),
        1 => (1usize..30).prop_map(Op::TornInPlace),
    ]
}

fn strings(ids: &[usize]) -> Vec<String> {
    ids.iter().map(|&i| UNIVERSE[i].to_owned()).collect()
}

fn check(s: &Suppressions, model: &HashMap<&str, SystemTime>, keys: &Keyring) {
    for id in UNIVERSE {
        let want = model.get(id);
        assert_eq!(s.since(id).as_ref(), want, "{id}");
        assert_eq!(s.matches(Scalar::Str(id)), want.is_some(), "{id}");
        let pseudonym = keys.active_hmac().unwrap().hash(id.as_bytes());
        assert_eq!(
            s.matches(Scalar::Str(&pseudonym)),
            want.is_some(),
            "{id} as its pseudonym"
        );
    }
    assert_eq!(s.len(), model.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn suppressions_match_the_model_across_reopens_and_crashes(
        ops in prop::collection::vec(op(), 1..25)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("suppressions.jsonl");
        let keys = keys();
        let mut s = Suppressions::open(&path, keys.clone()).unwrap();
        let mut model: HashMap<&str, SystemTime> = HashMap::new();
        for op in ops {
            match op {
                Op::Suppress(ids) => {
                    let fresh = s.suppress(&strings(&ids)).unwrap();
                    let mut new = 0;
                    for &i in &ids {
                        if !model.contains_key(UNIVERSE[i]) {
                            model.insert(UNIVERSE[i], s.since(UNIVERSE[i]).unwrap());
                            new += 1;
                        }
                    }
                    prop_assert_eq!(fresh, new);
                }
                Op::Unsuppress(ids) => {
                    let lifted = s.unsuppress(&strings(&ids)).unwrap();
                    let mut gone = 0;
                    for &i in &ids {
                        gone += usize::from(model.remove(UNIVERSE[i]).is_some());
                    }
                    prop_assert_eq!(lifted, gone);
                }
                Op::Refused(ids) => {
                    let mut call = strings(&ids);
                    call.push("bad\nid".into());
                    prop_assert!(matches!(s.suppress(&call), Err(SuppressionError::BadId(_))));
                    prop_assert!(matches!(s.unsuppress(&call), Err(SuppressionError::BadId(_))));
                }
                Op::Reopen => {
                    drop(s);
                    s = Suppressions::open(&path, keys.clone()).unwrap();
                }
                Op::TornInPlace(n) => {
                    let line = br#"{"op":"unsuppress","id":"u-2","at":1700000000}"#;
                    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
                    file.write_all(&line[..n.min(line.len() - 1)]).unwrap();
                }
                Op::TornAppend(n) => {
                    drop(s);
                    // What a crash mid-write leaves: the start of a line.
                    let line = br#"{"op":"suppress","id":"u-1","at":1700000000}"#;
                    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
                    file.write_all(&line[..n.min(line.len() - 1)]).unwrap();
                    drop(file);
                    s = Suppressions::open(&path, keys.clone()).unwrap();
                }
            }
            check(&s, &model, &keys);
        }
        // What survives a reopen is what was answered.
        drop(s);
        let s = Suppressions::open(&path, keys.clone()).unwrap();
        check(&s, &model, &keys);
    }
}

#[test]
fn calls_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let s = Suppressions::open(&dir.path().join("s.jsonl"), keys()).unwrap();
    let many = vec!["x".to_owned(); MAX_IDS + 1];
    assert!(matches!(s.suppress(&many), Err(SuppressionError::TooMany)));
    for bad in [
        String::new(),
        "a".repeat(MAX_ID_BYTES + 1),
        "tab\tid".into(),
    ] {
        let err = s.suppress(std::slice::from_ref(&bad)).unwrap_err();
        assert!(matches!(err, SuppressionError::BadId(0)));
        assert!(!err.to_string().contains(&bad) || bad.is_empty());
    }
    assert!(s.is_empty());
}

#[test]
fn the_log_names_people_so_only_its_owner_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.jsonl");
    let s = Suppressions::open(&path, keys()).unwrap();
    s.suppress(&["u-1".into()]).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}

/// One step of the change feed's model.
#[derive(Clone, Debug)]
enum FeedOp {
    Suppress(Vec<usize>),
    Unsuppress(Vec<usize>),
    /// Closed and opened again: the log is compacted.
    Reopen,
}

fn feed_op() -> impl Strategy<Value = FeedOp> {
    let ids = prop::collection::vec(0..UNIVERSE.len(), 0..4);
    prop_oneof![
        3 => ids.clone().prop_map(FeedOp::Suppress),
        2 => ids.prop_map(FeedOp::Unsuppress),
        1 => Just(FeedOp::Reopen),
    ]
}

/// Replays the feed after `cursor` onto `state`, `page` changes at a time.
fn replay(s: &Suppressions, mut cursor: u64, page: usize, state: &mut BTreeSet<String>) {
    for _ in 0..1000 {
        let (changes, next, more) = s.changes(cursor, page);
        assert!(changes.len() <= page);
        assert!(next >= cursor);
        for c in changes {
            match c.op {
                super::Op::Suppress => state.insert(c.id),
                super::Op::Unsuppress => state.remove(&c.id),
            };
        }
        cursor = next;
        if !more {
            return;
        }
    }
    panic!("the feed never ended");
}

use std::collections::BTreeSet;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The change feed against a model: after random suppressions,
    /// unsuppressions and reopens (compactions), replaying the feed from
    /// any cursor handed out earlier onto the state at that cursor gives
    /// the primary's state now, whatever the page size; and a replica
    /// that applies every page from the start holds the same ids with
    /// the same times.
    #[test]
    fn replaying_the_feed_from_any_cursor_gives_the_state_now(
        ops in prop::collection::vec(feed_op(), 1..30),
        page in 1usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("primary.jsonl");
        let keys = keys();
        let mut s = Suppressions::open(&path, keys.clone()).unwrap();
        let mut model: BTreeSet<String> = BTreeSet::new();
        // (cursor, the state it was handed out with)
        let mut seen: Vec<(u64, BTreeSet<String>)> = vec![(0, BTreeSet::new())];
        for op in ops {
            match op {
                FeedOp::Suppress(ids) => {
                    s.suppress(&strings(&ids)).unwrap();
                    model.extend(strings(&ids));
                }
                FeedOp::Unsuppress(ids) => {
                    s.unsuppress(&strings(&ids)).unwrap();
                    for id in strings(&ids) {
                        model.remove(&id);
                    }
                }
                FeedOp::Reopen => {
                    drop(s);
                    s = Suppressions::open(&path, keys.clone()).unwrap();
                }
            }
            let (_, cursor, _) = s.changes(0, usize::MAX);
            seen.push((cursor, model.clone()));
            for (cursor, then) in &seen {
                let mut state = then.clone();
                replay(&s, *cursor, page, &mut state);
                prop_assert_eq!(&state, &model, "from cursor {}", cursor);
            }
        }
        // A replica applying every page from the start.
        let replica = Suppressions::open(&dir.path().join("replica.jsonl"), keys.clone()).unwrap();
        let mut cursor = 0;
        loop {
            let (changes, next, more) = s.changes(cursor, page);
            replica.apply(&changes).unwrap();
            cursor = next;
            if !more {
                break;
            }
        }
        for id in UNIVERSE {
            prop_assert_eq!(replica.since(id), s.since(id), "{}", id);
        }
        // Applying it all again changes nothing.
        let (all, _, _) = s.changes(0, usize::MAX);
        prop_assert_eq!(replica.apply(&all).unwrap(), 0);
    }
}

#[test]
fn a_page_with_one_bad_id_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = Suppressions::open(&dir.path().join("s.jsonl"), keys()).unwrap();
    let change = |id: &str| Change {
        op: super::Op::Suppress,
        id: id.into(),
        at: 1,
    };
    for bad in ["", "bell\u{7}", &"x".repeat(MAX_ID_BYTES + 1)] {
        let page = [change("u-1"), change(bad)];
        assert!(matches!(s.apply(&page), Err(SuppressionError::BadId(1))));
    }
    assert!(s.is_empty());
    assert_eq!(s.changes(0, 10).0, Vec::new());
}
