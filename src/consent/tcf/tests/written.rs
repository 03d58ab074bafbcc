//! Hand-made inputs, written with [`Writer`]: generated strings
//! (proptests) and edge cases of the vendor sections.

use super::*;

/// `(IsARange, start, end)`: one vendor entry; `end == start` unless a
/// range.
type Entry = (bool, u16, u16);

/// A vendor section as a test writes it.
#[derive(Clone, Debug)]
enum Vendors {
    Bits { max: u16, ids: BTreeSet<u16> },
    Entries { max: u16, entries: Vec<Entry> },
}

impl Vendors {
    fn max(&self) -> u16 {
        match self {
            Vendors::Bits { max, .. } | Vendors::Entries { max, .. } => *max,
        }
    }

    fn ids(&self) -> Vec<u16> {
        match self {
            Vendors::Bits { ids, .. } => ids.iter().copied().collect(),
            Vendors::Entries { entries, .. } => {
                let set: BTreeSet<u16> = entries.iter().flat_map(|&(_, s, e)| s..=e).collect();
                set.into_iter().collect()
            }
        }
    }

    fn write(&self, w: &mut Writer) {
        w.put(self.max().into(), 16);
        match self {
            Vendors::Bits { max, ids } => {
                w.put(0, 1);
                for id in 1..=*max {
                    w.put(ids.contains(&id).into(), 1);
                }
            }
            Vendors::Entries { entries, .. } => {
                w.put(1, 1);
                write_entries(w, entries);
            }
        }
    }
}

fn write_entries(w: &mut Writer, entries: &[Entry]) {
    w.put(entries.len() as u64, 12);
    for &(is_range, start, end) in entries {
        w.put(is_range.into(), 1);
        w.put(start.into(), 16);
        if is_range {
            w.put(end.into(), 16);
        }
    }
}

/// A core segment as a test writes it.
#[derive(Clone, Debug)]
struct Core {
    /// Created, last updated (36 bits each, deciseconds).
    times: (u64, u64),
    /// CmpId, CmpVersion, VendorListVersion (12 bits each).
    ids: (u16, u16, u16),
    /// ConsentScreen, TcfPolicyVersion (6 bits each).
    small: (u8, u8),
    /// ConsentLanguage, PublisherCC: letter numbers 0..26.
    letters: ([u8; 2], [u8; 2]),
    /// IsServiceSpecific, UseNonStandardStacks, PurposeOneTreatment.
    flags: (bool, bool, bool),
    /// SpecialFeatureOptIns (12 bits), PurposesConsent and
    /// PurposesLITransparency (24 bits each).
    fields: (u32, u32, u32),
    consents: Vendors,
    li: Vendors,
    /// PurposeId, RestrictionType, vendor entries.
    restrictions: Vec<(u8, u8, Vec<Entry>)>,
}

impl Core {
    fn writer(&self) -> Writer {
        let mut w = Writer::default();
        w.put(2, 6);
        w.put(self.times.0, 36);
        w.put(self.times.1, 36);
        w.put(self.ids.0.into(), 12);
        w.put(self.ids.1.into(), 12);
        w.put(self.small.0.into(), 6);
        self.letters.0.iter().for_each(|&l| w.put(l.into(), 6));
        w.put(self.ids.2.into(), 12);
        w.put(self.small.1.into(), 6);
        w.put(self.flags.0.into(), 1);
        w.put(self.flags.1.into(), 1);
        w.put(self.fields.0.into(), 12);
        w.put(self.fields.1.into(), 24);
        w.put(self.fields.2.into(), 24);
        w.put(self.flags.2.into(), 1);
        self.letters.1.iter().for_each(|&l| w.put(l.into(), 6));
        self.consents.write(&mut w);
        self.li.write(&mut w);
        w.put(self.restrictions.len() as u64, 12);
        for (purpose, kind, entries) in &self.restrictions {
            w.put((*purpose).into(), 6);
            w.put((*kind).into(), 2);
            write_entries(&mut w, entries);
        }
        w
    }

