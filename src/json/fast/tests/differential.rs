//! The fast path against the serde scan on text made to part them: JSON
//! written in every spelling where a hand-written reader may differ from
//! serde_json, then cut or spliced anywhere, read with every layout and
//! with tight bounds. Whatever the fast scan ([`super::scan`]) or the one
//! pass over a batch ([`super::batch`]) answers must be the serde scan's
//! answer; the tests in `fast.rs` and the fuzz targets check the same on
//! other inputs.

use crate::json::bounds::Limits;
use crate::json::fast::{batch, scan};
use crate::json::layout::{Layout, SegmentLayout};
use crate::json::object::TopLevel;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// The fast scan's answer, when it gives one, is the serde scan's.
pub(super) fn agree<L: Layout>(input: &[u8], limits: Limits, want_batch: bool) -> bool {
    let fast = scan::<L>(input, limits, want_batch);
    let serde = TopLevel::scan_serde::<L>(input, limits, want_batch);
    match (&fast, &serde) {
        (Some(f), Ok(s)) => assert_eq!(f, s, "{}", String::from_utf8_lossy(input)),
        (Some(f), Err(e)) => panic!(
            "fast accepted what serde refuses ({e}): {f:?} {}",
            String::from_utf8_lossy(input)
        ),
        (None, _) => {}
    }
    fast.is_some()
}

/// The one pass over a batch, when it answers, gives what the serde scan
/// of the envelope and then of each element gives.
fn batch_agrees<L: Layout>(input: &[u8], limits: Limits) -> bool {
    let text = String::from_utf8_lossy(input);
    let mut handed = Vec::new();
    let Some(top) = batch::<L>(input, limits, &mut |raw, event| handed.push((raw, event))) else {
        return false;
    };
    let mut serde = TopLevel::scan_serde::<L>(input, limits, true)
        .unwrap_or_else(|e| panic!("one pass accepted what serde refuses ({e}): {text}"));
    let items = serde.batch.take().expect("one pass answers for a batch");
    assert_eq!(top, serde, "{text}");
    assert_eq!(handed.len(), items.len(), "{text}");
    for ((raw, event), item) in handed.into_iter().zip(items) {
        assert_eq!(raw, item, "{text}");
        match (event, item.trim_start().starts_with('{')) {
            (Some(event), true) => {
                match TopLevel::scan_serde::<L>(item.as_bytes(), limits, false) {
                    Ok(want) => assert_eq!(event, want, "{text}"),
                    Err(e) => panic!("one pass scanned what serde refuses ({e}): {text}"),
                }
            }
            (None, false) => {}
            (event, _) => panic!("element {item} handed as {event:?}: {text}"),
        }
    }
    true
}

/// Keys the layouts read (some spelled with escapes), and others.
const KEYS: &str = "userId|user\\u0049d|anonymousId|previousId|context|writeKey|type|batch|\
    ba\\u0074ch|messageId|receivedAt|ip|consent|consentManagement|properties|$ip|distinct_id|\
    $device_id|$anon_distinct_id|alias|api_key|token|event|uuid|events|user_id|device_id|\
    event_type|e|aid|data|schema|co|cx|ue_pr|gcs|gcd|gdpr|gpp|gpp_sid|us_privacy|client_id|\
    en|a||k\\\"|\\ud83d\\ude00";

/// Pieces of string text JSON allows.
const PIECES: &str =
    "x|ab c|\\n|\\\"|\\\\|\\/|\\b\\f\\r\\t|\\u0049|\\u00e9|\\uFFFF|\\ud83d\\ude00|\
    \\uDBFF\\uDFFF|\u{e9}|\u{1F600}|\u{7f}|\u{2028}|\\u0000";

/// Pieces of string text it does not, or that serde_json and a reader
/// may decode apart (lone surrogates).
const ODD_PIECES: &str = "\\ud800|\\udc00|\\ud800x|\\ud800\\u0041|\\u12|\\x|\\|\u{1}|\t|\n";

/// Numbers: ordinary, at a double's edges, past them; then not numbers.
const NUMBERS: &str = "0|-0|7|-12|1.5|-1.5e10|1E-400|1e+2|0.0000001|\
    123456789012345678901234567890|18446744073709551615|18446744073709551616|\
    -9223372036854775808|-9223372036854775809|1.7976931348623157e308|1.7976931348623159e308|\
    4.9e-324|2.4e-324|1e308|9e307|0e0|0.0e-0|1e400|-1e400";
const ODD_NUMBERS: &str = "01|-01|1.|.5|1e|1e+|-|+1|00|1_0|0x1|NaN|Infinity";

const LITERALS: &str = "true|false|null";
const ODD_LITERALS: &str = "tru|nul|True|nulll";

/// Whitespace JSON allows, and some it does not.
const SPACE: &str = "||| |\n|\t |\r\n";
const ODD_SPACE: &str = "\u{c}|\u{a0}|\u{0}";

/// Mostly one of `valid`, sometimes one of `odd` (`|`-separated).
fn one_of(valid: &'static str, odd: &'static str) -> impl Strategy<Value = &'static str> + Clone {
    let valid: Vec<&str> = valid.split('|').collect();
    let odd: Vec<&str> = odd.split('|').collect();
    prop_oneof![59 => prop::sample::select(valid), 1 => prop::sample::select(odd)]
}

