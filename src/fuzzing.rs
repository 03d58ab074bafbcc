//! Fuzzing entry points: one function per fuzz target in `fuzz/`, each
//! taking arbitrary bytes, running one decoder or transform on them and
//! panicking when an invariant breaks. The cargo-fuzz targets
//! (coverage-guided, docs/development.md, "Fuzzing") and `tests/fuzz_fallback.rs`
//! (proptest, part of `cargo test`) call these same functions, so every
//! check is written once.
//!
//! A target that needs more than bytes (a route, a size cap, a set of
//! detectors or kept parameters) reads it from the first bytes of its
//! input, so the fuzzer explores those choices too.
//!
//! Where there is a strict reference (`serde_json::Value`, the `url` and
//! `form_urlencoded` crates, `flate2` read in small steps), the checks
//! compare against it; where there is none, they check what the code
//! promises: caps hold, outputs are well-formed, a second pass changes
//! nothing. Bugs found and not fixed yet are exempted where marked `KNOWN
//! BUG` (fuzz/artifacts-found/README.md).
//!
//! Not an API: hidden from the docs, never used by the server, and free to
//! change with the targets.
#![doc(hidden)]

use crate::config::Config;
use crate::consent::tcf;
use crate::event::Marks;
use crate::ingest::body;
use crate::ingest::error::IngestError;
use crate::json::Limits;
use crate::json::{finish_event, Fill, TopLevel};
use crate::policy::pii::{Detector, Scanner};
use crate::policy::rules::{self, Action, Glob, Rule};
use crate::policy::selector::{Selector, Step};
use crate::policy::Policy;
use crate::protocol::segment::{self, Route};
use crate::protocol::snowplow::{self as sp, Facts};
use crate::protocol::{Decoded, Stamp};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::Bytes;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::LazyLock;

/// A target: runs on any input, panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/`.
pub const TARGETS: [(&str, Target); 15] = [
    ("gunzip", gunzip),
    ("segment", segment),
    ("collect", collect),
    ("parse_event", parse_event),
    ("selector", selector),
    ("scrub_url", scrub_url),
    ("filter_query", filter_query),
    ("pii", pii),
    ("policy", policy),
    ("tcf", tcf),
    ("tcf_string", tcf_string),
    ("snowplow", snowplow),
    ("posthog", posthog),
    ("amplitude", amplitude),
    ("ga4", ga4),
];

const STAMP: Stamp<'static> = Stamp {
    received_at: "2026-01-01T00:00:00.000Z",
};

