//! Strings with known decoded values, each from where it is cited.

use super::*;

/// The IAB TCF v2 specification's example string (IAB Tech Lab,
/// "Consent string and vendor list formats v2", section "How should a
/// TC String be passed in a URL"); the decoded values are those asserted
/// by bidtellect/tcf, Bidtellect.Tcf.Tests/TcStringParserTests.cs
/// (CanParseExampleString), and by the tests of the crate lib_tcstring
/// 0.5.0, src/decode/tcf_2.rs (iab_tcf_v2_core_vendor_range).
#[test]
fn iab_specification_example() {
    let disclosed = ".IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw";
    let core = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
    for tc in [core.to_string(), format!("{core}{disclosed}")] {
        let tc = ok(&tc);
        assert_eq!(tc.version(), 2);
        assert_eq!(tc.created(), Duration::from_millis(1_582_243_059_300));
        assert_eq!(tc.last_updated(), Duration::from_millis(1_582_243_059_300));
        assert_eq!(header(&tc), (27, 0, 0, "EN", 15, 2, "AA"));
        assert!(!tc.is_service_specific() && !tc.use_non_standard_stacks());
        assert_eq!(purposes(&tc, TcString::special_feature_opt_in), [0u8; 0]);
        assert_eq!(purposes(&tc, TcString::purpose_consent), [1, 2, 3]);
        assert_eq!(
            purposes(&tc, TcString::purpose_legitimate_interest),
            [0u8; 0]
        );
        assert!(!tc.purpose_one_treatment());
        assert_eq!(ids(tc.vendor_consents()), [2, 6, 8]);
        assert_eq!(ids(tc.vendor_legitimate_interests()), [2, 6, 8]);
        assert!(tc.publisher_restrictions().is_empty());
    }
}

/// InteractiveAdvertisingBureau/iabtcf-java,
/// iabtcf-decoder/src/test/java/com/iabtcf/decoder/TCStringV2Test.java,
/// testCanConstructTCModelFromBase64String.
#[test]
fn iabtcf_java_header_fields() {
    let tc = ok("COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA");
    assert_eq!(tc.version(), 2);
    // 2020-01-26T17:01:00Z and 2021-02-02T17:01:00Z.
    assert_eq!(tc.created(), Duration::from_secs(1_580_058_060));
    assert_eq!(tc.last_updated(), Duration::from_secs(1_612_285_260));
    assert_eq!(header(&tc), (675, 2, 1, "EN", 15, 2, "AA"));
    assert!(!tc.is_service_specific() && !tc.use_non_standard_stacks());
    assert!(tc.purpose_one_treatment());
    assert_eq!(purposes(&tc, TcString::special_feature_opt_in), [1]);
    assert_eq!(purposes(&tc, TcString::purpose_consent), [2, 10]);
    assert_eq!(purposes(&tc, TcString::purpose_legitimate_interest), [2, 9]);
}

