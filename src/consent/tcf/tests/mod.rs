//! Tests of the TC string decoder: strings with known decoded values
//! (`vectors.rs`) and hand-made ones from a test-only bit writer
//! (`written.rs`).

use super::*;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use proptest::collection::{btree_set, vec};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn ok(tc: &str) -> TcString {
    match decode(tc) {
        Ok(decoded) => decoded,
        Err(e) => panic!("{tc}: {e}"),
    }
}

fn purposes_of(has: impl Fn(u8) -> bool) -> Vec<u8> {
    (0..=70).filter(|&p| has(p)).collect()
}

fn purposes(tc: &TcString, has: fn(&TcString, u8) -> bool) -> Vec<u8> {
    (0..=30).filter(|&p| has(tc, p)).collect()
}

fn ids(set: &VendorSet) -> Vec<u16> {
    set.iter().collect()
}

/// Whether some restriction of `purpose` and type `kind` applies to
/// `vendor`.
fn restricted(tc: &TcString, purpose: u8, kind: RestrictionType, vendor: u16) -> bool {
    tc.publisher_restrictions()
        .iter()
        .any(|r| r.purpose() == purpose && r.restriction_type() == kind && r.applies_to(vendor))
}

/// CmpId, CmpVersion, ConsentScreen, ConsentLanguage,
/// VendorListVersion, TcfPolicyVersion, PublisherCC.
fn header(tc: &TcString) -> (u16, u16, u8, &str, u16, u8, &str) {
    (
        tc.cmp_id(),
        tc.cmp_version(),
        tc.consent_screen(),
        tc.consent_language(),
        tc.vendor_list_version(),
        tc.tcf_policy_version(),
        tc.publisher_cc(),
    )
}

/// Whether any restriction applies to `vendor`.
fn any_restriction(tc: &TcString, vendor: u16) -> bool {
    tc.publisher_restrictions()
        .iter()
        .any(|r| r.applies_to(vendor))
}

/// Writes big-endian bit fields, as TC strings are laid out.
#[derive(Default)]
struct Writer {
    bits: Vec<bool>,
}

impl Writer {
    fn from_bit_string(s: &str) -> Self {
        Self {
            bits: s.bytes().map(|b| b == b'1').collect(),
        }
    }

    fn put(&mut self, value: u64, n: u32) {
        self.bits.extend((0..n).rev().map(|i| value >> i & 1 == 1));
    }

    fn bytes(&self) -> Vec<u8> {
        let byte = |c: &[bool]| (0..8).fold(0u8, |b, i| b << 1 | u8::from(c.get(i) == Some(&true)));
        self.bits.chunks(8).map(byte).collect()
    }

    fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes())
    }
}

mod vectors;
mod written;