/// `ingest::body::gunzip`. Input: a 2-byte little-endian cap, then a gzip
/// stream. The output never exceeds the cap; the answer (bytes, too large,
/// corrupt) is what reading the stream in small steps up to the cap gives;
/// and the rest of the input, gzipped, comes back whole or is too large.
pub fn gunzip(data: &[u8]) {
    let Some((cap, stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let max = usize::from(u16::from_le_bytes(*cap));
    let (reference, corrupt) = read_capped(flate2::read::MultiGzDecoder::new(stream), max);
    match body::gunzip(stream, max) {
        Ok(out) => {
            assert!(out.len() <= max, "{} bytes out, cap {max}", out.len());
            assert!(
                !corrupt && out[..] == reference[..],
                "differs from the reference"
            );
        }
        Err(IngestError::TooLarge(n)) => {
            assert_eq!(n, max);
            assert!(reference.len() > max, "refused as too large, but is not");
        }
        Err(IngestError::BadGzip) => {
            assert!(
                corrupt && reference.len() <= max,
                "refused as corrupt, but is not"
            );
        }
        Err(e) => panic!("unexpected error: {e:?}"),
    }
    let packed = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(stream).expect("writing to a Vec");
        e.finish().expect("writing to a Vec")
    };
    match body::gunzip(&packed, max) {
        Ok(out) => assert!(stream.len() <= max && out[..] == stream[..], "round trip"),
        Err(IngestError::TooLarge(_)) => assert!(stream.len() > max, "round trip refused"),
        Err(e) => panic!("round trip: {e:?}"),
    }
}

/// Reads `r` 512 bytes at a time until it ends, fails (`true`) or has
/// given more than `max` bytes.
fn read_capped(mut r: impl Read, max: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0; 512];
    while out.len() <= max {
        match r.read(&mut buf) {
            Ok(0) => return (out, false),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

const ROUTES: [Route; 7] = [
    Route::Single("track"),
    Route::Single("identify"),
    Route::Single("page"),
    Route::Single("screen"),
    Route::Single("group"),
    Route::Single("alias"),
    Route::Batch,
];

/// `protocol::segment::decode`. Input: a route-picking byte, then the body.
/// Invalid UTF-8 is refused; a body `serde_json::Value` reads as an object
/// (with an array `batch`, for the batch route) is accepted, with its write
/// key, one event per element that is an object with a `type`, and the
/// rest counted invalid; every event is checked by [`check_events`].
pub fn segment(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let route = ROUTES[usize::from(pick) % ROUTES.len()];
    let body = Bytes::copy_from_slice(body);
    let strict = strict(&body);
    let top = strict.as_ref().and_then(Value::as_object);
    let mut keys = Vec::new();
    let decoded = match segment::decode(route, &body, &STAMP, Limits::default(), noting(&mut keys))
    {
        Ok(decoded) => decoded,
        Err(e) => {
            let batch_ok =
                |top: &serde_json::Map<_, _>| top.get("batch").is_some_and(Value::is_array);
            let valid = top.is_some_and(|top| route != Route::Batch || batch_ok(top));
            assert!(!valid, "refused a valid body: {e}");
            return;
        }
    };
    assert_utf8(&body);
    check_events(&decoded, true);
    let Some(top) = top else { return };
    assert_eq!(
        keys.first().map(String::as_str),
        top.get("writeKey").and_then(Value::as_str)
    );
    assert!(keys.len() <= 1, "a key named twice");
    let (events, invalid) = (decoded.events.len(), decoded.invalid);
    match route {
        Route::Single(_) => assert_eq!((events, invalid), (1, 0)),
        Route::Batch => {
            let items = top["batch"].as_array().expect("accepted: an array");
            let typed = |item: &&Value| item.as_object().is_some_and(|o| o.contains_key("type"));
            assert_eq!(events, items.iter().filter(typed).count());
            assert_eq!(events + invalid, items.len());
        }
    }
}

/// `protocol::json::decode` (`POST /collect`). Invalid UTF-8 is refused;
/// an array or NDJSON stream that `serde_json::Value` reads is accepted,
/// with one event per object and the rest counted invalid; every event is
/// checked by [`check_events`].
pub fn collect(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let items: Option<Vec<Value>> = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(&body).ok(),
        Some(b'{') => serde_json::Deserializer::from_slice(&body)
            .into_iter()
            .collect::<Result<_, _>>()
            .ok(),
        _ => None,
    };
    let decoded = match crate::protocol::json::decode(&body, &STAMP, Limits::default()) {
        Ok(decoded) => decoded,
        Err(e) => {
            assert!(items.is_none(), "refused a valid body: {e}");
            return;
        }
    };
    assert_utf8(&body);
    check_events(&decoded, false);
    if let Some(items) = items {
        let objects = items.iter().filter(|i| i.is_object()).count();
        assert_eq!(decoded.events.len(), objects);
        assert_eq!(decoded.events.len() + decoded.invalid, items.len());
    }
}

/// A decoder's key callback that accepts every key and notes it.
fn noting(keys: &mut Vec<String>) -> impl FnMut(&str) -> Result<(), IngestError> + '_ {
    |key| {
        keys.push(key.to_owned());
        Ok(())
    }
}

/// `TopLevel::parse_event` and `finish_event`. An object `Value` reads is
/// accepted, and what the scan reports (flags, write key, marks) is what
/// `Value` sees; what it accepts is well-formed JSON. Filling the missing
/// fields and folding line breaks adds exactly those fields, on one line,
/// and changes no value.
pub fn parse_event(data: &[u8]) {
    let strict = strict(data);
    let object = strict.as_ref().and_then(Value::as_object);
    let top = match TopLevel::parse_event(data, Limits::default()) {
        Ok(top) => top,
        Err(e) => {
            assert!(object.is_none(), "refused a valid object: {e}");
            return;
        }
    };
    assert_well_formed(data, "an accepted event");
    let Some(object) = object else { return };
    assert!(top.keys >= object.len());
    assert_eq!(top.has_type, object.contains_key("type"));
    assert_eq!(top.has_message_id, object.contains_key("messageId"));
    assert_eq!(top.has_received_at, object.contains_key("receivedAt"));
    assert_eq!(
        top.write_key.as_deref(),
        object.get("writeKey").and_then(Value::as_str)
    );
    let fill = Fill {
        event_type: (!top.has_type).then_some("fz-type"),
        message_id: (!top.has_message_id).then_some("fz-id"),
        received_at: (!top.has_received_at).then_some("fz-at"),
    };
    let out = finish_event(Bytes::copy_from_slice(data), top.keys, &fill);
    assert!(
        !out.contains(&b'\n') && !out.contains(&b'\r'),
        "not one line"
    );
    check_marks(&out, &top.marks);
    let mut finished = match serde_json::from_slice(&out) {
        Ok(Value::Object(finished)) => finished,
        other => panic!("finished event is not an object: {other:?}"),
    };
    for (key, value) in [
        ("type", fill.event_type),
        ("messageId", fill.message_id),
        ("receivedAt", fill.received_at),
    ] {
        if let Some(value) = value {
            assert_eq!(finished.remove(key), Some(Value::from(value)), "{key}");
        }
    }
    assert_eq!(&finished, object, "finishing changed a value");

    // Adding the client's address adds `context.ip` and nothing else, and
    // the marks still point at what consent reads.
    let mut marks = top.marks;
    let field = crate::protocol::IpField::Nested {
        container: "context",
        key: "ip",
    };
    let address = std::net::IpAddr::from([192, 0, 2, 0]);
    let written = crate::ingest::client_ip::write(
        Bytes::copy_from_slice(data),
        &mut marks,
        field,
        Some(address),
    );
    check_marks(&written, &marks);
    let mut after = match self::strict(&written) {
        Some(Value::Object(after)) => after,
        other => panic!("an event with an address is not an object: {other:?}"),
    };
    // Two `context` objects (or ids): which one `Value` keeps is not the
    // one the address went into.
    if top.marks.ambiguous || top_level_keys(&written).filter(|k| k == "context").count() > 1 {
        return;
    }
    if written[..] != *data {
        let had_context = object.contains_key("context");
        assert!(object.get("context").and_then(|c| c.get("ip")).is_none());
        let context = after.get_mut("context").and_then(Value::as_object_mut);
        let context = context.expect("the address went into context");
        assert_eq!(context.remove("ip"), Some(Value::from("192.0.2.0")));
        if context.is_empty() && !had_context {
            after.remove("context");
        }
    }
    assert_eq!(&after, object, "adding the address changed a value");
}

/// The keys of a JSON object's top level, repeats included (none for
/// anything else).
fn top_level_keys(json: &[u8]) -> impl Iterator<Item = String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    serde::Deserializer::deserialize_map(&mut de, Keys)
        .unwrap_or_default()
        .into_iter()
}

