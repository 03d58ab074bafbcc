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

/// Card network prefixes (IIN ranges) and lengths: Visa, Mastercard,
/// American Express, Discover, JCB, Diners Club, UnionPay, Maestro, Mir,
/// RuPay, Troy, Verve.
pub(super) fn card_network(d: &[u8]) -> bool {
    let n = |k: usize| d.iter().take(k).fold(0u32, |a, &x| a * 10 + u32::from(x));
    let len = d.len();
    let long = (16..=19).contains(&len);
    match d[0] {
        // Visa.
        4 => matches!(len, 13 | 16 | 19),
        // Mastercard 51–55; Maestro 50, 56–59; Verve 506099–506198.
        5 => ((51..=55).contains(&n(2)) && len == 16) || (matches!(n(2), 50 | 56..=59) && long),
        // Mastercard 2221–2720; Mir 2200–2204.
        2 => {
            ((2221..=2720).contains(&n(4)) && len == 16) || ((2200..=2204).contains(&n(4)) && long)
        }
        3 => {
            (matches!(n(2), 34 | 37) && len == 15)
                || ((3528..=3589).contains(&n(4)) && long)
                || (matches!(n(2), 30 | 36 | 38 | 39) && (14..=19).contains(&len))
        }
        // Discover, UnionPay, RuPay (60, 65), Maestro (6x), Troy's 65.
        6 => long,
        // RuPay 81, 82; Troy 9792.
        8 => matches!(n(2), 81 | 82) && len == 16,
        9 => n(4) == 9792 && len == 16,
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

/// How sure a card-valid digit run is on its own: a 12- to 14-digit run
/// that is also a valid barcode (UPC-A, EAN-13, GTIN-14: EAN barcodes
/// from 40–44 are German, and a 13-digit Visa is a relic) needs context.
fn card_strength(d: &[u8]) -> Strength {
    if (12..=14).contains(&d.len()) && gtin(d) {
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
    card_in(t, i, run)
}

/// A run of 16 digits or more in groups that is no card (`4111 1111 1111
/// 1112`, Luhn-invalid; a 22-digit tracking number): one token, too long
/// for a phone number, whose groups are not phone numbers either.
pub(super) fn long_run_at(t: &[u8], i: usize) -> Option<Found> {
    let mut end = i;
    let mut digits = 0;
    let mut j = i;
    // Digit groups with single separators, however many (digit_run keeps
    // at most 24 digits).
    while j < t.len() {
        if t[j].is_ascii_digit() {
            digits += 1;
            j += 1;
            end = j;
        } else if GROUP_SEPS.contains(&t[j])
            && j > i
            && t[j - 1].is_ascii_digit()
            && t.get(j + 1).is_some_and(u8::is_ascii_digit)
        {
            j += 1;
        } else {
            break;
        }
    }
    (digits >= 16 && boundary_after(t, end)).then(|| Found::new(i, end, Detector::CreditCard))
}

fn card_in(t: &[u8], i: usize, run: super::text::Run) -> Option<(Found, Strength)> {
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
/// (strong), or the same digits with spaces, dots or nothing between, or
/// eight digits (a leading zero lost) (weak: phones and ids look alike;
/// context must say SSN). `valid`:
/// whether its area, group and serial are possible.
pub(super) fn ssn_at(t: &[u8], i: usize) -> Option<(Found, Strength, bool)> {
    let run = digit_run(t, i, b" -.+", 9);
    let d = &run.digits;
    if !boundary_after(t, run.end) {
        return None;
    }
    // Eight bare digits: a number that lost an SSN's leading zero
    // (`{"ssn":12345678}`).
    if d.len() == 8 && run.separators == 0 {
        let mut padded = [0u8; 9];
        padded[1..].copy_from_slice(d);
        return Some((
            Found::new(i, run.end, Detector::Ssn),
            Strength::Weak,
            ssn_valid(&padded),
        ));
    }
    if d.len() != 9 {
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
