//! IAB Global Privacy Platform (GPP) strings: the header, the splitting
//! into sections, and the sections privgate acts on: TCF EU v2 (section
//! 2, read by [`tcf::decode`](super::tcf::decode), the same code path as a
//! bare TC string, publisher restrictions included), the US Privacy
//! string (section 6, `uspv1`, also read bare: [`decode_us_privacy`]),
//! US National (section 7, `usnat`, versions 1 and 2) and the US state
//! sections that share its fields (8 `usca` to 23 `usmn`).
//!
//! This module owns the format and nothing else: which purposes an
//! opt-out denies, and what an unreadable string means for an event, are
//! the consent engine's.
//!
//! Format: IAB Tech Lab, "Global Privacy Platform: Consent String
//! Specification" (the header: `Type` Int(6) = 3, `Version` Int(6) = 1,
//! `SectionIds` a Fibonacci-coded range; the sections after it, `~`-
//! separated, in the order of their ids) and each section's "Privacy
//! Technical Specification" (a core segment, then `.`-separated optional
//! subsections; GPC is subsection type 1, one bit).
//!
//! Invariants:
//! - Fail closed: [`decode`] returns a [`Gpp`] only when the whole string
//!   was read: a header of type 3 and version 1, exactly as many sections
//!   as it lists ids, and every section privgate reads decoded whole at a
//!   version it knows (a usnat version 3 is an error, not a guess), every
//!   two-bit field 0, 1 or 2. A section privgate does not read (TCF
//!   Canada, 5; ids it does not know, such as the sections from 24 on,
//!   whose published layout and the IAB encoder's still differ) is kept as
//!   [`Section::Other`] with its id, so the caller can decide what an
//!   unread section means. Otherwise a typed [`GppError`], nothing else.
//! - Never panics, whatever the input.
//! - Memory is bounded: a string longer than [`MAX_LEN`] is refused before
//!   anything is read; section ids above [`MAX_SECTION_ID`] are refused
//!   while the header is read (so a count of 4,095 ids, or a range of a
//!   million, costs nothing); US sections are read straight from the text
//!   into fixed arrays; only a TCF section allocates, as a bare TC string
//!   does.
//! - Never logs and never keeps the string; errors name a field, never
//!   its text.
//!
//! Bits after a segment's last field (padding to a whole character) are
//! not read.
//!
//! Checked against strings made by the IAB's own encoder `@iabgpp/cmpapi`
//! (`tests/fixtures/gpp/`, the version in its `strings.json`).
//!
//! Layout: this file holds the decoded values and the string's structure;
//! `bits.rs` the bit reader; `us.rs` the US sections' layouts; `usp.rs`
//! the US Privacy string; `tests.rs` the tests.

mod bits;
mod us;
mod usp;

use super::tcf;
use bits::Bits;

pub use usp::{decode_us_privacy, Flag, UsPrivacy};

/// The longest GPP string [`decode`] reads, in characters (a TCF section
/// with two full vendor bit fields takes about 22,000; real strings take
/// a few hundred).
pub const MAX_LEN: usize = 64 * 1024;

/// The highest section id [`decode`] accepts in a header (the IAB has
/// assigned ids up to 27).
pub const MAX_SECTION_ID: u8 = 63;

/// The TCF EU v2 section's id.
pub const TCF_EU_V2: u8 = 2;
/// The US Privacy section's id.
pub const USP_V1: u8 = 6;

/// Most `SensitiveDataProcessing` entries of any section (usnat v2).
const MAX_SENSITIVE: usize = 16;
/// Most `KnownChildSensitiveDataConsents` entries of any section.
const MAX_CHILD: usize = 5;

