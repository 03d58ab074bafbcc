//! lz-string's `compressToBase64` format, decoded within a bound: older
//! posthog-js sends bodies as `data=<lz64>` with `?compression=lz64`.
//!
//! Why not the `lz-str` crate (used in this module's tests as the
//! reference encoder): its decoder has no output limit, and lz-string is a
//! decompression bomb by construction (n codes can expand to about n²/2
//! characters, and its dictionary grows as much). Here each dictionary
//! entry is a (prefix code, last unit) pair, so the dictionary grows by one
//! small entry per code, and the output stops at `max_units`.
//!
//! Never panics, whatever the input; never allocates more than the input's
//! size in entries plus `max` bytes of output twice over (the UTF-16 units
//! decoded, at most `max / 2` of them, then their text, refused beyond
//! `max` bytes before it is made: a unit can take three bytes as UTF-8).

/// Why an lz64 body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Lz64Error {
    /// A character outside the base64 alphabet.
    #[error("not lz-string base64")]
    BadCharacter,
    /// The stream ends before its end marker, or names an unknown code.
    #[error("the lz-string stream is corrupt or cut short")]
    Corrupt,
    /// The output would exceed the limit.
    #[error("the lz-string stream expands beyond the limit")]
    TooLarge,
    /// The output is not UTF-16 text.
    #[error("the lz-string stream is not text")]
    NotText,
}

const ALPHABET: &[u8; 65] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

/// Bits read most significant first, 6 per character, as lz-string does.
struct Bits<'a> {
    input: &'a [u8],
    next: usize,
    value: u32,
    mask: u32,
}

impl Bits<'_> {
    fn char_value(c: u8) -> Result<u32, Lz64Error> {
        ALPHABET
            .iter()
            .position(|&a| a == c)
            .map(|v| v as u32)
            .ok_or(Lz64Error::BadCharacter)
    }

    fn read(&mut self, n: u32) -> Result<u32, Lz64Error> {
        let mut bits = 0;
        for i in 0..n {
            if self.mask == 0 {
                let c = *self.input.get(self.next).ok_or(Lz64Error::Corrupt)?;
                self.value = Self::char_value(c)?;
                self.next += 1;
                self.mask = 32;
            }
            if self.value & self.mask != 0 {
                bits |= 1 << i;
            }
            self.mask >>= 1;
        }
        Ok(bits)
    }
}

/// One dictionary entry: the entry it extends (`NONE` for a single unit),
/// its last unit, its first unit and its length.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u32,
    last: u16,
    first: u16,
    len: u32,
}

const NONE: u32 = u32::MAX;

