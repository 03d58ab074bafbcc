//! The PII detectors on the labeled dev split (`tests/data/pii/dev.jsonl`,
//! issue #18): the floor they must not fall below. The numbers pinned
//! here are what the detectors reach today, rounded up a little; a change
//! that makes any of them worse fails. `cargo bench --bench pii_eval`
//! prints the whole table.
//!
//! `PII_EVAL_SHOW=<text>` prints the failures whose description holds
//! `<text>` (`phone`, `leaked`, `destroyed version`).

use privgate::pii_eval::{load, redact_pii, score, Score};
use std::path::Path;

fn dev() -> Score {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pii/dev.jsonl");
    let lines = load(&path).expect("the dev split is in the repository");
    let s = score(&lines, redact_pii());
    if let Ok(filter) = std::env::var("PII_EVAL_SHOW") {
        let by_id: std::collections::HashMap<&str, &str> = lines
            .iter()
            .map(|l| (l.id.as_str(), l.text.as_str()))
            .collect();
        for (id, what) in s.failures.iter().filter(|(_, w)| w.contains(&filter)) {
            println!("{id}: {what}\n    {:?}", by_id[id.as_str()]);
        }
        println!("{}", s.table());
    }
    s
}

/// What a corpus's floor allows: its number of labeled PII values (a
/// check that the corpus is the one pinned), the most values leaked per
/// type, and the most PII-free lines changed and look-alikes destroyed.
struct Floor {
    corpus: &'static str,
    values: u32,
    leaked: [(&'static str, u32); 7],
    changed: u32,
    destroyed: u32,
}

/// Fails if `s` is worse than `floor` anywhere.
fn assert_above(s: &Score, floor: Floor) {
    assert_eq!(
        s.leaked(None).total,
        floor.values,
        "the {} changed: re-pin the floor",
        floor.corpus
    );
    for (kind, most) in floor.leaked {
        let r = s.leaked(Some(kind));
        assert!(
            r.bad <= most,
            "{kind}: {} of {} leaked (floor {most})\n{}",
            r.bad,
            r.total,
            s.table()
        );
    }
    let changed = s.changed();
    assert!(
        changed.bad <= floor.changed,
        "{} of {} PII-free lines changed\n{}",
        changed.bad,
        changed.total,
        s.table()
    );
    let destroyed = s.destroyed();
    assert!(
        destroyed.bad <= floor.destroyed,
        "{} of {} look-alikes destroyed\n{}",
        destroyed.bad,
        destroyed.total,
        s.table()
    );
}

#[test]
fn the_dev_split_stays_above_the_floor() {
    // Of 2510 emails, 2703 phones, 1175 cards, 1299 IBANs, 1555 IPs, 833
    // SSNs, 2131 names.
    assert_above(
        &dev(),
        Floor {
            corpus: "dev split",
            values: 12206,
            leaked: [
                ("email", 3),
                ("phone", 27),
                ("card", 3),
                ("iban", 3),
                ("ip", 3),
                ("ssn", 3),
                ("name", 3),
            ],
            changed: 100,
            destroyed: 200,
        },
    );
}

/// The independent probe (`tests/data/pii-probe/probe.jsonl`, written
/// apart from the dev split's generator to approximate an unseen corpus):
/// its floor too, names included, which it found leaking at 24% before
/// the context rules it prompted (a person's email or phone beside a bare
/// `name`, more languages' name keys, HTML inputs' values, a user's
/// properties), and which later found dotted phones under phone keys,
/// emails glued into CJK text and German firmware versions.
#[test]
fn the_independent_probe_stays_above_its_floor() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pii-probe/probe.jsonl");
    let lines = load(&path).expect("the probe is in the repository");
    // Of 652 emails, 466 phones, 166 cards, 206 IBANs, 449 IPs, 119 SSNs,
    // 400 names.
    assert_above(
        &score(&lines, redact_pii()),
        Floor {
            corpus: "probe",
            values: 2458,
            leaked: [
                ("email", 1),
                ("phone", 1),
                ("card", 1),
                ("iban", 1),
                ("ip", 1),
                ("ssn", 1),
                ("name", 4),
            ],
            changed: 2,
            destroyed: 2,
        },
    );
}
