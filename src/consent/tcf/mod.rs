//! IAB TCF v2 TC strings (TCF v2.0 to v2.3 share one format): decoding the
//! whole string, the core segment (the purposes, special features and
//! vendors a user consented to, and the publisher's restrictions) and the
//! segments that may follow it (disclosed vendors, allowed vendors,
//! publisher TC).
//!
//! This module owns the TC string format and nothing else: which purposes a
//! destination needs, and what an unreadable string means for an event, are
//! the consent engine's.
//!
//! Invariants:
//! - Fail closed: [`decode`] returns a [`TcString`] only when the whole
//!   string was read: the core segment first and once, then each `.`-
//!   segment non-empty, base64url, of a known type (disclosed vendors,
//!   allowed vendors, publisher TC), each type at most once, every field
//!   of each in range and none cut short. Otherwise a typed [`TcfError`]
//!   and nothing else. A caller treats `Err` as no consent. A string a
//!   reader could take two ways (a second core saying "no consent", which
//!   the IAB's own decoder takes as the last word; a segment it would skip)
//!   is an error, never the first segment's answer. There is no partially
//!   filled value, and no other way to build one.
//! - Never panics, whatever the input.
//! - Memory is bounded: a segment longer than [`MAX_CORE_LEN`] is refused
//!   before it is decoded, and there are at most four; vendor sets are
//!   bitsets of at most 65,535 bits (8 KiB) each, filled a word at a time,
//!   never a bit at a time; publisher restrictions keep their vendor ranges
//!   as ranges.
//! - A vendor id above the section's `MaxVendorId`, or 0, is not in it; a
//!   range that ends before it starts or past `MaxVendorId` is an error.
//! - Never logs and never keeps the string; errors name a field, never its
//!   text.
//!
//! Bits after a segment's last field (the encoder pads each segment to a
//! whole number of base64 characters) are not read.
//!
//! The bits are reported as sent. Policy is the caller's: for example TCF
//! v2.2 (`TcfPolicyVersion` 4) forbids legitimate interest for purposes 3
//! to 6, which this module still reports if a CMP sets them.
//!
//! The crate `lib_tcstring` (0.5.0) was evaluated and not used: on truncated
//! input it indexes past the end of its buffer and panics (a proptest of
//! random bytes behind a version 2 header finds it at once); a range ending at vendor 65535 overflows a
//! `u16` (a panic in debug builds, an empty range in release); it expands
//! every range into a `Vec<u16>` of vendor ids, so a 23 KB string can ask
//! for half a gigabyte; it checks neither that a range's end follows its
//! start nor that it stays within `MaxVendorId`; and it is marked
//! passively maintained. The bit reader here is short and tested against
//! strings from the IAB's own libraries (`tests/fixtures/tcf/`, made with
//! the IAB Tech Lab's encoder `@iabtechlabtcf/core`, and examples from
//! iabtcf-java and others).
//!
//! Format: IAB Tech Lab, "Consent string and vendor list formats v2",
//! sections "The core string", "Disclosed Vendors", "Allowed Vendors" and
//! "Publisher Purposes Transparency and Consent".
//!
//! Layout: this file holds the decoded value and what a caller reads of it
//! ([`TcString`], its vendor sets and publisher restrictions);
//! `decode.rs` reads a string into it (segments, core fields, the bit
//! reader); `tests/` checks it against independent vectors and generated
//! strings.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use std::ops::RangeInclusive;
use std::time::Duration;

mod decode;

pub use decode::decode;

/// The longest segment [`decode`] reads, in characters. Two full vendor
/// bit fields (65,535 vendors each) take about 22,000; real strings take a
/// few hundred to a few thousand.
pub const MAX_CORE_LEN: usize = 64 * 1024;

/// Segment types after the core (the core's first three bits are 0).
const DISCLOSED_VENDORS: u8 = 1;
const ALLOWED_VENDORS: u8 = 2;
const PUBLISHER_TC: u8 = 3;

/// The only version of the format this module reads.
const VERSION: u8 = 2;

/// base64url; padding optional. Bits past the last whole byte are never
/// read, so they may be anything.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const HEADER: &str = "the header";
const VENDOR_CONSENTS: &str = "vendor consents";
const VENDOR_LI: &str = "vendor legitimate interests";
const RESTRICTIONS: &str = "publisher restrictions";
const DISCLOSED: &str = "the disclosed vendors segment";
const ALLOWED: &str = "the allowed vendors segment";
const PUBLISHER: &str = "the publisher TC segment";

