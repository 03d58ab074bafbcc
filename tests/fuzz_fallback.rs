//! The fuzz targets' checks (`privgate::fuzzing`) on stable, as part of
//! `cargo test`: for each target, every seed in `fuzz/seeds/<target>/` as
//! it is, then a bounded number of proptest cases, mostly seeds with a few
//! byte-level edits (the simplest of libFuzzer's mutations), some random
//! bytes. Not coverage-guided, so it finds less than `cargo fuzz` does in
//! the same time (README, "Fuzzing"), but it runs wherever the tests run
//! and a failure shrinks to a small input.

use privgate::fuzzing::{Target, TARGETS};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, TestError, TestRunner};
use std::path::{Path, PathBuf};

/// Cases per target, besides the seeds (all eleven take about a second).
const CASES: u32 = 256;

/// Bytes worth inserting into JSON, URLs and PII.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\\",
    b"\\u00",
    b"\\ud800",
    b"1e999",
    b"-0",
    b"\n",
    b"\xff",
    b"\xc3\xa9",
    b"%",
    b"%40",
    b"%25",
    b"+",
    b"&",
    b"=",
    b"?",
    b"#",
    b"@",
    b"/",
    b"//",
    b".",
    b"*",
    b"**",
    b"[*]",
    b"[0]",
    b"::",
    b"0",
    b"4111",
    b"255.",
    b" ",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = root().join("fuzz/seeds").join(target);
    let mut seeds: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let bytes = std::fs::read(&path).expect("a seed");
            (path, bytes)
        })
        .collect();
    seeds.sort();
    seeds
}

/// One edit of an input.
#[derive(Clone, Debug)]
enum Edit {
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
    Truncate(Index),
}

impl Edit {
    fn apply(&self, input: &mut Vec<u8>) {
        let at = |i: &Index, input: &Vec<u8>| i.index(input.len() + 1);
        match self {
            Edit::Set(i, b) if !input.is_empty() => {
                let at = i.index(input.len());
                input[at] = *b;
            }
            Edit::Set(..) => {}
            Edit::Insert(i, bytes) => {
                let at = at(i, input);
                input.splice(at..at, bytes.iter().copied());
            }
            Edit::Remove(i, n) => {
                let at = at(i, input);
                input.drain(at..(at + n).min(input.len()));
            }
            Edit::Truncate(i) => input.truncate(at(i, input)),
        }
    }
}

fn inputs(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let insert = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        select(TOKENS).prop_map(<[u8]>::to_vec),
    ];
    let edit = prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<Index>(), insert).prop_map(|(i, bytes)| Edit::Insert(i, bytes)),
        (any::<Index>(), 1..16usize).prop_map(|(i, n)| Edit::Remove(i, n)),
        any::<Index>().prop_map(Edit::Truncate),
    ];
    let edited =
        (select(seeds), prop::collection::vec(edit, 1..6)).prop_map(|(mut input, edits)| {
            edits.iter().for_each(|e| e.apply(&mut input));
            input
        });
    prop_oneof![
        4 => edited,
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn run(name: &str, target: Target) {
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "no seeds for {name}");
    for (path, seed) in &seeds {
        if std::panic::catch_unwind(|| target(seed)).is_err() {
            panic!("{name}: seed {} fails", path.display());
        }
    }
    let config = Config {
        // PROPTEST_CASES=n, as for every property test, runs more.
        cases: std::env::var("PROPTEST_CASES").map_or(CASES, |_| Config::default().cases),
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = inputs(seeds.into_iter().map(|(_, seed)| seed).collect());
    match TestRunner::new(config).run(&strategy, |input| {
        target(&input);
        Ok(())
    }) {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            let input = minimize(target, input);
            panic!(
                "{name}: {why}\nminimized input ({} bytes): b\"{}\"",
                input.len(),
                input.escape_ascii()
            )
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

/// Removes ever smaller runs of bytes from a failing input while it still
/// fails (proptest shrinks the edits, not the bytes).
fn minimize(target: Target, mut input: Vec<u8>) -> Vec<u8> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut run = input.len() / 2;
    while run > 0 {
        let mut at = 0;
        while at + run <= input.len() {
            let mut shorter = input.clone();
            shorter.drain(at..at + run);
            if std::panic::catch_unwind(|| target(&shorter)).is_err() {
                input = shorter;
            } else {
                at += run;
            }
        }
        run /= 2;
    }
    std::panic::set_hook(hook);
    input
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name), privgate::fuzzing::$name);
            }
        )*
        const TESTED: &[&str] = &[$(stringify!($name)),*];
    };
}

