//! The top-level scan's fast path: the same scan as [`super::object`]'s,
//! read with the hand-written [`Reader`] instead of serde_json, in one pass
//! and without decoding what it does not need.
//!
//! It answers only when it can vouch for the serde scan's answer: `Some`
//! is exactly the [`TopLevel`] the serde scan returns for the input.
//! Anything it is not sure of (malformed JSON, a bound reached, a number
//! near a double's range, nesting past [`MAX_DEPTH`], text that is not
//! UTF-8) gives `None`, and the serde scan reads the input again and
//! decides, with its error and position: refusals cost what they did,
//! acceptance is faster. That the two agree is checked by the tests below
//! and by the `parse_event` and `segment` fuzz targets.
//!
//! Why it can vouch: the reader checks the same grammar as serde_json
//! (strings, escapes, numbers, literals, whitespace) and is stricter in one
//! place only (a lone surrogate escape, which the serde scan refuses too,
//! since it decodes every string of an event); the bounds are counted as
//! [`super::bounds::Checked`] counts them; what serde_json checks beyond
//! the grammar (a number's range, its own recursion limit) is checked
//! conservatively.

use super::bounds::Limits;
use super::layout::{Layout, Role};
use super::object::{key_at, string_value, TopLevel};
use super::reader::{Reader, Stop};
use super::{Marks, Span};

/// Nesting the fast path reads: far below serde_json's recursion limit
/// (128), so deeper input, where that limit may decide, goes to the serde
/// scan.
const MAX_DEPTH: usize = 100;

/// [`TopLevel::parse`] and its kin, when the fast path can vouch for the
/// answer; `None`: ask the serde scan.
pub(super) fn scan<'a, L: Layout>(
    input: &'a [u8],
    limits: Limits,
    want_batch: bool,
) -> Option<TopLevel<'a>> {
    let mut scan = Scan::new(input, limits, None)?;
    let top = scan.top::<L>(want_batch).ok()?;
    scan.r.end().ok()?;
    Some(top)
}

/// What [`batch`] hands over for each element of the batch: its text,
/// and its scan when it is an object.
pub(super) type Element<'a, 'f> = &'f mut dyn FnMut(&'a str, Option<TopLevel<'a>>);

/// A batch envelope and its events in one pass: [`TopLevel::parse`] of
/// `input`, whose one `batch` member is an array, each element handed to
/// `element` as it is read, with its own scan ([`TopLevel::parse_event`]
/// of its text) when it is an object. `None` when the fast path cannot
/// vouch for every one of those answers, or `batch` is missing, repeated
/// or not an array: what `element` was handed is then to be dropped.
pub(super) fn batch<'a, L: Layout>(
    input: &'a [u8],
    limits: Limits,
    element: Element<'a, '_>,
) -> Option<TopLevel<'a>> {
    let mut scan = Scan::new(input, limits, Some(element))?;
    let top = scan.top::<L>(true).ok()?;
    scan.r.end().ok()?;
    (scan.batches == 1).then_some(top)
}

struct Scan<'a, 'f> {
    r: Reader<'a>,
    input: &'a [u8],
    /// Where the object being scanned starts in `input` (an element of a
    /// batch read in one pass is scanned as an event of its own).
    base: usize,
    limits: Limits,
    /// The deepest container allowed (the event itself is at 1).
    depth: usize,
    /// Object members of the object being scanned so far, at every level.
    fields: usize,
    /// One pass over a batch: where its elements go, and how many batch
    /// members were read.
    element: Option<Element<'a, 'f>>,
    batches: usize,
}

impl<'a, 'f> Scan<'a, 'f> {
    fn new(input: &'a [u8], limits: Limits, element: Option<Element<'a, 'f>>) -> Option<Self> {
        let text = super::text(input).ok()?;
        Some(Scan {
            r: Reader::new(text),
            input,
            base: 0,
            limits,
            depth: limits.max_depth.min(MAX_DEPTH),
            fields: 0,
            element,
            batches: 0,
        })
    }

