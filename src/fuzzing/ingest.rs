//! Targets for reading a body and Segment-style JSON: `gunzip`,
//! `segment`, `collect` and `parse_event`.

use super::{assert_utf8, assert_well_formed, noting, strict};
use crate::event::Marks;
use crate::ingest::body;
use crate::ingest::error::IngestError;
use crate::json::Limits;
use crate::json::{finish_event, Fill, SegmentLayout, TopLevel};
use crate::protocol::segment::{self, Route};
use crate::protocol::{Decoded, Stamp};
use bytes::Bytes;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

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
    fast_agrees(body, true);
    let route = ROUTES[usize::from(pick) % ROUTES.len()];
    let body = Bytes::copy_from_slice(body);
    let strict = strict(&body);
    let top = strict.as_ref().and_then(Value::as_object);
    let mut keys = Vec::new();
    let decoded = segment::decode(route, &body, &STAMP, Limits::default(), noting(&mut keys));
    one_pass_agrees(route, &body, &decoded);
    let decoded = match decoded {
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

/// A request keyed by its head (a batch read in one pass) decodes as one
/// whose key is in its body (read in two): the same events (but for the
/// `messageId`s each generates), marks and invalid elements, or the same
/// refusal.
fn one_pass_agrees(route: Route, body: &Bytes, two: &Result<Decoded, IngestError>) {
    let one = segment::decode_keyed_by_head(route, body, &STAMP, Limits::default());
    let (one, two) = match (one, two) {
        (Ok(one), Ok(two)) => (one, two),
        (Err(one), Err(two)) => return assert_eq!(one.code(), two.code()),
        (one, two) => panic!("one pass differs: {one:?} vs {two:?}"),
    };
    assert_eq!(one.invalid, two.invalid);
    assert_eq!(one.events.len(), two.events.len());
    for ((a, ma), (b, mb)) in one.events.iter().zip(&two.events) {
        assert_eq!(ma, mb, "marks");
        assert_eq!(without_generated_ids(a), without_generated_ids(b));
    }
}

/// An event with the `messageId`s privgate generated zeroed.
fn without_generated_ids(event: &[u8]) -> Vec<u8> {
    const ID: &[u8] = b"\"messageId\":\"privgate-";
    let mut out = event.to_vec();
    let mut at = 0;
    while let Some(found) = out[at..].windows(ID.len()).position(|w| w == ID) {
        let start = at + found + ID.len();
        let end = (start + 36).min(out.len());
        out[start..end].fill(b'0');
        at = end;
    }
    out
}

/// The scan ingest runs (its fast path when that answers) says what the
/// serde scan alone says: the same top level, or both refuse.
fn fast_agrees(data: &[u8], want_batch: bool) {
    let limits = Limits::default();
    let serde = TopLevel::scan_serde::<SegmentLayout>(data, limits, want_batch);
    let used = match want_batch {
        true => TopLevel::parse(data, limits),
        false => TopLevel::parse_event(data, limits),
    };
    match (used, serde) {
        (Ok(used), Ok(serde)) => assert_eq!(used, serde, "the fast scan differs"),
        (Err(_), Err(_)) => {}
        (used, serde) => panic!("the fast scan differs: {used:?} vs {serde:?}"),
    }
}

/// `TopLevel::parse_event` and `finish_event`. An object `Value` reads is
/// accepted, and what the scan reports (flags, write key, marks) is what
/// `Value` sees; what it accepts is well-formed JSON. Filling the missing
/// fields and folding line breaks adds exactly those fields, on one line,
/// and changes no value.
pub fn parse_event(data: &[u8]) {
    fast_agrees(data, false);
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
    let mut after = match super::strict(&written) {
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
