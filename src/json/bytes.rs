//! Byte-class tests over whole strings, sixteen bytes at a time. The
//! policy asks two such questions of nearly every string it sees: "could a
//! PII detector match here?" and "does writing this as JSON need escapes?",
//! and the reader asks "where does this string end?"; answering them a byte
//! at a time cost more than the rest of the answer.
//!
//! Text of sixteen bytes or more is read in 128-bit vectors through
//! [`wide`] (safe code; SSE2, part of every x86-64, or NEON on aarch64,
//! with a portable fallback elsewhere): one compare per byte class and one
//! mask per block. Shorter text is packed into `u64` words (SWAR), whose
//! "has less" bit trick (`less_mask`) may flag extra bytes *after* a true
//! match (borrows), never a match where there is none. Each class is
//! written once for each width, side by side, and the proptests below hold
//! both to the byte-at-a-time definition.

use wide::u8x16;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` below `n` (`n <= 128`), and perhaps
/// of bytes after the first such: the lowest flagged byte is exact.
#[inline]
fn less_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS
}

/// The high bit of each byte of `x` equal to `b`, exact for the lowest.
#[inline]
fn eq_mask(x: u64, b: u8) -> u64 {
    less_mask(x ^ (ONES * u64::from(b)), 1)
}

/// The sixteen bytes of `text` from `i`.
#[inline(always)]
fn block(text: &[u8], i: usize) -> u8x16 {
    u8x16::new(text[i..i + 16].try_into().expect("sixteen bytes"))
}

/// Lanes of `x` equal to `b` (all ones), others zero.
#[inline(always)]
fn eq16(x: u8x16, b: u8) -> u8x16 {
    x.simd_eq(u8x16::splat(b))
}

/// Lanes of `x` from `lo` to `lo + span` inclusive (unsigned, wrapping).
#[inline(always)]
fn within16(x: u8x16, lo: u8, span: u8) -> u8x16 {
    (x - u8x16::splat(lo))
        .saturating_sub(u8x16::splat(span))
        .simd_eq(u8x16::ZERO)
}

/// One byte class, at each width.
trait Class {
    /// The high bit of each byte in the class, exact for the lowest (by
    /// default byte by byte, exact for all).
    fn word(x: u64) -> u64 {
        (0..8).fold(0, |found, k| {
            found | u64::from(Self::byte((x >> (8 * k)) as u8)) << (8 * k + 7)
        })
    }
    /// Lanes in the class.
    fn lanes(x: u8x16) -> u8x16;
    /// One byte.
    fn byte(b: u8) -> bool;
}

/// Feeds every byte of `text` of sixteen or more to `step`, sixteen bytes
/// a call, until `step` says stop (`true`, which is then the answer); the
/// last sixteen are read again (overlapping) rather than copied into a
/// padded buffer (the copy's small stores stall the wide load that follows
/// them). Every byte read is one of `text`'s and every byte of `text` is
/// read, some twice.
#[inline(always)]
fn any_block(text: &[u8], mut step: impl FnMut(u8x16) -> bool) -> bool {
    let n = text.len();
    debug_assert!(n >= 16);
    (0..n / 16).any(|k| step(block(text, 16 * k)))
        || (!n.is_multiple_of(16) && step(block(text, n - 16)))
}

/// Whether any byte of `text` is in class `C`.
#[inline]
fn any_in<C: Class>(text: &[u8]) -> bool {
    match text.len() {
        16.. => any_block(text, |x| C::lanes(x).any()),
        0 => false,
        _ => {
            let (lo, hi) = short_words(text);
            C::word(lo) | C::word(hi) != 0
        }
    }
}

/// Text of one to fifteen bytes as two words that between them hold every
/// byte of it and no other (some twice).
#[inline]
fn short_words(text: &[u8]) -> (u64, u64) {
    let n = text.len();
    debug_assert!((1..16).contains(&n));
    let at = |i: usize| u64::from_le_bytes(text[i..i + 8].try_into().expect("eight bytes"));
    if n >= 8 {
        (at(0), at(n - 8))
    } else if n >= 4 {
        let half = |i: usize| {
            u64::from(u32::from_le_bytes(
                text[i..i + 4].try_into().expect("four bytes"),
            ))
        };
        let x = half(0) | half(n - 4) << 32;
        (x, x)
    } else {
        let four = u32::from_le_bytes([text[0], text[n / 2], text[n - 1], text[n - 1]]);
        let x = u64::from(four) * 0x1_0000_0001;
        (x, x)
    }
}

/// A class of a few bytes, listed once: its word, lanes and byte tests
/// are all built from the list.
macro_rules! byte_set {
    ($(#[$doc:meta])* $name:ident = [$($b:expr),+ $(,)?]) => {
        $(#[$doc])*
        struct $name;
        impl Class for $name {
            fn word(x: u64) -> u64 {
                0 $(| eq_mask(x, $b))+
            }
            fn lanes(x: u8x16) -> u8x16 {
                u8x16::ZERO $(| eq16(x, $b))+
            }
            fn byte(b: u8) -> bool {
                false $(|| b == $b)+
            }
        }
    };
}

byte_set!(
    /// The weak triggers: `:` or `=`.
    Weak = [b':', b'=']
);
byte_set!(
    /// Where a form-encoded query's parsing stops: `&`, `=`, `%` or `+`.
    FormSpecial = [b'&', b'=', b'%', b'+']
);
byte_set!(
    /// Where a field's key starts in a query or JSON text, read backwards:
    /// after `&`, `?`, `;`, a space, `"`, `{`, `,` or a line break.
    FieldStart = [b'&', b'?', b';', b' ', b'"', b'{', b',', b'\n']
);
byte_set!(
    /// What URL parsers drop anywhere: a tab, `\n` or `\r`.
    TabOrNewline = [b'\t', b'\n', b'\r']
);
byte_set!(
    /// What starts a URL's query, fragment or userinfo's end: `?`, `#`, `@`.
    QueryFragmentOrAt = [b'?', b'#', b'@']
);

