//! One JSON object's top level, scanned without building a tree, through
//! a protocol's [`Layout`] (the edits made to a scanned event are in
//! [`super::edit`]).
//!
//! The scan validates the whole object (nested values are checked against
//! [`super::bounds`] and skipped), marks where consent's inputs are ([`Marks`]: the ids and the
//! consent objects in `context`), and borrows from the input: no allocation unless a key or value
//! we read contains escapes. See benches/event_repr.rs for why.

use super::bounds::{checked_raw, Budget, Checked, Exceeded, Key, Limits};
use super::layout::{Layout, Role, SegmentLayout, Slot};
use crate::event::{same_value, Marks, Span};
use crate::ingest::error::IngestError;
use crate::json::ignore_scalars;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// JSON text must be UTF-8. The scan below skips the values it does not
/// read without decoding them, so the whole body is checked once up front.
pub fn check_utf8(body: &[u8]) -> Result<(), std::str::Utf8Error> {
    std::str::from_utf8(body).map(|_| ())
}

/// What ingest needs to know about an event's top level.
#[derive(Debug, Default)]
pub struct TopLevel<'a> {
    /// Number of keys.
    pub keys: usize,
    /// `writeKey`, when a string.
    pub write_key: Option<Cow<'a, str>>,
    /// `messageId` is present.
    pub has_message_id: bool,
    /// `receivedAt` is present.
    pub has_received_at: bool,
    /// `type` is present.
    pub has_type: bool,
    /// `batch`, when an array (its elements unparsed).
    pub batch: Option<Vec<&'a RawValue>>,
    /// The [`Role::Schema`] key's value, when a string.
    pub schema: Option<Cow<'a, str>>,
    /// Where consent's inputs are (meaningful for an event, not a batch
    /// envelope).
    pub marks: Marks,
}

/// Why an object was refused: not JSON, or past one of the [`Limits`].
#[derive(Debug)]
pub struct Refused {
    /// What serde_json reported (position included).
    pub error: serde_json::Error,
    /// The limit that stopped it, if it was one.
    pub exceeded: Option<Exceeded>,
    /// The limits it was read within.
    pub limits: Limits,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<'a> TopLevel<'a> {
    /// Scans `input`, which must hold exactly one JSON object (a Segment
    /// event or batch envelope), within `limits`.
    pub fn parse(input: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        Self::scan::<SegmentLayout>(input, limits, true)
    }

    /// Like [`TopLevel::parse`] for a batch element, where `batch` is just a field.
    pub fn parse_event(input: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        Self::scan::<SegmentLayout>(input, limits, false)
    }

    /// [`TopLevel::parse`] for another protocol's layout.
    pub fn parse_as<L: Layout>(input: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        Self::scan::<L>(input, limits, true)
    }

    /// A batch envelope of `L`'s protocol (a body that must be UTF-8) and
    /// the elements of its batch array; without one, `InvalidShape(missing)`.
    pub fn envelope<L: Layout>(
        body: &'a [u8],
        limits: Limits,
        missing: &'static str,
    ) -> Result<(TopLevel<'a>, Vec<&'a RawValue>), IngestError> {
        check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
        let mut top = Self::scan::<L>(body, limits, true)?;
        let items = top.batch.take().ok_or(IngestError::InvalidShape(missing))?;
        Ok((top, items))
    }

    /// The elements of `body`, a JSON array (PostHog's and `/collect`'s
    /// top-level batches), read as the batch of an envelope is: at most
    /// `max_batch` of them, refused at the first one beyond, before the
    /// rest are read.
    pub fn array(body: &'a [u8], limits: Limits) -> Result<Vec<&'a RawValue>, Refused> {
        let budget = Budget::new(limits);
        let mut de = serde_json::Deserializer::from_slice(body);
        let items = de
            .deserialize_seq(BatchItems { budget: &budget })
            .and_then(|items| de.end().map(|()| items.unwrap_or_default()));
        items.map_err(|error| Refused {
            error,
            exceeded: budget.exceeded(),
            limits,
        })
    }

    /// [`TopLevel::parse_event`] for another protocol's layout.
    pub fn parse_event_as<L: Layout>(
        input: &'a [u8],
        limits: Limits,
    ) -> Result<TopLevel<'a>, Refused> {
        Self::scan::<L>(input, limits, false)
    }

    fn scan<L: Layout>(
        input: &'a [u8],
        limits: Limits,
        want_batch: bool,
    ) -> Result<TopLevel<'a>, Refused> {
        let budget = Budget::new(limits);
        let mut de = serde_json::Deserializer::from_slice(input);
        let top = de
            .deserialize_map(TopVisitor::<L> {
                input,
                want_batch,
                budget: &budget,
                layout: PhantomData,
            })
            .and_then(|top| de.end().map(|()| top));
        top.map_err(|error| Refused {
            error,
            exceeded: budget.exceeded(),
            limits,
        })
    }
}