/// Strings made by the IAB Tech Lab's own encoder (`@iabtechlabtcf/core`;
/// `tests/fixtures/tcf/generate.js` made them, the version is in the
/// file): each valid one decodes to what the IAB's own decoder reads in
/// it (purposes, vendors by bit field and by range, restrictions of each
/// type with ranges, disclosed and allowed vendors, the publisher's
/// purposes), and each garbage variant is an error.
#[test]
fn iab_encoder_vectors() {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../../../tests/fixtures/tcf/strings.json")).unwrap();
    assert!(file["tool"]
        .as_str()
        .unwrap()
        .starts_with("@iabtechlabtcf/core "));
    let numbers = |v: &serde_json::Value| -> Vec<u16> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap() as u16)
            .collect()
    };
    let (mut valid, mut invalid) = (0, 0);
    for (name, case) in file["strings"].as_object().unwrap() {
        let tc = case["tc"].as_str().unwrap();
        if case["valid"] == false {
            assert!(decode(tc).is_err(), "{name} ({}): {tc}", case["why"]);
            invalid += 1;
            continue;
        }
        valid += 1;
        let decoded = decode(tc).unwrap_or_else(|e| panic!("{name}: {e}"));
        let purposes: Vec<u16> = purposes(&decoded, TcString::purpose_consent)
            .into_iter()
            .map(u16::from)
            .collect();
        assert_eq!(purposes, numbers(&case["purposes"]), "{name}");
        assert_eq!(
            ids(decoded.vendor_consents()),
            numbers(&case["vendors"]),
            "{name}"
        );
        let segment = |set: Option<&VendorSet>| set.map(ids).unwrap_or_default();
        assert_eq!(
            segment(decoded.disclosed_vendors()),
            numbers(&case["disclosed"]),
            "{name}"
        );
        assert_eq!(
            segment(decoded.allowed_vendors()),
            numbers(&case["allowed"]),
            "{name}"
        );
        let publisher: Vec<u16> = decoded.publisher_tc().map_or(Vec::new(), |p| {
            purposes_of(|n| p.purpose_consent(n))
                .into_iter()
                .map(u16::from)
                .collect()
        });
        assert_eq!(publisher, numbers(&case["publisher_consents"]), "{name}");
        // Restrictions, as (purpose, type, vendor) for every vendor of
        // every range (the IAB's decoder expands ranges).
        let ours: BTreeSet<(u16, u16, u16)> = decoded
            .publisher_restrictions()
            .iter()
            .flat_map(|r| {
                let kind = r.restriction_type() as u16;
                let purpose = u16::from(r.purpose());
                r.vendor_ranges().flatten().map(move |v| (purpose, kind, v))
            })
            .collect();
        let theirs: BTreeSet<(u16, u16, u16)> = case["restrictions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let (purpose, kind) =
                    (r[0].as_u64().unwrap() as u16, r[1].as_u64().unwrap() as u16);
                numbers(&r[2]).into_iter().map(move |v| (purpose, kind, v))
            })
            .collect();
        assert_eq!(ours, theirs, "{name}");
    }
    assert!(
        valid >= 10 && invalid >= 10,
        "{valid} valid, {invalid} invalid"
    );
    // What the restrictions keep a vendor from.
    let tc = |name: &str| ok(file["strings"][name]["tc"].as_str().unwrap());
    let p = |n: u8| 1u32 << (n - 1);
    assert_eq!(
        tc("restriction_not_allowed_755_p1").restricted_purposes(755),
        p(1)
    );
    assert_eq!(
        tc("restriction_not_allowed_755_p1").restricted_purposes(754),
        0
    );
    assert_eq!(
        tc("restriction_require_li_755_p2").restricted_purposes(755),
        p(2)
    );
    assert_eq!(
        tc("restriction_require_consent_6_p2").restricted_purposes(6),
        0
    );
    let ranges = tc("restriction_ranges");
    assert_eq!(ranges.restricted_purposes(1000), p(1));
    assert_eq!(ranges.restricted_purposes(1004), p(1) | p(7));
    assert_eq!(ranges.restricted_purposes(755), p(7));
    assert_eq!(ranges.restricted_purposes(7), 0, "type 1 keeps nothing");
}

/// iabtcf-java TCStringV2Test: testConstructConsentsFromBitFields, and
/// the same core with disclosed, allowed and publisher segments
/// (testCanParseDisclosedAndAllowedVendors, testCanParseAllParts, whose
/// last segment is padded with `=`): those never change the core. The
/// segments' contents are as the IAB's `@iabtechlabtcf/core` 1.5.21
/// `TCString.decode` reads them; a segment that is not base64url makes
/// the whole string unreadable.
#[test]
fn iabtcf_java_bit_fields_and_other_segments() {
    let core = "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA";
    let all = format!("{core}.IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg=");
    let tc = ok(&all);
    assert_eq!(
        ids(tc.disclosed_vendors().unwrap()),
        [23, 37, 47, 48, 53, 65, 98, 129]
    );
    assert_eq!(ids(tc.allowed_vendors().unwrap()), [12, 23, 37, 47, 48, 53]);
    let publisher = tc.publisher_tc().unwrap();
    assert_eq!(purposes_of(|p| publisher.purpose_consent(p)), [1]);
    assert_eq!(
        purposes_of(|p| publisher.purpose_legitimate_interest(p)),
        [24]
    );
    assert_eq!(publisher.custom_purposes(), 2);
    assert_eq!(purposes_of(|p| publisher.custom_consent(p)), [2]);
    assert_eq!(
        purposes_of(|p| publisher.custom_legitimate_interest(p)),
        [1, 2]
    );
    assert_eq!(
        decode(&format!("{core}.not even base64!")),
        Err(TcfError::Base64)
    );
    for rest in [
        "",
        ".IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA",
        ".IBAgAAAgAIAwgAgAAAAEAAAACA.QAagAQAgAIAwgA.cAAAAAAAITg=",
    ] {
        let tc = ok(&format!("{core}{rest}"));
        assert_eq!(
            purposes(&tc, TcString::purpose_consent),
            [3, 4, 5, 6, 7, 8, 9]
        );
        assert_eq!(ids(tc.vendor_consents()), [23, 37, 47, 48, 53, 65, 98]);
        assert_eq!(
            ids(tc.vendor_legitimate_interests()),
            [37, 47, 48, 53, 65, 98, 129]
        );
    }
}