/// What every PII detector needs: an ASCII digit, `:`, `@` or `=`.
struct Trigger;
impl Class for Trigger {
    fn word(x: u64) -> u64 {
        // `0`..=`9` and `:` are adjacent (0x30..=0x3a): eleven bytes from `0`.
        less_mask(x ^ (ONES * u64::from(b'0')), 11) | eq_mask(x, b'@') | eq_mask(x, b'=')
    }
    fn lanes(x: u8x16) -> u8x16 {
        within16(x, b'0', 10) | eq16(x, b'@') | eq16(x, b'=')
    }
    fn byte(b: u8) -> bool {
        matches!(b, b'0'..=b':' | b'@' | b'=')
    }
}

/// The strong triggers: an ASCII digit or `@`.
struct Strong;
impl Class for Strong {
    fn word(x: u64) -> u64 {
        less_mask(x ^ (ONES * u64::from(b'0')), 10) | eq_mask(x, b'@')
    }
    fn lanes(x: u8x16) -> u8x16 {
        within16(x, b'0', 9) | eq16(x, b'@')
    }
    fn byte(b: u8) -> bool {
        b.is_ascii_digit() || b == b'@'
    }
}

/// What a JSON string cannot hold as it is: a control character, `"`, `\`.
struct JsonSpecial;
impl Class for JsonSpecial {
    fn word(x: u64) -> u64 {
        less_mask(x, 0x20) | eq_mask(x, b'"') | eq_mask(x, b'\\')
    }
    fn lanes(x: u8x16) -> u8x16 {
        within16(x, 0, 0x1f) | eq16(x, b'"') | eq16(x, b'\\')
    }
    fn byte(b: u8) -> bool {
        b < 0x20 || b == b'"' || b == b'\\'
    }
}

/// What is not part of a word: not an ASCII letter, digit or `_`.
struct NonWord;
impl Class for NonWord {
    // `word`: byte by byte (a negated `less_mask` would not be exact).
    fn lanes(x: u8x16) -> u8x16 {
        !(within16(x, b'0', 9) | within16(x | u8x16::splat(0x20), b'a', 25) | eq16(x, b'_'))
    }
    fn byte(b: u8) -> bool {
        !(b.is_ascii_alphanumeric() || b == b'_')
    }
}

/// What can anchor a PII candidate: a digit, `:`, `@`, `%`, `\`, `+`, `(`
/// or `=`.
struct PiiAnchor;
impl Class for PiiAnchor {
    fn word(x: u64) -> u64 {
        // `0`..=`9` and `:` are 0x30..=0x3a: after `^ 0x30`, below 11.
        less_mask(x ^ (ONES * 0x30), 11)
            | eq_mask(x, b'@')
            | eq_mask(x, b'%')
            | eq_mask(x, b'\\')
            | eq_mask(x, b'+')
            | eq_mask(x, b'(')
            | eq_mask(x, b'=')
    }
    fn lanes(x: u8x16) -> u8x16 {
        within16(x, b'0', 10)
            | eq16(x, b'@')
            | eq16(x, b'%')
            | eq16(x, b'\\')
            | eq16(x, b'+')
            | eq16(x, b'(')
            | eq16(x, b'=')
    }
    fn byte(b: u8) -> bool {
        matches!(b, b'0'..=b':' | b'@' | b'%' | b'\\' | b'+' | b'(' | b'=')
    }
}

