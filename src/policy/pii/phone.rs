//! Phone numbers: a written shape (digit groups, separators, a `+` or
//! `00` before a calling code, a parenthesized area code or trunk `(0)`),
//! then the numbering plans ([`super::numbering`]) for how sure it is.
//!
//! - International (`+44 20 7946 0958`, `0044 20 …`, `+44 (0)20 …`,
//!   `tel:+1-…`): strong when a calling code starts it and the rest has a
//!   length its plan allows, weak otherwise.
//! - National, grouped (`612 345 678`, `020 7946 0958`, `(555) 010-0100`,
//!   `1-415-555-0132`): strong when valid in one of the scanner's regions
//!   (or in the North American `(NXX) XXX-XXXX` layout), weak otherwise.
//! - A bare run of digits (`4155550132`): weak: ids, timestamps and
//!   barcodes look the same; a key or a word must say phone.
//! - Written as a decimal, a version or a path is (`0664.1068586`,
//!   `030.12345678`, `8983/3270298`, `1.2.3.4.5678`): weak, and so only
//!   under a phone key or after a phone word (`phone=0151.23456789`).

use super::context::Strength;
use super::numbering::{self, International, Plan};
use super::text::{boundary_after, date_at, Digits};
use super::{Detector, Found};

/// What separates the groups of a written number.
const SEPS: &[u8] = b" -./+";

/// A phone number at `i` (a digit, `+` or `(`), and how sure its shape is.
pub(super) fn phone_at(t: &[u8], i: usize, plan: &Plan) -> Option<(Found, Strength)> {
    // A date (and the time after it, `2026-11-23 21:26`) is not a number
    // written with dashes.
    if date_at(t, i) && !t.get(i + 10).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut international = false;
    let mut j = i;
    if t[i] == b'+' {
        if !t
            .get(i + 1)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'(')
        {
            return None;
        }
        international = true;
        j += 1;
    }
    let shape = read(t, j, international)?;
    if !boundary_after(t, shape.end) && !extension_after(t, shape.end) {
        return None;
    }
    let mut ascii = [0u8; Digits::MAX];
    let n = shape.digits.ascii(&mut ascii);
    let mut d = &ascii[..n];
    // `00` is the international prefix of most of the world.
    if !international && d.len() > 9 && d.starts_with(b"00") && d[2] != b'0' {
        international = true;
        d = &d[2..];
    }
    let found = Found::new(i, shape.end, Detector::Phone);
    if international {
        if !(8..=15).contains(&d.len()) || d[0] == b'0' {
            return None;
        }
        let strength = match numbering::international(d) {
            _ if shape.ambiguous => Strength::Weak,
            International::Valid | International::Possible => Strength::Strong,
            International::Not => Strength::Weak,
        };
        return Some((found, strength));
    }
    // Not a number anyone dials: `000…`, one digit repeated.
    if shape.trunk_paren
        || !(7..=15).contains(&d.len())
        || d.starts_with(b"000")
        || d.iter().all(|&b| b == d[0])
    {
        return None;
    }
    if shape.looks_like_a_date(t, i) {
        return None;
    }
    let grouped = shape.groups >= 2;
    let strength = if grouped
        && !shape.ambiguous
        && !shape.looks_like_thousands()
        && (plan.national(d) || shape.nanp)
    {
        Strength::Strong
    } else {
        Strength::Weak
    };
    Some((found, strength))
}

/// Whether an extension glued to the number follows `t[end]` (`x204`,
/// `X12`): the number ends before it, the extension is no one's.
fn extension_after(t: &[u8], end: usize) -> bool {
    if !matches!(t.get(end), Some(b'x' | b'X')) {
        return false;
    }
    let digits = t[end + 1..]
        .iter()
        .take(7)
        .take_while(|b| b.is_ascii_digit())
        .count();
    (1..=6).contains(&digits) && boundary_after(t, end + 1 + digits)
}

/// The written shape of a number.
struct Shape {
    /// Offset past the last digit (or `)`).
    end: usize,
    digits: Digits,
    /// Digit groups, parenthesized ones included.
    groups: usize,
    /// A `(0)` after the calling code (`+44 (0)20`): the trunk prefix,
    /// not dialled from abroad.
    trunk_paren: bool,
    /// Laid out as a North American number: `(NXX) XXX-XXXX`,
    /// `NXX-XXX-XXXX` or with dots (the layout alone: `555-010-0100` is
    /// written as a phone number, whether or not it is assigned).
    nanp: bool,
    /// Group lengths, in order (the first eight).
    lengths: [u8; 8],
    /// `/` separators.
    slashes: usize,
    /// Written as a decimal, a version or a path is (`0664.1068586`,
    /// `8983/3270298`): a phone number only when context says so.
    ambiguous: bool,
}

