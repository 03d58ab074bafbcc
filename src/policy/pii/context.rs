//! Context: what the text before a value says it is, and the decision
//! each detector takes on it (the rule is in the module doc of
//! [`super`]).
//!
//! The text before a value is read backwards, once per candidate, into
//! at most [`MAX_WORDS`] words: first the words of the value's own field
//! (`call me at`, `Social Security No.`, `Chrome/`), then, past an `=` or a
//! `:`, its key (`phone_number=`, `"fax":`, `checkout[billing][phone]=`,
//! `X-Real-IP:`). Keys are split into words at `_`, `-`, `.`, brackets,
//! case changes (`phoneNumber`) and known compounds (`cardholder`). The
//! reading stops at what ends a field (`&`, `,`, `{`, `;`, `?`, ...) and
//! after [`MAX_BACK`] bytes: context is local.

mod words;

pub(super) use words::{enclosing_brace, object_key};

use super::cues::Topic;
use super::key_table::KeyTable;
use super::Detector;

/// Words read before a value, at most.
const MAX_WORDS: usize = 10;

/// Bytes read back from a value, at most.
const MAX_BACK: usize = 96;

/// Words of the value's own field taken as cues, at most.
const MAX_FIELD_WORDS: usize = 4;

/// Where a word was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// In the value's field, before it (`call me at`).
    Field,
    /// In the key of the value's field, past an `=` or `:`.
    Key,
}

#[derive(Clone, Copy, Debug)]
struct Word {
    start: usize,
    end: usize,
    part: Part,
    /// Key segment, from the innermost (`first_name` of
    /// `billing[first_name]` is 0, `billing` 1).
    seg: u8,
    /// Right before the value with a `/` between, and led by a space or
    /// the start (`Chrome/`, an RFC 9110 product token), not by a `/` or
    /// a `.` (`/ip/`, `wa.me/`).
    product: bool,
}

/// The words before a value, nearest first.
pub(super) struct Words<'t> {
    t: &'t [u8],
    words: [Word; MAX_WORDS],
    n: usize,
}

/// What a key says of its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyCue {
    /// Nothing known.
    None,
    /// A topic.
    Topic(Topic),
    /// `name` alone: a person's name if the object it is in belongs to a
    /// person (`traits`, `customer`), not if to a thing (`product`).
    BareName,
}

/// Why a match was redacted: what decided, and what it said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Why {
    /// What decided.
    pub by: By,
    /// What it said (none when the value's shape alone decided).
    pub topic: Option<Topic>,
}

/// What decided a match (see [`Why`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum By {
    /// The value is valid on its own and nothing refuted it.
    Shape,
    /// A word in the value's field, before it (`SSN 123 45 6789`).
    Word,
    /// The key of the value's field in the text (`ssn=123456789`).
    Key,
    /// The key of the object or bracket group around it (`traits` of
    /// `{"traits":{"name":...}}`).
    Parent,
    /// The JSON member the whole string is the value of.
    Field,
    /// The key of the object that member is in.
    FieldParent,
    /// Another member of the same object: a bare `name` beside an
    /// `email` or a `phone` (`{"name":…,"email":…}`) is a person's.
    Sibling,
}

impl By {
    /// Every source of a decision.
    pub const ALL: [By; 7] = [
        By::Shape,
        By::Word,
        By::Key,
        By::Parent,
        By::Field,
        By::FieldParent,
        By::Sibling,
    ];
}

impl Why {
    /// Decided by shape alone.
    pub const SHAPE: Why = Why {
        by: By::Shape,
        topic: None,
    };

    /// `by` or `by:topic`, as `explain --trace` shows it.
    pub fn describe(&self) -> String {
        let by = match self.by {
            By::Shape => "shape",
            By::Word => "word",
            By::Key => "key",
            By::Parent => "parent_key",
            By::Field => "field",
            By::FieldParent => "field_parent",
            By::Sibling => "sibling_key",
        };
        match self.topic {
            Some(topic) => format!("{by}:{}", topic.name()),
            None => by.to_owned(),
        }
    }
}

/// How sure a detector is of a value on its shape alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Strength {
    /// Valid on its own (a `+44` number valid in its plan, a Luhn-valid
    /// card, a dashed SSN): redacted unless context refutes it.
    Strong,
    /// Valid, but so are common look-alikes (a bare digit run, an SSN
    /// without dashes): redacted only when context supports it.
    Weak,
}

/// What a topic says to a detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Support,
    Refute,
    Neutral,
}

