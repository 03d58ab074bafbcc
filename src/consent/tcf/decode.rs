//! Reading a TC string: its segments, the core segment's fields and the
//! bit reader under both (see the parent module for what is refused).

use super::*;

/// Decodes a whole TC string: the core segment, then every segment after
/// it. See the module documentation for what is read and what an error
/// means.
pub fn decode(tc: &str) -> Result<TcString, TcfError> {
    let mut segments = tc.split('.');
    let mut decoded = decode_core(segments.next().unwrap_or_default())?;
    for segment in segments {
        decoded.add_segment(segment)?;
    }
    Ok(decoded)
}

/// The bytes of one segment's base64url text.
fn segment_bytes(segment: &str) -> Result<Vec<u8>, TcfError> {
    if segment.len() > MAX_CORE_LEN {
        return Err(TcfError::TooLong);
    }
    BASE64URL.decode(segment).map_err(|_| TcfError::Base64)
}

/// Decodes the core segment (the text before the first `.`).
fn decode_core(core: &str) -> Result<TcString, TcfError> {
    if core.is_empty() {
        return Err(TcfError::Empty);
    }
    let bytes = segment_bytes(core)?;
    let mut bits = Bits {
        bytes: &bytes,
        at: 0,
    };
    let version = bits.take(6, HEADER)? as u8;
    if version != VERSION {
        return Err(TcfError::Version(version));
    }
    Ok(TcString {
        created: bits.take(36, HEADER)?,
        last_updated: bits.take(36, HEADER)?,
        cmp_id: bits.take(12, HEADER)? as u16,
        cmp_version: bits.take(12, HEADER)? as u16,
        consent_screen: bits.take(6, HEADER)? as u8,
        consent_language: bits.letters("ConsentLanguage")?,
        vendor_list_version: bits.take(12, HEADER)? as u16,
        tcf_policy_version: bits.take(6, HEADER)? as u8,
        is_service_specific: bits.flag(HEADER)?,
        use_non_standard_stacks: bits.flag(HEADER)?,
        special_features: bits.take(12, HEADER)? as u32,
        purpose_consents: bits.take(24, HEADER)? as u32,
        purpose_li: bits.take(24, HEADER)? as u32,
        purpose_one_treatment: bits.flag(HEADER)?,
        publisher_cc: bits.letters("PublisherCC")?,
        vendor_consents: bits.vendor_section(VENDOR_CONSENTS)?,
        vendor_li: bits.vendor_section(VENDOR_LI)?,
        restrictions: bits.restrictions()?,
        disclosed_vendors: None,
        allowed_vendors: None,
        publisher_tc: None,
    })
}

impl TcString {
    /// Reads one segment after the core into the string.
    fn add_segment(&mut self, segment: &str) -> Result<(), TcfError> {
        if segment.is_empty() {
            return Err(TcfError::EmptySegment);
        }
        let bytes = segment_bytes(segment)?;
        let mut bits = Bits {
            bytes: &bytes,
            at: 0,
        };
        let kind = bits.take(3, "a segment's type")? as u8;
        let (slot_taken, name) = match kind {
            DISCLOSED_VENDORS => (self.disclosed_vendors.is_some(), DISCLOSED),
            ALLOWED_VENDORS => (self.allowed_vendors.is_some(), ALLOWED),
            PUBLISHER_TC => (self.publisher_tc.is_some(), PUBLISHER),
            other => return Err(TcfError::SegmentType(other)),
        };
        if slot_taken {
            return Err(TcfError::RepeatedSegment(name));
        }
        match kind {
            DISCLOSED_VENDORS => self.disclosed_vendors = Some(bits.vendor_section(DISCLOSED)?),
            ALLOWED_VENDORS => self.allowed_vendors = Some(bits.vendor_section(ALLOWED)?),
            _ => {
                let consents = bits.take(24, PUBLISHER)? as u32;
                let li = bits.take(24, PUBLISHER)? as u32;
                let custom = bits.take(6, PUBLISHER)? as u8;
                self.publisher_tc = Some(PublisherTc {
                    consents,
                    li,
                    custom,
                    custom_consents: bits.take(u32::from(custom), PUBLISHER)?,
                    custom_li: bits.take(u32::from(custom), PUBLISHER)?,
                });
            }
        }
        Ok(())
    }
}

