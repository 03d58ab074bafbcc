//! IBANs (ISO 13616): a country code, two check digits and the country's
//! account number, of the length the IBAN registry gives for that
//! country, passing mod-97. Upper or lower case, written whole
//! (`GB82WEST12345698765432`) or in groups of four separated by a space,
//! a dash or a form-encoded `+` (`gb82 west 1234 …`, `DE89-3704-…`).

use super::text::boundary_after;
use super::{Detector, Found};

/// IBAN lengths by country: the SWIFT IBAN registry, and the countries
/// that use IBAN-format account numbers outside it.
const LENGTHS: [(&[u8; 2], u8); 111] = [
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AO", 25),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BF", 28),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BJ", 28),
    (b"BR", 29),
    (b"BY", 28),
    (b"CF", 27),
    (b"CG", 27),
    (b"CH", 21),
    (b"CI", 28),
    (b"CM", 27),
    (b"CR", 22),
    (b"CV", 25),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"DZ", 26),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GA", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GQ", 27),
    (b"GR", 27),
    (b"GT", 28),
    (b"GW", 25),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IR", 26),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KM", 27),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MA", 28),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MG", 27),
    (b"MK", 19),
    (b"ML", 28),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"MZ", 25),
    (b"NE", 28),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SN", 28),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TD", 27),
    (b"TG", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// The IBAN length of country `cc` (uppercase), if it has IBANs.
fn length(cc: [u8; 2]) -> Option<usize> {
    LENGTHS
        .binary_search_by(|(c, _)| c.as_slice().cmp(cc.as_slice()))
        .ok()
        .map(|k| usize::from(LENGTHS[k].1))
}

/// An IBAN-shaped run at `i` (its country code), and whether its
/// checksum holds.
pub(super) fn iban_at(t: &[u8], i: usize) -> Option<(Found, bool)> {
    let head = t.get(i..i + 4)?;
    if !(head[0].is_ascii_alphabetic()
        && head[1].is_ascii_alphabetic()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit())
    {
        return None;
    }
    let len = length([head[0].to_ascii_uppercase(), head[1].to_ascii_uppercase()])?;
    // Alphanumerics in one case, whole or in groups of four each led by
    // the same separator (a UUID's 8-4-4 groups are no IBAN's).
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut j = i;
    let mut sep: Option<u8> = None;
    let (mut upper, mut lower) = (false, false);
    while j < t.len() && n < len {
        let b = t[j];
        if b.is_ascii_alphanumeric() {
            if sep.is_some() && n.is_multiple_of(4) && t[j - 1].is_ascii_alphanumeric() {
                break;
            }
            upper |= b.is_ascii_uppercase();
            lower |= b.is_ascii_lowercase();
            chars[n] = b.to_ascii_uppercase();
            n += 1;
            j += 1;
        } else if matches!(b, b' ' | b'-' | b'+')
            && n.is_multiple_of(4)
            && sep.map_or(n == 4, |s| s == b)
            && t.get(j + 1).is_some_and(u8::is_ascii_alphanumeric)
        {
            sep = Some(b);
            j += 1;
        } else {
            break;
        }
    }
    if upper && lower {
        return None;
    }
    if n != len || !boundary_after(t, j) {
        return None;
    }
    // mod-97 over the rearranged, letter-expanded number.
    let mut rem: u32 = 0;
    for &c in chars[4..n].iter().chain(&chars[..4]) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(c - b'A' + 10)) % 97;
        }
    }
    Some((Found::new(i, j, Detector::Iban), rem == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_sorted() {
        assert!(LENGTHS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(length(*b"DE"), Some(22));
        assert_eq!(length(*b"ZZ"), None);
    }
}
