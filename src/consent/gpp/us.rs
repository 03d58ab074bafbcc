//! The US sections: US National (`usnat`, id 7) and the state sections
//! that share its fields (ids 8 to 23). Each is one table of fields in
//! the order the IAB's section specification gives them; one reader walks
//! any table.

use super::bits::Bits;
use super::{GppError, Notice, OptOut, UsSection, MAX_CHILD, MAX_SENSITIVE};

/// One field of a section's core segment.
#[derive(Clone, Copy)]
enum Field {
    SaleOptOutNotice,
    SharingOptOutNotice,
    TargetedAdvertisingOptOutNotice,
    SaleOptOut,
    SharingOptOut,
    TargetedAdvertisingOptOut,
    /// `SensitiveDataProcessing`, this many two-bit entries.
    Sensitive(usize),
    /// `KnownChildSensitiveDataConsents`, this many two-bit entries (a
    /// section whose specification makes it one `Int(2)` has 1).
    Child(usize),
    /// A two-bit field privgate does not act on (other notices,
    /// `PersonalDataConsents`, `AdditionalDataProcessingConsent`, the MSPA
    /// fields). Still read, and 3 (undefined) still refused.
    Other,
}

use Field::*;

/// A section's layout: its name, the fields after `Version`, and whether
/// a GPC subsection may follow the core.
struct Layout {
    name: &'static str,
    fields: &'static [Field],
    gpc: bool,
}

/// A field list ending with the three MSPA fields every section ends with.
macro_rules! fields {
    ($($f:expr),* ; mspa) => { &[$($f,)* Other, Other, Other] };
}

/// usnat version 1: 12 sensitive data entries, 2 known child entries.
const USNAT_V1: Layout = Layout {
    name: "usnat",
    fields: fields!(Other, SaleOptOutNotice, SharingOptOutNotice, TargetedAdvertisingOptOutNotice,
        Other, Other, SaleOptOut, SharingOptOut, TargetedAdvertisingOptOut, Sensitive(12),
        Child(2), Other; mspa),
    gpc: true,
};

/// usnat version 2: 16 sensitive data entries, 3 known child entries.
const USNAT_V2: Layout = Layout {
    name: "usnat",
    fields: fields!(Other, SaleOptOutNotice, SharingOptOutNotice, TargetedAdvertisingOptOutNotice,
        Other, Other, SaleOptOut, SharingOptOut, TargetedAdvertisingOptOut, Sensitive(16),
        Child(3), Other; mspa),
    gpc: true,
};

/// The state sections of version 1 that lead with a notice (SharingNotice
/// or ProcessingNotice), then the sale and targeted advertising notices
/// and opt-outs: ids 9 to 23 but for 11 and 18, which add a sensitive data
/// notice.
const fn state(
    name: &'static str,
    sensitive: usize,
    child: usize,
    extra: bool,
    gpc: bool,
) -> Layout {
    Layout {
        name,
        fields: match (extra, sensitive, child) {
            // `extra`: an AdditionalDataProcessingConsent after the child
            // consents.
            (false, 7, 1) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(7), Child(1); mspa),
            (false, 8, 1) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(8), Child(1); mspa),
            (false, 8, 3) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(8), Child(3); mspa),
            (true, 8, 1) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(8), Child(1), Other; mspa),
            (true, 8, 3) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(8), Child(3), Other; mspa),
            (true, 9, 5) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(9), Child(5), Other; mspa),
            (true, 10, 5) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(10), Child(5), Other; mspa),
            (true, 11, 3) => fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice,
                SaleOptOut, TargetedAdvertisingOptOut, Sensitive(11), Child(3), Other; mspa),
            _ => panic!("no such state layout"),
        },
        gpc,
    }
}

/// usca (8): sale and sharing, no targeted advertising.
const USCA: Layout = Layout {
    name: "usca",
    fields: fields!(SaleOptOutNotice, SharingOptOutNotice, Other, SaleOptOut, SharingOptOut,
        Sensitive(9), Child(2), Other; mspa),
    gpc: true,
};

/// usut (11) and usia (18): a sensitive data opt-out notice after the
/// targeted advertising notice.
const fn with_sensitive_notice(name: &'static str, gpc: bool) -> Layout {
    Layout {
        name,
        fields: fields!(Other, SaleOptOutNotice, TargetedAdvertisingOptOutNotice, Other,
            SaleOptOut, TargetedAdvertisingOptOut, Sensitive(8), Child(1); mspa),
        gpc,
    }
}

// Evaluated at compile time: a layout `state` has no arm for fails the
// build, never a request.
const USVA: Layout = state("usva", 8, 1, false, false);
const USCO: Layout = state("usco", 7, 1, false, true);
const USUT: Layout = with_sensitive_notice("usut", false);
const USCT: Layout = state("usct", 8, 3, false, true);
const USFL: Layout = state("usfl", 8, 3, true, false);
const USMT: Layout = state("usmt", 8, 3, true, true);
const USOR: Layout = state("usor", 11, 3, true, true);
const USTX: Layout = state("ustx", 8, 1, true, true);
const USDE: Layout = state("usde", 9, 5, true, true);
const USIA: Layout = with_sensitive_notice("usia", true);
const USNE: Layout = state("usne", 8, 1, true, true);
const USNH: Layout = state("usnh", 8, 3, true, true);
const USNJ: Layout = state("usnj", 10, 5, true, true);
const USTN: Layout = state("ustn", 8, 1, true, true);
const USMN: Layout = state("usmn", 8, 1, true, true);