/// Text that is JSON most of the time: an object of members the layouts
/// read and others, a batch of events among them now and then.
fn jsonish() -> impl Strategy<Value = String> {
    let space = || one_of(SPACE, ODD_SPACE);
    let string = prop::collection::vec(one_of(PIECES, ODD_PIECES), 0..3)
        .prop_map(|pieces| format!("\"{}\"", pieces.concat()));
    let key = {
        let string = string.clone();
        move || {
            prop_oneof![
                3 => one_of(KEYS, "").prop_map(|k| format!("\"{k}\"")),
                1 => string.clone(),
            ]
        }
    };
    let leaf = prop_oneof![
        2 => string.clone(),
        1 => one_of(NUMBERS, ODD_NUMBERS).prop_map(str::to_owned),
        1 => one_of(LITERALS, ODD_LITERALS).prop_map(str::to_owned),
    ];
    let object = move |value: BoxedStrategy<String>| {
        prop::collection::vec((key(), space(), value, space()), 0..5).prop_map(|members| {
            let members: Vec<String> = (members.iter())
                .map(|(k, a, v, b)| [k, *a, ":", b, v].concat())
                .collect();
            format!("{{{}}}", members.join(","))
        })
    };
    let events = {
        let object = object.clone();
        move |value: BoxedStrategy<String>| prop::collection::vec(object(value), 0..3)
    };
    let value = leaf.prop_recursive(4, 40, 5, move |inner| {
        let element = (space(), inner.clone(), space()).prop_map(|(a, v, b)| [a, &v, b].concat());
        prop_oneof![
            prop::collection::vec(element, 0..4).prop_map(|e| format!("[{}]", e.join(","))),
            object(inner),
        ]
    });
    let events = events(value.clone().boxed());
    let batch = prop_oneof![
        Just(None),
        (events, prop::option::of(value.clone())).prop_map(Some),
    ];
    let members = prop::collection::vec((one_of(KEYS, ""), value), 0..6);
    (space(), members, batch, space()).prop_map(|(a, members, batch, b)| {
        let mut members: Vec<String> = (members.iter())
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        if let Some((events, other)) = batch {
            let mut items = events;
            items.extend(other);
            let at = members.len() / 2;
            members.insert(at, format!("\"batch\":[{}]", items.join(",")));
        }
        format!("{a}{{{}}}{b}", members.join(","))
    })
}

/// Every layout whose events the fast path reads; how many scans it
/// answered.
fn every_layout(input: &[u8], limits: Limits) -> usize {
    use crate::protocol::amplitude::AmplitudeLayout;
    use crate::protocol::ga4::{GtagLayout, MpLayout};
    use crate::protocol::posthog::PosthogLayout;
    use crate::protocol::snowplow::SnowplowLayout;
    let mut answered = 0;
    for want_batch in [true, false] {
        answered += usize::from(agree::<SegmentLayout>(input, limits, want_batch));
        answered += usize::from(agree::<PosthogLayout>(input, limits, want_batch));
        answered += usize::from(agree::<AmplitudeLayout>(input, limits, want_batch));
        answered += usize::from(agree::<GtagLayout>(input, limits, want_batch));
        answered += usize::from(agree::<MpLayout>(input, limits, want_batch));
        answered += usize::from(agree::<SnowplowLayout>(input, limits, want_batch));
    }
    answered += usize::from(batch_agrees::<SegmentLayout>(input, limits));
    answered + usize::from(batch_agrees::<PosthogLayout>(input, limits))
}

/// Bytes that are not UTF-8, or not where they stand: a lone lead byte, a
/// surrogate's encoding, a byte-order mark.
const ODD_BYTES: &[&[u8]] = &[b"", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf"];

/// Spliced into the text.
const FRAGMENTS: &[&str] = &[
    "",
    "\\",
    "\"",
    "\\u",
    "\\ud800",
    ",",
    ":",
    "{",
    "}",
    "[",
    "]",
    "-",
    "0",
    "e",
    ".",
    " ",
    "\u{0}",
    "\u{1f}",
    "\u{e9}",
    "\"batch\":[{}],",
    "\"type\":1,",
    "\"batch\":1,",
];

/// Bounds that the generated text reaches often.
fn tight() -> Limits {
    Limits {
        max_depth: 3,
        max_fields: 6,
        max_batch: 2,
        ..Limits::default()
    }
}

/// The generator makes text the fast path reads: a test of agreement
/// that only ever saw refusals would check nothing.
#[test]
fn the_generated_text_is_mostly_answered() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut answered, mut batches, mut cases) = (0, 0, 0);
    for _ in 0..500 {
        let text = jsonish().new_tree(&mut runner).unwrap().current();
        answered += every_layout(text.as_bytes(), Limits::default());
        batches += usize::from(batch_agrees::<SegmentLayout>(
            text.as_bytes(),
            Limits::default(),
        ));
        cases += 1;
    }
    // 12 scans and 2 batch passes per case.
    assert!(answered > cases * 12 / 3, "{answered} of {}", cases * 14);
    assert!(batches > cases / 10, "{batches} batch passes of {cases}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// JSON-ish text, and that text with a range cut and a fragment (and
    /// bytes that are not UTF-8) spliced in anywhere: whatever the fast
    /// scan and the one pass over a batch answer is the serde scan's
    /// answer, for every layout, within the default bounds and tight ones.
    #[test]
    fn never_answers_differently_on_jsonish_text(
        text in jsonish(),
        edit in any::<bool>(),
        at in any::<prop::sample::Index>(),
        cut in 0usize..4,
        fragment in prop::sample::select(FRAGMENTS),
        bytes in prop::sample::select(ODD_BYTES),
    ) {
        let mut input = text.into_bytes();
        if edit {
            let i = at.index(input.len() + 1);
            let end = (i + cut).min(input.len());
            input.splice(i..end, fragment.bytes().chain(bytes.iter().copied()));
        }
        for limits in [Limits::default(), tight()] {
            every_layout(&input, limits);
        }
    }
}