/// Checks every decoded event: one line, a JSON object with `messageId`,
/// `receivedAt` and (`typed`) `type`, marks as [`check_marks`] says.
fn check_events(decoded: &Decoded, typed: bool) {
    for (event, marks) in &decoded.events {
        assert!(
            !event.contains(&b'\n') && !event.contains(&b'\r'),
            "not one line"
        );
        let keys: BTreeMap<String, IgnoredAny> =
            serde_json::from_slice(event).expect("an event is a JSON object");
        let required = ["messageId", "receivedAt", "type"];
        for key in &required[..if typed { 3 } else { 2 }] {
            assert!(keys.contains_key(*key), "no {key}");
        }
        check_marks(event, marks);
    }
}

/// Each mark holds one complete JSON value of `event`; unless the marks
/// are ambiguous, exactly the values consent reads (by `Value`).
fn check_marks(event: &[u8], marks: &Marks) {
    let spans = [
        marks.user_id,
        marks.anonymous_id,
        marks.consent,
        marks.consent_management,
    ];
    for span in spans.iter().flatten() {
        let raw = span.get(event);
        assert!(!raw.is_empty(), "a mark outside the event");
        assert_well_formed(raw, "a mark");
    }
    if marks.ambiguous {
        return;
    }
    let Some(Value::Object(object)) = strict(event) else {
        return;
    };
    let context = object.get("context");
    let wanted = [
        object.get("userId"),
        object.get("anonymousId"),
        context.and_then(|c| c.get("consent")),
        context.and_then(|c| c.get("consentManagement")),
    ];
    for (span, want) in spans.iter().zip(wanted) {
        let got = span.map(|s| serde_json::from_slice::<Value>(s.get(event)).expect("a value"));
        assert_eq!(got.as_ref(), want, "a mark points elsewhere");
    }
}

/// `Selector::parse`. What parses prints as text that parses back to the
/// same selector, steps without panicking, and compiles into a policy (or
/// is refused as too complex) that runs over an event it names.
pub fn selector(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(selectors) = Selector::parse(&text) else {
        return;
    };
    assert!(!selectors.is_empty());
    for s in &selectors {
        let shown = s.to_string();
        assert_eq!(Selector::parse(&shown), Ok(vec![s.clone()]), "{shown:?}");
        let mut state = s.start();
        for key in s.literal_keys().chain(["x"]) {
            state = s.step(state, Step::Key(key));
            state = s.step(state, Step::Index(0));
        }
        let _ = s.accepts(state);
    }
    // An event with the first selector's keys, nested, around an email.
    let mut event = Value::from("jane@example.com");
    for key in selectors[0]
        .literal_keys()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        event = Value::Object([(key.to_owned(), event)].into_iter().collect());
    }
    if !event.is_object() {
        event = serde_json::json!({ "x": event });
    }
    let rule = Rule {
        id: "fuzz".into(),
        select: vec![text.into_owned()],
        selectors: selectors.clone(),
        action: Action::RedactPii(Scanner::default()),
    };
    let Ok(policy) = Policy::new(vec![rule], Some(selectors)) else {
        return;
    };
    let keys = crate::crypto::Keyring::new(Vec::new(), None, Vec::new(), None);
    let (out, _) = policy
        .apply(event.to_string().as_bytes(), &keys, None)
        .expect("a policy runs over a valid event");
    assert!(strict(&out).is_some_and(|v| v.is_object()), "output");
}

/// `keep_params` patterns a target's first byte picks from (bit `i`
/// keeps `KEEP[i]`).
const KEEP: [&str; 6] = ["utm_*", "gclid", "*_id", "a*b*c", "*", ""];

/// The kept patterns and the text of a URL target's input.
fn url_input(data: &[u8]) -> Option<(Vec<Glob>, Cow<'_, str>)> {
    let (&pick, rest) = data.split_first()?;
    let keep = KEEP
        .iter()
        .enumerate()
        .filter(|(i, _)| pick & (1 << i) != 0)
        .map(|(_, p)| Glob::new(p))
        .collect();
    Some((keep, String::from_utf8_lossy(rest)))
}

