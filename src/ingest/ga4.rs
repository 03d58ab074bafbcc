//! Google Analytics 4, as gtag.js and the Measurement Protocol send it. No
//! GA4 client was captured (`tests/fixtures/trackers/WIRE-FORMATS.md` covers other
//! SDKs), so both formats follow Google's documentation and the parsers of
//! projects that read them, cited where relied on.
//!
//! **gtag.js** (`protocol = "ga4"`): a hit is a query string of parameters
//! (`v=2`, `tid`, `cid`, `en`, `dl`, `ep.*`, `up.*`, `gcs`, ...).
//! `GET /g/collect?<hit>` carries one; `POST /g/collect?<shared>` carries
//! one per body line, the URL's parameters apply to every line and a
//! line's own override them, and an empty body makes the URL's parameters
//! the one hit. So read it d8a's GA4 reader (`d8a-tech/d8a`,
//! `pkg/protocol/ga4/protocol.go`: lines split at `\n` and trimmed) and
//! Amplitude's GA forwarder (`amplitude/Amplitude-TypeScript`,
//! `packages/plugin-ga-events-forwarder-browser/src/helpers.ts`: lines
//! split at `\r\n`); privgate takes either and writes `\r\n`. Each hit
//! becomes one flat JSON object of its decoded parameters, all strings,
//! keys as sent: `{"v":"2","tid":"G-X","en":"page_view","ep.a":"b"}`;
//! [`encode_hit`] writes it back as a query string for forwarding. The
//! measurement id `tid` is the write key: every hit of a request must name
//! the one the request was accepted for.
//!
//! **Measurement Protocol** (`protocol = "ga4_mp"`): `POST /mp/collect?
//! measurement_id=...&api_secret=...` with `{"client_id", "user_id",
//! "timestamp_micros", "user_properties", "user_data", "consent", ...,
//! "events": [{"name", "params"}]}` (reference:
//! <https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference>).
//! Each element of `events` becomes one event: the request's body with
//! that element alone in `events`. So every event is a complete MP body
//! for one client, and a destination can send it as it is, whatever other
//! clients' events it is batched with (it is not: MP allows one client per
//! request, so `ga4_mp` destinations send one event per request).
//!
//! Both answer `204 No Content` with an empty body, as Google does: the
//! Measurement Protocol "returns a 2xx status code if the HTTP request is
//! received" (reference above; 204 as logged in AzuraCast/AzuraCast#6033).
//! gtag.js posts its hits with `navigator.sendBeacon` or a keepalive fetch
//! and acts on no answer (Google's `/g/collect` answers 204 too, as seen in
//! browsers' network logs; not captured here): a beacon's answer is never
//! read, and an opaque `no-cors` one cannot be, so an empty 2xx serves every
//! transport.
//!
//! This module never decides anything about consent: it marks where `uid`,
//! `cid`, `gdpr_consent`, `gcs` and `gcd` (gtag) or `user_id`, `client_id`
//! and `consent` (MP) are. It never logs a parameter, a key or a secret.

use super::bounds::Limits;
use super::error::IngestError;
use super::object::{finish_event, Fill, Layout, Role, TopLevel};
use super::segment::Decoded;
use super::server::Body;
use crate::event::Marks;
use bytes::Bytes;
use http::{Response, StatusCode};
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// gtag.js hits.
pub const GTAG_PATH: &str = "/g/collect";
/// Measurement Protocol uploads.
pub const MP_PATH: &str = "/mp/collect";

/// The names gtag.js parameters have, as far as consent is concerned.
pub struct GtagLayout;

impl Layout for GtagLayout {
    fn role(key: &str) -> Role {
        match key {
            "tid" => Role::WriteKey,
            "en" => Role::Type,
            "uid" => Role::UserId,
            "cid" => Role::AnonymousId,
            "gdpr_consent" => Role::Tcf,
            "gcs" => Role::Gcs,
            "gcd" => Role::Gcd,
            "_uip" => Role::Ip,
            _ => Role::Other,
        }
    }
}

/// The names of a Measurement Protocol body and its events.
pub struct MpLayout;

impl Layout for MpLayout {
    fn role(key: &str) -> Role {
        match key {
            "events" => Role::Batch,
            "name" => Role::Type,
            "user_id" => Role::UserId,
            "client_id" => Role::AnonymousId,
            "consent" => Role::MpConsent,
            _ => Role::Other,
        }
    }
}