    /// The object being scanned (and what follows it): what its marks and
    /// insertion points are offsets into.
    fn here(&self) -> &'a [u8] {
        &self.input[self.base..]
    }

    fn top<L: Layout>(&mut self, want_batch: bool) -> Result<TopLevel<'a>, Stop> {
        let mut top = TopLevel::default();
        let mut first_context = None;
        if self.r.peek()? != b'{' {
            return Err(Stop);
        }
        let mut more = self.r.open(b'}')?;
        while more {
            self.r.key()?;
            let key = self.r.last().decode();
            if top.keys == 0 {
                top.marks.top_at = key_at(self.here(), &key);
            }
            top.keys += 1;
            self.field()?;
            let role = L::role(&key);
            if let Some(slot) = role.slot() {
                let span = self.spanned(2)?;
                top.marks.mark(self.here(), slot, span);
            } else {
                match role {
                    Role::WriteKey => top.write_key = self.string_value()?,
                    Role::Schema => top.schema = self.string_value()?,
                    Role::MessageId => {
                        top.has_message_id = true;
                        self.value(2)?;
                    }
                    Role::ReceivedAt => {
                        top.has_received_at = true;
                        self.value(2)?;
                    }
                    Role::Type => {
                        top.has_type = true;
                        self.value(2)?;
                    }
                    Role::Batch if want_batch && self.element.is_some() => self.elements::<L>()?,
                    Role::Batch if want_batch => top.batch = self.batch()?,
                    Role::Context => {
                        let own = self.context::<L>()?;
                        top.add_context(&mut first_context, own, self.here());
                    }
                    _ => self.value(2)?,
                }
            }
            more = self.r.more(b'}')?;
        }
        Ok(top)
    }

    /// Counts one object member.
    fn field(&mut self) -> Result<(), Stop> {
        self.fields += 1;
        if self.fields > self.limits.max_fields {
            return Err(Stop);
        }
        Ok(())
    }

    /// A container at `depth` is allowed.
    fn enter(&self, depth: usize) -> Result<(), Stop> {
        if depth > self.depth {
            return Err(Stop);
        }
        Ok(())
    }

    /// Reads one value at `depth`, checked as `Checked` checks it.
    fn value(&mut self, depth: usize) -> Result<(), Stop> {
        match self.r.peek()? {
            b'{' => {
                self.enter(depth)?;
                let mut more = self.r.open(b'}')?;
                while more {
                    self.r.key()?;
                    self.field()?;
                    self.value(depth + 1)?;
                    more = self.r.more(b'}')?;
                }
            }
            b'[' => {
                self.enter(depth)?;
                let mut more = self.r.open(b']')?;
                while more {
                    self.value(depth + 1)?;
                    more = self.r.more(b']')?;
                }
            }
            b'"' => self.r.string()?,
            b'-' | b'0'..=b'9' => in_range(self.r.number()?)?,
            _ => {
                self.r.literal()?;
            }
        }
        Ok(())
    }

    /// [`Scan::value`], and where it is in the input.
    fn spanned(&mut self, depth: usize) -> Result<Option<Span>, Stop> {
        self.r.peek()?;
        let start = self.r.pos();
        self.value(depth)?;
        Ok(Span::of(self.here(), &self.input[start..self.r.pos()]))
    }

    /// A member's value, when it is a string.
    fn string_value(&mut self) -> Result<Option<std::borrow::Cow<'a, str>>, Stop> {
        self.r.peek()?;
        let start = self.r.pos();
        self.value(2)?;
        Ok(string_value(self.r.since(start)))
    }

    /// The [`Role::Context`] member's value: the members the layout names
    /// marked, as `ContextMarks` marks them.
    fn context<L: Layout>(&mut self) -> Result<Marks, Stop> {
        let mut own = Marks::default();
        if self.r.peek()? != b'{' {
            self.value(2)?;
            return Ok(own);
        }
        self.enter(2)?;
        let mut first = true;
        let mut more = self.r.open(b'}')?;
        while more {
            self.r.key()?;
            self.field()?;
            let key = self.r.last().decode();
            if std::mem::replace(&mut first, false) {
                own.ip_at = key_at(self.here(), &key);
            }
            match L::context_slot(&key) {
                Some(slot) => {
                    let span = self.spanned(3)?;
                    own.mark(self.here(), slot, span);
                }
                None => self.value(3)?,
            }
            more = self.r.more(b'}')?;
        }
        Ok(own)
    }

    /// The [`Role::Batch`] member's value, as `BatchItems` reads it: an
    /// array's elements as they are written (each checked for grammar
    /// only: it is scanned as an event later), at most `max_batch` of
    /// them; anything else checked, then `None`.
    fn batch(&mut self) -> Result<Option<Vec<&'a str>>, Stop> {
        if self.r.peek()? != b'[' {
            self.value(2)?;
            return Ok(None);
        }
        let mut items = Vec::with_capacity(16);
        let mut more = self.r.open(b']')?;
        while more {
            if items.len() == self.limits.max_batch {
                return Err(Stop);
            }
            self.r.peek()?;
            let start = self.r.pos();
            self.r.skip()?;
            items.push(self.r.since(start));
            more = self.r.more(b']')?;
        }
        Ok(Some(items))
    }

    /// [`Scan::batch`] in one pass ([`batch`]): each element handed over
    /// as it is read, an object with its scan as an event of its own.
    fn elements<L: Layout>(&mut self) -> Result<(), Stop> {
        self.batches += 1;
        if self.batches > 1 || self.r.peek()? != b'[' {
            return Err(Stop);
        }
        let element = self.element.take().ok_or(Stop)?;
        let (mut count, mut more) = (0, self.r.open(b']')?);
        while more {
            if count == self.limits.max_batch {
                return Err(Stop);
            }
            count += 1;
            let next = self.r.peek()?;
            let start = self.r.pos();
            let event = match next {
                b'{' => {
                    let envelope = (self.base, self.fields);
                    (self.base, self.fields) = (start, 0);
                    let event = self.top::<L>(false)?;
                    (self.base, self.fields) = envelope;
                    Some(event)
                }
                _ => {
                    self.r.skip()?;
                    None
                }
            };
            element(self.r.since(start), event);
            more = self.r.more(b']')?;
        }
        self.element = Some(element);
        Ok(())
    }
}

