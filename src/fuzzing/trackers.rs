//! Targets for the other trackers' decoders and encoders: `snowplow`,
//! `ga4`, `posthog` and `amplitude`.

use super::{assert_utf8, assert_well_formed, noting, strict};
use crate::event::Marks;
use crate::ingest::body;
use crate::ingest::error::IngestError;
use crate::json::Limits;
use crate::protocol::snowplow::{self as sp, Facts};
use bytes::Bytes;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::collections::BTreeMap;

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
                (marks.gpp, "gpp"),
                (marks.gpp_sid, "gpp_sid"),
                (marks.us_privacy, "us_privacy"),
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
