//! Byte-level facts every detector shares: word boundaries, digit runs,
//! timestamps and UUIDs (recognized whole, so that their digit groups are
//! not read as numbers), and the short-value filter.

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

/// An ASCII letter, digit or `_`.
#[inline]
pub(super) fn is_word(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Nothing word-like right before `i`: a UUID's digit group is not a
/// number, nor is the `1.84.3` of `next-1.84.3`. A `/` is a boundary (a
/// URL path segment, `/ip/203.0.113.7`); what the word before a `/` says
/// (`Chrome/120.0.0.0` is a product version) is the context's business.
#[inline]
pub(super) fn boundary_before(t: &[u8], i: usize) -> bool {
    i == 0
        || !(is_word(t[i - 1])
            || (t[i].is_ascii_digit()
                && matches!(t[i - 1], b'.' | b'-' if i >= 2 && t[i - 2].is_ascii_alphanumeric())))
}

/// Nothing word-like right after `end`.
#[inline]
pub(super) fn boundary_after(t: &[u8], end: usize) -> bool {
    end >= t.len()
        || !(is_word(t[end])
            || (matches!(t[end], b'.' | b'-')
                && t.get(end + 1).is_some_and(|b| b.is_ascii_digit())))
}

/// Short values (`8`, `156`, `ord-1`) are common and hold no PII: every
/// detector needs seven bytes or more (`1.2.3.4`, a seven-digit phone),
/// except an email (its `@`, or an encoded one with `%` or `\\`), IPv6
/// (`::1`, its colons) and a name under its key (`fn=Al`, its `=`).
pub(super) fn too_short_for_pii(t: &[u8]) -> bool {
    t.len() < 7
        && !t
            .iter()
            .any(|b| matches!(b, b'@' | b':' | b'%' | b'\\' | b'='))
}

/// Whether the run from `i` of digits and of the bytes phones and cards are
/// written with (` -.+()/`) holds seven digits or more.
pub(super) fn seven_digits_ahead(t: &[u8], i: usize) -> bool {
    let mut digits = 0;
    for &b in &t[i..] {
        if b.is_ascii_digit() {
            digits += 1;
            if digits == 7 {
                return true;
            }
        } else if !matches!(b, b' ' | b'-' | b'.' | b'+' | b'(' | b')' | b'/') {
            break;
        }
    }
    false
}

/// Up to [`Digits::MAX`] digit values, kept inline (this runs at every
/// number in every string: no allocation).
#[derive(Clone, Copy)]
pub(super) struct Digits {
    buf: [u8; Digits::MAX],
    len: usize,
}

impl Digits {
    pub(super) const MAX: usize = 24;

    pub(super) fn new() -> Digits {
        Digits {
            buf: [0; Digits::MAX],
            len: 0,
        }
    }

    pub(super) fn push(&mut self, d: u8) {
        if self.len < Digits::MAX {
            self.buf[self.len] = d;
            self.len += 1;
        }
    }

    /// The digits as ASCII (for the numbering plans' patterns).
    pub(super) fn ascii(&self, out: &mut [u8; Digits::MAX]) -> usize {
        for (o, d) in out.iter_mut().zip(&self.buf[..self.len]) {
            *o = b'0' + d;
        }
        self.len
    }
}

impl std::ops::Deref for Digits {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Digits of `t[i..]` separated by single characters from `seps` (a short
/// list: compared in place, not by a `memchr` call): returns the end
/// offset, the digits (at most `max_digits`), the separator count and the
/// longest group.
pub(super) fn digit_run(t: &[u8], i: usize, seps: &[u8], max_digits: usize) -> Run {
    let max_digits = max_digits.min(Digits::MAX);
    let mut run = Run {
        end: i,
        digits: Digits::new(),
        separators: 0,
        longest: 0,
        first: 0,
        last: 0,
    };
    let mut group = 0;
    let mut j = i;
    while j < t.len() && run.digits.len() < max_digits {
        if t[j].is_ascii_digit() {
            run.digits.push(t[j] - b'0');
            group += 1;
            j += 1;
            run.end = j;
        } else if seps.contains(&t[j])
            && j > i
            && t.get(j + 1).is_some_and(u8::is_ascii_digit)
            && t[j - 1].is_ascii_digit()
        {
            if run.separators == 0 {
                run.first = group;
            }
            run.longest = run.longest.max(group);
            group = 0;
            run.separators += 1;
            j += 1;
        } else {
            break;
        }
    }
    if run.separators == 0 {
        run.first = group;
    }
    run.longest = run.longest.max(group);
    run.last = group;
    run
}

/// A run of digit groups ([`digit_run`]).
pub(super) struct Run {
    /// Offset past the last digit.
    pub end: usize,
    pub digits: Digits,
    pub separators: usize,
    /// Digits in the longest group, the first and the last.
    pub longest: usize,
    pub first: usize,
    pub last: usize,
}

/// Whether all of `t` is a plausible ISO 8601 date or date-time
/// (`2026-11-23T21:26:48.096Z`, offsets, a space for the `T`, years 1000 to
/// 2999, fields in range) or a UUID. Events carry several of each; they are
/// dense in digits, so the scan would stop at nearly every group to find
/// nothing (property-tested), or worse, read `2026-11-23 21` as a
/// ten-digit phone number.
pub(super) fn is_timestamp_or_uuid(t: &[u8]) -> bool {
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
pub(super) fn two_digits(t: &[u8], at: usize, min: u8, max: u8) -> bool {
    match t.get(at..at + 2) {
        Some(&[a, b]) if a.is_ascii_digit() && b.is_ascii_digit() => {
            (min..=max).contains(&((a - b'0') * 10 + (b - b'0')))
        }
        _ => false,
    }
}

/// A plausible ISO 8601 date (`2026-11-23`: years 1000 to 2999, month and
/// day in range) at `at` in `t`.
pub(super) fn date_at(t: &[u8], at: usize) -> bool {
    t.get(at).is_some_and(|b| matches!(b, b'1' | b'2'))
        && two_digits(t, at + 1, 0, 99)
        && t.get(at + 3).is_some_and(u8::is_ascii_digit)
        && t.get(at + 4) == Some(&b'-')
        && two_digits(t, at + 5, 1, 12)
        && t.get(at + 7) == Some(&b'-')
        && two_digits(t, at + 8, 1, 31)
}

/// Whether `c` is of a script written without spaces between words
/// (Chinese, Japanese, Korean, Thai): an ASCII word glued to it
/// (`メールはjane@example.deまで`) is a word of its own.
pub(super) fn unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0E7F}'   // Thai
        | '\u{1100}'..='\u{11FF}' // Hangul jamo
        | '\u{3040}'..='\u{30FF}' // Hiragana, Katakana
        | '\u{3130}'..='\u{318F}' // Hangul compatibility jamo
        | '\u{31F0}'..='\u{31FF}' // Katakana extensions
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
        | '\u{FF66}'..='\u{FF9F}' // halfwidth Katakana
        | '\u{20000}'..='\u{3134F}') // CJK extensions B to G
}

/// The character that ends at `end` in `t` (UTF-8, perhaps invalid: the
/// percent-decoded view is bytes), and its first byte's offset.
pub(super) fn char_before(t: &[u8], end: usize) -> Option<(char, usize)> {
    let mut start = end.checked_sub(1)?;
    while start > 0 && end - start < 4 && t[start] & 0xc0 == 0x80 {
        start -= 1;
    }
    let c = std::str::from_utf8(&t[start..end]).ok()?.chars().next()?;
    Some((c, start))
}

/// The character that starts at `at` in `t`, and its length.
pub(super) fn char_at(t: &[u8], at: usize) -> Option<(char, usize)> {
    let b = *t.get(at)?;
    let len = match b {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return None,
    };
    let c = std::str::from_utf8(t.get(at..at + len)?)
        .ok()?
        .chars()
        .next()?;
    Some((c, len))
}

/// Decodes `%XX` escapes and `+` (form encoding) into a new buffer, with the
/// source offset of every output byte (and one past the end). A `+` that
/// leads a number after a non-word byte (`/call/+4915…`, `phone=+81%20…`)
/// is kept: in a URL it is a plus, and a form writes that plus `%2B`, so a
/// space before a number is rarely what it meant.
pub(super) fn percent_decode(t: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(t.len());
    let mut map = Vec::with_capacity(t.len() + 1);
    let hex = |b: u8| (b as char).to_digit(16);
    let mut i = 0;
    while i < t.len() {
        // Bytes up to the next `%` or `+` are copied as they are, in one
        // piece (most of a URL).
        let next = memchr::memchr2(b'%', b'+', &t[i..]).map_or(t.len(), |n| i + n);
        out.extend_from_slice(&t[i..next]);
        map.extend(i..next);
        i = next;
        let Some(&b) = t.get(i) else { break };
        if b == b'%' && i + 2 < t.len() {
            if let (Some(h), Some(l)) = (hex(t[i + 1]), hex(t[i + 2])) {
                out.push((h * 16 + l) as u8);
                map.push(i);
                i += 3;
                continue;
            }
        }
        let plus = b == b'+'
            && !(t.get(i + 1).is_some_and(u8::is_ascii_digit) && (i == 0 || !is_word(t[i - 1])));
        out.push(if plus { b' ' } else { b });
        map.push(i);
        i += 1;
    }
    map.push(t.len());
    (out, map)
}

/// Undoes JSON string escapes (`\u00fc`, surrogate pairs, `\"`, `\\`,
/// `\/`, `\n`, ...) into a new buffer, with the source offset of every
/// output byte (and one past the end); `None` if `t` has no `\u`. A JSON
/// text inside a string keeps its values escaped (`\u0040`, `\u002B`,
/// `\u00fc`), and this view is where they are read.
pub(super) fn json_unescape(t: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    // A backslash is rare in text; `\u` rarer: no searcher to build.
    let mut at = memchr::memchr(b'\\', t)?;
    while t.get(at + 1) != Some(&b'u') {
        at += 1 + memchr::memchr(b'\\', &t[at + 1..])?;
    }
    let mut out = Vec::with_capacity(t.len());
    let mut map = Vec::with_capacity(t.len() + 1);
    let hex4 = |at: usize| -> Option<u32> {
        let h = std::str::from_utf8(t.get(at..at + 4)?).ok()?;
        u32::from_str_radix(h, 16).ok()
    };
    let mut i = 0;
    while i < t.len() {
        if t[i] == b'\\' {
            let mut utf8 = [0u8; 4];
            let decoded: Option<(usize, usize)> = match t.get(i + 1) {
                Some(b'u') => hex4(i + 2).and_then(|hi| {
                    // A surrogate pair is two escapes.
                    let (c, len) = if (0xd800..0xdc00).contains(&hi) {
                        let lo = t
                            .get(i + 6..i + 8)
                            .filter(|p| p == b"\\u")
                            .and_then(|_| hex4(i + 8))
                            .filter(|lo| (0xdc00..0xe000).contains(lo))?;
                        (0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00), 12)
                    } else {
                        (hi, 6)
                    };
                    let n = char::from_u32(c)?.encode_utf8(&mut utf8).len();
                    Some((n, len))
                }),
                Some(&b) => {
                    let plain = match b {
                        b'"' | b'\\' | b'/' => Some(b),
                        b'n' => Some(b'\n'),
                        b't' => Some(b'\t'),
                        b'r' => Some(b'\r'),
                        _ => None,
                    };
                    plain.map(|p| {
                        utf8[0] = p;
                        (1, 2)
                    })
                }
                None => None,
            };
            if let Some((n, len)) = decoded {
                for &b in &utf8[..n] {
                    out.push(b);
                    map.push(i);
                }
                i += len;
                continue;
            }
        }
        out.push(t[i]);
        map.push(i);
        i += 1;
    }
    map.push(t.len());
    Some((out, map))
}