/// `text` holds an ASCII digit, an `@`, a `:` or an `=` (what every PII
/// detector needs, see `pii::may_hold_pii`).
pub(crate) fn has_pii_trigger(text: &[u8]) -> bool {
    any_in::<Trigger>(text)
}

/// What of [`has_pii_trigger`]'s bytes `text` holds: `Some(true)` an ASCII
/// digit or an `@`; `Some(false)` only `:` or `=`; `None` none. One pass,
/// which stops at the first digit or `@`.
pub(crate) fn pii_triggers(text: &[u8]) -> Option<bool> {
    let (strong, weak) = match text.len() {
        16.. => {
            let mut weak = false;
            let strong = any_block(text, |x| {
                weak |= Weak::lanes(x).any();
                Strong::lanes(x).any()
            });
            (strong, weak)
        }
        0 => (false, false),
        _ => {
            let (lo, hi) = short_words(text);
            let any = |class: fn(u64) -> u64| class(lo) | class(hi) != 0;
            (any(Strong::word), any(Weak::word))
        }
    };
    (strong || weak).then_some(strong)
}

/// `text` holds a byte JSON requires escaped: a control character, `"` or `\`.
pub(crate) fn needs_json_escape(text: &[u8]) -> bool {
    any_in::<JsonSpecial>(text)
}