/// iabtcf-java TCStringV2Test: testCanParseRangeEncodedVendorLegitimateInterests,
/// testRange (range-encoded vendor consents) and testPurposesConsent.
#[test]
fn iabtcf_java_ranges() {
    let tc = ok("COv__-wOv__-wC2AAAENAPCgAAAAAAAAAAAAA_wAQA_gEBABAEAAAA");
    assert_eq!(ids(tc.vendor_legitimate_interests()), [128]);
    let segment = ".IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw";
    let two = ok(&format!(
        "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAYFfAV-BVkAGBVYFWAAA{segment}"
    ));
    assert_eq!(ids(two.vendor_consents()), [702, 703]);
    let one = ok(&format!(
        "COwBOpCOwBOpCLqAAAENAPCAAAAAAAAAAAAAFfwAQFfgUbABAUaAAA{segment}"
    ));
    assert_eq!(ids(one.vendor_consents()), [703]);
    let tc = ok("COwxsONOwxsONKpAAAENAdCAAMAAAAAAAAAAAAAAAAAA");
    assert!(tc.purpose_consent(1) && tc.purpose_consent(2));
}

/// iabtcf-java TCStringV2Test.testPublisherRestrictions: its bit string,
/// encoded as that test does (java.util.Base64 URL encoder, so padded
/// with `=`).
#[test]
fn iabtcf_java_publisher_restrictions() {
    let bits = [
        "0000100011101011100",
        "1000000000000001010",
        "0000001110101110010",
        "0000000000000101000",
        "0000110011111000000",
        "0000000000000000100",
        "0011010000000011110",
        "0001000000000000000",
        "0000000000000000000",
        "0000000000000000000",
        "0000000000000000000",
        "0000000000000000000",
        "0000000000000000000",
        "000000000011",
        "000001",
        "01",
        "000000000000",
        "000010",
        "00",
        "000000000000",
        "000011",
        "10",
        "000000000000",
        "0",
    ]
    .concat();
    let tc = ok(&URL_SAFE.encode(Writer::from_bit_string(&bits).bytes()));
    let got: Vec<_> = tc
        .publisher_restrictions()
        .iter()
        .map(|r| (r.purpose(), r.restriction_type(), r.vendor_ranges().count()))
        .collect();
    assert_eq!(
        got,
        [
            (1, RestrictionType::RequireConsent, 0),
            (2, RestrictionType::NotAllowed, 0),
            (3, RestrictionType::RequireLegitimateInterest, 0),
        ]
    );
}

/// prebid/go-gdpr, vendorconsent/tcf2/rangesection_test.go,
/// TestRangeSectionConsent (two versions of that file, one string each)
/// and TestInvalidRangeEdgeCase (the string cut to 31 bytes).
#[test]
fn prebid_go_gdpr_range_sections() {
    let tc = ok("COyiILmOyiILmADACHENAPCAAAAAAAAAAAAAE5QBgALgAqgD8AQACSwEygJyAAAAAA");
    assert_eq!(
        (tc.cmp_id(), tc.cmp_version(), tc.consent_screen()),
        (3, 2, 7)
    );
    assert_eq!(
        (tc.consent_language(), tc.vendor_list_version()),
        ("EN", 15)
    );
    assert_eq!(tc.vendor_consents().max_vendor_id(), 626);
    assert_eq!(
        ids(tc.vendor_consents()),
        [23, 42, 126, 127, 128, 587, 613, 626]
    );
    let tc = ok("COv_46cOv_46cADACHENAPCAAAAAAAAAAAAAE5QBwABAAXABVAH8AgAElgJkATkAYEAgAAQACAAGAAXABUAH8AQIAwAAAA");
    assert_eq!(tc.vendor_consents().max_vendor_id(), 626);
    assert_eq!(
        ids(tc.vendor_consents()),
        [2, 23, 42, 127, 128, 587, 612, 626]
    );

    let mut bytes = URL_SAFE_NO_PAD
        .decode("COwDzqZOwDzqZN4ABMENAPCAAP4AAP-AAAhoAFQAYABgAOABQAAAAA")
        .unwrap();
    bytes.truncate(31);
    assert!(matches!(
        decode(&URL_SAFE_NO_PAD.encode(&bytes)),
        Err(TcfError::Truncated(_))
    ));
}

