//! The bit reader under every GPP segment: base64url text read six bits a
//! character, most significant first, straight from the string (nothing is
//! decoded into a buffer), and the GPP header's Fibonacci integers.

use super::GppError;

/// A reader over one segment's base64url text.
pub(super) struct Bits<'a> {
    text: &'a [u8],
    /// The next bit to read.
    at: usize,
}

impl<'a> Bits<'a> {
    /// A reader over `segment`, which must be non-empty base64url (no
    /// padding: GPP pads with zero bits, never with `=`).
    pub(super) fn new(segment: &'a str) -> Result<Bits<'a>, GppError> {
        if segment.is_empty() {
            return Err(GppError::EmptySegment);
        }
        if !segment.bytes().all(|c| sextet(c).is_some()) {
            return Err(GppError::Base64);
        }
        Ok(Bits {
            text: segment.as_bytes(),
            at: 0,
        })
    }

    /// The next `n` bits (at most 32) as an integer, or
    /// [`GppError::Truncated`] naming `part` when the text ends first.
    pub(super) fn take(&mut self, n: usize, part: &'static str) -> Result<u32, GppError> {
        debug_assert!(n <= 32);
        if self.at + n > self.text.len() * 6 {
            return Err(GppError::Truncated(part));
        }
        let mut value = 0u32;
        for _ in 0..n {
            let c = self.text[self.at / 6];
            // Checked in `new`: every character is base64url.
            let sextet = sextet(c).unwrap_or(0);
            let bit = (sextet >> (5 - self.at % 6)) & 1;
            value = value << 1 | u32::from(bit);
            self.at += 1;
        }
        Ok(value)
    }

    /// One bit.
    pub(super) fn flag(&mut self, part: &'static str) -> Result<bool, GppError> {
        Ok(self.take(1, part)? == 1)
    }

    /// A Fibonacci-coded positive integer: bit `i` (from the first) adds
    /// the `i`-th Fibonacci number (1, 2, 3, 5, ...), and two ones in a
    /// row end it. Values above `max` are refused as soon as they pass it,
    /// so a long run of bits never overflows.
    pub(super) fn fibonacci(&mut self, max: u32, part: &'static str) -> Result<u32, GppError> {
        let (mut value, mut fib, mut next) = (0u32, 1u32, 2u32);
        let mut last = false;
        loop {
            let bit = self.flag(part)?;
            if bit && last {
                // `value` is at least 1: the first one added a Fibonacci
                // number.
                return Ok(value);
            }
            if bit {
                value = value.saturating_add(fib);
                if value > max {
                    return Err(GppError::TooLarge(part));
                }
            }
            last = bit;
            // Past `max`, every further one overflows `max`; the sum stays
            // small enough for u32 because `fib` never grows beyond what
            // `max` allows before the check above fails.
            (fib, next) = (next, fib.saturating_add(next));
        }
    }
}

/// The six bits a base64url character stands for.
fn sextet(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    })
}