/// Why a TC string could not be read. Every variant means the same to a
/// caller: no consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TcfError {
    /// The string was last updated longer ago than `consent.max_age`
    /// allows: it grants nothing (the TCF policy has CMPs ask again after
    /// 13 months).
    #[error("the TC string was last updated longer ago than consent.max_age")]
    TooOld,
    /// The request gave two different TC strings (a query parameter
    /// repeated with another value): neither is read.
    #[error("two different TC strings were given")]
    Repeated,
    /// The string, or its core segment, is empty.
    #[error("the TC string has no core segment")]
    Empty,
    /// A segment after the core is empty (`..`, or a trailing `.`).
    #[error("the TC string has an empty segment")]
    EmptySegment,
    /// A segment is longer than [`MAX_CORE_LEN`].
    #[error("a segment is longer than {MAX_CORE_LEN} characters")]
    TooLong,
    /// A segment is not base64url.
    #[error("a segment is not base64url")]
    Base64,
    /// A segment after the core has another type than disclosed vendors
    /// (1), allowed vendors (2) or publisher TC (3): 0 is a second core,
    /// 4 to 7 are undefined.
    #[error("a segment after the core has type {0}, which is not one that may follow it")]
    SegmentType(u8),
    /// A segment type is given twice.
    #[error("{0} is given twice")]
    RepeatedSegment(&'static str),
    /// The version field is not 2.
    #[error("TC string version {0}; only version 2 is read")]
    Version(u8),
    /// The core segment ends inside the named part.
    #[error("the core segment ends inside {0}")]
    Truncated(&'static str),
    /// A two-letter code (language or country) holds a value past `Z`.
    #[error("{0} holds a letter code past Z")]
    Letter(&'static str),
    /// A vendor entry names vendor 0.
    #[error("{0} names vendor 0")]
    VendorZero(&'static str),
    /// A vendor range ends before it starts.
    #[error("{section}: a vendor range ends at {end}, before its start {start}")]
    Inverted {
        /// The section the range is in.
        section: &'static str,
        /// The range's first vendor id.
        start: u16,
        /// The range's last vendor id.
        end: u16,
    },
    /// A vendor entry is above the section's `MaxVendorId`.
    #[error("{section}: vendor {id} is above MaxVendorId {max}")]
    AboveMax {
        /// The section the entry is in.
        section: &'static str,
        /// The vendor id.
        id: u16,
        /// The section's `MaxVendorId`.
        max: u16,
    },
}

/// The decoded core segment of a version 2 TC string. Built only by
/// [`decode`], from a core segment that was read whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcString {
    created: u64,
    last_updated: u64,
    cmp_id: u16,
    cmp_version: u16,
    consent_screen: u8,
    consent_language: [u8; 2],
    vendor_list_version: u16,
    tcf_policy_version: u8,
    is_service_specific: bool,
    use_non_standard_stacks: bool,
    /// 12 bits, special feature 1 the most significant.
    special_features: u32,
    /// 24 bits, purpose 1 the most significant.
    purpose_consents: u32,
    /// 24 bits, purpose 1 the most significant.
    purpose_li: u32,
    purpose_one_treatment: bool,
    publisher_cc: [u8; 2],
    vendor_consents: VendorSet,
    vendor_li: VendorSet,
    restrictions: Vec<PublisherRestriction>,
    disclosed_vendors: Option<VendorSet>,
    allowed_vendors: Option<VendorSet>,
    publisher_tc: Option<PublisherTc>,
}

/// The publisher TC segment: the publisher's own purposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublisherTc {
    /// 24 bits, purpose 1 the most significant.
    consents: u32,
    /// 24 bits, purpose 1 the most significant.
    li: u32,
    /// `NumCustomPurposes` (0..=63).
    custom: u8,
    /// `custom` bits, custom purpose 1 the most significant.
    custom_consents: u64,
    /// `custom` bits.
    custom_li: u64,
}

impl PublisherTc {
    /// Whether the user consented to the publisher's use of purpose `p`
    /// (1..=24).
    pub fn purpose_consent(&self, p: u8) -> bool {
        bit_of(self.consents, 24, p)
    }

    /// Whether the publisher may rely on legitimate interest for purpose
    /// `p` (1..=24).
    pub fn purpose_legitimate_interest(&self, p: u8) -> bool {
        bit_of(self.li, 24, p)
    }

    /// How many custom purposes the publisher declared.
    pub fn custom_purposes(&self) -> u8 {
        self.custom
    }

    /// Whether the user consented to custom purpose `p` (1..=63).
    pub fn custom_consent(&self, p: u8) -> bool {
        (1..=self.custom).contains(&p) && self.custom_consents >> (self.custom - p) & 1 == 1
    }

    /// Whether the publisher may rely on legitimate interest for custom
    /// purpose `p`.
    pub fn custom_legitimate_interest(&self, p: u8) -> bool {
        (1..=self.custom).contains(&p) && self.custom_li >> (self.custom - p) & 1 == 1
    }
}

impl TcString {
    /// The format version: always 2, the only one [`decode`] accepts.
    pub fn version(&self) -> u8 {
        VERSION
    }

    /// When the string was first created, since the Unix epoch (a tenth of
    /// a second is the format's resolution).
    pub fn created(&self) -> Duration {
        Duration::from_millis(self.created * 100)
    }

    /// When the string was last updated, since the Unix epoch.
    pub fn last_updated(&self) -> Duration {
        Duration::from_millis(self.last_updated * 100)
    }

    /// The id of the CMP that last updated the string.
    pub fn cmp_id(&self) -> u16 {
        self.cmp_id
    }

    /// The version of that CMP.
    pub fn cmp_version(&self) -> u16 {
        self.cmp_version
    }

    /// The CMP's screen on which consent was given.
    pub fn consent_screen(&self) -> u8 {
        self.consent_screen
    }

    /// The language the CMP asked in: two letters `A`-`Z` (ISO 639-1).
    pub fn consent_language(&self) -> &str {
        letters_str(&self.consent_language)
    }

    /// The version of the global vendor list the string was made with.
    pub fn vendor_list_version(&self) -> u16 {
        self.vendor_list_version
    }

    /// The TCF policy version: 2 for TCF v2.0 and v2.1, 4 for v2.2, 5 for
    /// v2.3.
    pub fn tcf_policy_version(&self) -> u8 {
        self.tcf_policy_version
    }

    /// Whether the signals were stored for this service only.
    pub fn is_service_specific(&self) -> bool {
        self.is_service_specific
    }

    /// Whether the CMP used non-standard stack descriptions.
    pub fn use_non_standard_stacks(&self) -> bool {
        self.use_non_standard_stacks
    }

    /// Whether the user opted in to special feature `f` (1..=12); false
    /// outside that range.
    pub fn special_feature_opt_in(&self, f: u8) -> bool {
        bit_of(self.special_features, 12, f)
    }

    /// Whether the user consented to purpose `p` (1..=24); false outside
    /// that range.
    pub fn purpose_consent(&self, p: u8) -> bool {
        bit_of(self.purpose_consents, 24, p)
    }

    /// Whether legitimate interest for purpose `p` (1..=24) was disclosed
    /// and not objected to; false outside that range.
    pub fn purpose_legitimate_interest(&self, p: u8) -> bool {
        bit_of(self.purpose_li, 24, p)
    }

    /// Whether purpose 1 was not disclosed (true) or disclosed commonly as
    /// consent (false).
    pub fn purpose_one_treatment(&self) -> bool {
        self.purpose_one_treatment
    }

    /// The publisher's country: two letters `A`-`Z` (ISO 3166-1 alpha-2,
    /// `AA` when unknown).
    pub fn publisher_cc(&self) -> &str {
        letters_str(&self.publisher_cc)
    }

    /// Whether vendor `id` has the user's consent.
    pub fn vendor_consent(&self, id: u16) -> bool {
        self.vendor_consents.contains(id)
    }

    /// Whether vendor `id` may rely on legitimate interest.
    pub fn vendor_legitimate_interest(&self, id: u16) -> bool {
        self.vendor_li.contains(id)
    }

    /// The vendor consent section.
    pub fn vendor_consents(&self) -> &VendorSet {
        &self.vendor_consents
    }

    /// The vendor legitimate interest section.
    pub fn vendor_legitimate_interests(&self) -> &VendorSet {
        &self.vendor_li
    }

    /// The publisher restrictions, in the order the string gives them.
    pub fn publisher_restrictions(&self) -> &[PublisherRestriction] {
        &self.restrictions
    }

    /// The disclosed vendors segment, if the string has one.
    pub fn disclosed_vendors(&self) -> Option<&VendorSet> {
        self.disclosed_vendors.as_ref()
    }

    /// The allowed vendors segment (TCF v2.0), if the string has one.
    pub fn allowed_vendors(&self) -> Option<&VendorSet> {
        self.allowed_vendors.as_ref()
    }

    /// The publisher TC segment, if the string has one.
    pub fn publisher_tc(&self) -> Option<&PublisherTc> {
        self.publisher_tc.as_ref()
    }

    /// The TCF purposes (bit `p - 1` for purpose `p`, 1..=24) for which the
    /// publisher keeps vendor `id` from relying on consent: "not allowed"
    /// (type 0), "require legitimate interest" (type 2, and consent is not
    /// legitimate interest) and the undefined type 3 (fail closed). "Require
    /// consent" (type 1) keeps nothing.
    pub fn restricted_purposes(&self, id: u16) -> u32 {
        self.restrictions
            .iter()
            .filter(|r| r.restriction_type != RestrictionType::RequireConsent)
            .filter(|r| (1..=24).contains(&r.purpose) && r.applies_to(id))
            .fold(0, |mask, r| mask | 1 << (r.purpose - 1))
    }
}

/// A set of vendor ids within `1..=max_vendor_id`, one bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorSet {
    max: u16,
    /// Vendor `id` is bit `(id - 1) % 64` of word `(id - 1) / 64`.
    words: Vec<u64>,
}