/// The index of the first byte from `from` on in class `C`, or
/// `text.len()`: sixteen bytes a step, then the last sixteen again
/// (overlapping, the bytes before `from`'s block masked off), or for text
/// shorter than that eight bytes a step and then byte by byte.
#[inline(always)]
fn find_first<C: Class>(text: &[u8], from: usize) -> usize {
    let n = text.len();
    let mut i = from;
    while i + 16 <= n {
        let found = C::lanes(block(text, i)).to_bitmask();
        if found != 0 {
            return i + found.trailing_zeros() as usize;
        }
        i += 16;
    }
    if i < n && n >= 16 {
        let found = C::lanes(block(text, n - 16)).to_bitmask() >> (i - (n - 16));
        return if found != 0 {
            i + found.trailing_zeros() as usize
        } else {
            n
        };
    }
    while i + 8 <= n {
        let x = u64::from_le_bytes(text[i..i + 8].try_into().expect("eight bytes"));
        let found = C::word(x);
        if found != 0 {
            return i + found.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    while i < n && !C::byte(text[i]) {
        i += 1;
    }
    i
}

/// The index of the first byte from `from` on that a JSON string cannot
/// hold as it is (`"`, `\\` or a control character), or `text.len()`.
#[inline]
pub(crate) fn find_json_special(text: &[u8], from: usize) -> usize {
    find_first::<JsonSpecial>(text, from)
}

/// The index of the first byte from `from` on that is not an ASCII
/// letter, digit or `_` (the end of a word), or `text.len()`.
#[inline]
pub(crate) fn find_non_word(text: &[u8], from: usize) -> usize {
    find_first::<NonWord>(text, from)
}

/// The index of the last byte of `text[from..to]` that can start a field
/// before its key (`&`, `?`, `;`, a space, `"`, `{`, `,`, a line break).
pub(crate) fn rfind_field_start(text: &[u8], from: usize, to: usize) -> Option<usize> {
    let mut end = to;
    while end >= from + 16 {
        let found = FieldStart::lanes(block(text, end - 16)).to_bitmask();
        if found != 0 {
            return Some(end - 16 + (31 - found.leading_zeros() as usize));
        }
        end -= 16;
    }
    if end > from && from + 16 <= text.len() {
        // The rest, fewer than sixteen bytes, in the block from `from`,
        // its bytes from `end` on masked off.
        let found = FieldStart::lanes(block(text, from)).to_bitmask() & ((1 << (end - from)) - 1);
        return (found != 0).then(|| from + (31 - found.leading_zeros() as usize));
    }
    text[from..end]
        .iter()
        .rposition(|&b| FieldStart::byte(b))
        .map(|p| from + p)
}

/// The index of the first `:` or `=` from `from` on, or `text.len()`.
#[inline]
pub(crate) fn find_colon_or_equals(text: &[u8], from: usize) -> usize {
    find_first::<Weak>(text, from)
}

/// `text` holds a byte a URL parser drops (a tab or a line break).
pub(crate) fn has_tab_or_newline(text: &[u8]) -> bool {
    any_in::<TabOrNewline>(text)
}

/// `text` holds a `?`, `#` or `@` (a URL's query, fragment or userinfo).
pub(crate) fn has_query_fragment_or_at(text: &[u8]) -> bool {
    any_in::<QueryFragmentOrAt>(text)
}

/// The index of the first byte from `from` on that ends a form-encoded
/// name or value or says it is encoded (`&`, `=`, `%` or `+`), or
/// `text.len()`.
#[inline]
pub(crate) fn find_form_special(text: &[u8], from: usize) -> usize {
    find_first::<FormSpecial>(text, from)
}

/// The index of the first byte from `from` on that can anchor a PII
/// candidate (a digit, `:`, `@`, `%`, `\\`, `+`, `(` or `=`), or
/// `text.len()`.
#[inline]
pub(crate) fn find_pii_anchor(text: &[u8], from: usize) -> usize {
    find_first::<PiiAnchor>(text, from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges() {
        assert!(!has_pii_trigger(b""));
        assert!(!has_pii_trigger(b"abcdefghij/;?AZ\xff\x80"));
        assert!(has_pii_trigger(b"abcdefgh0"));
        assert!(has_pii_trigger(b"abcdefg9"));
        assert!(has_pii_trigger(b"@"));
        assert!(has_pii_trigger(b"first_name=Jane"));
        assert!(!needs_json_escape(
            "plain text, é and 😀 / : ? ~".as_bytes()
        ));
        assert!(needs_json_escape(b"abcdefgh\x1f"));
        assert!(needs_json_escape(b"abcdefg\""));
        assert!(needs_json_escape(b"\\"));
        assert!(!needs_json_escape(b"\x7f\x20!#[]"));
    }

    /// Both tests give the byte-at-a-time answer on `text`.
    fn agree(text: &[u8]) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            has_pii_trigger(text),
            text.iter()
                .any(|&b| b.is_ascii_digit() || b == b'@' || b == b':' || b == b'=')
        );
        let special = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        prop_assert_eq!(needs_json_escape(text), text.iter().any(|&b| special(b)));
        let strong = text.iter().any(|&b| b.is_ascii_digit() || b == b'@');
        let weak = text.iter().any(|&b| b == b':' || b == b'=');
        prop_assert_eq!(pii_triggers(text), (strong || weak).then_some(strong));
        prop_assert_eq!(
            has_tab_or_newline(text),
            text.iter().any(|b| b"\t\n\r".contains(b))
        );
        prop_assert_eq!(
            has_query_fragment_or_at(text),
            text.iter().any(|b| b"?#@".contains(b))
        );
        for from in 0..=text.len() {
            let first = text[from..].iter().position(|b| b":=".contains(b));
            prop_assert_eq!(
                find_colon_or_equals(text, from),
                first.map_or(text.len(), |at| from + at)
            );
        }
        for from in 0..=text.len() {
            let first = text[from..].iter().position(|&b| NonWord::byte(b));
            prop_assert_eq!(
                find_non_word(text, from),
                first.map_or(text.len(), |at| from + at)
            );
            for to in from..=text.len() {
                let last = text[from..to].iter().rposition(|&b| FieldStart::byte(b));
                prop_assert_eq!(rfind_field_start(text, from, to), last.map(|at| from + at));
            }
        }
        let set = b"&=%+";
        for from in 0..=text.len() {
            let first = text[from..].iter().position(|b| set.contains(b));
            prop_assert_eq!(
                find_form_special(text, from),
                first.map_or(text.len(), |at| from + at)
            );
        }
        for from in 0..=text.len() {
            let first = text[from..].iter().position(|&b| PiiAnchor::byte(b));
            prop_assert_eq!(
                find_pii_anchor(text, from),
                first.map_or(text.len(), |at| from + at)
            );
        }
        for from in 0..=text.len() {
            let first = text[from..].iter().position(|&b| special(b));
            prop_assert_eq!(
                find_json_special(text, from),
                first.map_or(text.len(), |at| from + at)
            );
        }
        Ok(())
    }

    proptest! {
        /// Agrees with the byte-at-a-time definition on any bytes.
        #[test]
        fn agrees_with_bytewise(text in prop::collection::vec(any::<u8>(), 0..70)) {
            agree(&text)?;
        }

        /// Also where matches are rare: text built from near misses.
        #[test]
        fn agrees_on_near_misses(text in prop::collection::vec(
            prop::sample::select(vec![b'/', b':', b';', b'0', b'9', b'?', b'@', b'A', b'!', b'#', b'"', b'\\', b'[', b']', b'%', b'+', b'(', b')', b'*', b'&', b'=', b'#', b'\t', b'\n', b'\r', b'_', b'a', b'z', b'Z', b'{', b'`', b',', b';', b' ', 0x1f, 0x20, 0x7f, 0x80, 0xff]),
            0..70,
        )) {
            agree(&text)?;
        }
    }
}