/// `rules::scrub_url`. Input: a byte picking kept parameters, then the
/// text. Scrubbing twice changes nothing more than once; a URL (by the
/// `url` crate) stays a URL, without userinfo or fragment, whose query
/// pairs are all kept ones with nothing left to redact in their values.
pub fn scrub_url(data: &[u8]) {
    let Some((keep, text)) = url_input(data) else {
        return;
    };
    let scanner = Scanner::default();
    let mut redacted = 0;
    let scrubbed = rules::scrub_url(&text, &keep, &scanner, &mut |_| redacted += 1);
    assert!(
        scrubbed.is_some() || redacted == 0,
        "redacted but unchanged"
    );
    let out = scrubbed.as_deref().unwrap_or(&text);
    let Ok(url) = url::Url::parse(&text) else {
        // Not a URL to the `url` crate: no fragment, and only kept
        // parameters, are left all the same.
        let query = out.split_once('?').map(|(_, q)| q);
        assert!(!out.contains('#'), "fragment kept in {out:?}");
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            assert!(
                keep.iter().any(|g| g.matches(&name)),
                "kept {name:?} in {out:?}"
            );
        }
        return;
    };
    // Idempotent in what it keeps (a second pass without detectors: PII
    // remnants are `pii`'s business, below and in that target), up to how
    // the `url` crate writes a URL (`s:/.//x` has a `/.` it drops when the
    // path is rewritten: the same URL).
    if let Some(again) = rules::scrub_url(out, &keep, &Scanner::new(&[]), &mut |_| {}) {
        let parsed = url::Url::parse(out).ok();
        let same = parsed.is_some() && url::Url::parse(&again).ok() == parsed;
        assert!(same, "a second pass changed {out:?} to {again:?}");
    }
    if url.cannot_be_a_base() {
        return;
    }
    let after = url::Url::parse(out).expect("a scrubbed URL is a URL");
    assert!(
        after.username().is_empty() && after.password().is_none(),
        "userinfo"
    );
    assert_eq!(after.fragment(), None, "fragment");
    for (name, value) in after.query_pairs() {
        assert!(keep.iter().any(|g| g.matches(&name)), "kept {name:?}");
        assert_redacted(&scanner, &value);
    }
}

/// `rules::filter_query`. Input: a byte picking kept parameters, then the
/// query. Appends to what `out` holds and agrees with a reference built
/// on `str::split` and `form_urlencoded`: the kept pairs, in order, as
/// written, or with their value redacted and re-encoded.
pub fn filter_query(data: &[u8]) {
    let Some((keep, query)) = url_input(data) else {
        return;
    };
    let scanner = Scanner::default();
    let mut out = String::from("before");
    rules::filter_query(&mut out, &query, &keep, &scanner, &mut |_| {});
    let got = out.strip_prefix("before").expect("appends");
    let mut want = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = form_urlencoded::parse(pair.as_bytes())
            .next()
            .expect("one pair");
        if !keep.iter().any(|g| g.matches(&name)) {
            continue;
        }
        want.push(match scanner.redact(&value, |_| {}) {
            Cow::Borrowed(_) => Cow::Borrowed(pair),
            Cow::Owned(clean) => {
                let raw_name = pair.split_once('=').map_or(pair, |(n, _)| n);
                let encoded: String = form_urlencoded::byte_serialize(clean.as_bytes()).collect();
                Cow::Owned(format!("{raw_name}={encoded}"))
            }
        });
    }
    assert_eq!(got, want.join("&"));
}

/// The detectors a `pii` input's first byte enables (bit `i` enables
/// `Detector::ALL[i]`; none set: all).
fn detectors(pick: u8) -> Vec<Detector> {
    let picked: Vec<Detector> = Detector::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| pick & (1 << i) != 0)
        .map(|(_, d)| d)
        .collect();
    if picked.is_empty() {
        Detector::ALL.to_vec()
    } else {
        picked
    }
}

/// `Scanner::find` and `Scanner::redact`, with the detectors the first
/// byte picks. Matches are in order, apart, on character boundaries, and
/// of enabled detectors; the cheap filter never hides one; redaction
/// reports each match it replaced, and its output holds no PII (see
/// [`assert_redacted`]).
pub fn pii(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let enabled = detectors(pick);
    let scanner = Scanner::new(&enabled);
    let text = String::from_utf8_lossy(rest);
    let found = scanner.find(&text);
    let mut at = 0;
    for f in &found {
        assert!(
            at <= f.start && f.start < f.end && f.end <= text.len(),
            "{found:?}"
        );
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        assert!(enabled.contains(&f.detector), "{f:?}");
        at = f.end;
    }
    if !scanner.might_contain(text.as_bytes()) {
        assert!(found.is_empty(), "the filter hid {found:?}");
    }
    let mut fired = Vec::new();
    let redacted = scanner.redact(&text, |d| fired.push(d));
    if let Cow::Owned(out) = &redacted {
        // The first pass replaces what `find` reports; later passes (a
        // match a neighbour hid) may add more.
        let expected: Vec<Detector> = found.iter().map(|f| f.detector).collect();
        assert!(fired.starts_with(&expected), "{fired:?} vs {expected:?}");
        assert_ne!(out, &text);
    } else {
        assert!(fired.is_empty());
    }
    assert_redacted(&scanner, &redacted);
}

/// `text`, redacted by `scanner`, holds no PII: redacting it again
/// changes nothing (redaction is a fixpoint).
fn assert_redacted(scanner: &Scanner, text: &str) {
    let again = scanner.redact(text, |_| {});
    assert!(
        matches!(again, Cow::Borrowed(_)),
        "PII left in {text:?}: {:?}",
        scanner.find(text)
    );
}

/// The shipped `proxy.toml`, loaded once.
static SHIPPED: LazyLock<Config> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml");
    Config::load(path.as_ref()).expect("the shipped config loads")
});

