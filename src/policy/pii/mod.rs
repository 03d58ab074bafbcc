//! PII detectors: email, phone, payment card, IBAN, IP (v4 and v6), US
//! SSN and personal names, found in free text and replaced by typed tokens
//! (`[email]`, ...).
//!
//! # How a value is found
//! One left-to-right pass over each string ([`scan`]): the scanner stops
//! only at anchors (a digit, `@`, `%`, `\`, `+`, `(`, `:`, `=`), found
//! sixteen bytes at a time, and runs the detectors that can start there.
//! Each detector validates its candidate on its own terms ([`email`],
//! [`phone`] with the numbering plans of [`numbering`], [`numbers`] for
//! cards and SSNs, [`iban`], [`ip`], [`name`]) and says how sure the
//! shape alone makes it:
//!
//! - **strong**: valid on its own, rarely anything else: an email; a
//!   `+`/`00` number whose calling code and length fit its plan; a
//!   grouped national number valid in one of the scanner's regions; a
//!   Luhn-valid card with a network prefix; an IBAN of its country's
//!   length passing mod-97; an IP address; an SSN written `ddd-dd-dddd`;
//! - **weak**: valid, but common look-alikes have the same shape: a bare
//!   run of digits (ids, timestamps, barcodes), an SSN with spaces, dots
//!   or no separators, a card number that is also a valid barcode.
//!
//! Names have no shape: a value is a name only under a key that says so.
//!
//! # Context
//! Then context decides ([`context`], tables in [`cues`]): the words
//! before the value in its own field (`call me at`, `SSN`, `model no.`,
//! `Chrome/`), the key of that field (a query or form parameter,
//! `ssn=…`; a JSON member in the text, `"fax":…`; a label, `X-Real-IP:`),
//! and the key of the JSON member the whole string is the value of (the
//! walker passes it, and the key of the object around it). Each word
//! maps to a topic (phone, SSN, card, IBAN, IP, email, name, or a
//! refuting one: an identifier, a version, a time, an amount, a place, a
//! section, a network setting, a thing's name), and a per-detector table
//! says whether a topic *supports* it, *refutes* it, or says nothing.
//!
//! **The rule.** The nearest cue that supports or refutes decides: field
//! words first (nearest word first, fillers such as `number`, `no.`, `my`
//! skipped, an unknown word ending the search), then the field's key,
//! then the whole string's key and its parent. With no deciding cue the
//! shape decides, privacy first: a strong value is redacted, a weak one
//! is left. So `612 345 678` is redacted, `part_no=212-555-0187` and
//! `build 10.0.1.2` are not, `ssn=123456789` and `SSN 123 45 6789` are,
//! `order 4155550100` is not, and a bare `4155550100` is left unless a
//! key or word says phone. A match an explicit cue refutes is kept as it
//! is, and its digits are not read again by another detector.
//!
//! # Encodings
//! PII also hides in encoded text: `%40` and `\u0040` anchor an email; a
//! string with percent-escapes is also scanned in its decoded form (twice
//! decoded for `%2540`, with `+` read as a space as forms write it), and
//! matches there are mapped back to the original bytes; cards, IBANs,
//! SSNs and phones accept a form's `+` between their groups. Keys are read
//! through `%5B`/`%5D` and `\"`. A string with no match is returned
//! borrowed: no allocation.
//!
//! JSON numbers are read too ([`Scanner::number`]): a card number sent as
//! a number is still a card, and a bare digit run is a phone or an SSN
//! when its key says so (`"phone": 4155550100`), never otherwise
//! (`"sent_at": 1732400000000`).
//!
//! This module never logs and never returns the text it reads in an
//! error; [`Why`] names what decided, never a value.

mod context;
mod cues;
mod email;
mod iban;
mod ip;
mod key_table;
mod name;
mod numbering;
mod numbers;
mod phone;
mod scan;
mod text;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_context;
#[cfg(test)]
mod tests_props;