/// A number serde_json reads as a finite double (or an integer). Ones
/// without an exponent and at most 300 characters long are; for the rest
/// the standard library's correctly rounded parse must find a magnitude
/// well below the largest double (serde_json's own parse is correctly
/// rounded too), or the serde scan decides.
fn in_range(number: &str) -> Result<(), Stop> {
    let plain = number.len() <= 300 && !number.bytes().any(|b| b == b'e' || b == b'E');
    if plain || number.parse::<f64>().is_ok_and(|v| v.abs() < 1e300) {
        Ok(())
    } else {
        Err(Stop)
    }
}

#[cfg(test)]
mod tests {
    mod differential;

    use super::*;
    use crate::json::layout::SegmentLayout;
    use crate::json::object::tests::json_value;
    use proptest::prelude::*;

    /// [`differential::agree`] with the Segment layout.
    fn agree(input: &[u8], limits: Limits, want_batch: bool) -> bool {
        differential::agree::<SegmentLayout>(input, limits, want_batch)
    }

    #[test]
    fn agrees_on_what_it_answers_and_leaves_the_rest() {
        let ok = Limits::default();
        let event = include_bytes!("../../load-tests/event.json");
        assert!(agree(event, ok, false), "a real event takes the fast path");
        let batch = format!(
            "{{\"batch\":[{e}, {e}],\"writeKey\":\"k\"}}",
            e = std::str::from_utf8(event).unwrap()
        );
        assert!(agree(batch.as_bytes(), ok, true));
        for fast in [
            &br#" { "a" : 1, "context" : { "b":2, "ip": "1.2.3.4" } } "#[..],
            br#"{"user\u0049d":"u","context":{"x":{"consent":1},"consent":{"A":true}},"anonymousId":7}"#,
            br#"{"userId":"a","userId":"b","context":[1,{"a":2}],"context":{"ip":3}}"#,
            br#"{"write\u004bey":"a\"b","writeKey":"c","batch":"x","type":-2.5E+299}"#,
            br#"{"batch":[1,"\u00e9",[[[]]],{}],"batch":{"a":[]},"batch":[]}"#,
            br#"{"a":"\ud83d\ude00","b":1e299,"c":123456789012345678901234567890}"#,
            br#"{"a":"\u0000","a":2,"context":{}}"#,
            br#"{}"#,
        ] {
            assert!(agree(fast, ok, true), "{}", String::from_utf8_lossy(fast));
            agree(fast, ok, false);
        }
        // Refused, or near a bound: the serde scan decides.
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(120), "]".repeat(120));
        let long = format!("{{\"a\":{}}}", "9".repeat(301));
        for slow in [
            &b"[1]"[..],
            b"{} x",
            b"{\"a\":",
            b"{\"a\":\"\\ud800\"}",
            // A lone surrogate in a batch element: the serde scan reads
            // elements without decoding them, and may accept.
            br#"{"batch":[1,"\ud800"]}"#,
            b"{\"a\":1e999}",
            b"{\"a\":1e300}",
            b"{\"a\":01}",
            b"\xef\xbb\xbf{}",
            b"{\"a\":\"\xff\"}",
            deep.as_bytes(),
            long.as_bytes(),
        ] {
            assert!(!agree(slow, ok, true), "{}", String::from_utf8_lossy(slow));
        }
        let small = Limits {
            max_depth: 2,
            max_fields: 3,
            max_batch: 1,
            ..ok
        };
        assert!(agree(br#"{"a":{"b":1},"c":2}"#, small, true));
        for bound in [
            &br#"{"a":{"b":[1]}}"#[..],
            br#"{"a":1,"b":2,"c":{"d":4}}"#,
            br#"{"batch":[1,2]}"#,
            br#"{"context":{"a":1,"b":2,"c":3}}"#,
        ] {
            assert!(
                !agree(bound, small, true),
                "{}",
                String::from_utf8_lossy(bound)
            );
        }
    }

    proptest! {
        /// Any object of any members, written compactly or not, with the
        /// keys the layout reads among them: the fast scan answers, and
        /// its answer is the serde scan's.
        #[test]
        fn answers_every_valid_event_as_serde_does(
            fields in prop::collection::vec(
                (prop_oneof![
                    Just("userId".to_string()), Just("anonymousId".to_string()),
                    Just("context".to_string()), Just("writeKey".to_string()),
                    Just("type".to_string()), Just("batch".to_string()),
                    Just("messageId".to_string()), "[a-z]{1,5}",
                ], prop_oneof![
                    json_value(),
                    prop::collection::btree_map(
                        prop_oneof![Just("ip".to_string()), Just("consent".to_string()), "[a-z]{1,3}"],
                        json_value(), 0..4,
                    ).prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
                ]),
                0..8,
            ),
            pretty in any::<bool>(),
            want_batch in any::<bool>(),
        ) {
            // Duplicate keys too: members are written one by one.
            let members: Vec<String> = fields.iter().map(|(k, v)| {
                let v = if pretty { serde_json::to_string_pretty(v) } else { serde_json::to_string(v) };
                format!("{}:{}", serde_json::to_string(k).unwrap(), v.unwrap())
            }).collect();
            let text = format!("{{{}}}", members.join(if pretty { ",\n " } else { "," }));
            prop_assert!(agree(text.as_bytes(), Limits::default(), want_batch), "{}", text);
        }

        /// Bytes edited anywhere: whatever the fast scan answers is the
        /// serde scan's answer.
        #[test]
        fn never_answers_differently(
            value in json_value(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            want_batch in any::<bool>(),
        ) {
            let mut text = serde_json::json!({"context": {"ip": value.clone()}, "batch": [value.clone()], "userId": value})
                .to_string()
                .into_bytes();
            for (at, byte) in edits {
                let i = at.index(text.len());
                text[i] = byte;
            }
            agree(&text, Limits::default(), want_batch);
        }
    }
}