/// One decoded query-string parameter.
type Param = (String, String);

/// Decodes a gtag.js request: the URL's `query` and the `body` (empty for
/// a GET). The write key is the URL's `tid`, else the first hit's; it goes
/// to `key` before any other hit is built. A hit without `en`, naming
/// another `tid`, not UTF-8 once decoded, or past the field limit is
/// skipped and counted. Every hit repeats the URL's parameters, so the
/// hits together, skipped ones too, may hold at most `limits.max_bytes`.
pub fn decode_gtag(
    query: Option<&str>,
    body: &Bytes,
    limits: Limits,
    key: impl FnMut(&str) -> Result<(), IngestError>,
) -> Result<Decoded, IngestError> {
    let shared = params(query.unwrap_or_default().as_bytes(), limits.max_fields).ok_or(
        IngestError::InvalidShape(
            "the query string is not UTF-8 once percent-decoded, or has more parameters than an event may have",
        ),
    )?;
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.trim_ascii().is_empty())
        .take(limits.max_batch + 1)
        .collect();
    if lines.len() > limits.max_batch {
        return Err(IngestError::TooManyEvents(limits.max_batch));
    }
    let mut hits = Hits {
        decoded: Decoded::new(limits),
        limits,
        write_key: None,
        key,
    };
    if let Some(tid) = first("tid", &shared) {
        hits.name(tid.to_owned())?;
    }
    if lines.is_empty() {
        if shared.is_empty() {
            return Err(IngestError::InvalidShape("a hit needs parameters"));
        }
        hits.push(&shared, &[])?;
        return Ok(hits.decoded);
    }
    hits.decoded.events.reserve(lines.len());
    for line in lines {
        match params(line, limits.max_fields) {
            Some(own) => hits.push(&shared, &own)?,
            None => hits.decoded.invalid += 1,
        }
    }
    Ok(hits.decoded)
}

/// The hits of one request so far, and the measurement id they must name.
struct Hits<K> {
    decoded: Decoded,
    limits: Limits,
    write_key: Option<String>,
    key: K,
}

impl<K: FnMut(&str) -> Result<(), IngestError>> Hits<K> {
    /// Makes `tid` the request's measurement id (checked by `key`).
    fn name(&mut self, tid: String) -> Result<(), IngestError> {
        (self.key)(&tid)?;
        self.write_key = Some(tid);
        Ok(())
    }

    /// Adds the hit of `shared` overridden by `own`, or counts it invalid.
    fn push(&mut self, shared: &[Param], own: &[Param]) -> Result<(), IngestError> {
        if shared.len() + own.len() > self.limits.max_fields {
            self.decoded.invalid += 1;
            return Ok(());
        }
        let overridden: HashSet<&str> = own.iter().map(|(k, _)| k.as_str()).collect();
        let merged: Vec<&Param> = shared
            .iter()
            .filter(|(k, _)| !overridden.contains(k.as_str()))
            .chain(own)
            .collect();
        if self.write_key.is_none() {
            if let Some((_, tid)) = merged.iter().find(|(k, _)| k == "tid") {
                self.name(tid.clone())?;
            }
        }
        let key = self.write_key.as_deref();
        let tids_match = merged
            .iter()
            .filter(|(k, _)| k == "tid")
            .all(|(_, v)| Some(v.as_str()) == key);
        let hit = Bytes::from(hit_json(&merged));
        self.decoded.take(hit.len())?;
        // A consent signal the URL and the line both give, differently,
        // is unreadable: the line's would win here, another reader may
        // take the URL's.
        let signal = |k: &str| matches!(GtagLayout::role(k), Role::Tcf | Role::Gcs | Role::Gcd);
        let conflicting = shared
            .iter()
            .any(|(k, v)| signal(k) && own.iter().any(|(own_k, own_v)| own_k == k && own_v != v));
        let marks = TopLevel::parse_event_as::<GtagLayout>(&hit, self.limits)
            .ok()
            .filter(|top| top.has_type && top.write_key.is_some() && tids_match)
            .map(|top| Marks {
                ambiguous: top.marks.ambiguous || conflicting,
                ..top.marks
            });
        match marks {
            // Counted above, with the hits that were built and skipped.
            Some(marks) => self.decoded.events.push((hit, marks)),
            None => self.decoded.invalid += 1,
        }
        Ok(())
    }
}

