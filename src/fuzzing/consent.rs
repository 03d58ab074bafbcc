//! Targets for consent's TC and GPP string decoders: `tcf` (the core segment),
//! `tcf_string` (whole strings) and `gpp` (GPP and US Privacy strings).

use crate::consent::tcf;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::borrow::Cow;

/// A disclosed vendors segment the IAB's encoder made (vendors 2, 6, 8;
/// `tests/fixtures/tcf/strings.json`, `with_disclosed_vendors`).
const DISCLOSED_SEGMENT: &str = "IAEEUAAA";

/// `consent::tcf::decode`. Input: a byte picking the form, then the rest:
/// even, the rest as text (invalid UTF-8 is skipped); odd, the rest as the
/// core segment's bytes, written in base64url here, so that the fuzzer
/// works on the bit fields directly. A valid disclosed vendors segment
/// after a core changes nothing in it, and one of an undefined type makes
/// it unreadable; a decoded string has no vendor 0 or above its section's
/// `MaxVendorId`, publisher restriction ranges that start at 1 or later
/// and end at or after their start, and two letters `A`-`Z` for its
/// language and country.
pub fn tcf(data: &[u8]) {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let text = if form % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        Cow::Borrowed(text)
    } else {
        Cow::Owned(URL_SAFE_NO_PAD.encode(rest))
    };
    let decoded = tcf::decode(&text);
    if !text.contains('.') {
        let with_segment = tcf::decode(&format!("{text}.{DISCLOSED_SEGMENT}"));
        match (&decoded, &with_segment) {
            (Ok(core), Ok(with)) => {
                assert!(with.disclosed_vendors().is_some(), "segment not read");
                assert_eq!(with.vendor_consents(), core.vendor_consents());
                assert_eq!(with.publisher_restrictions(), core.publisher_restrictions());
                assert_eq!(with.created(), core.created());
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "a later segment changed the error"),
            _ => panic!("a valid segment changed the result: {decoded:?} / {with_segment:?}"),
        }
        let unknown = tcf::decode(&format!("{text}.gAAA"));
        assert!(unknown.is_err(), "an undefined segment type was accepted");
    }
    check_tc(decoded);
}

/// `consent::tcf::decode` on a whole string, all segments. Input: segments
/// separated by `.` bytes, each written in base64url here (so the fuzzer
/// works on every segment's bits; an empty one stays empty). A decoded
/// string has its core first and once, at most one segment of each other
/// type, no empty segment; without any one of its later segments it still
/// decodes, to the same core; the same later segment twice, or any segment
/// cut to one character, makes it unreadable; and it holds what [`tcf`]
/// checks.
pub fn tcf_string(data: &[u8]) {
    let segments: Vec<String> = data
        .split(|&b| b == b'.')
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
        .collect();
    let text = segments.join(".");
    let decoded = tcf::decode(&text);
    if let Ok(tc) = &decoded {
        assert!(segments.len() <= 4, "more segments than types");
        assert!(segments.iter().all(|s| !s.is_empty()), "an empty segment");
        let core = tcf::decode(&segments[0]).expect("the core alone decodes");
        assert_eq!(core.vendor_consents(), tc.vendor_consents());
        for skip in 1..segments.len() {
            let mut fewer = segments.clone();
            fewer.remove(skip);
            let without = tcf::decode(&fewer.join(".")).expect("without a later segment");
            assert_eq!(
                without.publisher_restrictions(),
                tc.publisher_restrictions()
            );
            let mut twice = segments.clone();
            twice.push(segments[skip].clone());
            assert!(tcf::decode(&twice.join(".")).is_err(), "a segment twice");
        }
        for cut in 0..segments.len() {
            let mut short = segments.clone();
            short[cut].truncate(1);
            assert!(tcf::decode(&short.join(".")).is_err(), "segment {cut} cut");
        }
    }
    check_tc(decoded);
}

/// What every decoded TC string holds (see [`tcf`]).
fn check_tc(decoded: Result<tcf::TcString, tcf::TcfError>) {
    let Ok(tc) = decoded else {
        return;
    };
    let segments = [tc.disclosed_vendors(), tc.allowed_vendors()];
    let sets = [tc.vendor_consents(), tc.vendor_legitimate_interests()];
    for set in sets.into_iter().chain(segments.into_iter().flatten()) {
        let max = set.max_vendor_id();
        assert!(!set.contains(0), "vendor 0 in a set");
        assert!(max == u16::MAX || !set.contains(max + 1), "above max");
        assert!(
            set.iter().all(|id| (1..=max).contains(&id)),
            "out of 1..=max"
        );
    }
    for r in tc.publisher_restrictions() {
        let ranges_ok = r
            .vendor_ranges()
            .all(|v| *v.start() >= 1 && v.start() <= v.end());
        assert!(ranges_ok, "a restriction range out of order");
    }
    for code in [tc.consent_language(), tc.publisher_cc()] {
        let letters = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        assert!(letters, "not two letters: {code:?}");
    }
}

/// `consent::gpp`. Input: a byte picking the form, then the rest:
/// - `0` mod 3: the rest as a GPP string (invalid UTF-8 is skipped);
/// - `1` mod 3: `~`-separated parts, each written in base64url here (the
///   first is the header), so that the fuzzer works on the bits;
/// - `2` mod 3: the rest as a US Privacy string and as a `gpp_sid`.
///
/// A decoded string has one section per header id, in the header's
/// order, ascending, at most `MAX_SECTION_ID`; its TCF section is what
/// `tcf::decode` makes of the section's text; a US section's entries are
/// 0 to 2, its GPC bit is there only when its text has a subsection;
/// without its last section the string is unreadable. A decoded US
/// Privacy string is four characters, `1` first.
pub fn gpp(data: &[u8]) {
    use crate::consent::gpp;
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let text = match form % 3 {
        0 => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            text.to_owned()
        }
        1 => rest
            .split(|&b| b == b'~')
            .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
            .collect::<Vec<_>>()
            .join("~"),
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            if gpp::decode_us_privacy(text).is_ok() {
                assert!(text.len() == 4 && text.starts_with('1'), "not 1 and three");
            }
            if let Ok(set) = gpp::decode_sid(text) {
                assert!(set == 0 || !text.is_empty());
            }
            return;
        }
    };
    let Ok(decoded) = gpp::decode(&text) else {
        return;
    };
    let ids = gpp::header_ids(&text).expect("the header of a decoded string");
    let got: Vec<u8> = decoded.ids().collect();
    assert_eq!(got, ids, "sections and header ids differ");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids not ascending");
    assert!(ids.iter().all(|&id| id <= gpp::MAX_SECTION_ID));
    let texts: Vec<&str> = text.split('~').skip(1).collect();
    for (section, text) in decoded.sections().iter().zip(&texts) {
        match section {
            gpp::Section::TcfEuV2(tc) => {
                assert_eq!(**tc, tcf::decode(text).expect("the bare TC string"));
            }
            gpp::Section::Us(us) => {
                let entries = us.sensitive_data_processing().iter();
                let all = entries.chain(us.known_child_sensitive_data_consents());
                assert!(all.into_iter().all(|&v| v <= 2), "an entry above 2");
                assert_eq!(
                    us.gpc.is_some(),
                    text.contains('.'),
                    "GPC without subsection"
                );
            }
            gpp::Section::UspV1(_) | gpp::Section::Other(_) => {}
        }
    }
    if let Some(cut) = text.rfind('~') {
        assert!(gpp::decode(&text[..cut]).is_err(), "a section dropped");
    }
}