targets!(
    gunzip,
    segment,
    collect,
    parse_event,
    selector,
    scrub_url,
    filter_query,
    pii,
    pii_context,
    policy,
    tcf,
    tcf_string,
    gpp,
    snowplow,
    posthog,
    amplitude,
    ga4,
);

/// Every target has a test here, a cargo-fuzz target that calls it, and
/// seeds; and there is no cargo-fuzz target without a check.
#[test]
fn every_target_is_tested_and_fuzzed() {
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, TESTED);
    let manifest =
        std::fs::read_to_string(root().join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in &names {
        let path = root().join(format!("fuzz/fuzz_targets/{name}.rs"));
        let source = std::fs::read_to_string(&path).expect("a fuzz target per check");
        assert!(
            source.contains(&format!("privgate::fuzzing::{name}(data)")),
            "{name}"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} in fuzz/Cargo.toml"
        );
    }
    let files = std::fs::read_dir(root().join("fuzz/fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .count();
    assert_eq!(files, names.len(), "a fuzz target without a check");
}

// Bugs the targets found (fuzz/artifacts-found/README.md), each as the
// behaviour a fix should give. Those still open are `#[ignore]`d
// (`cargo test --test fuzz_fallback -- --ignored` runs them); when one
// passes, remove its `#[ignore]` and the exemption in src/fuzzing/ that
// names it. The rest are fixed and guard against regressions.
mod found_bugs {
    use privgate::policy::pii::{Scanner, Under};
    use privgate::policy::rules::{scrub_url, Glob};

    fn scrub(url: &str, keep: &str) -> String {
        let scrubbed = scrub_url(
            url,
            &[Glob::new(keep)],
            &Scanner::default(),
            Under::key("url"),
            &mut |_| {},
        );
        scrubbed.unwrap_or_else(|| url.to_owned())
    }

    #[test]
    fn a_printed_selector_parses_back() {
        use privgate::policy::selector::Selector;
        for text in [
            "a[0].[1]",
            "a[0][1]",
            r#"event_properties."[Amplitude] Page URL""#,
            r#""a.b"."c\"d"[*]"#,
            r#""**".x"#,
            r#""@user_id""#,
        ] {
            let parsed = Selector::parse(text).expect(text);
            assert_eq!(
                Selector::parse(&parsed[0].to_string()),
                Ok(parsed),
                "{text}"
            );
        }
    }

    #[test]
    fn a_path_read_as_scheme_relative_stays_a_path() {
        for path in [
            "/\\a@b.co",
            "/\\x@averyveryverylonghost.example.com/p",
            "/\t/a@b.co",
        ] {
            let out = std::panic::catch_unwind(|| scrub(path, "*"));
            assert!(
                out.as_ref()
                    .is_ok_and(|out| out.starts_with('/') && !out.contains('@')),
                "{path:?}: {out:?}"
            );
        }
    }

    #[test]
    fn an_unparsable_url_keeps_only_allowed_parameters() {
        let out = scrub("http://a b/x@y.co?secret=1#f", "utm_*");
        assert!(!out.contains("secret") && !out.contains('#'), "{out}");
    }

    #[test]
    fn a_line_break_does_not_hide_pii_in_a_kept_value() {
        let out = scrub("https://shop.example.com/?email=jane@exa\nmple.com", "*");
        let url = url::Url::parse(&out).expect("a URL");
        for (_, value) in url.query_pairs() {
            assert_eq!(Scanner::default().find(&value), Vec::new(), "{out}");
        }
    }

    #[test]
    fn an_ipv6_address_of_letters_is_redacted() {
        assert_eq!(
            Scanner::default().redact("from dead::beef", |_| {}),
            "from [ip]"
        );
    }

    #[test]
    fn redacting_twice_changes_nothing() {
        let sc = Scanner::default();
        for text in ["084 0044 0530.11380", "+44946095(415)5100"] {
            let once = sc.redact(text, |_| {}).into_owned();
            assert_eq!(sc.redact(&once, |_| {}), once, "{text:?}");
        }
    }
}