impl VendorSet {
    fn empty(max: u16) -> Self {
        Self {
            max,
            words: vec![0; usize::from(max).div_ceil(64)],
        }
    }

    /// The section's `MaxVendorId`: no id above it is in the set.
    pub fn max_vendor_id(&self) -> u16 {
        self.max
    }

    /// Whether `id` is in the set; never for 0 or an id above
    /// [`max_vendor_id`](Self::max_vendor_id).
    pub fn contains(&self, id: u16) -> bool {
        let Some(i) = id.checked_sub(1).map(usize::from) else {
            return false;
        };
        id <= self.max
            && self
                .words
                .get(i / 64)
                .is_some_and(|w| w >> (i % 64) & 1 == 1)
    }

    /// The ids in the set, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (1..=self.max).filter(|&id| self.contains(id))
    }

    /// Adds `start..=end`, where `1 <= start <= end <= max`: whole words at
    /// a time.
    fn insert_range(&mut self, start: u16, end: u16) {
        let (first, last) = (usize::from(start - 1), usize::from(end - 1));
        for w in first / 64..=last / 64 {
            let lo = if w == first / 64 { first % 64 } else { 0 };
            let hi = if w == last / 64 { last % 64 } else { 63 };
            if let Some(word) = self.words.get_mut(w) {
                *word |= (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
            }
        }
    }
}

