//! One JSON object's top level, scanned without building a tree, through
//! a protocol's [`Layout`] (the edits made to a scanned event are in
//! [`super::edit`]).
//!
//! The scan validates the whole object (nested values are checked against
//! [`super::bounds`] and skipped), marks where consent's inputs are ([`Marks`]: the ids and the
//! consent objects in `context`), and borrows from the input: no allocation unless a key or value
//! we read contains escapes. See benches/event_repr.rs for why.

use super::bounds::{checked_raw, Budget, Checked, Exceeded, Key, Limits};
use super::layout::{Layout, Role, SegmentLayout};
use super::Slot;
use super::{same_value, Marks, Span};
use crate::json::ignore_scalars;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// JSON text must be UTF-8. The scan below skips the values it does not
/// read without decoding them, so the whole body is checked once up front.
pub fn check_utf8(body: &[u8]) -> Result<(), std::str::Utf8Error> {
    super::text(body).map(|_| ())
}

/// What ingest needs to know about an event's top level.
#[derive(Debug, Default, PartialEq)]
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
    /// `batch`, when an array: its elements' text (each checked as JSON,
    /// not yet as an event).
    pub batch: Option<Vec<&'a str>>,
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

    /// A batch envelope (Segment's) and its events in one pass, when that
    /// can vouch for the answers: what [`TopLevel::parse`] gives, but each
    /// element of its one `batch` array is handed to `element` as it is
    /// read, with what [`TopLevel::parse_event`] gives for it when it is
    /// an object (and `batch` is left `None`). `None` when nothing is
    /// decided (what `element` was handed is to be dropped): read the
    /// envelope with [`TopLevel::parse`], then each element.
    pub fn parse_batch(
        input: &'a [u8],
        limits: Limits,
        element: &mut dyn FnMut(&'a str, Option<TopLevel<'a>>),
    ) -> Option<TopLevel<'a>> {
        super::fast::batch::<SegmentLayout>(input, limits, element)
    }

    /// [`TopLevel::parse`] for another protocol's layout.
    pub fn parse_as<L: Layout>(input: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        Self::scan::<L>(input, limits, true)
    }

    /// The elements of `body`, a JSON array (PostHog's and `/collect`'s
    /// top-level batches), read as the batch of an envelope is: at most
    /// `max_batch` of them, refused at the first one beyond, before the
    /// rest are read.
    pub fn array(body: &'a [u8], limits: Limits) -> Result<Vec<&'a str>, Refused> {
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

    /// The fast path when it can answer ([`super::fast`]), else serde's.
    fn scan<L: Layout>(
        input: &'a [u8],
        limits: Limits,
        want_batch: bool,
    ) -> Result<TopLevel<'a>, Refused> {
        match super::fast::scan::<L>(input, limits, want_batch) {
            Some(top) => Ok(top),
            None => Self::scan_serde::<L>(input, limits, want_batch),
        }
    }

    /// The scan with serde_json alone: what decides, and explains, when
    /// the fast path cannot.
    pub(crate) fn scan_serde<L: Layout>(
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
pub(super) fn key_at(input: &[u8], key: &str) -> Option<u32> {
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
    type Value = Option<Vec<&'de str>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BatchItems<'_> {
    type Value = Option<Vec<&'de str>>;

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
            items.push(item.get());
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
    ignore_scalars!(Option<Vec<&'de str>>);
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
                    top.write_key = string_value(raw.get());
                }
                Role::Schema => {
                    let raw = checked_raw(&mut map, self.member())?;
                    top.schema = string_value(raw.get());
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
                    top.add_context(&mut first_context, own, self.input);
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

impl TopLevel<'_> {
    /// Adds the marks `own` of a [`Role::Context`] object of `input` to the
    /// event's; `first` is the first such object's, if any.
    pub(super) fn add_context(&mut self, first: &mut Option<Marks>, own: Marks, input: &[u8]) {
        match first {
            None => {
                *first = Some(own);
                self.marks.ip_at = own.ip_at;
            }
            // Given twice, it says the same only if every member marked in
            // one is in the other with the same value (a last-wins reader
            // sees the second).
            Some(first) => {
                let differ =
                    Slot::ALL
                        .iter()
                        .any(|&slot| match (slot.get(*first), slot.get(own)) {
                            (None, None) => false,
                            (Some(a), Some(b)) => !same_value(a.get(input), b.get(input)),
                            _ => true,
                        });
                if differ {
                    self.marks.ambiguous = true;
                }
            }
        }
        self.marks.has_context = true;
        self.marks.ambiguous |= own.ambiguous;
        self.marks.ids_ambiguous |= own.ids_ambiguous;
        for slot in Slot::ALL {
            self.marks.mark(input, slot, slot.get(own));
        }
    }
}

/// A JSON value's string (`text` is the value as written), borrowed when
/// it has no escapes.
pub(super) fn string_value(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

#[cfg(test)]
pub(crate) mod tests;
