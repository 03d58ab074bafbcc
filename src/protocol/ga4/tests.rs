//! Test vectors and proptests of the GA4 codecs.

use super::*;
use crate::json::Limits;
use crate::protocol::Decoded;
use crate::tracker_http::error::IngestError;
use bytes::Bytes;
use gtag::{params, Param, COMPONENT};
use percent_encoding::utf8_percent_encode;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::HashSet;

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

fn at(event: &Bytes, span: Option<crate::json::Span>) -> Value {
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
            crate::json::tests::json_value(),
            0..4,
        ),
        events in prop::collection::vec(
            prop::collection::btree_map("[a-z_]{1,8}", crate::json::tests::json_value(), 0..4),
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