/// Reads big-endian bit fields from the decoded bytes.
struct Bits<'a> {
    bytes: &'a [u8],
    /// The next bit to read.
    at: usize,
}

impl Bits<'_> {
    /// The next `n` bits (`n <= 64`) as an unsigned number, or
    /// [`TcfError::Truncated`] naming `part` if fewer are left.
    fn take(&mut self, n: u32, part: &'static str) -> Result<u64, TcfError> {
        let end = self.at + n as usize;
        if n > 64 || end > self.bytes.len() * 8 {
            return Err(TcfError::Truncated(part));
        }
        let mut value = 0u64;
        while self.at < end {
            let byte = self.bytes.get(self.at / 8).copied().unwrap_or_default();
            let offset = self.at % 8;
            let len = (8 - offset).min(end - self.at);
            let chunk = (byte >> (8 - offset - len)) & (0xff >> (8 - len));
            value = value << len | u64::from(chunk);
            self.at += len;
        }
        Ok(value)
    }

    fn flag(&mut self, part: &'static str) -> Result<bool, TcfError> {
        Ok(self.take(1, part)? == 1)
    }

    /// Two 6-bit letters, 0 = `A` .. 25 = `Z`.
    fn letters(&mut self, field: &'static str) -> Result<[u8; 2], TcfError> {
        let mut out = [0; 2];
        for letter in &mut out {
            let n = self.take(6, HEADER)? as u8;
            if n > 25 {
                return Err(TcfError::Letter(field));
            }
            *letter = b'A' + n;
        }
        Ok(out)
    }

    /// `MaxVendorId`, `IsRangeEncoding`, then a bit field of `MaxVendorId`
    /// bits (vendor 1 first) or a list of entries.
    fn vendor_section(&mut self, section: &'static str) -> Result<VendorSet, TcfError> {
        let max = self.take(16, section)? as u16;
        let mut set = VendorSet::empty(max);
        if self.flag(section)? {
            let entries = self.take(12, section)?;
            for _ in 0..entries {
                let (start, end) = self.entry(section)?;
                if end > max {
                    return Err(TcfError::AboveMax {
                        section,
                        id: end,
                        max,
                    });
                }
                set.insert_range(start, end);
            }
        } else {
            let mut left = u32::from(max);
            for word in &mut set.words {
                // Every word holds at least one vendor: 1 <= n <= 64.
                let n = left.min(64);
                *word = (self.take(n, section)? << (64 - n)).reverse_bits();
                left -= n;
            }
        }
        Ok(set)
    }

    /// `IsARange`, `StartOrOnlyVendorId`, and `EndVendorId` if a range.
    fn entry(&mut self, section: &'static str) -> Result<(u16, u16), TcfError> {
        let is_range = self.flag(section)?;
        let start = self.take(16, section)? as u16;
        let end = if is_range {
            self.take(16, section)? as u16
        } else {
            start
        };
        if start == 0 {
            return Err(TcfError::VendorZero(section));
        }
        if end < start {
            return Err(TcfError::Inverted {
                section,
                start,
                end,
            });
        }
        Ok((start, end))
    }

    /// `NumPubRestrictions`, then per restriction `PurposeId`,
    /// `RestrictionType` and a list of vendor entries.
    fn restrictions(&mut self) -> Result<Vec<PublisherRestriction>, TcfError> {
        let count = self.take(12, RESTRICTIONS)?;
        let mut out = Vec::new();
        for _ in 0..count {
            let purpose = self.take(6, RESTRICTIONS)? as u8;
            let restriction_type = match self.take(2, RESTRICTIONS)? {
                0 => RestrictionType::NotAllowed,
                1 => RestrictionType::RequireConsent,
                2 => RestrictionType::RequireLegitimateInterest,
                _ => RestrictionType::Undefined,
            };
            let entries = self.take(12, RESTRICTIONS)?;
            let mut ranges = Vec::new();
            for _ in 0..entries {
                ranges.push(self.entry(RESTRICTIONS)?);
            }
            out.push(PublisherRestriction {
                purpose,
                restriction_type,
                ranges,
            });
        }
        Ok(out)
    }
}
