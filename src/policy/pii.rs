//! PII detectors: email, phone, credit card, IBAN, IP (v4 and v6) and US SSN,
//! found in free text and replaced by typed tokens (`[email]`, ...).
//!
//! One left-to-right pass over each string: the scanner stops only at
//! anchors (`@`, `%`, `\`, a digit, `+`, `(`, `:`), found eight bytes at a
//! time, and runs the matching validator there; an IBAN is met at its check
//! digits and an IPv6 address led by hex letters at its first colon, and
//! both are read from their start. Precision matters as much
//! as recall, so every candidate is validated: cards must pass Luhn and
//! start with a card-network prefix (epoch milliseconds do not), IBANs must
//! pass mod-97, IPv4 octets must be ≤ 255, phones need a `+` or a phone-like
//! grouping (bare digit runs are ids and timestamps), and matches must sit
//! on word boundaries (a UUID's digit groups are not numbers).
//!
//! JSON numbers are read too ([`Scanner::number`]): a card number sent as
//! a number is still a card (Luhn and a network prefix, as in text). A
//! bare digit run, in a number or a string, is an id or a timestamp unless
//! the key it sits under names a phone number or an SSN ([`KeyHint`]):
//! `"phone": 4155550100` and `"ssn": "123456789"` are PII,
//! `"sent_at": 1732400000000` is not.
//!
//! PII also hides in encoded text: `%40` and `\u0040` anchor an email,
//! and a string with percent-escapes is also scanned in its decoded form
//! (twice decoded for `%2540`, with `+` read as a space as forms write it);
//! matches there are mapped back to the original bytes. A string with no
//! match is returned borrowed: no allocation.

use std::borrow::Cow;
use std::net::Ipv6Addr;

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
    /// US social security numbers (`ddd-dd-dddd`).
    Ssn,
}

impl Detector {
    /// Every detector.
    pub const ALL: [Detector; 6] = [
        Detector::Email,
        Detector::Phone,
        Detector::CreditCard,
        Detector::Iban,
        Detector::Ip,
        Detector::Ssn,
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
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A match: `text[start..end]` is PII of kind `detector`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset past the last byte.
    pub end: usize,
    /// What it is.
    pub detector: Detector,
}

/// A set of enabled detectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scanner {
    enabled: u8,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new(&Detector::ALL)
    }
}

impl Scanner {
    /// A scanner running `detectors`.
    pub fn new(detectors: &[Detector]) -> Scanner {
        Scanner {
            enabled: detectors.iter().fold(0, |bits, d| bits | d.bit()),
        }
    }

    fn on(&self, d: Detector) -> bool {
        self.enabled & d.bit() != 0
    }

    /// Every match in `text`, in order, not overlapping.
    pub fn find(&self, text: &str) -> Vec<Found> {
        let mut out = Vec::new();
        if too_short_for_pii(text.as_bytes()) {
            return out;
        }
        let percent = self.scan(text.as_bytes(), &mut |f| out.push(f));
        if percent {
            self.scan_decoded(text.as_bytes(), &mut out);
        }
        // The scan finds matches in order and (nearly always) apart; only an
        // email, read back from its `@`, can reach into an earlier match,
        // and the decoded view adds its own.
        if out.windows(2).all(|w| w[0].end <= w[1].start) {
            return out;
        }
        out.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        // Drop matches inside earlier ones.
        let mut kept: Vec<Found> = Vec::with_capacity(out.len());
        for f in out {
            if kept.last().is_none_or(|k| f.start >= k.end) {
                kept.push(f);
            }
        }
        kept
    }