/// The table of supporting and refuting topics, per detector.
pub(super) fn verdict(d: Detector, topic: Topic) -> Verdict {
    use Topic::*;
    use Verdict::{Neutral, Refute, Support};
    match (d, topic) {
        (Detector::Email, Email)
        | (Detector::Phone, Phone)
        | (Detector::CreditCard, Card)
        | (Detector::Iban, Iban)
        | (Detector::Ip, Ip)
        | (Detector::Ssn, Ssn)
        | (Detector::Name, Name)
        // A login or screen name identifies a person as much as a name.
        | (Detector::Name, Handle) => Support,
        // A phone-shaped number that is an order, part, model or serial
        // number, a version, a time, an amount, a place or a section.
        (Detector::Phone, Id | Version | Time | Money | Location | Section | Network) => Refute,
        // A Luhn-valid number with a card network's prefix and length that
        // its key calls an identifier (`product_id`); words do not
        // refute a card ([`decide`]).
        (Detector::CreditCard, Id) => Refute,
        // A dotted quad that is a version, a section, an OID, a netmask.
        (Detector::Ip, Version | Section | Network) => Refute,
        // Only what is no one's data refutes: a cue for another kind of
        // PII (`mi número 374-91-6481`, `card: …`) says personal data
        // either way, so an SSN-shaped value its own detector declined
        // is still redacted as one.
        (Detector::Ssn, Id | Version | Time | Money | Section) => Refute,
        (Detector::Name, Thing | Id | Version) => Refute,
        _ => Neutral,
    }
}

/// The key a whole string sits under (a JSON member's, from the walker),
/// and the key of the object that member is in, classified once, when
/// first needed.
pub(super) struct Field<'k> {
    key: Option<&'k str>,
    parent: Option<&'k str>,
    cues: std::cell::Cell<Option<(KeyCue, KeyCue)>>,
}

impl<'k> Field<'k> {
    pub(super) fn new(key: Option<&'k str>, parent: Option<&'k str>) -> Field<'k> {
        Field {
            key,
            parent,
            cues: std::cell::Cell::new(None),
        }
    }

    pub(super) fn none() -> Field<'static> {
        Field::new(None, None)
    }

    /// The key's cue and the parent's.
    pub(super) fn cues(&self) -> (KeyCue, KeyCue) {
        if let Some(c) = self.cues.get() {
            return c;
        }
        let c = (
            self.key.map_or(KeyCue::None, key_cue_of),
            self.parent.map_or(KeyCue::None, key_cue_of),
        );
        self.cues.set(Some(c));
        c
    }

    /// Whether the field's key says its whole value is a person's name.
    pub(super) fn is_name(&self) -> Option<Why> {
        match self.cues() {
            (KeyCue::Topic(topic @ (Topic::Name | Topic::Handle)), _) => Some(Why {
                by: By::Field,
                topic: Some(topic),
            }),
            (
                KeyCue::BareName,
                KeyCue::Topic(Topic::Person | Topic::Name | Topic::Card | Topic::Phone),
            ) => Some(Why {
                by: By::FieldParent,
                topic: Some(Topic::Person),
            }),
            _ => None,
        }
    }
}

/// The cue of a key given as a string (a JSON member's name).
pub(super) fn key_cue_of(key: &str) -> KeyCue {
    let t = key.as_bytes();
    if t.len() > MAX_BACK {
        return KeyCue::None;
    }
    thread_local! {
        static CUES: KeyTable<KeyCue> = const { KeyTable::new() };
    }
    CUES.with(|table| table.get_or(t, read_key_cue))
}

/// Reads the words of a key (at most [`MAX_BACK`] bytes).
fn read_key_cue(t: &[u8]) -> KeyCue {
    let mut words = Words::empty(t);
    words.read_key(t.len());
    words.key_cue()
}

/// Decides a candidate of detector `d` found at `t[start..]`: the reason
/// to redact it, or `None` to leave it. The nearest decisive cue decides
/// (a word in the value's field, then its key, then the field the whole
/// string is under); without one, a strong value is redacted, a weak one
/// is left.
pub(super) fn decide(
    t: &[u8],
    start: usize,
    d: Detector,
    strength: Strength,
    field: &Field<'_>,
) -> Option<Why> {
    let words = Words::before(t, start);
    let found = words
        .field_cue_for(d)
        .map(|topic| (By::Word, topic))
        .or_else(|| match words.key_cue() {
            KeyCue::Topic(topic) if verdict(d, topic) != Verdict::Neutral => Some((By::Key, topic)),
            _ => None,
        })
        .or_else(|| {
            let (key, parent) = field.cues();
            [(By::Field, key), (By::FieldParent, parent)]
                .into_iter()
                .find_map(|(by, cue)| match cue {
                    KeyCue::Topic(topic) if verdict(d, topic) != Verdict::Neutral => {
                        Some((by, topic))
                    }
                    _ => None,
                })
        });
    match found {
        // A card-valid number is refuted only by a key (`product_id`):
        // words in free text are too loose to outweigh Luhn and a network.
        Some((By::Word, topic))
            if d == Detector::CreditCard && verdict(d, topic) == Verdict::Refute =>
        {
            (strength == Strength::Strong).then_some(Why::SHAPE)
        }
        Some((by, topic)) => (verdict(d, topic) == Verdict::Support).then_some(Why {
            by,
            topic: Some(topic),
        }),
        None => (strength == Strength::Strong).then_some(Why::SHAPE),
    }
}