pub use context::{By, Why};
pub use cues::Topic;
pub use numbering::{region, DEFAULT_REGIONS};

use context::Field;
use numbering::Plan;
use std::borrow::Cow;
use std::sync::Arc;

/// A kind of PII.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector {
    /// Email addresses.
    Email,
    /// Phone numbers.
    Phone,
    /// Payment card numbers (Luhn-valid).
    CreditCard,
    /// International bank account numbers (mod-97 valid).
    Iban,
    /// IPv4 and IPv6 addresses.
    Ip,
    /// US social security numbers.
    Ssn,
    /// Personal names, under keys that say so.
    Name,
}

impl Detector {
    /// Every detector.
    pub const ALL: [Detector; 7] = [
        Detector::Email,
        Detector::Phone,
        Detector::CreditCard,
        Detector::Iban,
        Detector::Ip,
        Detector::Ssn,
        Detector::Name,
    ];

    /// Config and metric name.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::Phone => "phone",
            Detector::CreditCard => "credit_card",
            Detector::Iban => "iban",
            Detector::Ip => "ip",
            Detector::Ssn => "ssn",
            Detector::Name => "name",
        }
    }

    /// Parses a config name.
    pub fn from_name(name: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The replacement token.
    pub fn token(self) -> &'static str {
        match self {
            Detector::Email => "[email]",
            Detector::Phone => "[phone]",
            Detector::CreditCard => "[credit_card]",
            Detector::Iban => "[iban]",
            Detector::Ip => "[ip]",
            Detector::Ssn => "[ssn]",
            Detector::Name => "[name]",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A match: `text[start..end]` is PII of kind `detector`, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset past the last byte.
    pub end: usize,
    /// What it is.
    pub detector: Detector,
    /// What decided it (never the value).
    pub why: Why,
}

impl Found {
    fn new(start: usize, end: usize, detector: Detector) -> Found {
        Found {
            start,
            end,
            detector,
            why: Why::SHAPE,
        }
    }

    fn because(self, why: Why) -> Found {
        Found { why, ..self }
    }
}

/// Where a string sits in an event: the key of the JSON member it is the
/// value of (an array's elements sit under the array's key), and the key
/// of the object that member is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Under<'a> {
    /// The member's key.
    pub key: Option<&'a str>,
    /// The key of the object around it.
    pub parent: Option<&'a str>,
}

impl<'a> Under<'a> {
    /// Under `key`, in an object with no key known.
    pub fn key(key: &'a str) -> Under<'a> {
        Under {
            key: Some(key),
            parent: None,
        }
    }

    fn field(self) -> Field<'a> {
        Field::new(self.key, self.parent)
    }
}

/// A set of enabled detectors, and the regions national phone numbers are
/// read in.
#[derive(Clone, Debug, PartialEq)]
pub struct Scanner {
    enabled: u8,
    plan: Arc<Plan>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new(&Detector::ALL)
    }
}

impl Scanner {
    /// A scanner running `detectors`, reading national phone numbers in
    /// [`DEFAULT_REGIONS`].
    pub fn new(detectors: &[Detector]) -> Scanner {
        Scanner {
            enabled: detectors.iter().fold(0, |bits, d| bits | d.bit()),
            plan: Plan::default_plan(),
        }
    }

    /// The same detectors, reading national phone numbers in `regions`
    /// (see [`region`]).
    pub fn with_regions(self, regions: &[phonenumber::country::Id]) -> Scanner {
        Scanner {
            plan: Plan::shared(regions),
            ..self
        }
    }

    /// The regions national phone numbers are read in.
    pub fn regions(&self) -> &[phonenumber::country::Id] {
        self.plan.regions()
    }

    /// The detectors it runs, in [`Detector::ALL`] order.
    pub fn detectors(&self) -> Vec<Detector> {
        Detector::ALL.into_iter().filter(|&d| self.on(d)).collect()
    }

    /// Whether detector `d` is on.
    pub(crate) fn on(&self, d: Detector) -> bool {
        self.enabled & d.bit() != 0
    }

