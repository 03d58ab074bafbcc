//! Tests of the GPP decoder: the IAB's published example strings, strings
//! the IAB's own encoder made (`tests/fixtures/gpp/`), hand-made strings
//! from a test-only bit writer (the edges no encoder makes), and
//! proptests: arbitrary input and every cut of a valid string never
//! panic, and US sections written from random fields read back as written.

use super::*;
use proptest::prelude::*;

fn ok(gpp: &str) -> Gpp {
    match decode(gpp) {
        Ok(decoded) => decoded,
        Err(e) => panic!("{gpp}: {e}"),
    }
}

fn us_sections(gpp: &Gpp) -> Vec<&UsSection> {
    gpp.sections()
        .iter()
        .filter_map(|s| match s {
            Section::Us(us) => Some(us),
            _ => None,
        })
        .collect()
}

/// The GPP specification's examples (IAB Tech Lab, "Consent String
/// Specification", "Example GPP strings"): a TCF EU v2 section alone, and
/// with a US Privacy section.
#[test]
fn iab_specification_examples() {
    let tc = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA";
    let gpp = ok(&format!("DBABM~{tc}"));
    assert_eq!(gpp.ids().collect::<Vec<_>>(), [2]);
    let Section::TcfEuV2(decoded) = &gpp.sections()[0] else {
        panic!("not a TCF section");
    };
    // The same as the bare TC string, field for field.
    assert_eq!(**decoded, tcf::decode(tc).unwrap());
    assert_eq!(decoded.cmp_id(), 31);
    let gpp = ok(&format!("DBACNY~{tc}~1YNN"));
    assert_eq!(gpp.ids().collect::<Vec<_>>(), [2, 6]);
    assert_eq!(
        gpp.sections()[1],
        Section::UspV1(UsPrivacy {
            notice: Flag::Yes,
            opt_out_sale: Flag::No,
            lspa_covered: Flag::No,
        })
    );
}

fn notice_value(n: Option<Notice>) -> serde_json::Value {
    n.map_or(serde_json::Value::Null, |n| match n {
        Notice::NotApplicable => 0.into(),
        Notice::Provided => 1.into(),
        Notice::NotProvided => 2.into(),
    })
}

fn opt_out_value(o: Option<OptOut>) -> serde_json::Value {
    o.map_or(serde_json::Value::Null, |o| match o {
        OptOut::NotApplicable => 0.into(),
        OptOut::OptedOut => 1.into(),
        OptOut::DidNotOptOut => 2.into(),
    })
}

fn flag_char(f: Flag) -> char {
    match f {
        Flag::Yes => 'Y',
        Flag::No => 'N',
        Flag::NotApplicable => '-',
    }
}

fn fixture() -> serde_json::Value {
    serde_json::from_str(include_str!("../../../tests/fixtures/gpp/strings.json")).unwrap()
}

