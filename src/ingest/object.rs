//! One JSON object's top level, scanned without building a tree, and the
//! raw-byte edits ingest makes to events (filling `messageId`, `type` and
//! `receivedAt` when missing, folding line breaks so the event fits on one
//! NDJSON line).
//!
//! The scan validates the whole object (nested values are checked against
//! [`super::bounds`] and skipped), marks where consent's inputs are ([`Marks`]: the ids and the
//! consent objects in `context`), and borrows from the input: no allocation unless a key or value
//! we read contains escapes. See benches/event_repr.rs for why.

use super::bounds::{checked_raw, Budget, Checked, Exceeded, Key, Limits};
use super::error::IngestError;
use crate::event::{same_value, Marks, Span};
use crate::json::ignore_scalars;
use bytes::{BufMut, Bytes, BytesMut};
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

/// What a top-level key means in one protocol's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The write key (a string), in an envelope or a single event.
    WriteKey,
    /// The event's deduplication id.
    MessageId,
    /// When the collector received it.
    ReceivedAt,
    /// The event's type or name (an event without one is invalid).
    Type,
    /// The array of events of a batch envelope.
    Batch,
    /// A self-describing envelope's `schema` (a string).
    Schema,
    /// The user id (marked for consent).
    UserId,
    /// The anonymous (device) id (marked for consent).
    AnonymousId,
    /// An id linked to the user's (marked for the opt-out registry).
    LinkedId,
    /// An object some of whose members are marked ([`Layout::context_slot`]).
    Context,
    /// An IAB TCF TC string (marked for consent).
    Tcf,
    /// An IAB GPP string (marked for consent).
    Gpp,
    /// The GPP section ids that apply (marked for consent).
    GppSid,
    /// An IAB US Privacy string (marked for consent).
    UsPrivacy,
    /// Google consent mode's `gcs` (marked for consent).
    Gcs,
    /// Google consent mode's `gcd` (marked for consent).
    Gcd,
    /// The client IP field (marked, so ingest never adds a second one).
    Ip,
    /// Snowplow's contexts object (marked for consent).
    Contexts,
    /// Snowplow's self-describing event (marked for consent).
    SelfDescribing,
    /// The GA4 Measurement Protocol's `consent` object (marked for consent).
    MpConsent,
    /// Validated and skipped.
    Other,
}

/// A marked value's place in [`Marks`] (a consent input, or the client
/// IP field).
pub use crate::event::Slot;

impl Role {
    /// Where a value of this role is marked, if it is marked.
    fn slot(self) -> Option<Slot> {
        Some(match self {
            Role::UserId => Slot::UserId,
            Role::AnonymousId => Slot::AnonymousId,
            Role::LinkedId => Slot::LinkedId,
            Role::Tcf => Slot::Tcf,
            Role::Gpp => Slot::Gpp,
            Role::GppSid => Slot::GppSid,
            Role::UsPrivacy => Slot::UsPrivacy,
            Role::Gcs => Slot::Gcs,
            Role::Gcd => Slot::Gcd,
            Role::MpConsent => Slot::MpConsent,
            Role::Ip => Slot::Ip,
            Role::Contexts => Slot::Contexts,
            Role::SelfDescribing => Slot::SelfDescribing,
            _ => return None,
        })
    }
}

/// One protocol's names for the keys ingest reads: a scan reads an event
/// of any protocol in one pass, monomorphized per layout.
pub trait Layout {
    /// The role of a top-level key.
    fn role(key: &str) -> Role;

    /// Where a member of the [`Role::Context`] object goes, if it is
    /// marked.
    fn context_slot(_key: &str) -> Option<Slot> {
        None
    }
}

/// The Segment API (also RudderStack's, and the generic JSON source's).
pub struct SegmentLayout;

impl Layout for SegmentLayout {
    fn role(key: &str) -> Role {
        match key {
            "writeKey" => Role::WriteKey,
            "messageId" => Role::MessageId,
            "receivedAt" => Role::ReceivedAt,
            "type" => Role::Type,
            "batch" => Role::Batch,
            "userId" => Role::UserId,
            "anonymousId" => Role::AnonymousId,
            "previousId" => Role::LinkedId,
            "context" => Role::Context,
            _ => Role::Other,
        }
    }

    fn context_slot(key: &str) -> Option<Slot> {
        match key {
            "consent" => Some(Slot::Consent),
            "consentManagement" => Some(Slot::ConsentManagement),
            "ip" => Some(Slot::Ip),
            _ => None,
        }
    }
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

/// Fields to add to an event that lacks them.
#[derive(Debug, Default)]
pub struct Fill<'a> {
    /// `"type": ...` (the endpoint's event type).
    pub event_type: Option<&'a str>,
    /// `"messageId": ...`.
    pub message_id: Option<&'a str>,
    /// `"receivedAt": ...`.
    pub received_at: Option<&'a str>,
}

impl Fill<'_> {
    fn is_empty(&self) -> bool {
        self.event_type.is_none() && self.message_id.is_none() && self.received_at.is_none()
    }
}

/// Returns the event as it will be forwarded: `object` (one validated JSON
/// object, `keys` keys at its top level) with `fill` appended before its
/// closing brace and CR/LF folded to spaces. Inside valid JSON, CR and LF can
/// only be insignificant whitespace, so folding them changes no value. When
/// there is nothing to change, the input is returned without copying.
pub fn finish_event(object: Bytes, keys: usize, fill: &Fill<'_>) -> Bytes {
    let has_newlines = memchr::memchr2(b'\n', b'\r', &object).is_some();
    if fill.is_empty() && !has_newlines {
        return object;
    }
    let close = memchr::memrchr(b'}', &object).expect("a validated object ends with }");
    let mut out = BytesMut::with_capacity(object.len() + 96);
    out.put_slice(&object[..close]);
    let mut first = keys == 0;
    let mut field = |out: &mut BytesMut, name: &str, value: &str| {
        if !first {
            out.put_u8(b',');
        }
        first = false;
        out.put_u8(b'"');
        out.put_slice(name.as_bytes());
        out.put_slice(b"\":\"");
        // Values we add are ids, types and timestamps: no escaping needed.
        debug_assert!(!value.contains(['"', '\\']));
        out.put_slice(value.as_bytes());
        out.put_u8(b'"');
    };
    if let Some(t) = fill.event_type {
        field(&mut out, "type", t);
    }
    if let Some(id) = fill.message_id {
        field(&mut out, "messageId", id);
    }
    if let Some(at) = fill.received_at {
        field(&mut out, "receivedAt", at);
    }
    out.put_slice(&object[close..]);
    if has_newlines {
        for b in out.iter_mut() {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
    out.freeze()
}

/// An event queued for a while must not keep its whole request body alive:
/// a small event sliced out of a large body is copied out of it.
pub fn detach(event: Bytes, body: &Bytes) -> Bytes {
    let start = body.as_ptr() as usize;
    let at = event.as_ptr() as usize;
    let shares_body = at >= start && at < start + body.len();
    if shares_body && event.len() * 2 < body.len() {
        Bytes::copy_from_slice(&event)
    } else {
        event
    }
}

#[cfg(test)]
pub(crate) mod tests;