/// The lowest and highest section ids [`decode`] reads.
pub(super) const FIRST: u8 = 7;
pub(super) const LAST: u8 = 23;

/// The layout of section `id` at `version` (`None`: a version privgate
/// does not know).
fn layout(id: u8, version: u32) -> Option<&'static Layout> {
    let layout = match (id, version) {
        (7, 1) => &USNAT_V1,
        (7, 2) => &USNAT_V2,
        (_, 1) => match id {
            8 => &USCA,
            9 => &USVA,
            10 => &USCO,
            11 => &USUT,
            12 => &USCT,
            13 => &USFL,
            14 => &USMT,
            15 => &USOR,
            16 => &USTX,
            17 => &USDE,
            18 => &USIA,
            19 => &USNE,
            20 => &USNH,
            21 => &USNJ,
            22 => &USTN,
            23 => &USMN,
            _ => return None,
        },
        _ => return None,
    };
    Some(layout)
}

/// The name of US section `id` (`None` outside [`FIRST`]..=[`LAST`]).
pub(super) fn name(id: u8) -> Option<&'static str> {
    let version = if id == 7 { 2 } else { 1 };
    layout(id, version).map(|l| l.name)
}

/// Decodes the text of US section `id`: its core segment, then at most
/// one GPC subsection (`.`-separated) where its layout allows one.
pub(super) fn decode(id: u8, text: &str) -> Result<UsSection, GppError> {
    let mut parts = text.split('.');
    let core = parts.next().unwrap_or_default();
    let mut bits = Bits::new(core)?;
    let version = bits.take(6, "a US section's version")?;
    let layout = layout(id, version).ok_or(GppError::SectionVersion { id, version })?;
    let mut section = UsSection {
        id,
        name: layout.name,
        version: version as u8,
        sale_opt_out_notice: None,
        sharing_opt_out_notice: None,
        targeted_advertising_opt_out_notice: None,
        sale_opt_out: None,
        sharing_opt_out: None,
        targeted_advertising_opt_out: None,
        sensitive: [0; MAX_SENSITIVE],
        sensitive_len: 0,
        child: [0; MAX_CHILD],
        child_len: 0,
        gpc: None,
    };
    for field in layout.fields {
        match *field {
            SaleOptOutNotice => section.sale_opt_out_notice = Some(notice(&mut bits)?),
            SharingOptOutNotice => section.sharing_opt_out_notice = Some(notice(&mut bits)?),
            TargetedAdvertisingOptOutNotice => {
                section.targeted_advertising_opt_out_notice = Some(notice(&mut bits)?)
            }
            SaleOptOut => section.sale_opt_out = Some(opt_out(&mut bits)?),
            SharingOptOut => section.sharing_opt_out = Some(opt_out(&mut bits)?),
            TargetedAdvertisingOptOut => {
                section.targeted_advertising_opt_out = Some(opt_out(&mut bits)?)
            }
            Sensitive(n) => {
                for entry in &mut section.sensitive[..n] {
                    *entry = two_bits(&mut bits, "SensitiveDataProcessing")?;
                }
                section.sensitive_len = n as u8;
            }
            Child(n) => {
                for entry in &mut section.child[..n] {
                    *entry = two_bits(&mut bits, "KnownChildSensitiveDataConsents")?;
                }
                section.child_len = n as u8;
            }
            Other => {
                two_bits(&mut bits, "a US section's field")?;
            }
        }
    }
    if let Some(sub) = parts.next() {
        if !layout.gpc {
            return Err(GppError::Subsection(id));
        }
        let mut bits = Bits::new(sub)?;
        if bits.take(2, "the GPC subsection")? != GPC_SUBSECTION {
            return Err(GppError::Subsection(id));
        }
        section.gpc = Some(bits.flag("the GPC subsection")?);
    }
    if parts.next().is_some() {
        return Err(GppError::Subsection(id));
    }
    Ok(section)
}

/// The subsection type of the GPC subsection.
const GPC_SUBSECTION: u32 = 1;

/// A two-bit field: 0, 1 or 2 (3 is defined nowhere, and refused).
fn two_bits(bits: &mut Bits<'_>, part: &'static str) -> Result<u8, GppError> {
    match bits.take(2, part)? {
        3 => Err(GppError::Value(part)),
        v => Ok(v as u8),
    }
}

fn notice(bits: &mut Bits<'_>) -> Result<Notice, GppError> {
    Ok(match two_bits(bits, "an opt-out notice")? {
        0 => Notice::NotApplicable,
        1 => Notice::Provided,
        _ => Notice::NotProvided,
    })
}

fn opt_out(bits: &mut Bits<'_>) -> Result<OptOut, GppError> {
    Ok(match two_bits(bits, "an opt-out")? {
        0 => OptOut::NotApplicable,
        1 => OptOut::OptedOut,
        _ => OptOut::DidNotOptOut,
    })
}