impl Shape {
    /// `23.11.2026`, `11/23/2026`, `2026/11/23` (and a time after it):
    /// three groups, joined by one of `.`, `/`, `-`, that make a day, a
    /// month and a year.
    fn looks_like_a_date(&self, t: &[u8], i: usize) -> bool {
        let d = &self.digits;
        let l = &self.lengths[..self.groups.min(8)];
        if l.len() < 3 {
            return false;
        }
        let two = |at: usize, len: u8| {
            if len == 1 {
                d[at]
            } else {
                d[at] * 10 + d[at + 1]
            }
        };
        let (a, b) = (usize::from(l[0]), usize::from(l[0] + l[1]));
        let day_month = |x: u8, y: u8| (1..=31).contains(&x) && (1..=12).contains(&y);
        let date = match (l[0], l[1], l[2]) {
            // dd.mm.yyyy, mm/dd/yyyy
            (1 | 2, 1 | 2, 4) => {
                let (x, y) = (two(0, l[0]), two(a, l[1]));
                day_month(x, y) || day_month(y, x)
            }
            // yyyy-mm-dd
            (4, 2, 2) => day_month(two(b, 2), two(a, 2)),
            _ => false,
        };
        let seps: Vec<u8> = t[i..self.end]
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_digit())
            .take(2)
            .collect();
        date && matches!(seps[..], [s, t2] if s == t2 && matches!(s, b'.' | b'/' | b'-'))
    }
}

impl Shape {
    /// `1 000 000`, `2.500.000`: one digit, then groups of three.
    fn looks_like_thousands(&self) -> bool {
        let l = &self.lengths[..self.groups.min(8)];
        l.len() >= 2 && l[0] == 1 && l[1..].iter().all(|&g| g == 3)
    }
}

/// Reads the digit groups from `j`; `None` when the shape is not a
/// phone's (too many digits, an empty group). Dots between long groups
/// and slashes other than an area code's make it [`Shape::ambiguous`].
fn read(t: &[u8], mut j: usize, international: bool) -> Option<Shape> {
    let mut s = Shape {
        end: j,
        digits: Digits::new(),
        groups: 0,
        trunk_paren: false,
        nanp: false,
        lengths: [0; 8],
        slashes: 0,
        ambiguous: false,
    };
    let mut dots = false;
    let mut longest = 0;
    let mut paren_first = false;
    loop {
        if t.get(j) == Some(&b'(') {
            // A parenthesized group of digits (`(555)`, `(0)`); anything
            // else in parentheses ends the number before it.
            let close = t[j + 1..]
                .iter()
                .take(7)
                .position(|&b| b == b')')
                .map(|p| p + j + 1);
            let inner = close.map_or(&t[j..j], |close| &t[j + 1..close]);
            let Some(close) = close.filter(|_| {
                !inner.is_empty()
                    && inner.iter().all(u8::is_ascii_digit)
                    && (inner.len() >= 2 || (inner == b"0" && (international || s.groups > 0)))
            }) else {
                if s.groups == 0 {
                    return None;
                }
                break;
            };
            if inner == b"0" && (international || s.groups > 0) {
                s.trunk_paren = international;
            } else {
                inner.iter().for_each(|b| s.digits.push(b - b'0'));
                paren_first |= s.groups == 0;
            }
            if s.groups < 8 {
                s.lengths[s.groups] = inner.len() as u8;
            }
            s.groups += 1;
            j = close + 1;
            s.end = j;
            if t.get(j).is_some_and(|b| matches!(b, b' ' | b'-'))
                && t.get(j + 1).is_some_and(u8::is_ascii_digit)
            {
                j += 1;
            }
            if !t.get(j).is_some_and(u8::is_ascii_digit) {
                break;
            }
            continue;
        }
        let start = j;
        while j < t.len() && t[j].is_ascii_digit() {
            if s.digits.len() == 17 {
                return None;
            }
            s.digits.push(t[j] - b'0');
            j += 1;
        }
        let len = j - start;
        if len == 0 {
            return None;
        }
        if s.groups < 8 {
            s.lengths[s.groups] = len as u8;
        }
        s.groups += 1;
        longest = longest.max(len);
        s.end = j;
        match t.get(j) {
            Some(&sep)
                if SEPS.contains(&sep)
                    && t.get(j + 1)
                        .is_some_and(|b| b.is_ascii_digit() || *b == b'(') =>
            {
                dots |= sep == b'.';
                s.slashes += usize::from(sep == b'/');
                j += 1;
            }
            Some(b'(') => {}
            _ => break,
        }
    }
    // Coordinates and decimals (`35.6577695`), dates (`09/19/2022`); a
    // slash only between an area code and a subscriber number
    // (`030/1234567`).
    let l = &s.lengths[..s.groups.min(8)];
    let slash_ok = s.slashes == 0
        || (s.slashes == 1
            && l.len() == 2
            && (2..=5).contains(&l[0])
            && l[1] >= 3
            && s.digits[0] == 0);
    // Dotted, a phone number has three groups or more, of two to four
    // digits (`06.12.34.56.78`, `415.555.0132`); `35.6577695` is a
    // decimal, `3.2.1.0.4` a version or an OID.
    let shortest = l.iter().copied().min().unwrap_or(0);
    s.ambiguous = (dots && (longest > 4 || shortest < 2 || l.len() < 3)) || !slash_ok;
    s.nanp = s.digits.len() == 10
        && (matches!(l, [3, 3, 4]) || (paren_first && matches!(l, [3, 3, 4] | [3, 7])))
        && s.digits[0] >= 2;
    Some(s)
}
