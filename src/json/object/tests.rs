use super::*;
use crate::json::{finish_event, Fill};
use bytes::Bytes;
use proptest::prelude::*;

#[test]
fn scans_the_fields_ingest_needs() {
    let body =
        br#"{"type":"track","writeKey":"k","messageId":"m","batch":[{"a":1},2],"x":{"y":[1,2]}}"#;
    let top = TopLevel::parse(body, Limits::default()).unwrap();
    assert_eq!(top.keys, 5);
    assert_eq!(top.write_key.as_deref(), Some("k"));
    assert!(top.has_message_id && top.has_type && !top.has_received_at);
    let batch = top.batch.unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0], r#"{"a":1}"#);
}

#[test]
fn escaped_keys_and_values_are_understood() {
    let top = TopLevel::parse(br#"{"write\u004bey":"a\"b"}"#, Limits::default()).unwrap();
    assert_eq!(top.write_key.as_deref(), Some("a\"b"));
}

#[test]
fn rejects_non_objects_and_trailing_garbage() {
    assert!(TopLevel::parse(b"[1]", Limits::default()).is_err());
    assert!(TopLevel::parse(b"{} x", Limits::default()).is_err());
    assert!(TopLevel::parse(b"{\"a\":", Limits::default()).is_err());
    assert!(TopLevel::parse(b"\"s\"", Limits::default()).is_err());
}

#[test]
fn marks_point_at_consent_inputs() {
    let body = br#"{"user\u0049d":"u","context":{"x":{"consent":1},"consent":{"categoryPreferences":{"A":true}},"consentManagement":[]},"anonymousId":7}"#;
    let marks = TopLevel::parse_event(body, Limits::default())
        .unwrap()
        .marks;
    let at = |span: Option<Span>| std::str::from_utf8(span.unwrap().get(body)).unwrap();
    assert_eq!(at(marks.user_id), r#""u""#);
    assert_eq!(at(marks.anonymous_id), "7");
    assert_eq!(at(marks.consent), r#"{"categoryPreferences":{"A":true}}"#);
    assert_eq!(at(marks.consent_management), "[]");
    assert!(!marks.ambiguous);
    // A context that is not an object marks nothing in it.
    let marks = TopLevel::parse_event(br#"{"context":"consent"}"#, Limits::default())
        .unwrap()
        .marks;
    assert_eq!(
        (marks.consent, marks.consent_management, marks.ip_at),
        (None, None, None)
    );
    // Insertion points: before the first key, when it has no escapes.
    let at = |body: &[u8]| {
        let marks = TopLevel::parse_event(body, Limits::default())
            .unwrap()
            .marks;
        (marks.top_at, marks.ip_at)
    };
    assert_eq!(
        at(br#" { "a" : 1, "context" : { "b":2 } }"#),
        (Some(3), Some(26))
    );
    assert_eq!(at(br#"{"\u0061":1,"context":{"\u0062":2}}"#), (None, None));
    assert_eq!(at(br#"{"context":{}}"#), (Some(1), None));
}

#[test]
fn a_consent_input_repeated_differently_is_ambiguous() {
    for body in [
        &br#"{"userId":"a","userId":"b"}"#[..],
        br#"{"anonymousId":"a","anonym\u006fusId":"b"}"#,
        br#"{"userId":1,"userId":1.0}"#,
        br#"{"context":{"consent":{}},"context":{}}"#,
        br#"{"context":{},"context":{"ip":"1"}}"#,
        br#"{"context":{"consent":{"a":1},"consent":{"a":2}}}"#,
        br#"{"context":{"consentManagement":{}},"context":{"consentManagement":[]}}"#,
    ] {
        let marks = TopLevel::parse_event(body, Limits::default())
            .unwrap()
            .marks;
        assert!(marks.ambiguous, "{}", String::from_utf8_lossy(body));
    }
    let marks = TopLevel::parse_event(br#"{"userId":"a","userId":"b"}"#, Limits::default())
        .unwrap()
        .marks;
    assert!(marks.ids_ambiguous);
}

/// A key repeated with the same value says one thing (posthog-node's
/// `alias()` sends `distinct_id` twice): not ambiguous.
#[test]
fn a_consent_input_repeated_with_the_same_value_is_not_ambiguous() {
    for body in [
        &br#"{"userId":"a","userId":"a"}"#[..],
        br#"{"anonymousId":"a","anonym\u006fusId":"\u0061"}"#,
        br#"{"userId":7,"userId":7}"#,
        br#"{"context":{},"context":{}}"#,
        br#"{"context":{"consent":{},"page":1},"context":{"consent":{}}}"#,
        br#"{"context":{"consent":{"a":1},"consent":{"a":1}}}"#,
    ] {
        let top = TopLevel::parse_event(body, Limits::default()).unwrap();
        let what = String::from_utf8_lossy(body);
        assert!(!top.marks.ambiguous && !top.marks.ids_ambiguous, "{what}");
        assert!(
            top.marks.user_id.is_some()
                || top.marks.anonymous_id.is_some()
                || top.marks.has_context,
            "{what}"
        );
    }
}

/// One to four event objects of any members, each with `type_key` set
/// (an event of the protocol).
pub(crate) fn events(type_key: &'static str) -> impl Strategy<Value = Vec<serde_json::Value>> {
    let event = prop::collection::btree_map("[a-z_$]{1,8}", json_value(), 0..5);
    prop::collection::vec(event, 1..5).prop_map(move |events| {
        events
            .into_iter()
            .map(|mut e| {
                e.insert(type_key.into(), "t".into());
                serde_json::Value::Object(e.into_iter().collect())
            })
            .collect()
    })
}

/// Any JSON value (small; with escapes, emoji and line breaks).
pub(crate) fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[ -~\\n\\t\u{e9}\u{1F600}]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Filling fields and folding line breaks never changes any value
    /// that was there, and always yields one line of valid JSON.
    #[test]
    fn finishing_preserves_every_value(
        fields in prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..6),
        pretty in any::<bool>(),
        add_id in any::<bool>(),
    ) {
        let original = serde_json::Value::Object(fields.into_iter().collect());
        let text = if pretty {
            serde_json::to_string_pretty(&original).unwrap()
        } else {
            serde_json::to_string(&original).unwrap()
        };
        let top = TopLevel::parse_event(text.as_bytes(), Limits::default()).unwrap();
        let fill = Fill { message_id: (add_id && !top.has_message_id).then_some("gen"), ..Fill::default() };
        let out = finish_event(Bytes::from(text.clone()), top.keys, &fill);
        prop_assert!(!out.contains(&b'\n'));
        let mut parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        if fill.message_id.is_some() {
            prop_assert_eq!(parsed["messageId"].as_str(), Some("gen"));
            parsed.as_object_mut().unwrap().remove("messageId");
        }
        prop_assert_eq!(parsed, original);
    }

    /// Whatever else an event holds and however it is laid out, its
    /// marks point at exactly the values consent reads, in the event
    /// as forwarded (after ingest's fill and line folding).
    #[test]
    fn marks_locate_the_values_consent_reads(
        fields in prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..4),
        user_id in prop::option::of(json_value()),
        anonymous_id in prop::option::of(json_value()),
        context in prop::option::of(prop_oneof![
            json_value(),
            (
                prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..3),
                prop::option::of(json_value()),
                prop::option::of(json_value()),
            ).prop_map(|(mut m, consent, management)| {
                if let Some(c) = consent { m.insert("consent".into(), c); }
                if let Some(c) = management { m.insert("consentManagement".into(), c); }
                serde_json::Value::Object(m.into_iter().collect())
            }),
        ]),
        pretty in any::<bool>(),
    ) {
        let mut object: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        for (key, value) in [("userId", user_id), ("anonymousId", anonymous_id), ("context", context)] {
            if let Some(value) = value { object.insert(key.into(), value); }
        }
        let original = serde_json::Value::Object(object);
        let text = if pretty {
            serde_json::to_string_pretty(&original).unwrap()
        } else {
            serde_json::to_string(&original).unwrap()
        };
        let top = TopLevel::parse_event(text.as_bytes(), Limits::default()).unwrap();
        let fill = Fill { received_at: Some("now"), ..Fill::default() };
        let out = finish_event(Bytes::from(text.clone()), top.keys, &fill);
        let read = |span: Option<Span>| span.map(|s| serde_json::from_slice::<serde_json::Value>(s.get(&out)).unwrap());
        let marks = top.marks;
        prop_assert!(!marks.ambiguous);
        let in_context = |key: &str| original.get("context").and_then(|c| c.get(key)).cloned();
        prop_assert_eq!(read(marks.user_id), original.get("userId").cloned());
        prop_assert_eq!(read(marks.anonymous_id), original.get("anonymousId").cloned());
        prop_assert_eq!(read(marks.consent), in_context("consent"));
        prop_assert_eq!(read(marks.consent_management), in_context("consentManagement"));
    }
}
