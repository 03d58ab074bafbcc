//! The US Privacy string (`us_privacy`, CCPA): four characters, the GPP's
//! section 6 (`uspv1`) when inside a GPP string.

use super::GppError;

/// One of the US Privacy string's `Y`/`N`/`-` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// `Y`.
    Yes,
    /// `N`.
    No,
    /// `-`: not applicable (the site is not subject to the CCPA).
    NotApplicable,
}

/// A decoded US Privacy string, version 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsPrivacy {
    /// Whether explicit notice and the opportunity to opt out of the sale
    /// was given.
    pub notice: Flag,
    /// Whether the user opted out of the sale of their personal data.
    pub opt_out_sale: Flag,
    /// Whether the publisher is a signatory of the IAB's Limited Service
    /// Provider Agreement.
    pub lspa_covered: Flag,
}

/// Decodes a US Privacy string: exactly `1` (the only version) then three
/// of `Y`, `N`, `-` (upper case, as the specification writes them).
/// Anything else is [`GppError::UsPrivacy`].
pub fn decode_us_privacy(text: &str) -> Result<UsPrivacy, GppError> {
    let &[version, notice, opt_out_sale, lspa_covered] = text.as_bytes() else {
        return Err(GppError::UsPrivacy);
    };
    if version != b'1' {
        return Err(GppError::UsPrivacy);
    }
    let flag = |c: u8| match c {
        b'Y' => Ok(Flag::Yes),
        b'N' => Ok(Flag::No),
        b'-' => Ok(Flag::NotApplicable),
        _ => Err(GppError::UsPrivacy),
    };
    Ok(UsPrivacy {
        notice: flag(notice)?,
        opt_out_sale: flag(opt_out_sale)?,
        lspa_covered: flag(lspa_covered)?,
    })
}