    /// Every match in `text`, in order, not overlapping.
    pub fn find(&self, text: &str) -> Vec<Found> {
        self.find_in(text.as_bytes(), &Field::none())
    }

    /// Every match in `text`, a string `under` a JSON member (its key is
    /// context, [`Scanner::redact_under`]), in order, not overlapping.
    pub fn find_under(&self, text: &str, under: Under<'_>) -> Vec<Found> {
        self.find_in(text.as_bytes(), &under.field())
    }

    /// `text` with every match replaced by its token; borrowed when nothing
    /// matched. `counts` is told each match replaced.
    pub fn redact<'a>(&self, text: &'a str, counts: impl FnMut(Found)) -> Cow<'a, str> {
        let mut out = String::new();
        if self.redact_into(text, counts, &mut out) {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(text)
        }
    }

    /// [`Scanner::redact`], appending the redacted text to `out` (a buffer
    /// the caller reuses); `false`, with `out` untouched, when nothing
    /// matched.
    ///
    /// Redaction is a fixpoint: a match can hide another that only shows
    /// once its neighbour is a token (`a@b@c.com...0123 4567`), so the
    /// result is scanned again until nothing more is found. Each pass
    /// removes at least one anchor byte (digit, `@`, `:`, `%`, `\\`, `=`'s
    /// value) and tokens have none, so this ends; but adversarial text can
    /// need many passes, so after [`MAX_PASSES`] what still holds PII is
    /// replaced whole.
    pub fn redact_into(&self, text: &str, counts: impl FnMut(Found), out: &mut String) -> bool {
        self.redact_field(text, &Field::none(), counts, out)
    }

    /// [`Scanner::redact_under`] for a part of a string (one parameter of
    /// a URL's query): `under` is the whole string's key, and the part is
    /// scanned as the whole string's scan reads it there, which does not
    /// ask whether the part alone is a name, a digit run, a timestamp or a
    /// UUID.
    pub fn redact_part(
        &self,
        text: &str,
        under: Under<'_>,
        counts: impl FnMut(Found),
        out: &mut String,
    ) -> bool {
        self.redact_text(text, &under.field(), false, counts, out)
    }

    fn redact_field(
        &self,
        text: &str,
        field: &Field<'_>,
        counts: impl FnMut(Found),
        out: &mut String,
    ) -> bool {
        self.redact_text(text, field, true, counts, out)
    }

    /// Redacts `text` to a fixpoint; `whole`: `text` is a whole value (a
    /// timestamp or a UUID is then not scanned).
    fn redact_text(
        &self,
        text: &str,
        field: &Field<'_>,
        whole: bool,
        mut counts: impl FnMut(Found),
        out: &mut String,
    ) -> bool {
        let Some(found) = self.matches(text, field, whole) else {
            return false;
        };
        let start = out.len();
        out.reserve(text.len());
        replace(text, &found, &mut counts, out);
        let mut again = String::new();
        for pass in 1.. {
            let Some(found) = self.matches(&out[start..], field, whole) else {
                break;
            };
            if pass == MAX_PASSES {
                // Text built to defeat the scan (long runs of digit groups
                // that keep re-forming numbers): none of it is kept.
                for f in &found {
                    counts(*f);
                }
                out.truncate(start);
                out.push_str(REDACTED);
                break;
            }
            again.clear();
            replace(&out[start..], &found, &mut counts, &mut again);
            out.truncate(start);
            out.push_str(&again);
        }
        true
    }

    /// [`Scanner::redact_into`], for a string `under` a JSON member: the
    /// member's key is context too. A name-shaped string under a name key
    /// (`"firstName": "Jane"`) and a bare digit run under a phone or SSN
    /// key (`"phone": "4155550100"`) become their token whole.
    pub fn redact_under(
        &self,
        text: &str,
        under: Under<'_>,
        mut counts: impl FnMut(Found),
        out: &mut String,
    ) -> bool {
        let field = under.field();
        let t = trim(text).as_bytes();
        if self.on(Detector::Name) && under.key.is_some_and(might_name_a_person) {
            if let Some(why) = field.is_name().filter(|_| name::name_like(t)) {
                counts(Found::new(0, text.len(), Detector::Name).because(why));
                out.push_str(Detector::Name.token());
                return true;
            }
        }
        // A bare digit run the key names is replaced whole.
        if t.len() >= 7 && t.iter().all(u8::is_ascii_digit) {
            if let Some(f) = self.digit_run(t, &field) {
                counts(Found {
                    start: 0,
                    end: text.len(),
                    ..f
                });
                out.push_str(f.detector.token());
                return true;
            }
        }
        self.redact_field(text, &field, &mut counts, out)
    }

    /// What a JSON number is, if it is PII: a card number (the same
    /// validation as in text), or a bare digit run that its key says is a
    /// phone number or an SSN. Fractions, exponents and signs are never
    /// PII; nor are short numbers (counts, prices, ...).
    pub fn number(&self, text: &str, under: Under<'_>) -> Option<Found> {
        let t = text.as_bytes();
        if t.len() < 7 || !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.digit_run(t, &under.field())
    }

    /// The matches in `text`, if any (after the cheap filters; `whole`:
    /// `text` is a whole value, not scanned if a timestamp or a UUID).
    fn matches(&self, text: &str, field: &Field<'_>, whole: bool) -> Option<Vec<Found>> {
        let t = text.as_bytes();
        let digit_or_at = crate::json::bytes::pii_triggers(t)?;
        if (!digit_or_at && !self.names_or_letter_ipv6(t))
            || (whole && text::is_timestamp_or_uuid(t))
        {
            return None;
        }
        let found = self.find_in(t, field);
        (!found.is_empty()).then_some(found)
    }

    /// Whether text with no digit and no `@` (so no escape either: every
    /// `%XX` or `\uXXXX` that stands for an ASCII byte has a digit) may
    /// still hold a match: an IPv6 address of hex letters (`dead::beef`),
    /// which has two colons at least, or a name, after a key holding a name
    /// word's stem ([`name::may_follow_name_key`]). Text with neither (a
    /// URL's `utm_source=harness`, a title's `Order: shoes`) is not scanned.
    fn names_or_letter_ipv6(&self, t: &[u8]) -> bool {
        let mut colons = 0;
        let mut i = 0;
        loop {
            i = crate::json::bytes::find_colon_or_equals(t, i);
            if i == t.len() {
                return false;
            }
            colons += usize::from(t[i] == b':');
            if (colons == 2 && self.on(Detector::Ip))
                || (self.on(Detector::Name) && name::may_follow_name_key(t, i))
            {
                return true;
            }
            i += 1;
        }
    }

    /// A cheap filter, `false` when no detector can match in `text`
    /// ([`may_hold_pii`]).
    pub fn might_contain(&self, text: &[u8]) -> bool {
        may_hold_pii(text)
    }
}

