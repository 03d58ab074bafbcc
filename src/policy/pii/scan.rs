//! The scan: one left-to-right pass over a string, stopping at anchors,
//! trying the detectors that can start there in order of priority, and
//! letting context decide each candidate ([`super::context::decide`]);
//! then the percent-decoded and JSON-unescaped views, and the matches of
//! all views merged.

use super::context::{self, Field, Strength, Why};
use super::email::email_anchor;
use super::iban::iban_at;
use super::ip::{colon_at, ip_hit, ipv4_at, ipv6_at};
use super::numbers::{card_at, long_run_at, ssn_at, ssn_valid};
use super::phone::phone_at;
use super::text::{
    boundary_before, is_word, json_unescape, percent_decode, seven_digits_ahead, too_short_for_pii,
};
use super::{name, Detector, Found, Scanner};

/// The escapes a scan saw: where they are, a decoded view may hold more.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Seen {
    /// A `%` (a percent-decoded view).
    pub(super) percent: bool,
    /// A `\\` (a JSON-unescaped view).
    pub(super) backslash: bool,
}

/// A candidate after context: the match, and whether it is PII (a
/// refuted or unsupported candidate is still one token: its digits are
/// not read again by another detector).
type Hit = Option<(Found, bool)>;

/// `f` (found in `t` as written) without the hex digits of a percent
/// escape it starts in (`BD` of `%BD`): the decoded view reads escapes,
/// and a token written into one would leave a `%` that escapes nothing.
/// `false` if nothing is left of it.
fn past_escape(t: &[u8], f: &mut Found) -> bool {
    let hex = |k: usize| t.get(k).is_some_and(u8::is_ascii_hexdigit);
    if f.start >= 1 && t[f.start - 1] == b'%' && hex(f.start) && hex(f.start + 1) {
        f.start += 2;
    } else if f.start >= 2 && t[f.start - 2] == b'%' && hex(f.start - 1) && hex(f.start) {
        f.start += 1;
    }
    // An end inside one takes the whole escape.
    if f.end >= 1 && t[f.end - 1] == b'%' && hex(f.end) && hex(f.end + 1) {
        f.end += 2;
    } else if f.end >= 2 && t[f.end - 2] == b'%' && hex(f.end - 1) && hex(f.end) {
        f.end += 1;
    }
    f.start < f.end
}

impl Scanner {
    /// Every match in `t`, in order, apart (overlaps merged).
    pub(super) fn find_in(&self, t: &[u8], field: &Field<'_>) -> Vec<Found> {
        let mut out = Vec::new();
        if too_short_for_pii(t) {
            return out;
        }
        let seen = self.scan(t, field, &mut |f| out.push(f));
        if seen.percent {
            self.scan_decoded(t, field, &mut out);
        }
        // A JSON text in a string, and one more level in it (a Snowplow
        // `ue_pr` inside an event).
        if let Some((once, map1)) = seen.backslash.then(|| json_unescape(t)).flatten() {
            self.scan(&once, field, &mut |f| {
                out.push(Found {
                    start: map1[f.start],
                    end: map1[f.end],
                    ..f
                })
            });
            if let Some((twice, map2)) = json_unescape(&once) {
                self.scan(&twice, field, &mut |f| {
                    out.push(Found {
                        start: map1[map2[f.start]],
                        end: map1[map2[f.end]],
                        ..f
                    })
                });
            }
        }
        if seen.percent {
            out.retain_mut(|f| past_escape(t, f));
        }
        // The scan finds matches in order and (nearly always) apart; only an
        // email, read back from its `@`, can reach into an earlier match,
        // and the decoded views add their own.
        if out.windows(2).all(|w| w[0].end <= w[1].start) {
            return out;
        }
        out.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
        // Overlapping matches become one, of the first's kind.
        let mut kept: Vec<Found> = Vec::with_capacity(out.len());
        for f in out {
            match kept.last_mut() {
                Some(k) if f.start < k.end => k.end = k.end.max(f.end),
                _ => kept.push(f),
            }
        }
        kept
    }

