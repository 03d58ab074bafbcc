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

/// A class of a few bytes (and perhaps a range of them), listed once: its
/// word, lanes and byte tests are all built from the list.
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
    // A range of bytes, and a few more. The SWAR word reads the range as
    // `(x ^ lo) < n`, which is the range when `lo` is a multiple of a power
    // of two at least its length (checked at compile time).
    ($(#[$doc:meta])* $name:ident = $lo:literal ..= $hi:literal, [$($b:expr),* $(,)?]) => {
        $(#[$doc])*
        struct $name;
        impl $name {
            const LO: u8 = $lo;
            const SPAN: u8 = $hi - $lo;
            const _XOR_READS_RANGE: () =
                assert!(Self::LO % (Self::SPAN + 1).next_power_of_two() == 0);
        }
        impl Class for $name {
            fn word(x: u64) -> u64 {
                let () = Self::_XOR_READS_RANGE;
                less_mask(x ^ (ONES * u64::from(Self::LO)), Self::SPAN + 1) $(| eq_mask(x, $b))*
            }
            fn lanes(x: u8x16) -> u8x16 {
                within16(x, Self::LO, Self::SPAN) $(| eq16(x, $b))*
            }
            fn byte(b: u8) -> bool {
                b.wrapping_sub(Self::LO) <= Self::SPAN $(|| b == $b)*
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

byte_set!(
    /// What every PII detector needs: an ASCII digit, `:`, `@` or `=`
    /// (`0`..=`9` and `:` are adjacent).
    Trigger = b'0'..=b':', [b'@', b'=']
);
byte_set!(
    /// The strong triggers: an ASCII digit or `@`.
    Strong = b'0'..=b'9', [b'@']
);
byte_set!(
    /// What a JSON string cannot hold as it is: a control character, `"`, `\`.
    JsonSpecial = 0..=0x1f, [b'"', b'\\']
);
byte_set!(
    /// What can anchor a PII candidate: a digit, `:`, `@`, `%`, `\`, `+`,
    /// `(` or `=`.
    PiiAnchor = b'0'..=b':', [b'@', b'%', b'\\', b'+', b'(', b'=']
);

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

/// `text` holds a byte the PII scan stops at ([`find_pii_anchor`]).
pub(crate) fn has_pii_anchor(text: &[u8]) -> bool {
    any_in::<PiiAnchor>(text)
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

    // The byte-at-a-time definitions, written here apart from the classes'
    // own `byte` (so that a wrong class cannot agree with itself), as the
    // callers' replaced code wrote them.
    fn ref_trigger(b: u8) -> bool {
        b.is_ascii_digit() || b == b'@' || b == b':' || b == b'='
    }
    fn ref_strong(b: u8) -> bool {
        b.is_ascii_digit() || b == b'@'
    }
    fn ref_weak(b: u8) -> bool {
        b":=".contains(&b)
    }
    fn ref_json(b: u8) -> bool {
        b < 0x20 || b == b'"' || b == b'\\'
    }
    fn ref_form(b: u8) -> bool {
        b"&=%+".contains(&b)
    }
    fn ref_non_word(b: u8) -> bool {
        !(b.is_ascii_alphanumeric() || b == b'_')
    }
    fn ref_field_start(b: u8) -> bool {
        b"&?; \"{,\n".contains(&b)
    }
    fn ref_tab_or_newline(b: u8) -> bool {
        b"\t\n\r".contains(&b)
    }
    fn ref_query_fragment_or_at(b: u8) -> bool {
        b"?#@".contains(&b)
    }
    fn ref_anchor(b: u8) -> bool {
        b.is_ascii_digit() || b"@%\\+(=:".contains(&b)
    }

    /// Every class's `byte`, `lanes` and `word` against its definition, on
    /// every byte value in every lane and word position, among neighbours
    /// of every value (borrows run upwards from a lower byte): `lanes`
    /// exact in every lane, `word` nonzero exactly when a byte is in the
    /// class and its lowest flag on the first such byte.
    fn class_exact<C: Class>(reference: fn(u8) -> bool) {
        for v in 0..=255u8 {
            assert_eq!(C::byte(v), reference(v), "byte {v:#04x}");
            for u in 0..=255u8 {
                for at in 0..16 {
                    let mut lanes = [u; 16];
                    lanes[at] = v;
                    let want = lanes
                        .iter()
                        .enumerate()
                        .fold(0u32, |m, (k, &b)| m | u32::from(reference(b)) << k);
                    let got = C::lanes(u8x16::new(lanes)).to_bitmask();
                    assert_eq!(got, want, "lanes {v:#04x} at {at} among {u:#04x}");
                }
                for at in 0..8 {
                    let mut bytes = [u; 8];
                    bytes[at] = v;
                    let first = bytes.iter().position(|&b| reference(b));
                    let found = C::word(u64::from_le_bytes(bytes));
                    assert_eq!(
                        (found != 0).then(|| found.trailing_zeros() as usize / 8),
                        first,
                        "word {v:#04x} at {at} among {u:#04x}"
                    );
                    assert_eq!(found & !HIGHS, 0, "word flags only high bits");
                }
            }
        }
    }

    #[test]
    fn classes_exact_on_every_byte() {
        class_exact::<Trigger>(ref_trigger);
        class_exact::<Strong>(ref_strong);
        class_exact::<Weak>(ref_weak);
        class_exact::<JsonSpecial>(ref_json);
        class_exact::<FormSpecial>(ref_form);
        class_exact::<NonWord>(ref_non_word);
        class_exact::<FieldStart>(ref_field_start);
        class_exact::<TabOrNewline>(ref_tab_or_newline);
        class_exact::<QueryFragmentOrAt>(ref_query_fragment_or_at);
        class_exact::<PiiAnchor>(ref_anchor);
    }

    /// The first byte from `from` on in `class`, or `text.len()`; `from`
    /// past the end as the old loops left it (unchanged).
    fn first(text: &[u8], from: usize, class: fn(u8) -> bool) -> usize {
        let mut i = from;
        while i < text.len() && !class(text[i]) {
            i += 1;
        }
        i
    }

    /// Every test gives the byte-at-a-time answer on `text`, every finder
    /// from every start (and past the end), `rfind_field_start` over every
    /// range.
    fn agree(text: &[u8]) -> Result<(), TestCaseError> {
        let any = |class: fn(u8) -> bool| text.iter().any(|&b| class(b));
        prop_assert_eq!(has_pii_trigger(text), any(ref_trigger));
        prop_assert_eq!(needs_json_escape(text), any(ref_json));
        let (strong, weak) = (any(ref_strong), any(ref_weak));
        prop_assert_eq!(pii_triggers(text), (strong || weak).then_some(strong));
        prop_assert_eq!(has_tab_or_newline(text), any(ref_tab_or_newline));
        prop_assert_eq!(
            has_query_fragment_or_at(text),
            any(ref_query_fragment_or_at)
        );
        type Finder = (fn(&[u8], usize) -> usize, fn(u8) -> bool);
        let finders: [Finder; 5] = [
            (find_colon_or_equals, ref_weak),
            (find_non_word, ref_non_word),
            (find_form_special, ref_form),
            (find_pii_anchor, ref_anchor),
            (find_json_special, ref_json),
        ];
        for (k, (find, class)) in finders.into_iter().enumerate() {
            for from in 0..=text.len() + 2 {
                prop_assert_eq!(find(text, from), first(text, from, class), "finder {}", k);
            }
        }
        for from in 0..=text.len() {
            for to in from..=text.len() {
                let last = text[from..to].iter().rposition(|&b| ref_field_start(b));
                prop_assert_eq!(rfind_field_start(text, from, to), last.map(|at| from + at));
            }
        }
        Ok(())
    }

    /// Bytes on and next to every class's edges, and non-ASCII bytes that
    /// `| 0x20` or `^ 0x30` map near them.
    fn near_miss() -> impl Strategy<Value = u8> {
        prop::sample::select(vec![
            0x00, b'\t', b'\n', 0x0b, b'\r', 0x1f, b' ', b'!', b'"', b'#', b'$', b'%', b'&', b'\'',
            b'(', b')', b'*', b'+', b',', b'-', b'/', b'0', b'9', b':', b';', b'<', b'=', b'>',
            b'?', b'@', b'A', b'Z', b'[', b'\\', b']', b'^', b'_', b'`', b'a', b'z', b'{', b'|',
            0x7f, 0x80, 0xa0, 0xbf, 0xc0, 0xc1, 0xda, 0xdb, 0xdf, 0xe0, 0xe1, 0xfa, 0xff,
        ])
    }

    proptest! {
        /// Agrees with the byte-at-a-time definition on any bytes.
        #[test]
        fn agrees_with_bytewise(text in prop::collection::vec(any::<u8>(), 0..100)) {
            agree(&text)?;
        }

        /// Also where matches are rare: text built from near misses.
        #[test]
        fn agrees_on_near_misses(text in prop::collection::vec(near_miss(), 0..100)) {
            agree(&text)?;
        }

        /// Mostly plain text (letters, so every class but `NonWord` is
        /// rare) with a few near misses, at lengths on each side of a
        /// block's and a word's edge.
        #[test]
        fn agrees_across_block_edges(
            len in prop::sample::select(vec![
                1usize, 3, 4, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 47, 48, 49, 63, 64, 65,
            ]),
            plain in any::<u8>().prop_map(|b| b'a' + b % 26),
            few in prop::collection::vec((any::<prop::sample::Index>(), near_miss()), 0..4),
        ) {
            let mut text = vec![plain; len];
            for (at, b) in few {
                text[at.index(len)] = b;
            }
            agree(&text)?;
        }
    }
}