/// `text.trim()`, without reading characters when both ends are
/// visible ASCII (most values): no whitespace can be there then.
fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Redaction passes at most (see [`Scanner::redact_into`]); text still
/// holding PII after them is replaced whole by [`REDACTED`].
const MAX_PASSES: usize = 8;

/// What replaces text that still holds PII after [`MAX_PASSES`].
pub const REDACTED: &str = "[redacted]";

/// `text` with each of `found` (in order, apart) replaced by its token.
fn replace(text: &str, found: &[Found], counts: &mut impl FnMut(Found), out: &mut String) {
    let mut at = 0;
    for f in found {
        out.push_str(&text[at..f.start]);
        out.push_str(f.detector.token());
        counts(*f);
        at = f.end;
    }
    out.push_str(&text[at..]);
}

/// `false` when no detector can match in `text`: every detector needs a
/// digit or an `@` (possibly encoded as `%40` or `\u0040`, which contain
/// digits, so the answer holds for JSON text with its escapes too), except
/// an IPv6 address of hex letters (`dead::beef`), which needs colons, and
/// a name, which needs its key (`first_name=`, `"lastName":`). One pass
/// for all four; text with a colon or `=` but no digit and no `@` (a URL's
/// query, a title) is then told apart by `Scanner::matches`, which
/// scans it only if a name key's stem or two colons are in it. Short
/// text (`8`, `156`, `ord-1`) holds nothing either, unless it has an `@`,
/// `:`, `%`, `\\` or `=` ([`text::too_short_for_pii`]).
pub fn may_hold_pii(text: &[u8]) -> bool {
    !text::too_short_for_pii(text) && crate::json::bytes::has_pii_trigger(text)
}