    /// `text` with every match replaced by its token; borrowed when nothing
    /// matched. `counts` is told each detector that fired.
    pub fn redact<'a>(&self, text: &'a str, counts: impl FnMut(Detector)) -> Cow<'a, str> {
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
    /// removes at least one anchor byte (digit, `@`, `:`, `%`, `\\`) and
    /// tokens have none, so this ends; but adversarial text can need many
    /// passes, so after [`MAX_PASSES`] what still holds PII is replaced
    /// whole.
    pub fn redact_into(
        &self,
        text: &str,
        mut counts: impl FnMut(Detector),
        out: &mut String,
    ) -> bool {
        let Some(found) = self.matches(text) else {
            return false;
        };
        let start = out.len();
        out.reserve(text.len());
        replace(text, &found, &mut counts, out);
        let mut again = String::new();
        for pass in 1.. {
            let Some(found) = self.matches(&out[start..]) else {
                break;
            };
            if pass == MAX_PASSES {
                // Text built to defeat the scan (long runs of digit groups
                // that keep re-forming numbers): none of it is kept.
                for f in &found {
                    counts(f.detector);
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

    /// The matches in `text`, if any (after the cheap filters).
    fn matches(&self, text: &str) -> Option<Vec<Found>> {
        if !self.might_contain(text.as_bytes()) || is_timestamp_or_uuid(text.as_bytes()) {
            return None;
        }
        let found = self.find(text);
        (!found.is_empty()).then_some(found)
    }

    /// A cheap filter, `false` when no detector can match in `text`
    /// ([`may_hold_pii`]).
    pub fn might_contain(&self, text: &[u8]) -> bool {
        may_hold_pii(text)
    }

    /// Emits the matches in `t`, in order; whether `t` holds a `%` (so
    /// that a decoded view may hold more).
    ///
    /// Only anchors stop the scan (found eight bytes at a time): a digit,
    /// `:`, `@`, `%`, `\\`, `+` or `(`. Candidates that start with letters
    /// are met at their first anchor and read from their start: an IBAN
    /// (`DE89…`) at its check digits, an IPv6 address led by hex letters
    /// (`fe80::1`) at its first colon.
    fn scan(&self, t: &[u8], emit: &mut dyn FnMut(Found)) -> bool {
        let mut percent = false;
        // Where the last match ended: nothing is read back past it.
        let mut floor = 0;
        let mut i = 0;
        loop {
            i = super::bytes::find_pii_anchor(t, i);
            let Some(&b) = t.get(i) else {
                return percent;
            };
            percent |= b == b'%';
            let found = match b {
                b'@' | b'%' | b'\\' if self.on(Detector::Email) => pii(email_anchor(t, i)),
                b'0'..=b'9' => self.digit_at(t, i, floor),
                b'+' | b'(' if boundary_before(t, i) => self.number_at(t, i),
                b':' if self.on(Detector::Ip) => colon_at(t, i, floor),
                _ => None,
            };
            match found {
                Some((f, is_pii)) => {
                    if is_pii {
                        emit(f);
                    }
                    // Every `%` before `i` was an anchor; those inside the
                    // match were not seen.
                    percent = percent || t[i..f.end].contains(&b'%');
                    // A validated look-alike (bad checksum) is one token too:
                    // its digit groups are not phone numbers.
                    i = f.end.max(i + 1);
                    floor = i;
                }
                None => {
                    i += 1;
                    // Inside a word no candidate can start (every digit- and
                    // letter-led detector needs `boundary_before`): skip it.
                    if is_word(b) {
                        while i < t.len() && is_word(t[i]) {
                            i += 1;
                        }
                    }
                }
            }
        }
    }

    /// At a digit: an IBAN whose country code is just before it, or a
    /// digit-led candidate.
    fn digit_at(&self, t: &[u8], i: usize, floor: usize) -> Option<(Found, bool)> {
        if self.on(Detector::Iban)
            && i >= floor + 2
            && t[i - 2].is_ascii_uppercase()
            && t[i - 1].is_ascii_uppercase()
            && boundary_before(t, i - 2)
        {
            if let Some(hit) = iban_at(t, i - 2) {
                return Some(hit);
            }
        }
        if boundary_before(t, i) {
            self.number_at(t, i)
        } else {
            None
        }
    }

    /// Digit-led candidates: IP, SSN, card, phone (in that order of priority).
    fn number_at(&self, t: &[u8], i: usize) -> Option<(Found, bool)> {
        if t[i].is_ascii_digit() {
            // The first digit group and what follows it rule out most
            // shapes before their validators read anything: an IPv4 starts
            // `d{1,3}.`, an SSN `ddd-` (`ipv6_at` makes its own start check).
            let group = t[i..]
                .iter()
                .take(4)
                .take_while(|b| b.is_ascii_digit())
                .count();
            let next = t.get(i + group).copied().unwrap_or(0);
            if self.on(Detector::Ip) {
                let v4 = group <= 3 && next == b'.';
                let found = if v4 { ipv4_at(t, i) } else { None };
                if let Some(f) = found.or_else(|| ipv6_at(t, i)) {
                    return Some(ip_hit(t, f));
                }
            }
            if self.on(Detector::Ssn) && group == 3 && next == b'-' {
                if let Some(hit) = ssn_at(t, i) {
                    return Some(hit);
                }
            }
        }
        // Cards and phones both need seven digits or more, read over the
        // bytes they may be written with; most numbers in events are shorter.
        if !seven_digits_ahead(t, i) {
            return None;
        }
        if t[i].is_ascii_digit() && self.on(Detector::CreditCard) {
            if let Some(f) = card_at(t, i) {
                return Some((f, true));
            }
        }
        if self.on(Detector::Phone) {
            return pii(phone_at(t, i));
        }
        None
    }

    /// Scans the percent-decoded (and twice-decoded) view of `t`, mapping
    /// matches back onto `t`.
    fn scan_decoded(&self, t: &[u8], out: &mut Vec<Found>) {
        let (once, map1) = percent_decode(t);
        if once.len() == t.len() {
            return;
        }
        let mut push = |f: Found, map: &dyn Fn(usize) -> usize| {
            out.push(Found {
                start: map(f.start),
                end: map(f.end),
                detector: f.detector,
            });
        };
        self.scan(&once, &mut |f| push(f, &|p| map1[p]));
        if once.contains(&b'%') {
            let (twice, map2) = percent_decode(&once);
            if twice.len() != once.len() {
                let mut found = Vec::new();
                self.scan(&twice, &mut |f| found.push(f));
                for f in found {
                    push(f, &|p| map1[map2[p]]);
                }
            }
        }
    }
}

/// What the key a value sits under says it is. Only a bare digit run
/// needs this (digits alone are ids and timestamps, not phone numbers or
/// SSNs); every other match stands on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHint {
    /// Nothing.
    None,
    /// A phone number (`phone`, `phone_number`, `mobile`, `tel`, ...).
    Phone,
    /// A US social security number (`ssn`, `social_security_number`, ...).
    Ssn,
}

impl KeyHint {
    /// The hint of a member's key: its letters and digits, lowercased
    /// (`phoneNumber`, `phone_number`, `$phone` alike), named or ending in
    /// a phone or SSN word.
    pub fn of_key(key: &str) -> KeyHint {
        const LONGEST: usize = 48;
        if key.len() > LONGEST {
            return KeyHint::None;
        }
        let mut buf = [0u8; LONGEST];
        let mut n = 0;
        for b in key.bytes().filter(u8::is_ascii_alphanumeric) {
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
        let k = &buf[..n];
        const PHONE_ENDS: [&[u8]; 9] = [
            b"phone",
            b"phonenumber",
            b"phoneno",
            b"mobile",
            b"mobilenumber",
            b"mobileno",
            b"msisdn",
            b"fax",
            b"faxnumber",
        ];
        const PHONE_NAMES: [&[u8]; 4] = [b"tel", b"telnumber", b"cell", b"cellnumber"];
        if PHONE_ENDS.iter().any(|end| k.ends_with(end)) || PHONE_NAMES.contains(&k) {
            KeyHint::Phone
        } else if k.ends_with(b"ssn") || k.windows(14).any(|w| w == b"socialsecurity") {
            KeyHint::Ssn
        } else {
            KeyHint::None
        }
    }

    /// The hint of `key`, if there is one.
    pub fn of(key: Option<&str>) -> KeyHint {
        key.map_or(KeyHint::None, KeyHint::of_key)
    }
}

impl Scanner {
    /// What a JSON number is, if it is PII: a card number (the same
    /// validation as in text), or a bare digit run that `key` says is a
    /// phone number or an SSN. Fractions, exponents and signs are never
    /// PII; nor are short numbers (counts, prices, ...).
    pub fn number(&self, text: &str, key: Option<&str>) -> Option<Detector> {
        let t = text.as_bytes();
        if t.len() < 7 || !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.digit_run(t, key)
    }

    /// A bare run of digits (all of `t`, at least seven), under `key`.
    fn digit_run(&self, t: &[u8], key: Option<&str>) -> Option<Detector> {
        if self.on(Detector::CreditCard) && card_at(t, 0).is_some_and(|f| f.end == t.len()) {
            return Some(Detector::CreditCard);
        }
        match KeyHint::of(key) {
            KeyHint::Phone if self.on(Detector::Phone) && t.len() <= 15 => Some(Detector::Phone),
            KeyHint::Ssn if self.on(Detector::Ssn) && t.len() <= 9 => {
                // A number loses an SSN's leading zeros.
                let mut ssn = *b"000-00-0000";
                let mut digits = [b'0'; 9];
                digits[9 - t.len()..].copy_from_slice(t);
                ssn[..3].copy_from_slice(&digits[..3]);
                ssn[4..6].copy_from_slice(&digits[3..5]);
                ssn[7..].copy_from_slice(&digits[5..]);
                ssn_at(&ssn, 0)
                    .is_some_and(|(_, valid)| valid)
                    .then_some(Detector::Ssn)
            }
            _ => None,
        }
    }

    /// [`Scanner::redact_into`], for a string under `key`: a string that is
    /// a bare digit run the key names as a phone number or an SSN (and that
    /// nothing else matched) becomes its token too.
    pub fn redact_under(
        &self,
        text: &str,
        key: Option<&str>,
        mut counts: impl FnMut(Detector),
        out: &mut String,
    ) -> bool {
        if self.redact_into(text, &mut counts, out) {
            return true;
        }
        let t = text.trim().as_bytes();
        if t.len() < 7 || !t.iter().all(u8::is_ascii_digit) {
            return false;
        }
        match self.digit_run(t, key) {
            Some(d) => {
                counts(d);
                out.push_str(d.token());
                true
            }
            None => false,
        }
    }
}

/// Whether all of `t` is a plausible ISO 8601 date or date-time
/// (`2026-11-23T21:26:48.096Z`, offsets, a space for the `T`, years 1000 to
/// 2999, fields in range) or a UUID. Events carry several of each; they are
/// dense in digits, so the scan would stop at nearly every group to find
/// nothing (property-tested), or worse, read `2026-11-23 21` as a
/// ten-digit phone number.
fn is_timestamp_or_uuid(t: &[u8]) -> bool {
    if t.len() == 36 {
        return t.iter().enumerate().all(|(k, b)| match k {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    }
    let two = |at: usize, min: u8, max: u8| two_digits(t, at, min, max);
    let byte = |at: usize, set: &[u8]| t.get(at).is_some_and(|c| set.contains(c));
    if !date_at(t, 0) {
        return false;
    }
    let mut i = 10;
    if byte(i, b"T ") {
        // hh:mm, then :ss and a fraction of 1 to 9 digits.
        if !(two(i + 1, 0, 23) && byte(i + 3, b":") && two(i + 4, 0, 59)) {
            return false;
        }
        i += 6;
        if byte(i, b":") && two(i + 1, 0, 60) {
            i += 3;
            if byte(i, b".") {
                let fraction = t[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if !(1..=9).contains(&fraction) {
                    return false;
                }
                i += 1 + fraction;
            }
        }
        // Zone: Z, or ±hh, ±hhmm, ±hh:mm.
        if byte(i, b"Z") {
            i += 1;
        } else if byte(i, b"+-") && two(i + 1, 0, 23) {
            i += 3;
            if byte(i, b":") && two(i + 1, 0, 59) {
                i += 3;
            } else if two(i, 0, 59) {
                i += 2;
            }
        }
    }
    i == t.len()
}

/// The two-digit number at `at` in `t`, if it is one, is in `min..=max`.
fn two_digits(t: &[u8], at: usize, min: u8, max: u8) -> bool {
    match t.get(at..at + 2) {
        Some(&[a, b]) if a.is_ascii_digit() && b.is_ascii_digit() => {
            (min..=max).contains(&((a - b'0') * 10 + (b - b'0')))
        }
        _ => false,
    }
}

/// A plausible ISO 8601 date (`2026-11-23`: years 1000 to 2999, month and
/// day in range) at `at` in `t`.
fn date_at(t: &[u8], at: usize) -> bool {
    t.get(at).is_some_and(|b| matches!(b, b'1' | b'2'))
        && two_digits(t, at + 1, 0, 99)
        && t.get(at + 3).is_some_and(u8::is_ascii_digit)
        && t.get(at + 4) == Some(&b'-')
        && two_digits(t, at + 5, 1, 12)
        && t.get(at + 7) == Some(&b'-')
        && two_digits(t, at + 8, 1, 31)
}

/// Redaction passes at most (see [`Scanner::redact_into`]); text still
/// holding PII after them is replaced whole by [`REDACTED`].
const MAX_PASSES: usize = 8;

/// What replaces text that still holds PII after [`MAX_PASSES`].
pub const REDACTED: &str = "[redacted]";

/// `text` with each of `found` (in order, apart) replaced by its token.
fn replace(text: &str, found: &[Found], counts: &mut impl FnMut(Detector), out: &mut String) {
    let mut at = 0;
    for f in found {
        out.push_str(&text[at..f.start]);
        out.push_str(f.detector.token());
        counts(f.detector);
        at = f.end;
    }
    out.push_str(&text[at..]);
}

/// `false` when no detector can match in `text`: every detector needs a
/// digit or an `@` (possibly encoded as `%40` or `\u0040`, which contain
/// digits, so the answer holds for JSON text with its escapes too), except
/// an IPv6 address of hex letters (`dead::beef`), which needs colons. One
/// pass for all three; a colon alone (a URL) costs a scan that finds
/// nothing, which is cheaper than counting colons separately.
pub fn may_hold_pii(text: &[u8]) -> bool {
    super::bytes::has_digit_at_or_colon(text)
}

/// Short values (`8`, `156`, `ord-1`) are common and hold no PII: every
/// detector needs seven bytes or more (`1.2.3.4`, a seven-digit phone),
/// except an email (its `@`, or an encoded one with `%` or `\\`) and IPv6
/// (`::1`, its colons).
fn too_short_for_pii(t: &[u8]) -> bool {
    t.len() < 7 && !t.iter().any(|b| matches!(b, b'@' | b':' | b'%' | b'\\'))
}

/// Whether the run from `i` of digits and of the bytes phones and cards are
/// written with (` -.+()`) holds seven digits or more.
fn seven_digits_ahead(t: &[u8], i: usize) -> bool {
    let mut digits = 0;
    for &b in &t[i..] {
        if b.is_ascii_digit() {
            digits += 1;
            if digits == 7 {
                return true;
            }
        } else if !matches!(b, b' ' | b'-' | b'.' | b'+' | b'(' | b')') {
            break;
        }
    }
    false
}

/// A validator's match, as PII.
fn pii(found: Option<Found>) -> Option<(Found, bool)> {
    found.map(|f| (f, true))
}

/// Decodes `%XX` escapes and `+` (form encoding) into a new buffer, with the
/// source offset of every output byte (and one past the end).
fn percent_decode(t: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(t.len());
    let mut map = Vec::with_capacity(t.len() + 1);
    let mut i = 0;
    while i < t.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if t[i] == b'%' && i + 2 < t.len() {
            if let (Some(h), Some(l)) = (hex(t[i + 1]), hex(t[i + 2])) {
                out.push((h * 16 + l) as u8);
                map.push(i);
                i += 3;
                continue;
            }
        }
        out.push(if t[i] == b'+' { b' ' } else { t[i] });
        map.push(i);
        i += 1;
    }
    map.push(t.len());
    (out, map)
}

/// ASCII letters, digits and `_`.
static WORD: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_';
        b += 1;
    }
    table
};

fn is_word(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Nothing word-like right before `i` (a UUID's digit group is not a number).
#[inline]
fn boundary_before(t: &[u8], i: usize) -> bool {
    i == 0
        || !(is_word(t[i - 1])
            || (t[i].is_ascii_digit()
                && matches!(t[i - 1], b'.' | b'-' | b'/' if i >= 2 && t[i - 2].is_ascii_alphanumeric())))
}

/// Nothing word-like right after `end`.
fn boundary_after(t: &[u8], end: usize) -> bool {
    end >= t.len()
        || !(is_word(t[end])
            || (matches!(t[end], b'.' | b'-')
                && t.get(end + 1).is_some_and(|b| b.is_ascii_digit())))
}

// ----- email -----------------------------------------------------------------

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-' | b'\'')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// File extensions that look like TLDs: `logo@2x.png` is an image.
const FILE_TLDS: [&[u8]; 12] = [
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"ico", b"css", b"js", b"pdf", b"avif",
    b"bmp",
];

/// An email around the `@` at `i`, written as it is or encoded (`%40`,
/// twice encoded `%2540`, JSON-escaped `\u0040`).
fn email_anchor(t: &[u8], i: usize) -> Option<Found> {
    let at_len = match t[i] {
        b'@' => 1,
        b'%' if t[i..].len() >= 3 && t[i + 1..i + 3].eq_ignore_ascii_case(b"40") => 3,
        b'%' if t[i..].len() >= 5 && t[i + 1..i + 5].eq_ignore_ascii_case(b"2540") => 5,
        b'\\' if t[i..].len() >= 6 && t[i + 1..i + 6].eq_ignore_ascii_case(b"u0040") => 6,
        _ => return None,
    };
    email_at(t, i, at_len)
}

/// An email whose `@` (or its encoding, `at_len` bytes) is at `at`.
fn email_at(t: &[u8], at: usize, at_len: usize) -> Option<Found> {
    let mut start = at;
    while start > 0 && is_local(t[start - 1]) {
        start -= 1;
    }
    while start < at && t[start] == b'.' {
        start += 1;
    }
    if start == at || t[at - 1] == b'.' {
        return None;
    }
    let domain_start = at + at_len;
    let mut end = domain_start;
    // A domain has no empty label: it ends before `..` (`a@b.com...0123`).
    while end < t.len() && is_domain(t[end]) && !(t[end] == b'.' && t[end - 1] == b'.') {
        end += 1;
    }
    while end > domain_start && matches!(t[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &t[domain_start..end];
    let tld_at = domain.iter().rposition(|&b| b == b'.')?;
    let tld = &domain[tld_at + 1..];
    let labels_ok = domain
        .split(|&b| b == b'.')
        .all(|l| !l.is_empty() && l[0] != b'-' && l[l.len() - 1] != b'-');
    let tld_ok = tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic);
    let file = FILE_TLDS.iter().any(|f| f.eq_ignore_ascii_case(tld));
    (labels_ok && tld_ok && !file).then_some(Found {
        start,
        end,
        detector: Detector::Email,
    })
}

// ----- numbers ---------------------------------------------------------------

/// Up to [`Digits::MAX`] digit values, kept inline (this runs at every
/// number in every string: no allocation).
struct Digits {
    buf: [u8; Digits::MAX],
    len: usize,
}

impl Digits {
    const MAX: usize = 20;

    fn push(&mut self, d: u8) {
        self.buf[self.len] = d;
        self.len += 1;
    }
}

impl std::ops::Deref for Digits {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Digits of `t[i..]` separated by single characters from `seps` (a short
/// list: compared in place, not by a `memchr` call): returns the
/// end offset, the digits (at most `max_digits`), and the separator count.
fn digit_run(t: &[u8], i: usize, seps: &[u8], max_digits: usize) -> (usize, Digits, usize) {
    let max_digits = max_digits.min(Digits::MAX);
    let mut digits = Digits {
        buf: [0; Digits::MAX],
        len: 0,
    };
    let mut end = i;
    let mut j = i;
    let mut separators = 0;
    while j < t.len() && digits.len() < max_digits {
        if t[j].is_ascii_digit() {
            digits.push(t[j] - b'0');
            j += 1;
            end = j;
        } else if seps.iter().any(|&sep| sep == t[j])
            && j > i
            && t.get(j + 1).is_some_and(u8::is_ascii_digit)
            && t[j - 1].is_ascii_digit()
        {
            separators += 1;
            j += 1;
        } else {
            break;
        }
    }
    (end, digits, separators)
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Card network prefixes (IIN ranges) and lengths.
fn card_network(d: &[u8]) -> bool {
    let n = |k: usize| d.iter().take(k).fold(0u32, |a, &x| a * 10 + u32::from(x));
    let len = d.len();
    match d[0] {
        4 => matches!(len, 13 | 16 | 19),
        5 => (51..=55).contains(&n(2)) && len == 16,
        2 => (2221..=2720).contains(&n(4)) && len == 16,
        3 => {
            (matches!(n(2), 34 | 37) && len == 15)
                || (n(2) == 35 && (16..=19).contains(&len))
                || (matches!(n(2), 30 | 36 | 38 | 39) && (14..=19).contains(&len))
        }
        6 => {
            (n(4) == 6011 || n(2) == 65 || (644..=649).contains(&n(3)) || n(2) == 62)
                && (16..=19).contains(&len)
        }
        _ => false,
    }
}

/// A card number at `i`: the whole digit run, or else (a number followed
/// by more digits, as in `4111 1111 1111 1111 12/28`) its longest prefix
/// that ends at a space between groups.
fn card_at(t: &[u8], i: usize) -> Option<Found> {
    let (end, digits, _) = digit_run(t, i, b" -", 19);
    let card = |len: usize| card_network(&digits[..len]) && luhn(&digits[..len]);
    let found = |end: usize| Found {
        start: i,
        end,
        detector: Detector::CreditCard,
    };
    if (13..=19).contains(&digits.len()) && boundary_after(t, end) && card(digits.len()) {
        return Some(found(end));
    }
    if digits.len() < 13 {
        return None;
    }
    let mut count = digits.len();
    let mut j = end;
    while j > i && count >= 13 {
        j -= 1;
        if t[j].is_ascii_digit() {
            count -= 1;
        } else if t[j] == b' ' && (13..=19).contains(&count) && card(count) {
            return Some(found(j));
        }
    }
    None
}

/// An SSN-shaped `ddd-dd-dddd` at `i`, and whether it is a valid SSN.
fn ssn_at(t: &[u8], i: usize) -> Option<(Found, bool)> {
    let s = t.get(i..i + 11)?;
    let shape = s.iter().enumerate().all(|(k, &b)| match k {
        3 | 6 => b == b'-',
        _ => b.is_ascii_digit(),
    });
    if !shape || !boundary_after(t, i + 11) {
        return None;
    }
    let area = &s[0..3];
    let valid = area != b"000"
        && area != b"666"
        && area[0] != b'9'
        && &s[4..6] != b"00"
        && &s[7..11] != b"0000";
    let found = Found {
        start: i,
        end: i + 11,
        detector: Detector::Ssn,
    };
    Some((found, valid))
}

fn phone_at(t: &[u8], i: usize) -> Option<Found> {
    // A date (and the time after it, `2026-11-23 21:26`) is not a number
    // written with dashes.
    if date_at(t, i) && !t.get(i + 10).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let (start, international) = match t[i] {
        b'+' if t.get(i + 1).is_some_and(u8::is_ascii_digit) => (i + 1, true),
        b'(' if t.get(i + 1).is_some_and(u8::is_ascii_digit) => (i, false),
        b'0'..=b'9' => (i, false),
        _ => return None,
    };
    // Allow "(555) 010-0100": a parenthesized first group.
    let (mut j, mut digits, mut groups) = (start, 0usize, 0usize);
    let mut paren = false;
    if t[j] == b'(' {
        let close = t[j + 1..].iter().position(|&b| b == b')')? + j + 1;
        let inner = &t[j + 1..close];
        if !(2..=5).contains(&inner.len()) || !inner.iter().all(u8::is_ascii_digit) {
            return None;
        }
        digits += inner.len();
        groups += 1;
        paren = true;
        j = close + 1;
        if t.get(j) == Some(&b' ') {
            j += 1;
        }
    }
    let (end, run, seps) = digit_run(t, j, if international { b" -.+" } else { b" -." }, 15);
    digits += run.len();
    groups += seps + usize::from(!run.is_empty());
    if run.is_empty() || !boundary_after(t, end) || digits > 15 {
        return None;
    }
    let first = if paren { 1 } else { run[0] };
    let ok = if international {
        (8..=15).contains(&digits) && run[0] != 0
    } else {
        // National: grouped like a phone, and either a trunk prefix 0, a
        // parenthesized area code, or ten digits (NANP).
        (7..=12).contains(&digits) && groups >= 2 && (first == 0 || paren || digits == 10)
    };
    ok.then_some(Found {
        start: i,
        end,
        detector: Detector::Phone,
    })
}

/// An address found in `t`, and whether it is PII (not a network).
fn ip_hit(t: &[u8], f: Found) -> (Found, bool) {
    (f, !is_network(&t[f.start..f.end]))
}

/// A host-zeroed address (IPv4 `x.y.z.0`, IPv6 with a zero interface id) is
/// a network, not a person: what `truncate_ip` leaves is not redacted again.
fn is_network(text: &[u8]) -> bool {
    match std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<std::net::IpAddr>().ok())
    {
        Some(std::net::IpAddr::V4(a)) => a.octets()[3] == 0,
        Some(std::net::IpAddr::V6(a)) => {
            u128::from(a) & u128::from(u64::MAX) == 0 && !a.is_unspecified()
        }
        None => false,
    }
}

fn ipv4_at(t: &[u8], i: usize) -> Option<Found> {
    let mut j = i;
    for octet in 0..4 {
        let s = j;
        while j < t.len() && t[j].is_ascii_digit() && j - s < 3 {
            j += 1;
        }
        let part = &t[s..j];
        let value = part.iter().fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
        if part.is_empty() || value > 255 || (part.len() > 1 && part[0] == b'0') {
            return None;
        }
        if octet < 3 {
            if t.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
    }
    // "1.2.3.4.5" or "1.2.3.4a" is something else.
    if j < t.len()
        && (is_word(t[j]) || (t[j] == b'.' && t.get(j + 1).is_some_and(u8::is_ascii_digit)))
    {
        return None;
    }
    Some(Found {
        start: i,
        end: j,
        detector: Detector::Ip,
    })
}

/// Whether an IPv6 address may start at `i`: every one starts with `::` or
/// a group of at most four hex digits and a colon. Most words and numbers
/// fail here, after a few bytes.
#[inline]
fn ipv6_may_start(t: &[u8], i: usize) -> bool {
    let mut j = i;
    while j < t.len() && j - i < 5 && t[j].is_ascii_hexdigit() {
        j += 1;
    }
    j - i <= 4 && t.get(j) == Some(&b':') && (j > i || t.get(i + 1) == Some(&b':'))
}

/// An IPv6 address at `i`. Inlined so that the cheap start check runs at
/// the call site and only a real candidate pays for the full read.
#[inline]
fn ipv6_at(t: &[u8], i: usize) -> Option<Found> {
    if ipv6_may_start(t, i) {
        ipv6_read(t, i)
    } else {
        None
    }
}

/// At a colon: an IPv6 address that starts with it (`::1`), or with the
/// hex letters just before it (`fe80::1`, `FE80::1`); one led by a digit
/// was tried at that digit. Not before `floor`.
fn colon_at(t: &[u8], i: usize, floor: usize) -> Option<(Found, bool)> {
    let run = t[floor..i]
        .iter()
        .rev()
        .take(5)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    let start = i - run;
    let candidate = match run {
        0 => boundary_before(t, i),
        1..=4 => t[start].is_ascii_alphabetic() && boundary_before(t, start),
        _ => false,
    };
    if !candidate {
        return None;
    }
    ipv6_at(t, start).map(|f| ip_hit(t, f))
}

fn ipv6_read(t: &[u8], i: usize) -> Option<Found> {
    let mut end = i;
    let mut colons = 0;
    while end < t.len()
        && (t[end].is_ascii_hexdigit() || t[end] == b':' || t[end] == b'.')
        && end - i < 45
    {
        colons += usize::from(t[end] == b':');
        end += 1;
    }
    // Trailing dots are punctuation, not part of the address.
    while end > i && t[end - 1] == b'.' {
        end -= 1;
    }
    if colons < 2 || (end < t.len() && is_word(t[end])) {
        return None;
    }
    let text = std::str::from_utf8(&t[i..end]).ok()?;
    // `::` alone identifies no one, and is common in text (`std::`).
    text.parse::<Ipv6Addr>()
        .ok()
        .filter(|a| !a.is_unspecified())
        .map(|_| Found {
            start: i,
            end,
            detector: Detector::Ip,
        })
}

/// An IBAN-shaped run at `i`, and whether its checksum holds.
fn iban_at(t: &[u8], i: usize) -> Option<(Found, bool)> {
    let head = t.get(i..i + 4)?;
    if !(head[0].is_ascii_uppercase()
        && head[1].is_ascii_uppercase()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit())
    {
        return None;
    }
    // Alphanumerics, optionally in groups of four separated by one space.
    let mut chars = Vec::with_capacity(34);
    let mut j = i;
    let mut end = i;
    while j < t.len() && chars.len() < 34 {
        let b = t[j];
        if b.is_ascii_digit() || b.is_ascii_uppercase() {
            chars.push(b);
            j += 1;
            end = j;
        } else if b == b' '
            && chars.len() % 4 == 0
            && t.get(j + 1).is_some_and(|c| c.is_ascii_alphanumeric())
        {
            j += 1;
        } else {
            break;
        }
    }
    if !(15..=34).contains(&chars.len()) || !boundary_after(t, end) {
        return None;
    }
    // mod-97 over the rearranged, letter-expanded number.
    let rearranged = chars[4..].iter().chain(&chars[..4]);
    let mut rem: u32 = 0;
    for &c in rearranged {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(c - b'A' + 10)) % 97;
        }
    }
    let found = Found {
        start: i,
        end,
        detector: Detector::Iban,
    };
    Some((found, rem == 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn redact(text: &str) -> String {
        Scanner::default().redact(text, |_| {}).into_owned()
    }

    /// The scan as it was before anchors were found eight bytes at a time:
    /// every byte visited, letter-led candidates tried at their first
    /// letter. One change: an uppercase hex letter whose IBAN fails is also
    /// tried as IPv6 (`FE80::1`), which the old scan missed.
    fn reference_scan(sc: &Scanner, t: &[u8]) -> Vec<Found> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < t.len() {
            let b = t[i];
            let v6 = |i| ipv6_at(t, i).map(|f| ip_hit(t, f));
            let found = match b {
                b'@' | b'%' | b'\\' if sc.on(Detector::Email) => pii(email_anchor(t, i)),
                b'A'..=b'Z' if sc.on(Detector::Iban) && boundary_before(t, i) => iban_at(t, i)
                    .or_else(|| {
                        (b.is_ascii_hexdigit() && sc.on(Detector::Ip))
                            .then(|| v6(i))
                            .flatten()
                    }),
                b'0'..=b'9' | b'+' | b'(' if boundary_before(t, i) => sc.number_at(t, i),
                b'a'..=b'f' | b'A'..=b'F' | b':'
                    if sc.on(Detector::Ip) && boundary_before(t, i) =>
                {
                    v6(i)
                }
                _ => None,
            };
            match found {
                Some((f, is_pii)) => {
                    if is_pii {
                        out.push(f);
                    }
                    i = f.end.max(i + 1);
                }
                None => {
                    i += 1;
                    if is_word(b) {
                        while i < t.len() && is_word(t[i]) {
                            i += 1;
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn finds_each_kind_in_context() {
        let cases = [
            // email
            ("mail jane.doe@example.com now", "mail [email] now"),
            ("Jane.Doe+news@Mail.Example.CO.UK", "[email]"),
            ("mailto:buyer@example.com", "mailto:[email]"),
            ("?email=jane%40example.com&x=1", "?email=[email]&x=1"),
            ("?email=jane%2540example.com", "?email=[email]"),
            (
                "{\\\"e\\\":\\\"jane\\u0040example.com\\\"}",
                "{\\\"e\\\":\\\"[email]\\\"}",
            ),
            // phone
            ("call +1-555-0100 today", "call [phone] today"),
            ("+44 20 7946 0958", "[phone]"),
            ("tel: (555) 010-0100", "tel: [phone]"),
            ("020 7946 0958", "[phone]"),
            ("555-010-0100", "[phone]"),
            ("phone=%2B44+20+7946+0958", "phone=[phone]"),
            // cards, with and without separators
            ("card 4111 1111 1111 1111 ok", "card [credit_card] ok"),
            // Followed by more digits: an expiry date, a number.
            ("4111 1111 1111 1111 12/28", "[credit_card] 12/28"),
            ("card 4000 0000 0000 0002 1000", "card [credit_card] 1000"),
            ("4111-1111-1111-1111", "[credit_card]"),
            ("5500005555555559", "[credit_card]"),
            ("378282246310005", "[credit_card]"),
            // iban
            ("IBAN DE89 3704 0044 0532 0130 00.", "IBAN [iban]."),
            ("GB82WEST12345698765432", "[iban]"),
            // ip
            ("from 203.0.113.7:443", "from [ip]:443"),
            ("v6 2001:db8::1 and ::1.", "v6 [ip] and [ip]."),
            (
                "net 203.0.113.0 and 2001:db8:1:: stay",
                "net 203.0.113.0 and 2001:db8:1:: stay",
            ),
            ("fe80::1ff:fe23:4567:890a", "[ip]"),
            ("host FE80::1FF:FE23:4567:890A up", "host [ip] up"),
            // an email read back over an earlier match takes it whole
            ("4111111111111111.x@example.com", "[email]"),
            // ssn
            ("ssn 123-45-6789", "ssn [ssn]"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn leaves_look_alikes_alone() {
        let untouched = [
            "0fe1459d-fefa-44de-9052-4765f994ce7c",           // UUID
            "ajs-next-1795469208096-0fe1459d-fefa-44de-9052", // messageId with epoch ms
            "1795469208096",                                  // epoch ms, Luhn or not
            "1795469220",                                     // epoch s
            "1795469220.867",                                 // epoch with fraction
            "ord-1",
            "order 100234987",           // order number
            "4111 1111 1111 1112",       // Luhn-invalid
            "1234567812345678",          // Luhn-valid but no card network
            "version 1.84.3 and 3.34.1", // versions
            "npm:next-1.84.3",
            "std::vector and Foo::Bar", // scopes, not addresses
            ":: and ::®0",              // the unspecified address identifies no one
            "logo@2x.png",
            "@segment/analytics-next",
            "@scope/package",
            "price 42.50 EUR, 1 000 000 units, 1,299.99",
            "#ff00aa and #FFF",
            "2026-11-23T21:26:48.096Z", // timestamps
            "at 2026-11-23 21:26 please, or 2026-11-24",
            "12:30:45",          // time, not IPv6
            "aa:bb:cc:dd:ee:ff", // MAC, not IPv6
            "1.2.3.4.5",         // not an IPv4
            "999.1.1.1",
            "DE89 3704 0044 0532 0130 01", // IBAN with a bad checksum
            "000-12-3456",                 // invalid SSN area
            "http://localhost:18091/segment-browser.html?base=http%3A%2F%2F127",
            "plain text with no numbers",
            "",
        ];
        for text in untouched {
            assert_eq!(Scanner::default().find(text), [], "{text}");
        }
    }

    #[test]
    fn numbers_are_read_like_text() {
        let sc = Scanner::default();
        let cases = [
            // Cards stand on their own, whatever the key.
            ("4111111111111111", None, Some(Detector::CreditCard)),
            (
                "5500005555555559",
                Some("amount"),
                Some(Detector::CreditCard),
            ),
            ("4111111111111112", None, None), // Luhn-invalid
            ("1234567812345678", None, None), // no card network
            // A bare digit run needs a key that names it.
            ("4155550100", Some("phone"), Some(Detector::Phone)),
            ("4155550100", Some("phoneNumber"), Some(Detector::Phone)),
            ("447946095800", Some("$mobile"), Some(Detector::Phone)),
            ("4155550100", None, None),
            ("4155550100", Some("order_id"), None),
            ("123456789", Some("ssn"), Some(Detector::Ssn)),
            (
                "12345678",
                Some("social_security_number"),
                Some(Detector::Ssn),
            ), // 012-34-5678
            ("987654321", Some("ssn"), None), // area 9xx
            ("123450000", Some("ssn"), None), // serial 0000
            ("123456789", Some("id"), None),
            // Timestamps, prices, counts: never.
            ("1732400000000", None, None),
            ("1732400000000", Some("sent_at"), None),
            ("1732400000", Some("time"), None),
            ("42", Some("phone"), None),
            ("415555.0100", Some("phone"), None),
            ("-4155550100", Some("phone"), None),
            ("4.111111111111111e15", None, None),
        ];
        for (text, key, want) in cases {
            assert_eq!(sc.number(text, key), want, "{text} under {key:?}");
        }
        assert_eq!(
            Scanner::new(&[Detector::Email]).number("4111111111111111", None),
            None
        );
        assert_eq!(
            Scanner::new(&[Detector::Ssn]).number("4155550100", Some("phone")),
            None
        );
    }

    #[test]
    fn bare_digit_strings_need_their_key_too() {
        let sc = Scanner::default();
        let under = |text: &str, key: Option<&str>| {
            let mut out = String::new();
            sc.redact_under(text, key, |_| {}, &mut out).then_some(out)
        };
        assert_eq!(
            under("4155550100", Some("phone")).as_deref(),
            Some("[phone]")
        );
        assert_eq!(under(" 123456789 ", Some("ssn")).as_deref(), Some("[ssn]"));
        assert_eq!(under("4155550100", Some("id")), None);
        assert_eq!(under("1732400000000", Some("ts")), None);
        // What text finds on its own is found under any key.
        assert_eq!(
            under("call 415-555-0100", None).as_deref(),
            Some("call [phone]")
        );
        assert_eq!(KeyHint::of_key("Home-Phone"), KeyHint::Phone);
        assert_eq!(KeyHint::of_key("tel"), KeyHint::Phone);
        assert_eq!(KeyHint::of_key("hotel"), KeyHint::None);
        assert_eq!(KeyHint::of_key("customer_ssn"), KeyHint::Ssn);
        assert_eq!(KeyHint::of_key("phone_verified"), KeyHint::None);
        assert_eq!(
            KeyHint::of_key(&"phone".repeat(20)),
            KeyHint::None,
            "too long"
        );
    }

    #[test]
    fn only_enabled_detectors_run() {
        let emails = Scanner::new(&[Detector::Email]);
        assert_eq!(
            emails.redact("a@b.example +1-555-0100", |_| {}),
            "[email] +1-555-0100"
        );
        let mut seen = Vec::new();
        Scanner::default().redact("a@b.example +1-555-0100", |d| seen.push(d));
        assert_eq!(seen, [Detector::Email, Detector::Phone]);
    }

    #[test]
    fn nothing_found_means_nothing_allocated() {
        let text = "Harness page: segment-browser 2026-11-23";
        assert!(matches!(
            Scanner::default().redact(text, |_| {}),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn names_round_trip() {
        for d in Detector::ALL {
            assert_eq!(Detector::from_name(d.name()), Some(d));
        }
        assert_eq!(Detector::from_name("passport"), None);
    }

    fn email() -> impl Strategy<Value = String> {
        (
            "[a-z][a-z0-9._+-]{0,10}[a-z0-9]",
            "[a-z][a-z0-9-]{0,8}[a-z0-9]",
            "(com|org|net|de|io)",
        )
            .prop_filter("no double dots", |(l, _, _)| !l.contains(".."))
            .prop_map(|(l, d, t)| format!("{l}@{d}.{t}"))
    }

    fn card() -> impl Strategy<Value = String> {
        // A Visa-prefixed 16-digit number with a correct check digit.
        prop::collection::vec(0u8..10, 14).prop_map(|mut body| {
            body.insert(0, 4);
            let check = (0..10).find(|c| {
                let mut d = body.clone();
                d.push(*c);
                luhn(&d)
            });
            body.push(check.unwrap());
            body.chunks(4)
                .map(|g| g.iter().map(|d| char::from(b'0' + d)).collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    #[test]
    fn timestamps_and_uuids_are_recognized_whole() {
        for yes in [
            "2026-11-23",
            "2026-11-23T21:26:48.096Z",
            "2026-11-23T21:26:48Z",
            "2026-11-23 21:26",
            "2026-11-23T21:26:48.123456789+05:30",
            "2026-11-23T21:26:48-0800",
            "2026-11-23T21:26:48+01",
            "1999-12-31T23:59:60Z",
            "693b70a7-0fe1-459d-befa-f4de10524765",
            "693B70A7-0FE1-459D-BEFA-F4DE10524765",
        ] {
            assert!(is_timestamp_or_uuid(yes.as_bytes()), "{yes}");
        }
        for no in [
            "",
            "2026-11-23T",
            "2026-11-23T21:26:48.Z",
            "2026-11-23T21:26:48.0960000000Z",
            "2026-11-23T21:26:48Z ",
            "2026-11-23 call +44 20 7946 0958",
            "2026-11-23T21:26:48Z+",
            "2026/11/23",
            "0000-00-00",
            "0201-12-12",
            "2026-13-01",
            "2026-12-32",
            "2026-12-00",
            "2026-11-23T24:00Z",
            "693b70a7-0fe1-459d-befa-f4de1052476g",
            "693b70a7-0fe1-459d-befa_f4de10524765",
        ] {
            assert!(!is_timestamp_or_uuid(no.as_bytes()), "{no}");
        }
        // The scan alone read a phone number in each of these.
        for time in ["2026-11-23 21:26", "1000-01-01T00:00:00.00000"] {
            assert_eq!(redact(time), time);
        }
    }

    /// Keys that say nothing about their value.
    fn plain_key() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            "[a-z_$]{1,12}"
                .prop_filter("a key that names no PII", |k| KeyHint::of_key(k)
                    == KeyHint::None)
                .prop_map(Some),
        ]
    }

    /// Numbers events are full of: epoch seconds and milliseconds (any
    /// year to 2096), microseconds (to 2039: from 2040, `22…` is a
    /// Mastercard prefix, and one such timestamp in ten passes Luhn),
    /// small integers, prices and other floats.
    fn ordinary_number() -> impl Strategy<Value = String> {
        prop_oneof![
            (1_000_000_000u64..4_000_000_000).prop_map(|n| n.to_string()),
            (1_000_000_000_000u64..4_000_000_000_000).prop_map(|n| n.to_string()),
            (1_000_000_000_000_000u64..2_200_000_000_000_000).prop_map(|n| n.to_string()),
            any::<i32>().prop_map(|n| n.to_string()),
            (0u32..1_000_000).prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::Number::from_f64(f).unwrap().to_string()),
            (0u32..100_000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b:02}")),
        ]
    }

    proptest! {
        #[test]
        fn ordinary_numbers_are_not_pii(number in ordinary_number(), key in plain_key()) {
            let sc = Scanner::default();
            prop_assert_eq!(sc.number(&number, key.as_deref()), None);
            // Nor the same digits as a string.
            let mut out = String::new();
            prop_assert!(!sc.redact_under(&number, key.as_deref(), |_| {}, &mut out), "{}", out);
        }
    }

    proptest! {
        /// Every generated timestamp and UUID is recognized; in the form
        /// JavaScript's `toISOString` writes, the scan agrees there is
        /// nothing to find (other forms are where it found false phones);
        /// PII next to one is still found.
        #[test]
        fn timestamps_and_uuids_hold_no_pii(
            date in (1000u32..3000, 1u32..=12, 1u32..=31),
            time in prop::option::of((0u32..24, 0u32..60, prop::option::of(0u32..=60), "(\\.[0-9]{1,9})?")),
            space in any::<bool>(),
            zone in "(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?",
            uuid in "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            (h, m, sec, ms) in (0u32..24, 0u32..60, 0u32..60, 0u32..1000),
            email in email(),
            card in card(),
        ) {
            let mut ts = format!("{:04}-{:02}-{:02}", date.0, date.1, date.2);
            if let Some((h, m, sec, fraction)) = time {
                let sep = if space { ' ' } else { 'T' };
                ts.push_str(&format!("{sep}{h:02}:{m:02}"));
                if let Some(sec) = sec {
                    ts.push_str(&format!(":{sec:02}{fraction}"));
                }
                ts.push_str(&zone);
            }
            let iso = format!("{:04}-{:02}-{:02}T{h:02}:{m:02}:{sec:02}.{ms:03}Z", date.0, date.1, date.2);
            for text in [&ts, &uuid, &iso] {
                prop_assert!(is_timestamp_or_uuid(text.as_bytes()), "{}", text);
                for pii in [&email, &card] {
                    for near in [format!("{text} at {pii}"), format!("{pii}, {text}")] {
                        prop_assert!(!redact(&near).contains(pii.as_str()), "{}", near);
                    }
                }
            }
            for text in [&uuid, &iso] {
                let mut found = Vec::new();
                Scanner::default().scan(text.as_bytes(), &mut |f| found.push(f));
                prop_assert!(found.is_empty(), "{} {:?}", text, found);
            }
        }

        /// A card followed by a space and more digits (an expiry, an
        /// amount) is still found.
        #[test]
        fn a_card_before_more_digits_is_found(card in card(), more in "[0-9]{1,6}(/[0-9]{2})?") {
            // (Or the longer run is itself a valid 19-digit card.)
            let text = format!("{card} {more}");
            let out = redact(&text);
            let rest = out.strip_prefix("[credit_card]").map(str::trim_start);
            prop_assert!(rest.is_some_and(|rest| more.ends_with(rest)), "{}", out);
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in ".*") {
            let _ = Scanner::default().redact(&text, |_| {});
        }

        #[test]
        fn never_panics_on_arbitrary_encoded_text(text in "[%0-9a-fA-F+@.:u\\\\ -]{0,40}") {
            let _ = Scanner::default().redact(&text, |_| {});
        }

        #[test]
        fn generated_pii_never_survives(
            prefix in "[a-z ]{0,12}",
            suffix in "[a-z ]{0,12}",
            email in email(),
            card in card(),
            octets in prop::array::uniform3(0u8..=255),
            host in 1u8..=255,
            // Runs of zero groups, so std writes the compressed (`::`)
            // forms; a nonzero last group, as a host-zeroed address is a
            // network (what `truncate_ip` leaves), not a person.
            groups in prop::array::uniform7(prop_oneof![Just(0u16), Just(1u16), any::<u16>()]),
            last in 1u16..,
        ) {
            let ip = format!("{}.{}.{}.{host}", octets[0], octets[1], octets[2]);
            let mut all = [last; 8];
            all[..7].copy_from_slice(&groups);
            let v6 = Ipv6Addr::from(all).to_string();
            let text = format!("{prefix} {email} {suffix} {card} ({ip}) {v6}, {prefix}");
            let out = redact(&text);
            prop_assert!(!out.contains(&email), "{out}");
            prop_assert!(!out.contains(&card), "{out}");
            prop_assert!(!out.contains(&ip), "{out}");
            prop_assert!(out.contains("[ip], "), "{out}");
            let encoded = text.replace('@', "%40");
            prop_assert!(!redact(&encoded).contains(&email.replace('@', "%40")));
        }
    }
    #[test]
    fn shortest_pii_is_not_skipped() {
        let sc = Scanner::default();
        for (text, detector) in [
            ("1.2.3.4", Detector::Ip),
            ("::1", Detector::Ip),
            ("a@b.co", Detector::Email),
        ] {
            assert!(!too_short_for_pii(text.as_bytes()), "{text}");
            let found = sc.find(text);
            assert_eq!(found.len(), 1, "{text}");
            assert_eq!(found[0].detector, detector, "{text}");
        }
        for text in ["8", "156", "ord-1", "v1.2.3", "+1 (2)"] {
            assert!(too_short_for_pii(text.as_bytes()), "{text}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// What `find` skips as too short, the scan finds nothing in (the
        /// unit test `shortest_pii_is_not_skipped` pins the boundary).
        #[test]
        fn short_values_skipped_hold_nothing(
            text in prop::collection::vec(prop::sample::select(vec![
                "0", "1", "4", "9", "12", "255", "DE", "89", "fe", "a", "Z", "_", ":", ".", "-",
                "/", " ", "+", "(", ")", "@", "%", "\\", "\u{e9}",
            ]), 0..7).prop_map(|parts| parts.concat()),
            only in prop::option::of(prop::sample::select(Detector::ALL.to_vec())),
        ) {
            let sc = only.map_or_else(Scanner::default, |d| Scanner::new(&[d]));
            if too_short_for_pii(text.as_bytes()) {
                let mut found = Vec::new();
                sc.scan(text.as_bytes(), &mut |f| found.push(f));
                prop_assert!(found.is_empty(), "{:?} {:?}", text, found);
            }
        }

        /// The anchored scan finds what visiting every byte finds, on text
        /// dense in near misses, with every detector and with each alone.
        #[test]
        fn anchored_scan_agrees_with_the_bytewise_scan(
            text in prop::collection::vec(prop::sample::select(vec![
                "0", "1", "4", "9", "12", "255", "4111", "0958", "DE", "GB", "89", "fe", "80",
                "FE", "a", "x", "Z", "_", ":", "::", ".", "-", "/", " ", "+", "(", ")", "@",
                "%40", "%25", "\\u0040", "ex.com", "mail", "\u{e9}", "fe80::1", "FE80::",
                "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111", "+44 20 7946 0958",
                "10.1.2.3", "a@b.co",
            ]), 0..16).prop_map(|parts| parts.concat()),
            only in prop::option::of(prop::sample::select(Detector::ALL.to_vec())),
        ) {
            let sc = only.map_or_else(Scanner::default, |d| Scanner::new(&[d]));
            let mut found = Vec::new();
            sc.scan(text.as_bytes(), &mut |f| found.push(f));
            prop_assert_eq!(found, reference_scan(&sc, text.as_bytes()), "{:?}", text);
        }
    }
}