    /// Asserts that `tc` is exactly this core segment.
    fn check(&self, tc: &TcString) -> Result<(), TestCaseError> {
        let letters = |l: [u8; 2]| String::from_iter(l.map(|n| char::from(b'A' + n)));
        prop_assert_eq!(tc.created(), Duration::from_millis(self.times.0 * 100));
        prop_assert_eq!(tc.last_updated(), Duration::from_millis(self.times.1 * 100));
        prop_assert_eq!((tc.cmp_id(), tc.cmp_version()), (self.ids.0, self.ids.1));
        prop_assert_eq!(tc.vendor_list_version(), self.ids.2);
        prop_assert_eq!((tc.consent_screen(), tc.tcf_policy_version()), self.small);
        prop_assert_eq!(tc.consent_language(), letters(self.letters.0));
        prop_assert_eq!(tc.publisher_cc(), letters(self.letters.1));
        let flags = (
            tc.is_service_specific(),
            tc.use_non_standard_stacks(),
            tc.purpose_one_treatment(),
        );
        prop_assert_eq!(flags, self.flags);
        let bits = |field: u32, width: u8| -> Vec<u8> {
            (1..=width)
                .filter(|n| field >> (width - n) & 1 == 1)
                .collect()
        };
        prop_assert_eq!(
            purposes(tc, TcString::special_feature_opt_in),
            bits(self.fields.0, 12)
        );
        prop_assert_eq!(
            purposes(tc, TcString::purpose_consent),
            bits(self.fields.1, 24)
        );
        prop_assert_eq!(
            purposes(tc, TcString::purpose_legitimate_interest),
            bits(self.fields.2, 24)
        );
        for (set, want) in [
            (tc.vendor_consents(), &self.consents),
            (tc.vendor_legitimate_interests(), &self.li),
        ] {
            prop_assert_eq!(set.max_vendor_id(), want.max());
            prop_assert_eq!(ids(set), want.ids());
            prop_assert!(!set.contains(0));
            prop_assert!(!set.contains(want.max().saturating_add(1)) || want.max() == u16::MAX);
        }
        let got: Vec<_> = tc
            .publisher_restrictions()
            .iter()
            .map(|r| {
                (
                    r.purpose(),
                    r.restriction_type() as u8,
                    r.vendor_ranges()
                        .map(|v| (*v.start(), *v.end()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let want: Vec<_> = self
            .restrictions
            .iter()
            .map(|(p, k, entries)| {
                (
                    *p,
                    *k,
                    entries.iter().map(|&(_, s, e)| (s, e)).collect::<Vec<_>>(),
                )
            })
            .collect();
        prop_assert_eq!(got, want);
        Ok(())
    }
}

fn entry(max: u16) -> impl Strategy<Value = Entry> {
    (any::<bool>(), 1..=max, 0u16..2000).prop_map(move |(is_range, start, len)| {
        let end = if is_range {
            start.saturating_add(len).min(max)
        } else {
            start
        };
        (is_range, start, end)
    })
}

fn vendors() -> impl Strategy<Value = Vendors> {
    prop_oneof![4 => 0u16..=300, 1 => 65_400u16..=u16::MAX].prop_flat_map(|max| {
        if max == 0 {
            return prop_oneof![
                Just(Vendors::Bits {
                    max,
                    ids: BTreeSet::new()
                }),
                Just(Vendors::Entries {
                    max,
                    entries: Vec::new()
                }),
            ]
            .boxed();
        }
        prop_oneof![
            btree_set(1..=max, 0..40).prop_map(move |ids| Vendors::Bits { max, ids }),
            vec(entry(max), 0..20).prop_map(move |entries| Vendors::Entries { max, entries }),
        ]
        .boxed()
    })
}

fn core() -> impl Strategy<Value = Core> {
    let letter = || [0u8..26, 0u8..26];
    (
        (0u64..1 << 36, 0u64..1 << 36),
        (0u16..1 << 12, 0u16..1 << 12, 0u16..1 << 12),
        (0u8..64, 0u8..64),
        (letter(), letter()),
        any::<(bool, bool, bool)>(),
        (0u32..1 << 12, 0u32..1 << 24, 0u32..1 << 24),
        vendors(),
        vendors(),
        vec((0u8..64, 0u8..4, vec(entry(u16::MAX), 0..5)), 0..4),
    )
        .prop_map(
            |(times, ids, small, letters, flags, fields, consents, li, restrictions)| Core {
                times,
                ids,
                small,
                letters,
                flags,
                fields,
                consents,
                li,
                restrictions,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever a core segment holds, bit field or ranges, decoding
    /// gives back exactly that, with or without base64 padding and
    /// whichever valid segments follow.
    #[test]
    fn decodes_what_was_encoded(
        core in core(),
        padded in any::<bool>(),
        rest in prop::sample::subsequence(vec![".IBAgAAAgAIAwgAgAAAAEAAAACA", ".QAagAQAgAIAwgA", ".cAAAAAAAITg"], 0..=3),
    ) {
        let bytes = core.writer().bytes();
        let text = if padded { URL_SAFE.encode(&bytes) } else { URL_SAFE_NO_PAD.encode(&bytes) };
        let tc = decode(&format!("{text}{}", rest.concat())).map_err(|e| TestCaseError::fail(e.to_string()))?;
        core.check(&tc)?;
    }

    /// A core segment cut anywhere before its last field is an error,
    /// never a partial value.
    #[test]
    fn cut_segments_are_errors(core in core(), cut in any::<prop::sample::Index>()) {
        let w = core.writer();
        let bytes = w.bytes();
        // Whole bytes that end before the last bit written.
        let keep = cut.index(w.bits.len().div_ceil(8));
        prop_assert!(keep * 8 < w.bits.len());
        let got = decode(&URL_SAFE_NO_PAD.encode(&bytes[..keep]));
        prop_assert!(matches!(got, Err(TcfError::Truncated(_)) | Err(TcfError::Empty)), "{:?}", got);
    }

    /// Arbitrary text never panics.
    #[test]
    fn any_text_is_safe(text in any::<String>()) {
        let _ = decode(&text);
    }

    /// Nor do arbitrary bytes behind a version 2 header, which get past
    /// the version check; what decodes keeps the vendor invariants.
    #[test]
    fn any_version_2_bytes_are_safe(mut bytes in vec(any::<u8>(), 1..400)) {
        bytes[0] = 2 << 2 | bytes[0] & 0b11;
        if let Ok(tc) = decode(&URL_SAFE_NO_PAD.encode(&bytes)) {
            for set in [tc.vendor_consents(), tc.vendor_legitimate_interests()] {
                prop_assert!(!set.contains(0));
                prop_assert!(set.iter().all(|id| id <= set.max_vendor_id()));
            }
        }
    }

    /// Nor does a valid string with one bit flipped.
    #[test]
    fn flipped_bits_are_safe(core in core(), at in any::<prop::sample::Index>()) {
        let mut bytes = core.writer().bytes();
        let bit = at.index(bytes.len() * 8);
        bytes[bit / 8] ^= 0x80 >> (bit % 8);
        let _ = decode(&URL_SAFE_NO_PAD.encode(&bytes));
    }
}

/// A core segment with the given vendor consent section, the rest
/// zero.
fn with_consents(consents: Vendors) -> Writer {
    Core {
        times: (0, 0),
        ids: (0, 0, 0),
        small: (0, 0),
        letters: ([0, 0], [0, 0]),
        flags: (false, false, false),
        fields: (0, 0, 0),
        consents,
        li: Vendors::Bits {
            max: 0,
            ids: BTreeSet::new(),
        },
        restrictions: Vec::new(),
    }
    .writer()
}

#[test]
fn ranges_out_of_order_are_errors() {
    let entries =
        |entries: Vec<Entry>| with_consents(Vendors::Entries { max: 100, entries }).encoded();
    assert_eq!(
        decode(&entries(vec![(true, 1, 101)])),
        Err(TcfError::AboveMax {
            section: VENDOR_CONSENTS,
            id: 101,
            max: 100
        })
    );
    assert_eq!(
        decode(&entries(vec![(false, 101, 101)])),
        Err(TcfError::AboveMax {
            section: VENDOR_CONSENTS,
            id: 101,
            max: 100
        })
    );
    assert_eq!(
        decode(&entries(vec![(true, 50, 49)])),
        Err(TcfError::Inverted {
            section: VENDOR_CONSENTS,
            start: 50,
            end: 49
        })
    );
    assert_eq!(
        decode(&entries(vec![(true, 0, 3)])),
        Err(TcfError::VendorZero(VENDOR_CONSENTS))
    );
    assert_eq!(
        decode(&entries(vec![(true, 100, 100)])).map(|tc| ids(tc.vendor_consents())),
        Ok(vec![100])
    );
}

#[test]
fn malformed_headers_are_errors() {
    assert_eq!(decode(""), Err(TcfError::Empty));
    assert_eq!(decode(".IFoEUQQgAIQwgIwQ"), Err(TcfError::Empty));
    assert_eq!(
        decode(&"A".repeat(MAX_CORE_LEN + 1)),
        Err(TcfError::TooLong)
    );
    assert_eq!(decode("COvF yGBO"), Err(TcfError::Base64));
    // The standard alphabet's `+` and `/` are not base64url.
    assert_eq!(decode("COvF+GBO"), Err(TcfError::Base64));
    // ConsentLanguage's first letter is 26, past Z.
    let mut w = with_consents(Vendors::Bits {
        max: 0,
        ids: BTreeSet::new(),
    });
    w.bits
        .splice(108..114, [false, true, true, false, true, false]);
    assert_eq!(
        decode(&w.encoded()),
        Err(TcfError::Letter("ConsentLanguage"))
    );
}

/// The largest sections a string can describe decode in bounded memory
/// and time: 4,095 ranges over all 65,535 vendors, and a full bit field.
#[test]
fn largest_sections_are_bounded() {
    let entries = vec![(true, 1, u16::MAX); 4095];
    let tc = ok(&with_consents(Vendors::Entries {
        max: u16::MAX,
        entries,
    })
    .encoded());
    assert!(tc.vendor_consent(1) && tc.vendor_consent(u16::MAX));
    assert_eq!(tc.vendor_consents().words.len(), 1024);
    let ids = (1..=u16::MAX).step_by(2).collect();
    let tc = ok(&with_consents(Vendors::Bits { max: u16::MAX, ids }).encoded());
    assert!(tc.vendor_consent(1) && !tc.vendor_consent(2) && tc.vendor_consent(u16::MAX));
}