/// Strings made by the IAB's own encoder (`@iabgpp/cmpapi`;
/// `tests/fixtures/gpp/generate.js` made them, the version is in the
/// file): every valid one decodes, section by section, to exactly what
/// the encoder was given (every opt-out and notice, every sensitive data
/// and known child entry, the GPC subsection's bit or its absence; the
/// TCF section's purposes, vendors and restrictions; the US Privacy
/// characters), and every garbage variant is an error.
#[test]
fn iab_encoder_vectors() {
    let file = fixture();
    let strings = file["strings"].as_object().unwrap();
    assert!(strings.len() > 150, "the fixture has its strings");
    let (mut valid, mut invalid) = (0, 0);
    for (name, case) in strings {
        let text = case["gpp"].as_str().unwrap();
        if case["valid"] != true {
            assert!(decode(text).is_err(), "{name} decodes");
            invalid += 1;
            continue;
        }
        valid += 1;
        let gpp = decode(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = case["sections"].as_array().unwrap();
        assert_eq!(gpp.sections().len(), expected.len(), "{name}");
        for (got, want) in gpp.sections().iter().zip(expected) {
            assert_eq!(u64::from(got.id()), want["id"], "{name}");
            match got {
                Section::Us(us) => {
                    assert_eq!(us.name, want["name"], "{name}");
                    assert_eq!(u64::from(us.version), want["version"], "{name}");
                    let fields = [
                        ("SaleOptOutNotice", notice_value(us.sale_opt_out_notice)),
                        (
                            "SharingOptOutNotice",
                            notice_value(us.sharing_opt_out_notice),
                        ),
                        (
                            "TargetedAdvertisingOptOutNotice",
                            notice_value(us.targeted_advertising_opt_out_notice),
                        ),
                        ("SaleOptOut", opt_out_value(us.sale_opt_out)),
                        ("SharingOptOut", opt_out_value(us.sharing_opt_out)),
                        (
                            "TargetedAdvertisingOptOut",
                            opt_out_value(us.targeted_advertising_opt_out),
                        ),
                    ];
                    for (field, value) in fields {
                        assert_eq!(value, want[field], "{name}: {}.{field}", us.name);
                    }
                    assert_eq!(
                        serde_json::json!(us.sensitive_data_processing()),
                        want["SensitiveDataProcessing"],
                        "{name}"
                    );
                    assert_eq!(
                        serde_json::json!(us.known_child_sensitive_data_consents()),
                        want["KnownChildSensitiveDataConsents"],
                        "{name}"
                    );
                    assert_eq!(serde_json::json!(us.gpc), want["Gpc"], "{name}");
                }
                Section::TcfEuV2(tc) => {
                    let purposes: Vec<u8> = (1..=24).filter(|&p| tc.purpose_consent(p)).collect();
                    assert_eq!(serde_json::json!(purposes), want["purposes"], "{name}");
                    let vendors: Vec<u16> = tc.vendor_consents().iter().collect();
                    assert_eq!(serde_json::json!(vendors), want["vendors"], "{name}");
                    let restrictions: Vec<serde_json::Value> = tc
                        .publisher_restrictions()
                        .iter()
                        .map(|r| {
                            let ids: Vec<u16> = r.vendor_ranges().flatten().collect();
                            serde_json::json!([r.purpose(), r.restriction_type() as u8, ids])
                        })
                        .collect();
                    assert_eq!(
                        serde_json::json!(restrictions),
                        want["restrictions"],
                        "{name}"
                    );
                }
                Section::UspV1(usp) => {
                    let text: String = ['1', flag_char(usp.notice), flag_char(usp.opt_out_sale)]
                        .into_iter()
                        .chain([flag_char(usp.lspa_covered)])
                        .collect();
                    assert_eq!(text, want["usp"], "{name}");
                }
                Section::Other(id) => panic!("{name}: section {id} unread"),
            }
        }
    }
    assert!(
        valid > 140 && invalid > 15,
        "{valid} valid, {invalid} invalid"
    );
}

/// Every US section privgate reads appears in the vectors, at each
/// version it reads.
#[test]
fn the_vectors_cover_every_us_section() {
    let file = fixture();
    let mut seen = std::collections::BTreeSet::new();
    for case in file["strings"].as_object().unwrap().values() {
        if case["valid"] != true {
            continue;
        }
        for s in ok(case["gpp"].as_str().unwrap()).sections() {
            if let Section::Us(us) = s {
                seen.insert((us.id, us.version));
            }
        }
    }
    let mut want: std::collections::BTreeSet<(u8, u8)> = (8..=23).map(|id| (id, 1)).collect();
    want.extend([(7, 1), (7, 2)]);
    assert_eq!(seen, want);
}

/// Bare US Privacy strings, as the encoder's `uspv1` section writes them,
/// and malformed ones.
#[test]
fn us_privacy_vectors() {
    let file = fixture();
    let cases = file["us_privacy"].as_object().unwrap();
    assert!(cases.len() >= 12);
    for (text, case) in cases {
        if case["valid"] != true {
            assert_eq!(decode_us_privacy(text), Err(GppError::UsPrivacy), "{text}");
            continue;
        }
        let usp = decode_us_privacy(text).unwrap();
        assert_eq!(flag_char(usp.notice).to_string(), case["notice"], "{text}");
        assert_eq!(
            flag_char(usp.opt_out_sale).to_string(),
            case["opt_out_sale"]
        );
        assert_eq!(
            flag_char(usp.lspa_covered).to_string(),
            case["lspa_covered"]
        );
    }
}

/// A test-only bit writer: the bits of the fields given, as base64url.
#[derive(Default)]
struct Writer {
    bits: Vec<bool>,
}

impl Writer {
    fn int(mut self, value: u64, width: u32) -> Writer {
        for i in (0..width).rev() {
            self.bits.push(value >> i & 1 == 1);
        }
        self
    }

    /// A Fibonacci-coded positive integer.
    fn fib(mut self, mut value: u64) -> Writer {
        let mut fibs = vec![1u64, 2];
        while fibs[fibs.len() - 1] + fibs[fibs.len() - 2] <= value {
            fibs.push(fibs[fibs.len() - 1] + fibs[fibs.len() - 2]);
        }
        let mut code = vec![false; fibs.len()];
        for i in (0..fibs.len()).rev() {
            if fibs[i] <= value {
                code[i] = true;
                value -= fibs[i];
            }
        }
        while code.last() == Some(&false) {
            code.pop();
        }
        self.bits.extend(code);
        self.bits.push(true);
        self
    }

    fn text(&self) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        self.bits
            .chunks(6)
            .map(|chunk| {
                let v = (0..6).fold(0, |v, i| v << 1 | usize::from(chunk.get(i) == Some(&true)));
                ALPHABET[v] as char
            })
            .collect()
    }
}