/// Why a GPP string (or a US Privacy string, or a `gpp_sid`) could not be
/// read. Every variant means the same to a caller: unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GppError {
    /// The request gave two different values for one parameter.
    #[error("two different values were given")]
    Repeated,
    /// The string is empty.
    #[error("the GPP string is empty")]
    Empty,
    /// The string is longer than [`MAX_LEN`].
    #[error("the GPP string is longer than {MAX_LEN} characters")]
    TooLong,
    /// A section or segment is empty (`~~`, a trailing `~` or `.`).
    #[error("the GPP string has an empty section or segment")]
    EmptySegment,
    /// A segment is not base64url.
    #[error("a GPP segment is not base64url")]
    Base64,
    /// A segment ends inside the named part.
    #[error("a GPP segment ends inside {0}")]
    Truncated(&'static str),
    /// A Fibonacci-coded section id is above [`MAX_SECTION_ID`].
    #[error("{0} names a section id above {MAX_SECTION_ID}")]
    TooLarge(&'static str),
    /// The header's type is not 3.
    #[error("the GPP header has type {0}, not 3")]
    HeaderType(u32),
    /// The header's version is not 1.
    #[error("GPP header version {0}; only version 1 is read")]
    HeaderVersion(u32),
    /// The header lists another number of sections than follow it.
    #[error("the GPP header lists {listed} sections and {found} follow it")]
    SectionCount {
        /// Ids in the header.
        listed: usize,
        /// Sections after it.
        found: usize,
    },
    /// A US section has a version privgate does not know.
    #[error("section {id} has version {version}, which is not read")]
    SectionVersion {
        /// The section id.
        id: u8,
        /// Its version field.
        version: u32,
    },
    /// A US section has a subsection it may not have (a second one, one
    /// of another type than GPC, or one where the section defines none).
    #[error("section {0} has a subsection it does not define")]
    Subsection(u8),
    /// A two-bit field holds 3, which no section defines.
    #[error("{0} holds 3, which is not defined")]
    Value(&'static str),
    /// The TCF EU v2 section is unreadable.
    #[error("the TCF EU v2 section: {0}")]
    Tcf(tcf::TcfError),
    /// A US Privacy string (bare or section 6) is not `1` and three of
    /// `Y`, `N`, `-`.
    #[error("the US Privacy string is malformed")]
    UsPrivacy,
    /// `gpp_sid` is not a comma-separated list of section ids.
    #[error("gpp_sid is not a list of section ids")]
    Sid,
}

/// A decoded GPP string: its sections, in the order of the header's ids
/// (ascending). Built only by [`decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpp {
    sections: Vec<Section>,
}

impl Gpp {
    /// The sections, in header order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The section ids, in header order.
    pub fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.sections.iter().map(Section::id)
    }
}

/// One decoded section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Section {
    /// Section 2, TCF EU v2: a TC string.
    TcfEuV2(Box<tcf::TcString>),
    /// Section 6, `uspv1`: the US Privacy string.
    UspV1(UsPrivacy),
    /// US National (7) or a US state section (8 to 23).
    Us(UsSection),
    /// A section privgate does not read, by id.
    Other(u8),
}

impl Section {
    /// The section's id.
    pub fn id(&self) -> u8 {
        match self {
            Section::TcfEuV2(_) => TCF_EU_V2,
            Section::UspV1(_) => USP_V1,
            Section::Us(us) => us.id,
            Section::Other(id) => *id,
        }
    }
}

/// A notice field (`SaleOptOutNotice` and its kin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// 0: not applicable (the business does not do it).
    NotApplicable,
    /// 1: notice was provided.
    Provided,
    /// 2: notice was not provided.
    NotProvided,
}

/// An opt-out field (`SaleOptOut` and its kin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptOut {
    /// 0: not applicable.
    NotApplicable,
    /// 1: opted out.
    OptedOut,
    /// 2: did not opt out.
    DidNotOptOut,
}

/// What privgate reads of a US section (usnat or a state's). A field the
/// section does not define is `None` (usca has no targeted advertising
/// opt-out; usva none for sharing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsSection {
    /// The section id (7 to 23).
    pub id: u8,
    /// Its client-side API name (`usnat`, `usca`, ...).
    pub name: &'static str,
    /// Its version field.
    pub version: u8,
    /// `SaleOptOutNotice`.
    pub sale_opt_out_notice: Option<Notice>,
    /// `SharingOptOutNotice`.
    pub sharing_opt_out_notice: Option<Notice>,
    /// `TargetedAdvertisingOptOutNotice`.
    pub targeted_advertising_opt_out_notice: Option<Notice>,
    /// `SaleOptOut`.
    pub sale_opt_out: Option<OptOut>,
    /// `SharingOptOut`.
    pub sharing_opt_out: Option<OptOut>,
    /// `TargetedAdvertisingOptOut`.
    pub targeted_advertising_opt_out: Option<OptOut>,
    sensitive: [u8; MAX_SENSITIVE],
    sensitive_len: u8,
    child: [u8; MAX_CHILD],
    child_len: u8,
    /// The GPC subsection's bit, when the string has the subsection.
    pub gpc: Option<bool>,
}

