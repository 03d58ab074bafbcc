//! Payment cards and US social security numbers: digit runs with a
//! checksum or a numbering rule, and how sure their shape alone makes us.

use super::context::Strength;
use super::text::{boundary_after, digit_run};
use super::{Detector, Found};

/// The separators cards and SSNs are written with: a space, a dash, and
/// `+`, which is a space in a form-encoded body (`4111+1111+1111+1111`).
pub(super) const GROUP_SEPS: &[u8] = b" -+";

pub(super) fn luhn(digits: &[u8]) -> bool {
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
pub(super) fn card_network(d: &[u8]) -> bool {
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

/// Whether `d` is a valid GTIN (EAN/UPC barcode, ISBN-13) check-digit-wise:
/// weights 3 and 1 from the right, the check digit included.
pub(super) fn gtin(d: &[u8]) -> bool {
    if !matches!(d.len(), 8 | 12 | 13 | 14) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &x)| u32::from(x) * if k % 2 == 1 { 3 } else { 1 })
        .sum();
    sum.is_multiple_of(10)
}

/// How sure a card-valid digit run is on its own: a 13- or 14-digit run
/// that is also a valid barcode (GTIN-13/14: EAN barcodes from 40–44 are
/// German, and a 13-digit Visa is a relic) needs context.
fn card_strength(d: &[u8]) -> Strength {
    if matches!(d.len(), 13 | 14) && gtin(d) {
        Strength::Weak
    } else {
        Strength::Strong
    }
}

/// A card number at `i`: the whole digit run, or else (a number followed
/// by more digits, as in `4111 1111 1111 1111 12/28`) its longest prefix
/// that ends at a space between groups.
pub(super) fn card_at(t: &[u8], i: usize) -> Option<(Found, Strength)> {
    let run = digit_run(t, i, GROUP_SEPS, 19);
    let digits = run.digits;
    let card = |len: usize| card_network(&digits[..len]) && luhn(&digits[..len]);
    let found = |end: usize, len: usize| {
        (
            Found::new(i, end, Detector::CreditCard),
            card_strength(&digits[..len]),
        )
    };
    if (13..=19).contains(&digits.len()) && boundary_after(t, run.end) && card(digits.len()) {
        return Some(found(run.end, digits.len()));
    }
    if digits.len() < 13 {
        return None;
    }
    let mut count = digits.len();
    let mut j = run.end;
    while j > i && count >= 13 {
        j -= 1;
        if t[j].is_ascii_digit() {
            count -= 1;
        } else if matches!(t[j], b' ' | b'+') && (13..=19).contains(&count) && card(count) {
            return Some(found(j, count));
        }
    }
    None
}

/// Whether a 9-digit number is a valid SSN: area not 000, 666 or 9xx,
/// group not 00, serial not 0000.
pub(super) fn ssn_valid(d: &[u8]) -> bool {
    d.len() == 9
        && d[..3] != [0, 0, 0]
        && d[..3] != [6, 6, 6]
        && d[0] != 9
        && d[3..5] != [0, 0]
        && d[5..] != [0, 0, 0, 0]
}

/// An SSN-shaped number at `i` and how sure its shape is: `ddd-dd-dddd`
/// (strong), or the same digits with spaces, dots or nothing between
/// (weak: phones and ids look alike; context must say SSN). `valid`:
/// whether its area, group and serial are possible.
pub(super) fn ssn_at(t: &[u8], i: usize) -> Option<(Found, Strength, bool)> {
    let run = digit_run(t, i, b" -.+", 9);
    let d = &run.digits;
    if d.len() != 9 || !boundary_after(t, run.end) {
        return None;
    }
    let span = &t[i..run.end];
    let grouped = |sep: u8| {
        span.len() == 11
            && span[3] == sep
            && span[6] == sep
            && span.iter().filter(|&&b| b == sep).count() == 2
    };
    let strength = if grouped(b'-') {
        Strength::Strong
    } else if run.separators == 0 || grouped(b' ') || grouped(b'.') || grouped(b'+') {
        Strength::Weak
    } else {
        return None;
    };
    Some((
        Found::new(i, run.end, Detector::Ssn),
        strength,
        ssn_valid(d),
    ))
}