/// A header listing `entries` (`(start_offset, Some(end_offset))` for a
/// range).
fn header(entries: &[(u64, Option<u64>)]) -> String {
    let mut w = Writer::default()
        .int(3, 6)
        .int(1, 6)
        .int(entries.len() as u64, 12);
    for &(start, end) in entries {
        w = w.int(u64::from(end.is_some()), 1).fib(start);
        if let Some(end) = end {
            w = w.fib(end);
        }
    }
    w.text()
}

#[test]
fn header_ids_and_ranges() {
    assert_eq!(header(&[(2, None)]), "DBABM");
    assert_eq!(header_ids("DBABM").unwrap(), [2]);
    // 2, then 6 (offset 4).
    assert_eq!(
        header_ids(&header(&[(2, None), (4, None)])).unwrap(),
        [2, 6]
    );
    // 7 to 10 as a range, then 12.
    assert_eq!(
        header_ids(&header(&[(7, Some(3)), (2, None)])).unwrap(),
        [7, 8, 9, 10, 12]
    );
    assert_eq!(header_ids(&header(&[])).unwrap(), [0u8; 0]);
    // The highest id is fine, one past it is not, nor a range past it.
    assert_eq!(header_ids(&header(&[(63, None)])).unwrap(), [63]);
    assert!(matches!(
        header_ids(&header(&[(64, None)])),
        Err(GppError::TooLarge(_))
    ));
    assert!(matches!(
        header_ids(&header(&[(1, Some(1_000_000))])),
        Err(GppError::TooLarge(_))
    ));
    assert!(matches!(
        header_ids(&header(&[(60, None), (4, None)])),
        Err(GppError::TooLarge(_))
    ));
    // A count of 4,095 with few entries behind it: cut, not a loop.
    let many = Writer::default()
        .int(3, 6)
        .int(1, 6)
        .int(4095, 12)
        .int(0, 1)
        .fib(1);
    assert!(matches!(
        header_ids(&many.text()),
        Err(GppError::Truncated(_))
    ));
    // A Fibonacci code that never ends.
    let zeros = format!("DBAB{}", "A".repeat(100));
    assert!(header_ids(&zeros).is_err());
}

#[test]
fn header_type_version_and_length() {
    assert_eq!(decode(""), Err(GppError::Empty));
    assert_eq!(decode("EBABM~1YNN"), Err(GppError::HeaderType(4)));
    assert_eq!(decode("DCABM~1YNN"), Err(GppError::HeaderVersion(2)));
    let long = format!("DBABM~{}", "A".repeat(MAX_LEN));
    assert_eq!(decode(&long), Err(GppError::TooLong));
    // One section listed, two follow; two listed, one follows.
    let h = header(&[(6, None)]);
    assert_eq!(
        decode(&format!("{h}~1YNN~1YNN")),
        Err(GppError::SectionCount {
            listed: 1,
            found: 2
        })
    );
    let h = header(&[(6, None), (1, None)]);
    assert_eq!(
        decode(&format!("{h}~1YNN")),
        Err(GppError::SectionCount {
            listed: 2,
            found: 1
        })
    );
}

/// A usnat v2 core with every two-bit field `v`, 16 and 3 entries.
fn usnat(version: u64, v: u64) -> String {
    let (sensitive, child) = if version == 1 { (12, 2) } else { (16, 3) };
    let mut w = Writer::default().int(version, 6);
    for _ in 0..(9 + sensitive + child + 4) {
        w = w.int(v, 2);
    }
    w.text()
}