/// metacpan GDPR-IAB-TCFv2 (Perl), t/01-parse.t, subtest "bitfield".
#[test]
fn perl_tcfv2_bit_field() {
    let core = "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIAEgAA";
    for rest in ["", ".argAC0gAAAAAAAAAAAA", ".YAAAAAAAAXA"] {
        let tc = ok(&format!("{core}{rest}"));
        // 1228644257.7 s and 1326215413.4 s.
        assert_eq!(tc.created(), Duration::from_millis(1_228_644_257_700));
        assert_eq!(tc.last_updated(), Duration::from_millis(1_326_215_413_400));
        assert_eq!(header(&tc), (21, 7, 2, "EN", 23, 2, "KM"));
        assert!(tc.is_service_specific());
        assert!(!tc.use_non_standard_stacks() && !tc.purpose_one_treatment());
        assert_eq!(tc.vendor_consents().max_vendor_id(), 115);
        assert_eq!(tc.vendor_legitimate_interests().max_vendor_id(), 113);
        assert_eq!(purposes(&tc, TcString::purpose_consent), [1, 3, 9, 10]);
        assert_eq!(
            purposes(&tc, TcString::purpose_legitimate_interest),
            [3, 4, 5, 8, 9, 10]
        );
        assert_eq!(purposes(&tc, TcString::special_feature_opt_in), [2]);
        assert_eq!(
            ids(tc.vendor_consents()),
            [
                2, 3, 6, 7, 8, 10, 12, 13, 14, 15, 16, 21, 25, 27, 30, 31, 34, 35, 37, 38, 39, 42,
                43, 49, 52, 54, 55, 56, 57, 59, 60, 63, 64, 65, 66, 67, 68, 69, 73, 74, 76, 78, 83,
                86, 87, 89, 90, 92, 96, 99, 100, 106, 109, 110, 114, 115
            ]
        );
        assert_eq!(
            ids(tc.vendor_legitimate_interests()),
            [1, 9, 26, 27, 30, 36, 37, 43, 86, 97, 110, 113]
        );
        assert!(!tc.vendor_consent(116) && !tc.vendor_consent(0));
        assert!(!any_restriction(&tc, 284));
    }
}

/// GDPR-IAB-TCFv2, t/01-parse.t, subtest "range".
#[test]
fn perl_tcfv2_range() {
    let tc = ok(
        "COyfVVoOyfVVoADACHENAwCAAAAAAAAAAAAAE5QBgALgAqgD8AQACSwEygJyAnSAMABgAFkAgQCDASeAmYBOgAA",
    );
    assert_eq!(tc.created(), Duration::from_secs(1_587_946_020));
    assert_eq!(tc.last_updated(), Duration::from_secs(1_587_946_020));
    assert_eq!(header(&tc), (3, 2, 7, "EN", 48, 2, "AA"));
    assert!(!tc.is_service_specific() && !tc.purpose_one_treatment());
    assert_eq!(purposes(&tc, TcString::purpose_consent), [0u8; 0]);
    assert_eq!(
        purposes(&tc, TcString::purpose_legitimate_interest),
        [0u8; 0]
    );
    assert_eq!(purposes(&tc, TcString::special_feature_opt_in), [0u8; 0]);
    assert_eq!(tc.vendor_consents().max_vendor_id(), 626);
    assert_eq!(tc.vendor_legitimate_interests().max_vendor_id(), 628);
    assert_eq!(
        ids(tc.vendor_consents()),
        [23, 42, 126, 127, 128, 587, 613, 626]
    );
    assert_eq!(
        ids(tc.vendor_legitimate_interests()),
        [24, 44, 129, 130, 131, 591, 614, 628]
    );
}