/// `Policy::apply` with the shipped config's rules. Invalid UTF-8 is
/// refused and an object `Value` reads is accepted; the output is a
/// well-formed JSON object that the policy accepts in turn; the traced
/// walker (a second copy, compiled with the path kept) does exactly what
/// the plain one does.
pub fn policy(data: &[u8]) {
    let config = &*SHIPPED;
    let policy = config.policy.get(crate::event::Protocol::Segment);
    let keys = &*config.keyring;
    let result = policy.apply(data, keys, None);
    let mut fired = Vec::new();
    let traced = policy.apply(data, keys, Some(&mut fired));
    // Encryption draws a fresh nonce each time; nothing else is random.
    if !policy
        .rules()
        .iter()
        .any(|r| matches!(r.action, Action::EncryptField))
    {
        match (&result, &traced) {
            (Ok(plain), Ok(traced)) => assert_eq!(plain, traced, "the traced walk differs"),
            (Err(_), Err(_)) => {}
            _ => panic!("one walk failed: {result:?} / {traced:?}"),
        }
    }
    let (out, _) = match result {
        Ok(done) => done,
        Err(e) => {
            let valid = strict(data).is_some_and(|v| v.is_object());
            assert!(!valid, "refused a valid event: {e}");
            return;
        }
    };
    assert_utf8(data);
    assert_utf8(&out);
    assert_well_formed(&out, "the output");
    assert_eq!(out.trim_ascii_start().first(), Some(&b'{'), "not an object");
    if let Err(e) = policy.apply(&out, keys, None) {
        panic!("the output is refused in turn: {e}");
    }
}

/// A disclosed vendors segment the IAB's encoder made (vendors 2, 6, 8;
/// `tests/fixtures/tcf/strings.json`, `with_disclosed_vendors`).
const DISCLOSED_SEGMENT: &str = "IAEEUAAA";

/// `consent::tcf::decode`. Input: a byte picking the form, then the rest:
/// even, the rest as text (invalid UTF-8 is skipped); odd, the rest as the
/// core segment's bytes, written in base64url here, so that the fuzzer
/// works on the bit fields directly. A valid disclosed vendors segment
/// after a core changes nothing in it, and one of an undefined type makes
/// it unreadable; a decoded string has no vendor 0 or above its section's
/// `MaxVendorId`, publisher restriction ranges that start at 1 or later
/// and end at or after their start, and two letters `A`-`Z` for its
/// language and country.
pub fn tcf(data: &[u8]) {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let text = if form % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        Cow::Borrowed(text)
    } else {
        Cow::Owned(URL_SAFE_NO_PAD.encode(rest))
    };
    let decoded = tcf::decode(&text);
    if !text.contains('.') {
        let with_segment = tcf::decode(&format!("{text}.{DISCLOSED_SEGMENT}"));
        match (&decoded, &with_segment) {
            (Ok(core), Ok(with)) => {
                assert!(with.disclosed_vendors().is_some(), "segment not read");
                assert_eq!(with.vendor_consents(), core.vendor_consents());
                assert_eq!(with.publisher_restrictions(), core.publisher_restrictions());
                assert_eq!(with.created(), core.created());
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "a later segment changed the error"),
            _ => panic!("a valid segment changed the result: {decoded:?} / {with_segment:?}"),
        }
        let unknown = tcf::decode(&format!("{text}.gAAA"));
        assert!(unknown.is_err(), "an undefined segment type was accepted");
    }
    check_tc(decoded);
}

/// `consent::tcf::decode` on a whole string, all segments. Input: segments
/// separated by `.` bytes, each written in base64url here (so the fuzzer
/// works on every segment's bits; an empty one stays empty). A decoded
/// string has its core first and once, at most one segment of each other
/// type, no empty segment; without any one of its later segments it still
/// decodes, to the same core; the same later segment twice, or any segment
/// cut to one character, makes it unreadable; and it holds what [`tcf`]
/// checks.
pub fn tcf_string(data: &[u8]) {
    let segments: Vec<String> = data
        .split(|&b| b == b'.')
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
        .collect();
    let text = segments.join(".");
    let decoded = tcf::decode(&text);
    if let Ok(tc) = &decoded {
        assert!(segments.len() <= 4, "more segments than types");
        assert!(segments.iter().all(|s| !s.is_empty()), "an empty segment");
        let core = tcf::decode(&segments[0]).expect("the core alone decodes");
        assert_eq!(core.vendor_consents(), tc.vendor_consents());
        for skip in 1..segments.len() {
            let mut fewer = segments.clone();
            fewer.remove(skip);
            let without = tcf::decode(&fewer.join(".")).expect("without a later segment");
            assert_eq!(
                without.publisher_restrictions(),
                tc.publisher_restrictions()
            );
            let mut twice = segments.clone();
            twice.push(segments[skip].clone());
            assert!(tcf::decode(&twice.join(".")).is_err(), "a segment twice");
        }
        for cut in 0..segments.len() {
            let mut short = segments.clone();
            short[cut].truncate(1);
            assert!(tcf::decode(&short.join(".")).is_err(), "segment {cut} cut");
        }
    }
    check_tc(decoded);
}

/// What every decoded TC string holds (see [`tcf`]).
fn check_tc(decoded: Result<tcf::TcString, tcf::TcfError>) {
    let Ok(tc) = decoded else {
        return;
    };
    let segments = [tc.disclosed_vendors(), tc.allowed_vendors()];
    let sets = [tc.vendor_consents(), tc.vendor_legitimate_interests()];
    for set in sets.into_iter().chain(segments.into_iter().flatten()) {
        let max = set.max_vendor_id();
        assert!(!set.contains(0), "vendor 0 in a set");
        assert!(max == u16::MAX || !set.contains(max + 1), "above max");
        assert!(
            set.iter().all(|id| (1..=max).contains(&id)),
            "out of 1..=max"
        );
    }
    for r in tc.publisher_restrictions() {
        let ranges_ok = r
            .vendor_ranges()
            .all(|v| *v.start() >= 1 && v.start() <= v.end());
        assert!(ranges_ok, "a restriction range out of order");
    }
    for code in [tc.consent_language(), tc.publisher_cc()] {
        let letters = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        assert!(letters, "not two letters: {code:?}");
    }
}

