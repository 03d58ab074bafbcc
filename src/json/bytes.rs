//! Byte-class tests over whole strings, eight or sixteen bytes at a time
//! (SWAR: plain `u64` arithmetic, no `unsafe`, no target features). The
//! policy asks two such questions of nearly every string it sees: "could a
//! PII detector match here?" and "does writing this as JSON need escapes?",
//! and the reader asks "where does this string end?"; answering them a byte
//! at a time cost more than the rest of the answer.
//!
//! The tests are exact: the classic "has less" bit trick (`less_mask`) may
//! flag extra bytes *after* a true match (borrows), never a match where
//! there is none.

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

/// Feeds every byte of `text` to `step`, packed little-endian into pairs
/// of words, sixteen bytes a call, until `step` says stop (`true`, which is
/// then the answer). The rest is read in place by overlapping loads, not
/// copied into a padded buffer (the copy's small stores stall the wide load
/// that follows them): the last sixteen bytes, or for short text two words
/// built from its first and last bytes. Every byte packed is one of
/// `text`'s and every byte of `text` is packed, some twice.
#[inline]
fn scan_pairs(text: &[u8], mut step: impl FnMut(u64, u64) -> bool) -> bool {
    let n = text.len();
    let at = |i: usize| u64::from_le_bytes(text[i..i + 8].try_into().expect("eight bytes"));
    if n >= 16 {
        return (0..n / 16).any(|k| step(at(16 * k), at(16 * k + 8)))
            || (!n.is_multiple_of(16) && step(at(n - 16), at(n - 8)));
    }
    let x = if n >= 8 {
        return step(at(0), at(n - 8));
    } else if n >= 4 {
        let half = |i: usize| {
            u64::from(u32::from_le_bytes(
                text[i..i + 4].try_into().expect("four bytes"),
            ))
        };
        half(0) | half(n - 4) << 32
    } else if n > 0 {
        let four = u32::from_le_bytes([text[0], text[n / 2], text[n - 1], text[n - 1]]);
        u64::from(four) * 0x1_0000_0001
    } else {
        return false;
    };
    step(x, x)
}

/// Whether any byte of `text` is flagged by `word` (asked of eight bytes
/// packed little-endian; a flag only ever follows a true one, so "any" is
/// exact). Sixteen bytes a step with one branch.
#[inline]
fn any_in(text: &[u8], word: impl Fn(u64) -> u64) -> bool {
    scan_pairs(text, |lo, hi| word(lo) | word(hi) != 0)
}

/// `text` holds an ASCII digit, an `@`, a `:` or an `=` (what every PII
/// detector needs, see `pii::may_hold_pii`).
pub(crate) fn has_pii_trigger(text: &[u8]) -> bool {
    // `0`..=`9` and `:` are adjacent (0x30..=0x3a): eleven bytes from `0`.
    any_in(text, |x| {
        less_mask(x ^ (ONES * u64::from(b'0')), 11) | eq_mask(x, b'@') | eq_mask(x, b'=')
    })
}

/// What of [`has_pii_trigger`]'s bytes `text` holds: `Some(true)` an ASCII
/// digit or an `@`; `Some(false)` only `:` or `=`; `None` none. One pass,
/// which stops at the first digit or `@`.
pub(crate) fn pii_triggers(text: &[u8]) -> Option<bool> {
    let mut weak = false;
    let strong = scan_pairs(text, |lo, hi| {
        let digit_or_at = |x: u64| less_mask(x ^ (ONES * u64::from(b'0')), 10) | eq_mask(x, b'@');
        let colon_or_equals = |x: u64| eq_mask(x, b':') | eq_mask(x, b'=');
        weak |= colon_or_equals(lo) | colon_or_equals(hi) != 0;
        digit_or_at(lo) | digit_or_at(hi) != 0
    });
    (strong || weak).then_some(strong)
}