/// The text `input` (lz-string `compressToBase64` output) decompresses to,
/// if it takes at most `max` bytes: as UTF-16 units while it is decoded,
/// and as UTF-8 text.
pub fn decompress_base64(input: &str, max: usize) -> Result<String, Lz64Error> {
    let max_units = max / 2;
    let mut bits = Bits {
        input: input.as_bytes(),
        next: 0,
        value: 0,
        mask: 0,
    };
    // Codes 0..3 are the literal-8, literal-16 and end markers.
    let mut dict: Vec<Entry> = vec![
        Entry {
            prefix: NONE,
            last: 0,
            first: 0,
            len: 0,
        };
        3
    ];
    let mut out: Vec<u16> = Vec::new();
    let emit = |dict: &[Entry], code: u32, out: &mut Vec<u16>| -> Result<(), Lz64Error> {
        let entry = dict[code as usize];
        let start = out.len();
        if start + entry.len as usize > max_units {
            return Err(Lz64Error::TooLarge);
        }
        out.resize(start + entry.len as usize, 0);
        let (mut at, mut code) = (out.len(), code);
        while code != NONE {
            let e = dict[code as usize];
            at -= 1;
            out[at] = e.last;
            code = e.prefix;
        }
        Ok(())
    };
    let literal = |bits: &mut Bits<'_>, kind: u32| -> Result<Option<u16>, Lz64Error> {
        match kind {
            0 => Ok(Some(bits.read(8)? as u16)),
            1 => Ok(Some(bits.read(16)? as u16)),
            2 => Ok(None),
            _ => Err(Lz64Error::Corrupt),
        }
    };
    let unit_entry = |unit: u16| Entry {
        prefix: NONE,
        last: unit,
        first: unit,
        len: 1,
    };

    let kind = bits.read(2)?;
    let first = match literal(&mut bits, kind)? {
        Some(unit) => unit,
        None => return Ok(String::new()),
    };
    dict.push(unit_entry(first));
    let mut w = 3u32;
    emit(&dict, w, &mut out)?;
    let (mut width, mut enlarge_in) = (3u32, 4u32);
    loop {
        let mut code = bits.read(width)?;
        if code < 3 {
            match literal(&mut bits, code)? {
                Some(unit) => {
                    dict.push(unit_entry(unit));
                    code = dict.len() as u32 - 1;
                    enlarge_in -= 1;
                }
                None => break,
            }
        }
        if enlarge_in == 0 {
            enlarge_in = 1 << width;
            width += 1;
        }
        let previous = dict[w as usize];
        let entry_first = match (code as usize).cmp(&dict.len()) {
            std::cmp::Ordering::Less => dict[code as usize].first,
            // The entry about to be made: w followed by w's first unit.
            std::cmp::Ordering::Equal => previous.first,
            std::cmp::Ordering::Greater => return Err(Lz64Error::Corrupt),
        };
        dict.push(Entry {
            prefix: w,
            last: entry_first,
            first: previous.first,
            len: previous.len + 1,
        });
        emit(&dict, code, &mut out)?;
        enlarge_in -= 1;
        w = code;
        if enlarge_in == 0 {
            enlarge_in = 1 << width;
            width += 1;
        }
        if width > 32 {
            return Err(Lz64Error::Corrupt);
        }
    }
    let mut text_bytes = 0usize;
    for c in char::decode_utf16(out.iter().copied()) {
        text_bytes += c.map_err(|_| Lz64Error::NotText)?.len_utf8();
    }
    if text_bytes > max {
        return Err(Lz64Error::TooLarge);
    }
    String::from_utf16(&out).map_err(|_| Lz64Error::NotText)
}

impl From<Lz64Error> for crate::tracker_http::error::Unreadable {
    fn from(e: Lz64Error) -> crate::tracker_http::error::Unreadable {
        use Lz64Error::*;
        crate::tracker_http::error::Unreadable::new(match e {
            BadCharacter => "not lz-string base64",
            Corrupt => "the lz-string stream is corrupt or cut short",
            TooLarge => "the lz-string stream expands beyond the limit",
            NotText => "the lz-string stream is not text",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_strings() {
        // From lz-string's own test vectors (also lz-string crate 0.1.1's tests).
        assert_eq!(decompress_base64("IZA", 100).unwrap(), "a");
        assert_eq!(decompress_base64("C4e1Q===", 100).unwrap(), "toto");
        assert_eq!(
            decompress_base64("MYUwBALgTghglgOzCAzhMADsATVFEz4D2CQA", 100).unwrap(),
            "ce train est à destination"
        );
    }

    #[test]
    fn bombs_stop_at_the_limit_and_garbage_is_an_error() {
        let text = "a".repeat(100_000);
        let packed = lz_str::compress_to_base64(&text);
        assert!(packed.len() < 2_000, "{}", packed.len());
        assert_eq!(decompress_base64(&packed, 1_000), Err(Lz64Error::TooLarge));
        assert_eq!(decompress_base64(&packed, 200_000).unwrap(), text);
        // The text, not only its units, is bounded: 1,000 units of `€`
        // (three bytes each in UTF-8) fit 2,000 bytes as units, not as text.
        let euros = lz_str::compress_to_base64("€".repeat(1_000).as_str());
        assert_eq!(decompress_base64(&euros, 2_000), Err(Lz64Error::TooLarge));
        assert_eq!(decompress_base64(&euros, 3_000).unwrap().len(), 3_000);
        assert_eq!(decompress_base64("!!!", 100), Err(Lz64Error::BadCharacter));
        assert_eq!(
            decompress_base64("MYUwBALgTg", 100),
            Err(Lz64Error::Corrupt)
        );
    }

    proptest! {
        #[test]
        fn decodes_what_lz_string_encodes(text in "\\PC{0,300}") {
            let packed = lz_str::compress_to_base64(text.as_str());
            prop_assert_eq!(decompress_base64(&packed, 20_000).unwrap(), text);
        }

        #[test]
        fn never_panics(input in "[A-Za-z0-9+/=]{0,200}") {
            let _ = decompress_base64(&input, 10_000);
        }
    }
}