/// `protocol::snowplow::decode`, then `encode`. Input: a byte whose bit 0
/// picks a POST body (else a GET pixel's query), bit 1 `SP-Anonymous`,
/// bit 2 a `User-Agent`; then the payload. A refusal is one the payload
/// earns (a POST body `serde_json::Value` reads as a `payload_data`
/// envelope within bounds, each object of strings in it with an `aid`, is
/// accepted; a query is refused only for naming no `aid` or holding too
/// many parameters), and then each envelope element is an event or counted
/// invalid. Every event is one line, a JSON object with `e`, its encoded
/// parameters objects, a `ua` when a user agent was sent, no user
/// identifier or IP when anonymous, and marks on its `uid` and `duid`.
/// Each app id is named once. Encoding an event gives an element
/// of strings only, which decodes back to the same event.
pub fn snowplow(data: &[u8]) {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let route = if pick & 1 == 1 {
        sp::Route::Post
    } else {
        sp::Route::Pixel
    };
    let facts = Facts {
        user_agent: (pick & 4 != 0).then(|| "fuzz/1.0".into()),
        anonymous: pick & 2 != 0,
    };
    let payload = Bytes::copy_from_slice(payload);
    let limits = Limits::default();
    let elements = match route {
        sp::Route::Post => snowplow_envelope(&payload),
        sp::Route::Pixel => {
            let query: serde_json::Map<String, Value> = form_urlencoded::parse(&payload)
                .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                .collect();
            let pairs = form_urlencoded::parse(&payload).count();
            (pairs <= limits.max_fields).then(|| vec![Value::Object(query)])
        }
    };
    let mut keys = Vec::new();
    let decoded = match sp::decode(route, &payload, &facts, limits, noting(&mut keys)) {
        Ok(decoded) => decoded,
        Err(e) => {
            let keyed = |element: &Value| {
                let strings = element
                    .as_object()
                    .is_some_and(|o| o.values().all(Value::is_string));
                !strings || element.get("aid").is_some()
            };
            let earned = elements.is_none_or(|elements| !elements.iter().all(keyed));
            assert!(earned, "refused a valid payload: {e}");
            return;
        }
    };
    if let Some(elements) = &elements {
        assert_eq!(decoded.events.len() + decoded.invalid, elements.len());
    }
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "an app id checked twice");
    for (event, marks) in &decoded.events {
        let object = check_snowplow_event(event, marks, &facts);
        let again = Bytes::from(format!(
            "{{\"schema\":\"{}\",\"data\":[{}]}}",
            sp::PAYLOAD_DATA,
            String::from_utf8(sp::encode(event).to_vec()).expect("UTF-8")
        ));
        let strings = strict(&again).is_some_and(|v| {
            v["data"][0]
                .as_object()
                .is_some_and(|o| o.values().all(Value::is_string))
        });
        assert!(strings, "encoded: not an element of strings");
        let redecoded = sp::decode(sp::Route::Post, &again, &facts, limits, |_: &str| Ok(()))
            .expect("an encoded event decodes");
        assert_eq!(redecoded.events.len(), 1, "an encoded event decodes");
        let back = strict(&redecoded.events[0].0);
        assert_eq!(back.as_ref(), Some(&object), "encoding changed the event");
    }
}

/// The elements of a POST body `serde_json::Value` reads as a
/// `payload_data` envelope within ingest's bounds.
fn snowplow_envelope(body: &[u8]) -> Option<Vec<Value>> {
    let envelope = strict(body)?;
    let schema = envelope.get("schema")?.as_str()?;
    let prefix = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-";
    schema.starts_with(prefix).then_some(())?;
    envelope.get("data")?.as_array().cloned()
}

/// Checks one decoded Snowplow event (see [`snowplow`]); returns it.
fn check_snowplow_event(event: &[u8], marks: &Marks, facts: &Facts<'_>) -> Value {
    assert!(
        !event.contains(&b'\n') && !event.contains(&b'\r'),
        "not one line"
    );
    let Some(Value::Object(object)) = strict(event) else {
        panic!("an event is not a JSON object within bounds");
    };
    assert!(object.contains_key("e"), "no e");
    for key in ["co", "cx", "ue_pr", "ue_px"] {
        assert!(object.get(key).is_none_or(Value::is_object), "{key}");
    }
    if facts.user_agent.is_some() {
        assert!(object.contains_key("ua"), "no ua");
    }
    if facts.anonymous {
        for key in ["uid", "nuid", "tnuid", "ip"] {
            assert!(!object.contains_key(key), "{key} kept");
        }
    }
    for span in [marks.user_id, marks.anonymous_id].iter().flatten() {
        assert_well_formed(span.get(event), "a mark");
    }
    if !marks.ambiguous {
        let read = |span: Option<crate::event::Span>| {
            span.map(|s| serde_json::from_slice::<Value>(s.get(event)).expect("a value"))
        };
        assert_eq!(read(marks.user_id).as_ref(), object.get("uid"), "uid mark");
        assert_eq!(
            read(marks.anonymous_id).as_ref(),
            object.get("duid"),
            "duid mark"
        );
    }
    Value::Object(object)
}