/// GDPR-IAB-TCFv2, t/01-parse.t, subtest "check publisher restriction"
/// #1 to #3.
#[test]
fn perl_tcfv2_publisher_restrictions() {
    use RestrictionType::{NotAllowed as Not, RequireConsent as Consent};
    let tc = ok("COwAdDhOwAdDhN4ABAENAPCgAAQAAv___wAAAFP_AAp_4AI6ACACAA");
    assert!(restricted(&tc, 7, Consent, 32));
    assert!(!restricted(&tc, 7, Consent, 7) && !restricted(&tc, 5, Consent, 32));
    assert!(!any_restriction(&tc, 284));

    let tc = ok("COxPe2TOxPe2TALABAENAPCgAAAAAAAAAAAAAFAAAAoAAA4IACACAIABgACAFA4ADACAAIygAGADwAQBIAIAIB0AEAEBSACACAA");
    assert!(!tc.purpose_one_treatment() && !tc.special_feature_opt_in(3));
    assert!(restricted(&tc, 1, Not, 32) && !restricted(&tc, 1, Consent, 32));
    for vendor in [32, 5, 11] {
        assert!(restricted(&tc, 2, Not, vendor), "{vendor}");
    }
    assert!(!restricted(&tc, 2, Not, 44) && !restricted(&tc, 2, Not, 500));
    assert!(restricted(&tc, 2, Consent, 32) && !restricted(&tc, 2, Consent, 42));
    assert!(!any_restriction(&tc, 284));
    // Vendor 32: {1 => {0}, 2 => {0, 1}, 7 => {0, 1}, 10 => {0, 1}}.
    let mut on_32: Vec<_> = tc
        .publisher_restrictions()
        .iter()
        .filter(|r| r.applies_to(32))
        .map(|r| (r.purpose(), r.restriction_type() as u8))
        .collect();
    on_32.sort_unstable();
    on_32.dedup();
    assert_eq!(
        on_32,
        [(1, 0), (2, 0), (2, 1), (7, 0), (7, 1), (10, 0), (10, 1)]
    );

    let tc = ok("COzSDo9OzSDo9B9AAAENAiCAALAAAAAAAAAACOQAQCOAAAAA");
    assert!(!any_restriction(&tc, 284));
}

/// GDPR-IAB-TCFv2, t/01-parse.t "invalid tcf consent string candidates"
/// and t/05-tcf-v23.t (a cut bit field; a TCF v2.3 string, policy
/// version 5).
#[test]
fn perl_tcfv2_invalid_and_v23() {
    let v1 = "BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASAAAAAAAAAA";
    assert_eq!(decode(v1), Err(TcfError::Version(1)));
    let v3 = "DOEFEAyOEFEAyAHABDENAI4AAAB9vABAASAAAAAAAAAA";
    assert_eq!(decode(v3), Err(TcfError::Version(3)));
    assert!(matches!(decode("Clc"), Err(TcfError::Truncated(_))));
    let bang =
        "COyfVVoOyfVVoADACHENAwCAAAAAAAAAAAAAE5QBgALgAqgD8AQACSwEygJyAnSAMABgAFkAgQCDASeAmYBOgA!A";
    assert_eq!(decode(bang), Err(TcfError::Base64));
    for cut in [
        "COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFAAAAA",
        "COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFQBgAAgABAACAAEAAQAAgAA",
        "CLcVDxRMWfGmWAVAHCENAXCkAKDAADnAABRgA5mdfCKZuYJez-NQm0TBMYA4oCAAGQYIAAAAAAEAIA",
    ] {
        assert!(matches!(decode(cut), Err(TcfError::Truncated(_))), "{cut}");
    }
    let v23 = "CP188cAQKFpAAAHABBENBSFsAP_gAEPgAAiQKqNX_H__bW9r8X73aft0eY1P9_j77uQxBhfJE-4FzLvW_JwXx2ExNA36tqIKmRIEu3bBIQNlHJHUTVigaogVryHMak2cpTNKJ6BkiFMRM2dYCF5vm4tj-QKY5_r993dx2D-t_dv83dzyz81Hn3f5_2e0eLCdQ5-tDfv9bROb-9IPd_78v4v8_l_rk2_eT1n_tevr7D_-ft8__XW_9_fff_9Pn_-uB_-_3_vf_EFUwCTDQqIA-wJCQg0DCKBACoKwgIoFAQAAJA0QEAJgwKdgYALrCRACAFAAMEAIAAQZAAgAAAgAQiACQAoEAAEAgUAAYAEAwEABAwAAgAsBAIAAQHQMUwIIFAsIEjMioUwIQoEggJbKhBICgQVwhCLPAIgERMFAAgAAAVgACAsFgcSSAlQkECXUG0AABAAgFEIFQgk9MAAwJmy1B4MG0ZWmAYPmCRDTAMgCIIyEAAAA.f_wACHwAAAAA";
    assert_eq!(ok(v23).tcf_policy_version(), 5);
}