/// Whether a JSON member's key may say its value is a person's name
/// (`firstName`, `surname`, `name`, `cardholder`): a cheap test, before
/// the key is read.
pub fn might_name_a_person(key: &str) -> bool {
    key.len() <= 64 && name_stem_of_key(key.as_bytes())
}

/// [`name_stem`] of a key, remembered per thread ([`key_table`]).
fn name_stem_of_key(key: &[u8]) -> bool {
    thread_local! {
        static NAME_KEYS: key_table::KeyTable<bool> = const { key_table::KeyTable::new() };
    }
    NAME_KEYS.with(|table| table.get_or(key, name_stem))
}

/// Whether `k` holds the stem of a name key's word, in any case: `nam`
/// (`name`, `surname`, `fname`), `nom` (`nombre`, `prénom`), `holder`,
/// and the stems of the other languages' words in [`cues`].
fn name_stem(k: &[u8]) -> bool {
    const STEMS: [&[u8; 3]; 23] = [
        b"nam",
        b"nom",
        b"old",
        b"inh",
        b"itu",
        b"pel",
        b"ogn",
        b"bre",
        b"azw",
        b"imi",
        b"aam",
        b"urn",
        // fornavn, jmeno and jméno (and příjmení), prezime, nev and név;
        // имя, фамилия; 名 and 姓 (名前, 氏名, 姓名); 이름, 성명.
        b"avn",
        b"jme",
        b"jm\xc3",
        b"zim",
        b"nev",
        b"n\xc3\xa9",
        b"\xd0\xbc\xd1",
        b"\xd0\xbb\xd0",
        b"\xe5\x90\x8d",
        b"\xe5\xa7\x93",
        b"\xeb\xa6\x84",
    ];
    /// Three bytes, each with its case bit set (`| 0x20` lowercases an
    /// ASCII letter and never turns another byte into one), in a `u32`.
    const fn folded(w: [u8; 3]) -> u32 {
        (w[0] as u32 | 0x20) << 16 | (w[1] as u32 | 0x20) << 8 | (w[2] as u32 | 0x20)
    }
    /// A 512-bit filter of the stems' hashes: most windows miss it, and
    /// only the rest are compared with the stems.
    const fn bucket(x: u32) -> usize {
        (x.wrapping_mul(0x9E37_79B1) >> 23) as usize
    }
    static FILTER: [u64; 8] = {
        let mut bits = [0u64; 8];
        let mut s = 0;
        while s < STEMS.len() {
            let b = bucket(folded(*STEMS[s]));
            bits[b / 64] |= 1 << (b % 64);
            s += 1;
        }
        bits
    };
    static FOLDED: [u32; STEMS.len()] = {
        let mut out = [0u32; STEMS.len()];
        let mut s = 0;
        while s < STEMS.len() {
            out[s] = folded(*STEMS[s]);
            s += 1;
        }
        out
    };
    let mut w = 0u32;
    for (i, &b) in k.iter().enumerate() {
        w = (w << 8 | (u32::from(b) | 0x20)) & 0x00ff_ffff;
        if i >= 2 {
            let h = bucket(w);
            if FILTER[h / 64] & (1 << (h % 64)) != 0 && FOLDED.contains(&w) {
                return true;
            }
        }
    }
    false
}