/// `protocol::ga4`. Input: a byte picking the form, then the rest: even, a
/// gtag.js request (the URL's query up to the first line break, read
/// lossily as text, then the body); odd, a Measurement Protocol body.
/// Never a panic, and only the errors a client can cause.
///
/// gtag.js: every hit is counted, accepted or skipped; an accepted one is
/// one line, a JSON object of strings with `en` and the request's `tid`,
/// its marks on `uid`, `cid`, `gdpr_consent`, `gcs` and `gcd`, and it
/// encodes to a query string that decodes back to the same bytes.
///
/// Measurement Protocol: a body `Value` reads as an object with an
/// `events` array is accepted; each element with a `name` becomes one
/// event, the body with that element alone in `events`, marked on
/// `user_id`, `client_id` and `consent`; the rest are counted.
pub fn ga4(data: &[u8]) {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    if form % 2 == 0 {
        gtag(rest);
    } else {
        measurement_protocol(rest);
    }
}

/// What a GA4 request's events may add up to (the default
/// `max_decompressed_bytes`; inputs this small never reach it).
const EXPANSION: usize = Limits::DEFAULT_MAX_BYTES;

fn gtag(data: &[u8]) {
    use crate::protocol::ga4::{decode_gtag, encode_hit};
    let (query, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (String::from_utf8_lossy(&data[..at]), &data[at + 1..]),
        None => (String::from_utf8_lossy(data), &b""[..]),
    };
    let body = Bytes::copy_from_slice(body);
    let mut keys = Vec::new();
    let decoded = match decode_gtag(Some(&query), &body, Limits::default(), noting(&mut keys)) {
        Ok(decoded) => decoded,
        Err(
            IngestError::InvalidShape(_)
            | IngestError::TooManyEvents(_)
            | IngestError::TooLarge(EXPANSION),
        ) => return,
        Err(e) => panic!("unexpected error: {e:?}"),
    };
    let lines = body
        .split(|&b| b == b'\n')
        .filter(|line| !line.trim_ascii().is_empty())
        .count();
    assert_eq!(decoded.events.len() + decoded.invalid, lines.max(1), "hits");
    for (event, marks) in &decoded.events {
        assert!(
            !event.contains(&b'\n') && !event.contains(&b'\r'),
            "one line"
        );
        let object: serde_json::Map<String, Value> =
            serde_json::from_slice(event).expect("a hit is a JSON object");
        assert!(object.values().all(Value::is_string), "not all strings");
        assert!(object.contains_key("en"), "no en");
        assert_eq!(
            object.get("tid").and_then(Value::as_str),
            keys.first().map(String::as_str),
            "another stream's hit"
        );
        if !marks.ambiguous {
            let spans = [
                (marks.user_id, "uid"),
                (marks.anonymous_id, "cid"),
                (marks.tcf, "gdpr_consent"),
                (marks.gcs, "gcs"),
                (marks.gcd, "gcd"),
            ];
            for (span, key) in spans {
                let got =
                    span.map(|s| serde_json::from_slice::<Value>(s.get(event)).expect("a value"));
                assert_eq!(got.as_ref(), object.get(key), "mark of {key}");
            }
        }
        let wire = encode_hit(event);
        let again = std::str::from_utf8(&wire).expect("a query string is ASCII");
        let back = decode_gtag(Some(again), &Bytes::new(), Limits::default(), |_: &str| {
            Ok(())
        })
        .expect("an encoded hit decodes");
        assert_eq!(back.events.len(), 1, "an encoded hit is one hit");
        assert_eq!(&back.events[0].0, event, "decode(encode(hit)) differs");
    }
}

fn measurement_protocol(data: &[u8]) {
    let body = Bytes::copy_from_slice(data);
    let object = strict(&body).and_then(|v| match v {
        Value::Object(o) if o.get("events").is_some_and(Value::is_array) => Some(o),
        _ => None,
    });
    let decoded = match crate::protocol::ga4::decode_mp(&body, Limits::default()) {
        Ok(decoded) => decoded,
        Err(e) => {
            assert!(object.is_none(), "refused a valid body: {e}");
            return;
        }
    };
    assert_utf8(&body);
    for (event, marks) in &decoded.events {
        assert!(
            !event.contains(&b'\n') && !event.contains(&b'\r'),
            "one line"
        );
        assert_well_formed(event, "an event");
        let spans = [marks.user_id, marks.anonymous_id, marks.mp_consent];
        for span in spans.iter().flatten() {
            assert_well_formed(span.get(event), "a mark");
        }
    }
    let Some(object) = object else { return };
    let items = object["events"].as_array().expect("checked: an array");
    let named: Vec<&Value> = items
        .iter()
        .filter(|item| item.as_object().is_some_and(|o| o.contains_key("name")))
        .collect();
    assert_eq!(decoded.events.len(), named.len(), "events");
    assert_eq!(decoded.invalid, items.len() - named.len(), "skipped");
    for ((event, marks), item) in decoded.events.iter().zip(named) {
        let mut want = object.clone();
        want.insert("events".into(), Value::Array(vec![item.clone()]));
        let got: Value = serde_json::from_slice(event).expect("an event is JSON");
        assert_eq!(got, Value::Object(want), "not the body with its one event");
        if !marks.ambiguous {
            for (span, key) in [
                (marks.user_id, "user_id"),
                (marks.anonymous_id, "client_id"),
                (marks.mp_consent, "consent"),
            ] {
                let got =
                    span.map(|s| serde_json::from_slice::<Value>(s.get(event)).expect("a value"));
                assert_eq!(got.as_ref(), object.get(key), "mark of {key}");
            }
        }
    }
}