struct TopVisitor<'a, 'b, L> {
    input: &'a [u8],
    want_batch: bool,
    budget: &'b Budget,
    layout: PhantomData<L>,
}

impl<L> TopVisitor<'_, '_, L> {
    /// A member of the event's top level.
    fn member(&self) -> Checked<'_> {
        Checked {
            budget: self.budget,
            depth: 2,
        }
    }
}

/// The offset of a key's opening quote in `input`, when the key is
/// borrowed from it (it has no escapes): where a member can be inserted
/// before it.
fn key_at(input: &[u8], key: &str) -> Option<u32> {
    // A key with escapes was copied: its address is outside the input.
    let at = (key.as_ptr() as usize).checked_sub(input.as_ptr() as usize + 1)?;
    if at + 1 + key.len() > input.len() {
        return None;
    }
    (input.get(at) == Some(&b'"'))
        .then_some(at)
        .and_then(|at| u32::try_from(at).ok())
}

/// Records where `raw` (borrowed from `input`) is in `slot`; a second,
/// different value for the same slot makes the marks ambiguous
/// ([`Marks::mark`]).
fn mark(marks: &mut Marks, input: &[u8], raw: &RawValue, slot: Slot) {
    marks.mark(input, slot, Span::of(input, raw.get().as_bytes()));
}

/// The [`Role::Context`] object (Segment's `context`): the members the
/// layout names are marked, the rest validated and skipped.
struct ContextMarks<'a, 'm, 'b, L> {
    input: &'a [u8],
    marks: &'m mut Marks,
    budget: &'b Budget,
    layout: PhantomData<L>,
}

impl<L> ContextMarks<'_, '_, '_, L> {
    /// A member of `context` (itself at depth 2).
    fn member(&self) -> Checked<'_> {
        Checked {
            budget: self.budget,
            depth: 3,
        }
    }
}

impl<'de, L: Layout> de::DeserializeSeed<'de> for ContextMarks<'de, '_, '_, L> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, L: Layout> Visitor<'de> for ContextMarks<'de, '_, '_, L> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.budget.enter(2)?;
        let mut first = true;
        while let Some(key) = map.next_key_seed(Key)? {
            self.budget.field()?;
            if std::mem::replace(&mut first, false) {
                self.marks.ip_at = key_at(self.input, &key);
            }
            let Some(slot) = L::context_slot(&key) else {
                map.next_value_seed(self.member())?;
                continue;
            };
            let raw = checked_raw(&mut map, self.member())?;
            mark(self.marks, self.input, raw, slot);
        }
        Ok(())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let at = Checked {
            budget: self.budget,
            depth: 2,
        };
        at.visit_seq(seq)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    ignore_scalars!(());
}

/// `batch`: an array of raw elements (each parsed on its own later), at
/// most `max_batch` of them; or something else (checked, then `None`).
struct BatchItems<'b> {
    budget: &'b Budget,
}