/// `text` holds a byte JSON requires escaped: a control character, `"` or `\`.
pub(crate) fn needs_json_escape(text: &[u8]) -> bool {
    any_in(text, |x| {
        less_mask(x, 0x20) | eq_mask(x, b'"') | eq_mask(x, b'\\')
    })
}

/// The index of the first byte from `from` on that `word` flags (asked of
/// eight bytes packed little-endian; it returns the high bit of each
/// flagged byte, exact for the lowest) or, in the tail, `byte` accepts; or
/// `text.len()`.
#[inline(always)]
fn find_first(
    text: &[u8],
    from: usize,
    word: impl Fn(u64) -> u64,
    byte: impl Fn(u8) -> bool,
) -> usize {
    let mut i = from;
    while i + 8 <= text.len() {
        let x = u64::from_le_bytes(text[i..i + 8].try_into().expect("eight bytes"));
        let found = word(x);
        if found != 0 {
            return i + found.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    while i < text.len() && !byte(text[i]) {
        i += 1;
    }
    i
}

/// The index of the first byte from `from` on that a JSON string cannot
/// hold as it is (`"`, `\\` or a control character), or `text.len()`.
#[inline]
pub(crate) fn find_json_special(text: &[u8], from: usize) -> usize {
    find_first(
        text,
        from,
        |x| less_mask(x, 0x20) | eq_mask(x, b'"') | eq_mask(x, b'\\'),
        |b| b < 0x20 || b == b'"' || b == b'\\',
    )
}

/// The index of the first byte from `from` on that is one of `set` (a few
/// bytes, each below 0x80), or `text.len()`.
#[inline]
pub(crate) fn find_any(text: &[u8], from: usize, set: &[u8]) -> usize {
    find_first(
        text,
        from,
        |x| set.iter().fold(0, |found, &b| found | eq_mask(x, b)),
        |b| set.contains(&b),
    )
}

/// The index of the first byte from `from` on that can anchor a PII
/// candidate (a digit, `:`, `@`, `%`, `\\`, `+`, `(` or `=`), or
/// `text.len()`.
#[inline]
pub(crate) fn find_pii_anchor(text: &[u8], from: usize) -> usize {
    find_first(
        text,
        from,
        // `0`..=`9` and `:` are 0x30..=0x3a: after `^ 0x30`, below 11.
        |x| {
            less_mask(x ^ (ONES * 0x30), 11)
                | eq_mask(x, b'@')
                | eq_mask(x, b'%')
                | eq_mask(x, b'\\')
                | eq_mask(x, b'+')
                | eq_mask(x, b'(')
                | eq_mask(x, b'=')
        },
        is_pii_anchor,
    )
}

/// One byte of [`find_pii_anchor`].
fn is_pii_anchor(b: u8) -> bool {
    matches!(b, b'0'..=b':' | b'@' | b'%' | b'\\' | b'+' | b'(' | b'=')
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
        let set = b"&=%+";
        for from in 0..=text.len() {
            let first = text[from..].iter().position(|b| set.contains(b));
            prop_assert_eq!(
                find_any(text, from, set),
                first.map_or(text.len(), |at| from + at)
            );
        }
        for from in 0..=text.len() {
            let first = text[from..].iter().position(|&b| is_pii_anchor(b));
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
        fn agrees_with_bytewise(text in prop::collection::vec(any::<u8>(), 0..40)) {
            agree(&text)?;
        }

        /// Also where matches are rare: text built from near misses.
        #[test]
        fn agrees_on_near_misses(text in prop::collection::vec(
            prop::sample::select(vec![b'/', b':', b';', b'0', b'9', b'?', b'@', b'A', b'!', b'#', b'"', b'\\', b'[', b']', b'%', b'+', b'(', b')', b'*', b'&', b'=', 0x1f, 0x20, 0x7f, 0x80, 0xff]),
            0..40,
        )) {
            agree(&text)?;
        }
    }
}