#[test]
fn usnat_versions_values_and_subsections() {
    let h = header(&[(7, None)]);
    for version in [1, 2] {
        let gpp = ok(&format!("{h}~{}", usnat(version, 1)));
        let us = us_sections(&gpp)[0];
        assert_eq!(us.version as u64, version);
        assert_eq!(us.sale_opt_out, Some(OptOut::OptedOut));
        assert_eq!(
            us.sensitive_data_processing().len(),
            if version == 1 { 12 } else { 16 }
        );
        assert_eq!(us.gpc, None);
    }
    assert_eq!(
        decode(&format!("{h}~{}", usnat(3, 1))),
        Err(GppError::SectionVersion { id: 7, version: 3 })
    );
    assert!(matches!(
        decode(&format!("{h}~{}", usnat(2, 3))),
        Err(GppError::Value(_))
    ));
    let gpc = |kind: u64, bit: u64| Writer::default().int(kind, 2).int(bit, 1).text();
    let core = usnat(2, 2);
    let with = ok(&format!("{h}~{core}.{}", gpc(1, 1)));
    assert_eq!(us_sections(&with)[0].gpc, Some(true));
    assert_eq!(
        decode(&format!("{h}~{core}.{}", gpc(2, 1))),
        Err(GppError::Subsection(7))
    );
    assert_eq!(
        decode(&format!("{h}~{core}.{}.{}", gpc(1, 1), gpc(1, 0))),
        Err(GppError::Subsection(7))
    );
    assert_eq!(decode(&format!("{h}~{core}.")), Err(GppError::EmptySegment));
    // Cut anywhere inside the core's fields.
    for cut in 1..core.len() - 1 {
        assert!(decode(&format!("{h}~{}", &core[..cut])).is_err(), "{cut}");
    }
}

#[test]
fn unread_sections_are_kept_by_id() {
    // TCF Canada (5) and an id nobody assigned (40): their text is not
    // read, but they are there.
    let h = header(&[(5, None), (35, None)]);
    let gpp = ok(&format!("{h}~whatever~x"));
    assert_eq!(gpp.sections(), [Section::Other(5), Section::Other(40)]);
}

#[test]
fn a_bad_tcf_section_is_a_tcf_error() {
    let h = header(&[(2, None)]);
    assert!(matches!(
        decode(&format!("{h}~CPXx")),
        Err(GppError::Tcf(_))
    ));
}

#[test]
fn sid() {
    assert_eq!(decode_sid("7"), Ok(1 << 7));
    assert_eq!(decode_sid("2,6"), Ok(1 << 2 | 1 << 6));
    assert_eq!(decode_sid("-1"), Ok(0));
    for bad in ["", "x", "7,", "64", "-2", "1;2"] {
        assert_eq!(decode_sid(bad), Err(GppError::Sid), "{bad}");
    }
}