/// The first value of `name`.
fn first<'a>(name: &str, params: &'a [Param]) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The parameters of a query string, decoded (`+` is a space); `None` when
/// one is not UTF-8 once decoded, or there are more than `max`. Empty
/// pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
fn params(text: &[u8], max: usize) -> Option<Vec<Param>> {
    let pieces = text.split(|&b| b == b'&').filter(|piece| !piece.is_empty());
    if pieces.clone().nth(max).is_some() {
        return None;
    }
    pieces
        .map(|piece| {
            let (key, value) = match piece.iter().position(|&b| b == b'=') {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &b""[..]),
            };
            Some((component(key)?, component(value)?))
        })
        .collect()
}

/// One percent-decoded query component.
fn component(raw: &[u8]) -> Option<String> {
    let spaced: Cow<'_, [u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let bytes: Cow<'_, [u8]> = percent_decode(&spaced).into();
    String::from_utf8(bytes.into_owned()).ok()
}

/// `{"key":"value",...}`, in order, one line (JSON escapes line breaks).
fn hit_json(params: &[&Param]) -> Vec<u8> {
    let size: usize = params.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    let mut out = Vec::with_capacity(size + 2);
    out.push(b'{');
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(&mut out, key);
        out.push(b':');
        json_string(&mut out, value);
    }
    out.push(b'}');
    out
}

fn json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("a string serializes into a Vec");
}

/// What `encodeURIComponent` leaves as it is (gtag.js encodes with it).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A hit as forwarded: the event object (as [`decode_gtag`] made it, after
/// the rules) written back as one query string, members in order. Strings
/// are their text; anything else a rule may have left is its JSON text.
/// Never a line break: every byte `encodeURIComponent` escapes is escaped.
pub fn encode_hit(event: &Bytes) -> Bytes {
    let Ok(Members(members)) = serde_json::from_slice::<Members<'_>>(event) else {
        // Events reach forwarding as validated objects; nothing to send.
        return Bytes::new();
    };
    let mut out = String::with_capacity(event.len());
    for (i, (key, raw)) in members.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(key, COMPONENT));
        out.push('=');
        let value =
            serde_json::from_str::<Cow<'_, str>>(raw.get()).unwrap_or(Cow::Borrowed(raw.get()));
        out.extend(utf8_percent_encode(&value, COMPONENT));
    }
    Bytes::from(out)
}

/// Decodes a Measurement Protocol body: one event per element of `events`
/// that is an object with a `name` (the rest are skipped and counted),
/// each the body with that element alone in `events`. Every event repeats
/// the body's other fields, so the events together may hold at most
/// `limits.max_bytes`, checked before any is built. The write key is in
/// the URL (`measurement_id`), not here.
pub fn decode_mp(body: &Bytes, limits: Limits) -> Result<Decoded, IngestError> {
    let (_, items) =
        TopLevel::envelope::<MpLayout>(body, limits, "`events` must be an array of event objects")?;
    let Members(members) = serde_json::from_slice(body)
        .map_err(|e: serde_json::Error| IngestError::InvalidJson(e.into()))?;
    let mut shared = Vec::with_capacity(body.len());
    for (key, raw) in members.iter().filter(|(key, _)| key != "events") {
        json_string(&mut shared, key);
        shared.push(b':');
        shared.extend_from_slice(raw.get().as_bytes());
        shared.push(b',');
    }
    let named: Vec<Option<&RawValue>> = items
        .iter()
        .map(|item| {
            TopLevel::parse_event_as::<MpLayout>(item.get().as_bytes(), limits)
                .is_ok_and(|event| event.has_type)
                .then_some(*item)
        })
        .collect();
    let size: usize = named
        .iter()
        .flatten()
        .map(|item| shared.len() + item.get().len() + 14)
        .sum();
    let mut decoded = Decoded::new(limits);
    decoded.fits(size)?;
    decoded.events.reserve(named.len());
    for item in named {
        let Some(item) = item else {
            decoded.invalid += 1;
            continue;
        };
        let mut one = Vec::with_capacity(shared.len() + item.get().len() + 14);
        one.push(b'{');
        one.extend_from_slice(&shared);
        one.extend_from_slice(b"\"events\":[");
        one.extend_from_slice(item.get().as_bytes());
        one.extend_from_slice(b"]}");
        let one = Bytes::from(one);
        match TopLevel::parse_event_as::<MpLayout>(&one, limits) {
            // Pretty-printed bodies fold to one line; spans stay put.
            Ok(event) => decoded.push(
                finish_event(one.clone(), event.keys, &Fill::default()),
                event.marks,
            )?,
            Err(_) => decoded.invalid += 1,
        }
    }
    Ok(decoded)
}