impl<'de> DeserializeSeed<'de> for BatchItems<'_> {
    type Value = Option<Vec<&'de RawValue>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchItems<'_> {
    type Value = Option<Vec<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let max = self.budget.limits().max_batch;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(1024));
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if items.len() == max {
                return Err(self.budget.exceed(
                    Exceeded::Batch,
                    format_args!("more than {max} events in one batch"),
                ));
            }
            items.push(item);
        }
        Ok(Some(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let at = Checked {
            budget: self.budget,
            depth: 2,
        };
        at.visit_map(map).map(|()| None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    ignore_scalars!(Option<Vec<&'de RawValue>>);
}

impl<'de, L: Layout> Visitor<'de> for TopVisitor<'de, '_, L> {
    type Value = TopLevel<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel<'de>, A::Error> {
        let mut top = TopLevel::default();
        let mut first_context: Option<Marks> = None;
        while let Some(key) = map.next_key_seed(Key)? {
            if top.keys == 0 {
                top.marks.top_at = key_at(self.input, &key);
            }
            top.keys += 1;
            self.budget.field()?;
            let role = L::role(&key);
            if let Some(slot) = role.slot() {
                let raw = checked_raw(&mut map, self.member())?;
                mark(&mut top.marks, self.input, raw, slot);
                continue;
            }
            match role {
                Role::WriteKey => {
                    let raw = checked_raw(&mut map, self.member())?;
                    top.write_key = string_value(raw);
                }
                Role::Schema => {
                    let raw = checked_raw(&mut map, self.member())?;
                    top.schema = string_value(raw);
                }
                Role::MessageId => {
                    top.has_message_id = true;
                    map.next_value_seed(self.member())?;
                }
                Role::ReceivedAt => {
                    top.has_received_at = true;
                    map.next_value_seed(self.member())?;
                }
                Role::Type => {
                    top.has_type = true;
                    map.next_value_seed(self.member())?;
                }
                Role::Batch if self.want_batch => {
                    top.batch = map.next_value_seed(BatchItems {
                        budget: self.budget,
                    })?;
                }
                Role::Context => {
                    // Its members are marked apart, then added to the
                    // event's marks like any other value.
                    let mut own = Marks::default();
                    map.next_value_seed(ContextMarks::<L> {
                        input: self.input,
                        marks: &mut own,
                        budget: self.budget,
                        layout: PhantomData,
                    })?;
                    match first_context {
                        None => {
                            first_context = Some(own);
                            top.marks.ip_at = own.ip_at;
                        }
                        // Given twice, it says the same only if every
                        // member marked in one is in the other with the
                        // same value (a last-wins reader sees the second).
                        Some(first) => {
                            let differ = Slot::ALL.iter().any(|&slot| {
                                match (slot.get(first), slot.get(own)) {
                                    (None, None) => false,
                                    (Some(a), Some(b)) => {
                                        !same_value(a.get(self.input), b.get(self.input))
                                    }
                                    _ => true,
                                }
                            });
                            if differ {
                                top.marks.ambiguous = true;
                            }
                        }
                    }
                    top.marks.has_context = true;
                    top.marks.ambiguous |= own.ambiguous;
                    top.marks.ids_ambiguous |= own.ids_ambiguous;
                    for slot in Slot::ALL {
                        top.marks.mark(self.input, slot, slot.get(own));
                    }
                }
                // Marked roles were handled above.
                _ => {
                    map.next_value_seed(self.member())?;
                }
            }
        }
        Ok(top)
    }
}

/// A raw JSON value's string, borrowed when it has no escapes.
fn string_value(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json::{finish_event, Fill};
    use bytes::Bytes;
    use proptest::prelude::*;

    #[test]
    fn scans_the_fields_ingest_needs() {
        let body = br#"{"type":"track","writeKey":"k","messageId":"m","batch":[{"a":1},2],"x":{"y":[1,2]}}"#;
        let top = TopLevel::parse(body, Limits::default()).unwrap();
        assert_eq!(top.keys, 5);
        assert_eq!(top.write_key.as_deref(), Some("k"));
        assert!(top.has_message_id && top.has_type && !top.has_received_at);
        let batch = top.batch.unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].get(), r#"{"a":1}"#);
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
}