/// Random US section fields, written in a section's layout.
#[derive(Debug, Clone)]
struct Fields {
    id: u8,
    values: Vec<u8>,
    gpc: Option<bool>,
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        7u8..=23,
        proptest::collection::vec(0u8..3, 40),
        any::<Option<bool>>(),
    )
        .prop_map(|(id, values, gpc)| Fields { id, values, gpc })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary text never panics.
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = decode(&text);
        let _ = decode_us_privacy(&text);
        let _ = decode_sid(&text);
    }

    /// Arbitrary base64url sections behind a valid header never panic.
    #[test]
    fn arbitrary_sections_never_panic(
        ids in proptest::collection::btree_set(1u8..=30, 1..5),
        texts in proptest::collection::vec("[A-Za-z0-9_.-]{0,40}", 5),
    ) {
        let mut last = 0u64;
        let entries: Vec<(u64, Option<u64>)> = ids.iter().map(|&id| {
            let offset = u64::from(id) - last;
            last = u64::from(id);
            (offset, None)
        }).collect();
        let h = header(&entries);
        let gpp = std::iter::once(h).chain(texts.into_iter().take(ids.len())).collect::<Vec<_>>().join("~");
        let _ = decode(&gpp);
    }

    /// Every cut of every valid vector never panics; a cut inside the
    /// header or that drops a section is an error.
    #[test]
    fn truncations_never_panic(pick in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let file = fixture();
        let valid: Vec<String> = file["strings"].as_object().unwrap().values()
            .filter(|c| c["valid"] == true)
            .map(|c| c["gpp"].as_str().unwrap().to_owned())
            .collect();
        let gpp = pick.get(&valid);
        let at = cut.index(gpp.len());
        let short = &gpp[..at];
        let result = decode(short);
        if !short.contains('~') {
            prop_assert!(result.is_err());
        }
    }

    /// A US section written field by field in its layout reads back as
    /// written (a round trip through a writer that shares nothing with the
    /// reader but the specification's tables, restated here).
    #[test]
    fn us_sections_round_trip(f in fields()) {
        // (has sharing, has targeted advertising, sensitive entries, child
        // entries, GPC subsection) per id, from the IAB section
        // specifications; every section has a sale notice and opt-out.
        let (sharing_n, ta_n, sensitive, child, gpc_ok) = match f.id {
            7 => (true, true, 16, 3, true),
            8 => (true, false, 9, 2, true),
            9 => (false, true, 8, 1, false),
            10 => (false, true, 7, 1, true),
            11 => (false, true, 8, 1, false),
            12 => (false, true, 8, 3, true),
            13 => (false, true, 8, 3, false),
            14 => (false, true, 8, 3, true),
            15 => (false, true, 11, 3, true),
            16 => (false, true, 8, 1, true),
            17 => (false, true, 9, 5, true),
            18 => (false, true, 8, 1, true),
            19 | 22 | 23 => (false, true, 8, 1, true),
            20 => (false, true, 8, 3, true),
            21 => (false, true, 10, 5, true),
            _ => unreachable!(),
        };
        let version = if f.id == 7 { 2 } else { 1 };
        let mut v = f.values.iter().map(|&x| u64::from(x));
        let mut next = || v.next().unwrap();
        let mut w = Writer::default().int(version, 6);
        let leading = !matches!(f.id, 8);
        if leading { w = w.int(next(), 2); }
        let sale_notice = next();
        w = w.int(sale_notice, 2);
        let sharing_notice = next();
        if sharing_n { w = w.int(sharing_notice, 2); }
        let ta_notice = next();
        if ta_n { w = w.int(ta_notice, 2); }
        // usnat: two more notices; usca: the limit use notice; usut, usia:
        // a sensitive data notice.
        let between = match f.id { 7 => 2, 8 | 11 | 18 => 1, _ => 0 };
        for _ in 0..between { w = w.int(next(), 2); }
        let sale = next();
        w = w.int(sale, 2);
        let sharing = next();
        if sharing_n { w = w.int(sharing, 2); }
        let ta = next();
        if ta_n { w = w.int(ta, 2); }
        let sdp: Vec<u8> = (0..sensitive).map(|_| next() as u8).collect();
        for &x in &sdp { w = w.int(u64::from(x), 2); }
        let kc: Vec<u8> = (0..child).map(|_| next() as u8).collect();
        for &x in &kc { w = w.int(u64::from(x), 2); }
        // PersonalDataConsents or AdditionalDataProcessingConsent.
        let extra = matches!(f.id, 7 | 8 | 13..=17 | 19..=23);
        if extra { w = w.int(next(), 2); }
        // The MSPA fields.
        w = w.int(1, 2).int(next(), 2).int(next(), 2);
        let mut text = format!("{}~{}", header(&[(u64::from(f.id), None)]), w.text());
        if let Some(bit) = f.gpc {
            text = format!("{text}.{}", Writer::default().int(1, 2).int(u64::from(bit), 1).text());
        }
        let result = decode(&text);
        if f.gpc.is_some() && !gpc_ok {
            prop_assert_eq!(result, Err(GppError::Subsection(f.id)));
            return Ok(());
        }
        let gpp = result.unwrap();
        let us = us_sections(&gpp)[0];
        let notice = |x: u64| Some(match x { 0 => Notice::NotApplicable, 1 => Notice::Provided, _ => Notice::NotProvided });
        let opt_out = |x: u64| Some(match x { 0 => OptOut::NotApplicable, 1 => OptOut::OptedOut, _ => OptOut::DidNotOptOut });
        prop_assert_eq!(us.sale_opt_out_notice, notice(sale_notice));
        prop_assert_eq!(us.sharing_opt_out_notice, if sharing_n { notice(sharing_notice) } else { None });
        prop_assert_eq!(us.targeted_advertising_opt_out_notice, if ta_n { notice(ta_notice) } else { None });
        prop_assert_eq!(us.sale_opt_out, opt_out(sale));
        prop_assert_eq!(us.sharing_opt_out, if sharing_n { opt_out(sharing) } else { None });
        prop_assert_eq!(us.targeted_advertising_opt_out, if ta_n { opt_out(ta) } else { None });
        prop_assert_eq!(us.sensitive_data_processing(), &sdp[..]);
        prop_assert_eq!(us.known_child_sensitive_data_consents(), &kc[..]);
        prop_assert_eq!(us.gpc, f.gpc);
    }
}