/// What privgate answers an accepted gtag.js or Measurement Protocol
/// request: `204 No Content`, as Google does.
pub fn accepted() -> Response<Body> {
    let mut response = Response::new(super::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// An object's members in order, duplicates kept, values unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Any key is accepted.
    fn any(_: &str) -> Result<(), IngestError> {
        Ok(())
    }

    /// Limits with this budget for the events of a request.
    fn within(max_bytes: usize) -> Limits {
        Limits {
            max_bytes,
            ..Limits::default()
        }
    }

    /// The hits of a request, and the measurement id it names.
    fn gtag_keyed(query: &str, body: &str) -> (Decoded, Option<String>) {
        let mut named = None;
        let d = decode_gtag(
            Some(query),
            &Bytes::from(body.to_owned()),
            Limits::default(),
            |k: &str| {
                assert!(named.replace(k.to_owned()).is_none(), "a second key");
                Ok(())
            },
        )
        .unwrap();
        (d, named)
    }

    fn gtag(query: &str, body: &str) -> Decoded {
        gtag_keyed(query, body).0
    }

    fn object(event: &Bytes) -> Value {
        serde_json::from_slice(event).unwrap()
    }

    fn at(event: &Bytes, span: Option<crate::event::Span>) -> Value {
        serde_json::from_slice(span.expect("marked").get(event)).unwrap()
    }

    #[test]
    fn lines_share_the_url_parameters_and_override_them() {
        let (d, key) = gtag_keyed(
            "v=2&tid=G-1&cid=1.2&gcs=G111&dl=https%3A%2F%2Fx.test%2F%3Fa%3D1",
            "en=page_view&_s=1&uid=u%201\r\nen=scroll&_s=2&dl=https%3A%2F%2Fx.test%2Fb&gcd=13l3l3l3l1&gdpr_consent=CPx\r\n",
        );
        assert_eq!((d.events.len(), d.invalid), (2, 0));
        assert_eq!(key.as_deref(), Some("G-1"));
        let (first, marks) = &d.events[0];
        assert_eq!(
            object(first),
            json!({"v":"2","tid":"G-1","cid":"1.2","gcs":"G111","dl":"https://x.test/?a=1","en":"page_view","_s":"1","uid":"u 1"})
        );
        assert_eq!(at(first, marks.user_id), "u 1");
        assert_eq!(at(first, marks.anonymous_id), "1.2");
        assert_eq!(at(first, marks.gcs), "G111");
        assert!(marks.gcd.is_none() && marks.tcf.is_none());
        let (second, marks) = &d.events[1];
        // The line's own `dl` replaces the URL's, in the line's place.
        assert_eq!(
            serde_json::from_slice::<serde_json::Map<String, Value>>(second)
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>(),
            [
                "_s",
                "cid",
                "dl",
                "en",
                "gcd",
                "gcs",
                "gdpr_consent",
                "tid",
                "v"
            ],
        );
        assert_eq!(object(second)["dl"], "https://x.test/b");
        assert_eq!(at(second, marks.gcd), "13l3l3l3l1");
        assert_eq!(at(second, marks.tcf), "CPx");
        assert!(marks.user_id.is_none());
        assert!(!second.contains(&b'\n'));
    }

    #[test]
    fn a_get_or_an_empty_body_is_the_urls_one_hit() {
        let d = gtag("v=2&tid=G-1&en=page_view&ep.a=b+c", "");
        assert_eq!(d.events.len(), 1);
        assert_eq!(object(&d.events[0].0)["ep.a"], "b c");
        let d = gtag("v=2&tid=G-1&en=x", "\n \r\n");
        assert_eq!(d.events.len(), 1, "blank lines are no hits");
        assert!(decode_gtag(None, &Bytes::new(), Limits::default(), any).is_err());
        assert!(decode_gtag(Some("tid=%FF"), &Bytes::new(), Limits::default(), any).is_err());
    }

    #[test]
    fn hits_without_a_name_or_of_another_stream_are_skipped_and_counted() {
        let d = gtag(
            "v=2&tid=G-1",
            "en=a\nen=b&tid=G-2\n_s=3\nen=c&ep.x=%FF\nen=d&tid=G-1",
        );
        assert_eq!((d.events.len(), d.invalid), (2, 3));
        // Without a tid in the URL, the first hit's is the request's.
        let (d, key) = gtag_keyed("v=2", "en=a&tid=G-2\nen=b&tid=G-1\nen=c");
        assert_eq!(key.as_deref(), Some("G-2"));
        assert_eq!((d.events.len(), d.invalid), (1, 2));
    }

    #[test]
    fn bounds_hold() {
        let small = Limits {
            max_batch: 2,
            max_fields: 4,
            ..Limits::default()
        };
        let body = Bytes::from_static(b"en=a\nen=b\nen=c");
        assert!(matches!(
            decode_gtag(Some("tid=G"), &body, small, any),
            Err(IngestError::TooManyEvents(2))
        ));
        let body = Bytes::from_static(b"en=a&b=1&c=2\nen=a&b=1&c=2&d=3\nen=a&b=1&c=2&d=3&e=4&f=5");
        let d = decode_gtag(
            Some("tid=G"),
            &body,
            Limits {
                max_batch: 3,
                ..small
            },
            any,
        )
        .unwrap();
        assert_eq!((d.events.len(), d.invalid), (1, 2));
        assert!(decode_gtag(Some("tid=G&a&b&c&d"), &Bytes::new(), small, any).is_err());
        // Hits repeat the URL's parameters: what they add up to is bounded.
        let shared = format!("tid=G&x={}", "y".repeat(1000));
        let body = Bytes::from("en=a\n".repeat(10));
        assert!(decode_gtag(Some(&shared), &body, within(20_000), any).is_ok());
        assert!(matches!(
            decode_gtag(Some(&shared), &body, within(10_000), any),
            Err(IngestError::TooLarge(10_000))
        ));
        let mp = Bytes::from(format!(
            r#"{{"pad":"{}","events":[{}]}}"#,
            "p".repeat(1000),
            [r#"{"name":"e"}"#; 10].join(",")
        ));
        assert!(decode_mp(&mp, within(20_000)).is_ok());
        assert!(matches!(
            decode_mp(&mp, within(10_000)),
            Err(IngestError::TooLarge(10_000))
        ));
    }

    #[test]
    fn hits_encode_back_to_query_strings() {
        let event = Bytes::from_static(
            br#"{"en":"a b","dl":"https://x.test/?q=1&r=\u00e9","n":3,"ep.k":"l\r\nm","ep.k":"2"}"#,
        );
        assert_eq!(
            &encode_hit(&event)[..],
            b"en=a%20b&dl=https%3A%2F%2Fx.test%2F%3Fq%3D1%26r%3D%C3%A9&n=3&ep.k=l%0D%0Am&ep.k=2"
        );
        assert!(encode_hit(&Bytes::from_static(b"[1]")).is_empty());
    }

    #[test]
    fn each_measurement_protocol_event_is_a_body_of_its_own() {
        let body = Bytes::from(
            json!({
                "client_id": "1.2",
                "user_id": "u",
                "consent": {"ad_user_data": "GRANTED"},
                "events": [{"name": "a", "params": {"x": 1}}, {"params": {}}, 3, {"name": "b"}],
                "user_properties": {"p": {"value": "v"}},
            })
            .to_string(),
        );
        let d = decode_mp(&body, Limits::default()).unwrap();
        assert_eq!((d.events.len(), d.invalid), (2, 2));
        let (event, marks) = &d.events[1];
        assert_eq!(
            object(event),
            json!({"client_id": "1.2", "user_id": "u", "consent": {"ad_user_data": "GRANTED"}, "user_properties": {"p": {"value": "v"}}, "events": [{"name": "b"}]})
        );
        assert_eq!(at(event, marks.user_id), "u");
        assert_eq!(at(event, marks.anonymous_id), "1.2");
        assert_eq!(
            at(event, marks.mp_consent),
            json!({"ad_user_data": "GRANTED"})
        );
        for bad in [&b"{}"[..], br#"{"events":{}}"#, b"[]", b"{"] {
            assert!(decode_mp(&Bytes::from_static(bad), Limits::default()).is_err());
        }
    }

    #[test]
    fn pretty_measurement_protocol_bodies_become_one_line_events() {
        let body = serde_json::to_string_pretty(
            &json!({"client_id": "1.2", "events": [{"name": "a\nb", "params": {"k": [1, 2]}}]}),
        )
        .unwrap();
        let d = decode_mp(&Bytes::from(body), Limits::default()).unwrap();
        let (event, marks) = &d.events[0];
        assert!(!event.contains(&b'\n'));
        assert_eq!(object(event)["events"][0]["name"], "a\nb");
        assert_eq!(at(event, marks.anonymous_id), "1.2");
    }

    /// Text a parameter may hold: anything, delimiters and escapes included.
    fn text() -> impl Strategy<Value = String> {
        "[a-z&=+%#?/ \\r\\n.\u{e9}\u{1F600}\"\\\\]{0,12}"
    }

    /// A parameter; its name is never `tid` or `en`, which the test sets.
    fn param() -> impl Strategy<Value = Param> {
        (text(), text()).prop_map(|(k, v)| (format!("k{k}"), v))
    }

    fn query(params: &[(String, String)]) -> String {
        params
            .iter()
            .map(|(k, v)| {
                let enc = |s: &str| utf8_percent_encode(s, COMPONENT).to_string();
                format!("{}={}", enc(k), enc(v))
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    proptest! {
        /// What no rule touches is forwarded as sent: every hit decodes to
        /// its parameters (the URL's, overridden by the line's) and encodes
        /// back to a query string that reads as the same parameters.
        #[test]
        fn hits_round_trip(
            shared in prop::collection::vec(param(), 0..4),
            lines in prop::collection::vec(prop::collection::vec(param(), 0..5), 1..4),
        ) {
            let url = format!("tid=G-1&{}", query(&shared));
            let body = lines
                .iter()
                .map(|own| format!("en=e&{}", query(own)))
                .collect::<Vec<_>>()
                .join("\r\n");
            let d = gtag(&url, &body);
            prop_assert_eq!(d.invalid, 0);
            prop_assert_eq!(d.events.len(), lines.len());
            for ((event, _), own) in d.events.iter().zip(&lines) {
                let mut own = own.clone();
                own.insert(0, ("en".into(), "e".into()));
                let overridden: HashSet<&str> = own.iter().map(|(k, _)| k.as_str()).collect();
                let mut want: Vec<Param> = std::iter::once(("tid".to_owned(), "G-1".to_owned()))
                    .chain(shared.iter().cloned())
                    .filter(|(k, _)| !overridden.contains(k.as_str()))
                    .collect();
                want.extend(own);
                let wire = encode_hit(event);
                prop_assert!(!wire.contains(&b'\n') && !wire.contains(&b'\r'));
                prop_assert_eq!(params(&wire, usize::MAX).unwrap(), want);
            }
        }

        /// Each Measurement Protocol event arrives as the body it came in,
        /// with itself alone in `events`.
        #[test]
        fn measurement_protocol_events_keep_their_body(
            shared in prop::collection::btree_map(
                "[a-z_]{1,8}",
                crate::ingest::object::tests::json_value(),
                0..4,
            ),
            events in prop::collection::vec(
                prop::collection::btree_map("[a-z_]{1,8}", crate::ingest::object::tests::json_value(), 0..4),
                1..4,
            ),
        ) {
            let events: Vec<Value> = events
                .into_iter()
                .map(|mut e| {
                    e.insert("name".into(), "n".into());
                    Value::Object(e.into_iter().collect())
                })
                .collect();
            let mut body: serde_json::Map<String, Value> = shared.into_iter().collect();
            body.insert("events".into(), Value::from(events.clone()));
            let d = decode_mp(&Bytes::from(Value::Object(body.clone()).to_string()), Limits::default()).unwrap();
            prop_assert_eq!(d.invalid, 0);
            for ((event, _), sent) in d.events.iter().zip(events) {
                let mut want = body.clone();
                want.insert("events".into(), json!([sent]));
                prop_assert_eq!(object(event), Value::Object(want));
            }
        }
    }
}