/// The strict reading of `json`, if it has one.
/// `json` as `serde_json::Value` reads it, if that is also within ingest's
/// default bounds (depth, fields, batch size): the values ingest must accept.
fn strict(json: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(json).ok()?;
    let limits = Limits::default();
    let (depth, fields, longest) = measure(&value);
    (depth <= limits.max_depth && fields <= limits.max_fields && longest <= limits.max_batch)
        .then_some(value)
}

/// Nesting depth (a scalar is 0), object members, and the longest array.
fn measure(value: &Value) -> (usize, usize, usize) {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Object(o) => Box::new(o.values()),
        Value::Array(a) => Box::new(a.iter()),
        _ => return (0, 0, 0),
    };
    let own = match value {
        Value::Object(o) => (o.len(), 0),
        Value::Array(a) => (0, a.len()),
        _ => (0, 0),
    };
    children.fold((1, own.0, own.1), |(d, f, l), child| {
        let (cd, cf, cl) = measure(child);
        (d.max(cd + 1), f + cf, l.max(cl))
    })
}

fn assert_utf8(bytes: &[u8]) {
    assert!(std::str::from_utf8(bytes).is_ok(), "accepted invalid UTF-8");
}

/// `json` is one well-formed JSON value (serde_json stops at 128 levels;
/// deeper values are only copied, so they are not held against the code).
fn assert_well_formed(json: &[u8], what: &str) {
    if let Err(e) = serde_json::from_slice::<IgnoredAny>(json) {
        assert!(
            e.to_string().starts_with("recursion limit exceeded"),
            "{what} is not JSON ({e}): {:?}",
            String::from_utf8_lossy(json)
        );
    }
}

/// `protocol::posthog::unwrap` then `decode`. Input: a byte whose bits 0-1
/// pick the query's `compression` (none, `base64`, `lz64`, `gzip-js`) and
/// bit 2 a form content type; then the body. Unwrapping stays within the
/// decompression limit; every decoded event is one JSON object with an
/// `event`, its marks on its `distinct_id` and `$device_id`, and every
/// element of a batch is an event or counted invalid.
pub fn posthog(data: &[u8]) {
    use crate::protocol::posthog as ph;
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let query = [
        "",
        "compression=base64",
        "compression=lz64",
        "compression=gzip-js",
    ][usize::from(pick & 3)];
    let limits = body::Limits {
        max_body: 1 << 20,
        max_decompressed: 1 << 16,
    };
    let Ok(json) = ph::unwrap(
        Bytes::copy_from_slice(payload),
        Some(query),
        pick & 4 != 0,
        limits,
    ) else {
        return;
    };
    assert!(json.len() <= limits.max_decompressed.max(payload.len()));
    let Ok(decoded) = ph::decode(&json, Limits::default(), |_: &str| Ok(())) else {
        return;
    };
    if let Some(Value::Object(envelope)) = strict(&json) {
        if let Some(Value::Array(items)) = envelope.get("batch") {
            assert_eq!(decoded.events.len() + decoded.invalid, items.len());
        }
    }
    for (event, marks) in &decoded.events {
        let object: BTreeMap<String, IgnoredAny> =
            serde_json::from_slice(event).expect("an event is a JSON object");
        assert!(object.contains_key("event"), "an event without `event`");
        for span in [marks.user_id, marks.anonymous_id, marks.ip]
            .iter()
            .flatten()
        {
            assert_well_formed(span.get(event), "a mark");
        }
    }
}

/// `protocol::amplitude::decode`. An upload whose `events` is an array is
/// accepted unless the scan's bounds refuse it; each element is an event
/// (an object with `event_type`, forwarded byte for byte) or counted
/// invalid; marks point at `user_id`, `device_id` and `ip`.
pub fn amplitude(data: &[u8]) {
    use crate::protocol::amplitude as amp;
    let body = Bytes::copy_from_slice(data);
    let upload = strict(data);
    let items = upload
        .as_ref()
        .and_then(|u| u.get("events"))
        .and_then(Value::as_array);
    let decoded = match amp::decode(&body, Limits::default(), |_: &str| Ok(())) {
        Ok(decoded) => decoded,
        Err(e) => {
            // `Value` keeps the last of two `events`; the scan, the first.
            let twice =
                std::str::from_utf8(data).is_ok_and(|t| t.matches("\"events\"").count() > 1);
            assert!(items.is_none() || twice, "refused a valid upload: {e}");
            return;
        }
    };
    if let Some(items) = items {
        assert_eq!(decoded.events.len() + decoded.invalid, items.len());
        let typed = items
            .iter()
            .filter(|i| i.get("event_type").is_some())
            .count();
        assert!(decoded.events.len() <= typed);
    }
    for (event, marks) in &decoded.events {
        assert!(
            data.windows(event.len()).any(|w| w == &event[..]),
            "not as sent"
        );
        for span in [marks.user_id, marks.anonymous_id, marks.ip]
            .iter()
            .flatten()
        {
            assert_well_formed(span.get(event), "a mark");
        }
    }
}
