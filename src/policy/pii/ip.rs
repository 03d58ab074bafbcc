//! IP addresses: dotted quads (octets ≤ 255, no leading zeros, not part of
//! a longer dotted run such as an OID `1.3.6.1.4`) and IPv6 in every
//! textual form `std` parses (compressed, IPv4-mapped, upper case, with a
//! `%zone` after it). Addresses that identify no one are not PII: a
//! network (`x.y.z.0`, an IPv6 address with a zero interface id: what
//! `truncate_ip` leaves), loopback, unspecified, broadcast and netmasks.

use super::text::{boundary_before, is_word};
use super::{Detector, Found};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address found in `t`, and whether it is PII.
pub(super) fn ip_hit(t: &[u8], f: Found) -> (Found, bool) {
    (f, !identifies_no_one(&t[f.start..f.end]))
}

/// A network, loopback, unspecified, broadcast or netmask address.
fn identifies_no_one(text: &[u8]) -> bool {
    let address = match dotted_quad(text) {
        Some(a) => Some(IpAddr::V4(a)),
        None => std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<IpAddr>().ok()),
    };
    match address {
        Some(IpAddr::V4(a)) => {
            let bits = u32::from(a);
            a.octets()[3] == 0
                || a.is_loopback()
                || a.octets()[0] == 0
                || a.is_broadcast()
                // A netmask: ones, then zeros.
                || (bits.leading_ones() >= 8 && bits.leading_ones() + bits.trailing_zeros() == 32)
        }
        Some(IpAddr::V6(a)) => {
            (u128::from(a) & u128::from(u64::MAX) == 0) || a.is_loopback() || a.is_unspecified()
        }
        None => false,
    }
}

/// `text` as a dotted quad, read as `std` reads one (four octets of one
/// to three digits, at most 255, no leading zero), without its general
/// parser; `None` for anything else, IPv6 included.
fn dotted_quad(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    // The current octet's value and digits.
    let (mut value, mut digits) = (0u16, 0);
    for (k, &b) in text.iter().enumerate() {
        if b.is_ascii_digit() {
            // No leading zero: a digit after a lone `0` is one.
            if digits == 3 || (digits == 1 && value == 0) {
                return None;
            }
            value = value * 10 + u16::from(b - b'0');
            digits += 1;
        } else if b == b'.' && digits > 0 && n < 3 && k + 1 < text.len() {
            octets[n] = u8::try_from(value).ok()?;
            n += 1;
            (value, digits) = (0, 0);
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

pub(super) fn ipv4_at(t: &[u8], i: usize) -> Option<Found> {
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
    Some(Found::new(i, j, Detector::Ip))
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
pub(super) fn ipv6_at(t: &[u8], i: usize) -> Option<Found> {
    if ipv6_may_start(t, i) {
        ipv6_read(t, i)
    } else {
        None
    }
}

/// At a colon: an IPv6 address that starts with it (`::1`), or with the
/// hex letters just before it (`fe80::1`, `FE80::1`); one led by a digit
/// was tried at that digit. Not before `floor`.
pub(super) fn colon_at(t: &[u8], i: usize, floor: usize) -> Option<(Found, bool)> {
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
        .map(|_| Found::new(i, end, Detector::Ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Reads a dotted quad exactly as `std` does, and nothing else.
        #[test]
        fn dotted_quads_read_as_std_reads_them(text in "[0-9.:a]{0,18}|[0-9]{1,3}(\\.[0-9]{1,3}){3}") {
            let theirs = std::str::from_utf8(text.as_bytes()).ok().and_then(|t| t.parse::<Ipv4Addr>().ok());
            prop_assert_eq!(dotted_quad(text.as_bytes()), theirs);
        }
    }
}