    /// Emits the matches in `t`, in order; whether `t` holds a `%` or a
    /// `\\` (so that a decoded view may hold more).
    ///
    /// Only anchors stop the scan (found sixteen bytes at a time): a digit,
    /// `:`, `@`, `%`, `\\`, `+`, `(` or `=`. Candidates that start with
    /// letters are met at their first anchor and read from their start:
    /// an IBAN (`DE89…`) at its check digits, an IPv6 address led by hex
    /// letters (`fe80::1`) at its first colon, a name at the `=` or `:`
    /// after its key.
    pub(super) fn scan(&self, t: &[u8], field: &Field<'_>, emit: &mut dyn FnMut(Found)) -> Seen {
        let mut seen = Seen::default();
        // Where the last match ended: nothing is read back past it.
        let mut floor = 0;
        let mut i = 0;
        loop {
            i = crate::json::bytes::find_pii_anchor(t, i);
            let Some(&b) = t.get(i) else {
                return seen;
            };
            seen.percent |= b == b'%';
            seen.backslash |= b == b'\\';
            let found = match b {
                b'@' | b'%' | b'\\' if self.on(Detector::Email) => {
                    email_anchor(t, i).map(|f| (f, true))
                }
                b'0'..=b'9' => self.digit_at(t, i, floor, field),
                b'+' | b'(' if boundary_before(t, i) => self.number_at(t, i, field),
                b':' => self.colon_at(t, i, floor, field),
                b'=' if self.on(Detector::Name) => {
                    name::after_equals(t, i, field).map(|(f, why)| (f.because(why), true))
                }
                _ => None,
            };
            match found {
                Some((f, is_pii)) => {
                    if is_pii {
                        emit(f);
                    }
                    // Every `%` and `\\` before `i` was an anchor; those
                    // inside the match were not seen.
                    for &c in &t[i..f.end.max(i)] {
                        seen.percent |= c == b'%';
                        seen.backslash |= c == b'\\';
                    }
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
                        i = crate::json::bytes::find_non_word(t, i);
                    }
                }
            }
        }
    }

    /// At a colon: an IPv6 address, or a JSON member's name value.
    pub(super) fn colon_at(&self, t: &[u8], i: usize, floor: usize, field: &Field<'_>) -> Hit {
        if self.on(Detector::Ip) {
            if let Some((f, is_pii)) = colon_at(t, i, floor) {
                return Some(self.judged(t, f, is_pii, Strength::Strong, field));
            }
        }
        if self.on(Detector::Name) {
            return name::after_colon(t, i, field).map(|(f, why)| (f.because(why), true));
        }
        None
    }

    /// At a digit: an IBAN whose country code is just before it, or a
    /// digit-led candidate.
    pub(super) fn digit_at(&self, t: &[u8], i: usize, floor: usize, field: &Field<'_>) -> Hit {
        // The hex digits of a percent escape (`%28684`) start nothing: the
        // decoded view reads what the escape stands for.
        if i >= 1 && t[i - 1] == b'%' && t.get(i + 1).is_some_and(u8::is_ascii_hexdigit) {
            return None;
        }
        if self.on(Detector::Iban)
            && i >= floor + 2
            && t[i - 2].is_ascii_alphabetic()
            && t[i - 1].is_ascii_alphabetic()
            && boundary_before(t, i - 2)
        {
            if let Some((f, valid)) = iban_at(t, i - 2) {
                return Some(self.judged(t, f, valid, Strength::Strong, field));
            }
        }
        if boundary_before(t, i) {
            self.number_at(t, i, field)
        } else {
            None
        }
    }

    /// `f`, a valid candidate of `strength` (or, `valid` false, a
    /// look-alike), after context.
    pub(super) fn judged(
        &self,
        t: &[u8],
        f: Found,
        valid: bool,
        strength: Strength,
        field: &Field<'_>,
    ) -> (Found, bool) {
        if !valid {
            return (f, false);
        }
        match context::decide(t, f.start, f.detector, strength, field) {
            Some(why) => (f.because(why), true),
            None => (f, false),
        }
    }

    /// Digit-led candidates: IP, SSN, card, phone (in that order of
    /// priority); the first that context lets stand is the match, or else
    /// the longest candidate is one token of no PII.
    pub(super) fn number_at(&self, t: &[u8], i: usize, field: &Field<'_>) -> Hit {
        let mut seen: Option<Found> = None;
        let keep = |f: Found, seen: &mut Option<Found>| {
            if seen.is_none_or(|s| f.end > s.end) {
                *seen = Some(f);
            }
        };
        if t[i].is_ascii_digit() {
            // The first digit group and what follows it rule out most
            // shapes before their validators read anything: an IPv4 starts
            // `d{1,3}.` (`ipv6_at` makes its own start check).
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
                    let (f, is_pii) = ip_hit(t, f);
                    return Some(self.judged(t, f, is_pii, Strength::Strong, field));
                }
            }
            // An SSN is `ddd` and a separator before two digits, or a bare
            // run of eight or nine digits.
            let ssn_shaped = (group == 3
                && matches!(next, b'-' | b' ' | b'.' | b'+')
                && t.get(i + 4).is_some_and(u8::is_ascii_digit))
                || (group == 4
                    && matches!(
                        t[i..]
                            .iter()
                            .take(10)
                            .take_while(|b| b.is_ascii_digit())
                            .count(),
                        8 | 9
                    ));
            if self.on(Detector::Ssn) && ssn_shaped {
                if let Some((f, strength, valid)) = ssn_at(t, i) {
                    let (f, is_pii) = self.judged(t, f, valid, strength, field);
                    if is_pii {
                        return Some((f, true));
                    }
                    // A dashed look-alike (`000-12-3456`) is no phone.
                    if strength == Strength::Strong {
                        return Some((f, false));
                    }
                    keep(f, &mut seen);
                }
            }
        }
        // Cards and phones both need seven digits or more, read over the
        // bytes they may be written with; most numbers in events are shorter.
        if !seven_digits_ahead(t, i) {
            return seen.map(|f| (f, false));
        }
        if t[i].is_ascii_digit() {
            if let Some((f, strength)) = card_at(t, i).filter(|_| self.on(Detector::CreditCard)) {
                let (f, is_pii) = self.judged(t, f, true, strength, field);
                if is_pii {
                    return Some((f, true));
                }
                keep(f, &mut seen);
            } else if let Some(f) = long_run_at(t, i) {
                keep(f, &mut seen);
                return seen.map(|f| (f, false));
            }
        }
        if self.on(Detector::Phone) {
            if let Some((f, strength)) = phone_at(t, i, &self.plan) {
                let (f, is_pii) = self.judged(t, f, true, strength, field);
                if is_pii {
                    return Some((f, true));
                }
                // A `+` that leads no phone number may be a form's space
                // (`No.+343-51-8252`): what follows is read on its own.
                if t[i] == b'+' {
                    return None;
                }
                keep(f, &mut seen);
            }
        }
        seen.map(|f| (f, false))
    }

    /// Scans the percent-decoded (and twice-decoded) view of `t`, mapping
    /// matches back onto `t`.
    fn scan_decoded(&self, t: &[u8], field: &Field<'_>, out: &mut Vec<Found>) {
        let (once, map1) = percent_decode(t);
        if once.len() == t.len() {
            return;
        }
        let mut push = |f: Found, map: &dyn Fn(usize) -> usize| {
            out.push(Found {
                start: map(f.start),
                end: map(f.end),
                ..f
            });
        };
        self.scan(&once, field, &mut |f| push(f, &|p| map1[p]));
        if once.contains(&b'%') {
            let (twice, map2) = percent_decode(&once);
            if twice.len() != once.len() {
                let mut found = Vec::new();
                self.scan(&twice, field, &mut |f| found.push(f));
                for f in found {
                    push(f, &|p| map1[map2[p]]);
                }
            }
        }
    }

    /// A bare run of digits (all of `t`, at least seven) that is a whole
    /// value under `field`: a card, or what the key says (a phone of 7 to
    /// 15 digits, an SSN of 9 digits or 8 with the leading zero lost).
    pub(super) fn digit_run(&self, t: &[u8], field: &Field<'_>) -> Option<Found> {
        let whole = |d: Detector, why: Why| Found {
            start: 0,
            end: t.len(),
            detector: d,
            why,
        };
        if self.on(Detector::CreditCard) {
            if let Some((f, strength)) = card_at(t, 0).filter(|(f, _)| f.end == t.len()) {
                if let Some(why) = context::decide(t, 0, f.detector, strength, field) {
                    return Some(whole(Detector::CreditCard, why));
                }
            }
        }
        let decide = |d: Detector| context::decide(t, 0, d, Strength::Weak, field);
        if self.on(Detector::Phone) && t.len() <= 15 {
            if let Some(why) = decide(Detector::Phone) {
                return Some(whole(Detector::Phone, why));
            }
        }
        if self.on(Detector::Ssn) && t.len() <= 9 {
            // A number loses an SSN's leading zeros.
            let mut digits = [0u8; 9];
            for (d, b) in digits[9 - t.len()..].iter_mut().zip(t) {
                *d = b - b'0';
            }
            if ssn_valid(&digits) {
                if let Some(why) = decide(Detector::Ssn) {
                    return Some(whole(Detector::Ssn, why));
                }
            }
        }
        None
    }
}