/// InteractiveAdvertisingBureau/iabtcf-es,
/// modules/core/test/ReportedIssues.test.ts: "201 unable to decode
/// valid TCF2 String" (a purpose restriction that lists a vendor more
/// than once), "142 it should throw an error if the bitfield length does
/// not match the maxId" and "156 it should auto detect 1 version".
#[test]
fn iabtcf_es_reported_issues() {
    let tc = ok("CO4VGswO4VGswAfZCBDEAzCsAP_AAH_AAAigGUNf_X9fb2vj-_599_t0eY1f9_63t-wzjheMs-8NyZ-X_J4Wv2MyvB34JqQKGRgkunLBAQdtHGncTQgBwIlViTLMY02MjzNKJrJEilsbe2dYGH9vn8XT_ZKZ70-_v__7v3___33_5Ayhr_6_r7e18f3_Pvv9ujzGr_v_W9v2GccLxln3huTPy_5PC1-xmV4O_BNSBQyMEl05YICDto407iaEAOBEqsSZZjGmxkeZpRNZIkUtjb2zrAw_t8_i6f7JTPen39___d-___--__ICgKAOAAcAA4AFAAjgB6AEYALcGACAW0AtoJAHAAOAAcACgARwA9ACMAFuFABALaAW0GgDgAHAAOABQAI4AegBGAC3DgAgFtALaEQBwADgAHAAoAEcAPQAjABbiQAQC2gFtCoA4ABwADgAUACOAHoARgAtxYAIBbQC2hkAcAA4ABwAKABHAD0AIwAW40AEAtoBbQ6AOAAcAA4AFAAjgB6AEYALceACAW0AtohAHAAOAAcACgARwA9ACMAFuRABALaAW0SgDgAHAAOABQAI4AegBGAC3JgAgFtALaKQBwADgAHAAoAEcAPQAjABblQAQC2gFtA");
    assert_eq!(tc.version(), 2);
    let vendors: BTreeSet<u16> = tc
        .publisher_restrictions()
        .iter()
        .filter(|r| r.purpose() == 1 && r.restriction_type() == RestrictionType::RequireConsent)
        .flat_map(|r| r.vendor_ranges().flatten().collect::<Vec<_>>())
        .collect();
    assert_eq!(
        vendors.into_iter().collect::<Vec<_>>(),
        [7, 20, 71, 122, 140, 183]
    );

    // "142 it should throw an error if the bitfield length does not
    // match the maxId": iabtcf-es throws for the disclosed vendors
    // segment, which is cut short, and so does this module; the core
    // alone is whole.
    let core = "CLSYjTaOngnCIAOABBENAXCMAGOAABBAAA7IA5n-m7fP6_3fbqVv6E__PoA5Aqff3aJx8tv_1967rfnQEQoAIAAQCrwkAEABAcACABIMACAAuApEVABABUSABgBCAVSAtIoACACIArYQAHACgAFgAVwBJgDcAI7AWgMAAgBiKgAgBMgFfKQAQBRkQAQA4AFiBAAoA-AEVAJlAVgAtYcACAJcAr4eABAK8OgBgFzAOmAqwgABAWyA";
    assert_eq!(
        decode(&format!("{core}.IFukWSQh")),
        Err(TcfError::Truncated(DISCLOSED))
    );
    assert!(decode(core).is_ok());

    let v1 = "BOhwdphOxFC7tAHABBFRC--AAAAuhr_7__7-_9_-_f__9uj3Or_v_f__32ccL59v_h_7v-_7fi_20nV4u_1vft9yfk1-5ctDztp507iakivXmqdeb9v_nz3_5pxP78k89r7337Ew_v8_v-b7BCON_YxEiA";
    assert_eq!(decode(v1), Err(TcfError::Version(1)));
}