impl UsSection {
    /// `SensitiveDataProcessing`, one entry (0, 1 or 2) per category: 1
    /// is "opted out" or "no consent" in every section, 2 the opposite.
    pub fn sensitive_data_processing(&self) -> &[u8] {
        &self.sensitive[..usize::from(self.sensitive_len)]
    }

    /// `KnownChildSensitiveDataConsents`, one entry (0, 1 or 2) per
    /// activity: 1 is "no consent" (or "opted out") in every section, 2
    /// "consent".
    pub fn known_child_sensitive_data_consents(&self) -> &[u8] {
        &self.child[..usize::from(self.child_len)]
    }
}

/// What the header alone says: the section ids it lists, in order. Read
/// separately so a caller can learn what a string claims (say, a TCF
/// section) even when a later section is unreadable.
pub fn header_ids(gpp: &str) -> Result<Vec<u8>, GppError> {
    if gpp.len() > MAX_LEN {
        return Err(GppError::TooLong);
    }
    if gpp.is_empty() {
        return Err(GppError::Empty);
    }
    let header = gpp.split('~').next().unwrap_or_default();
    let mut bits = Bits::new(header)?;
    const HEADER: &str = "the GPP header";
    let kind = bits.take(6, HEADER)?;
    if kind != 3 {
        return Err(GppError::HeaderType(kind));
    }
    let version = bits.take(6, HEADER)?;
    if version != 1 {
        return Err(GppError::HeaderVersion(version));
    }
    const IDS: &str = "the GPP header's section ids";
    let count = bits.take(12, IDS)?;
    let mut ids = Vec::new();
    let mut last = 0u32;
    let max = u32::from(MAX_SECTION_ID);
    for _ in 0..count {
        let range = bits.flag(IDS)?;
        // Each id is an offset from the last, at least 1: ids ascend, and
        // a count past `MAX_SECTION_ID` fails here, not in memory.
        let start = last + bits.fibonacci(max.saturating_sub(last), IDS)?;
        let end = if range {
            start + bits.fibonacci(max - start, IDS)?
        } else {
            start
        };
        ids.extend((start..=end).map(|id| id as u8));
        last = end;
    }
    Ok(ids)
}

/// Decodes a whole GPP string; see the module documentation for what is
/// read and what an error means.
pub fn decode(gpp: &str) -> Result<Gpp, GppError> {
    let ids = header_ids(gpp)?;
    let texts = gpp.split('~').skip(1);
    let found = texts.clone().count();
    if found != ids.len() {
        return Err(GppError::SectionCount {
            listed: ids.len(),
            found,
        });
    }
    let mut sections = Vec::with_capacity(ids.len());
    for (id, text) in ids.into_iter().zip(texts) {
        if text.is_empty() {
            return Err(GppError::EmptySegment);
        }
        sections.push(match id {
            TCF_EU_V2 => Section::TcfEuV2(Box::new(tcf::decode(text).map_err(GppError::Tcf)?)),
            USP_V1 => Section::UspV1(decode_us_privacy(text)?),
            us::FIRST..=us::LAST => Section::Us(us::decode(id, text)?),
            _ => Section::Other(id),
        });
    }
    Ok(Gpp { sections })
}

/// The name of US section `id`, if it is one [`decode`] reads.
pub fn us_section_name(id: u8) -> Option<&'static str> {
    us::name(id)
}

/// Reads `gpp_sid`: the ids of the sections that apply, comma-separated
/// (`7` or `2,6`); `-1` says none does. Returns them as a set (bit `id`).
pub fn decode_sid(sid: &str) -> Result<u64, GppError> {
    if sid == "-1" {
        return Ok(0);
    }
    let mut set = 0u64;
    for id in sid.split(',') {
        let id: u8 = id.trim().parse().map_err(|_| GppError::Sid)?;
        if id > MAX_SECTION_ID {
            return Err(GppError::Sid);
        }
        set |= 1 << id;
    }
    Ok(set)
}

#[cfg(test)]
mod tests;