/// What a publisher restriction requires of the vendors it lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestrictionType {
    /// 0: the purpose is not allowed at all.
    NotAllowed = 0,
    /// 1: the vendors need consent.
    RequireConsent = 1,
    /// 2: the vendors need legitimate interest.
    RequireLegitimateInterest = 2,
    /// 3: undefined by the specification.
    Undefined = 3,
}

/// One publisher restriction: a purpose, what it requires, and the vendors
/// it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublisherRestriction {
    purpose: u8,
    restriction_type: RestrictionType,
    /// Inclusive, `1 <= start <= end`, in the string's order.
    ranges: Vec<(u16, u16)>,
}

impl PublisherRestriction {
    /// The restricted purpose (the field has 6 bits: 0..=63).
    pub fn purpose(&self) -> u8 {
        self.purpose
    }

    /// What the restriction requires.
    pub fn restriction_type(&self) -> RestrictionType {
        self.restriction_type
    }

    /// Whether the restriction applies to vendor `id`.
    pub fn applies_to(&self, id: u16) -> bool {
        self.ranges.iter().any(|&(s, e)| s <= id && id <= e)
    }

    /// The vendor ranges it applies to, in the string's order.
    pub fn vendor_ranges(&self) -> impl Iterator<Item = RangeInclusive<u16>> + '_ {
        self.ranges.iter().map(|&(s, e)| s..=e)
    }
}

/// Bit `n` (1-based, from the most significant) of a `width`-bit field.
fn bit_of(field: u32, width: u8, n: u8) -> bool {
    (1..=width).contains(&n) && field >> (width - n) & 1 == 1
}

/// Letters are `A`-`Z` by construction (`Bits::letters` in `decode.rs`).
fn letters_str(letters: &[u8; 2]) -> &str {
    std::str::from_utf8(letters).unwrap_or_default()
}

#[cfg(test)]
mod tests;
