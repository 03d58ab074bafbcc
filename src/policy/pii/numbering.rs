//! Numbering plans, from the `phonenumber` crate's metadata (Google's
//! libphonenumber data, after ITU-T E.164 and each country's plan): which
//! digit strings are valid phone numbers, written internationally (a
//! country calling code, then a national significant number) or
//! nationally in one of a list of regions (with or without the region's
//! trunk prefix, `0` in most of Europe, where it has one).
//!
//! Each plan's pattern is compiled once, when first needed, into a dense
//! DFA over digits: the national patterns of a scanner's regions into one
//! (63 KiB for the default regions, 130 KiB for every region), the
//! international ones per calling code (330 KiB if all 215 are met).

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use std::sync::{Arc, LazyLock, OnceLock};

/// The regions national numbers are read in unless a rule names its own
/// (`phone_regions`): North America, Europe, and the largest markets of
/// Latin America, Africa, the Middle East and Asia-Pacific.
pub const DEFAULT_REGIONS: [&str; 60] = [
    "US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "BE", "NL", "LU", "ES", "PT", "IT", "PL", "CZ",
    "SK", "HU", "RO", "BG", "GR", "HR", "SI", "DK", "SE", "NO", "FI", "EE", "LV", "LT", "UA", "RU",
    "TR", "IL", "AE", "SA", "EG", "ZA", "NG", "KE", "IN", "PK", "CN", "HK", "TW", "JP", "KR", "SG",
    "MY", "TH", "PH", "ID", "AU", "NZ", "BR", "MX", "AR", "CO", "CL", "PE",
];

/// National numbering plans of a list of regions.
#[derive(Debug)]
pub(super) struct Plan {
    regions: Vec<Id>,
    /// `^(?:NP?(?:pattern)|...)$` over the regions: a national number,
    /// with or without its trunk prefix.
    national: Option<Dfa>,
}

impl PartialEq for Plan {
    /// Plans are shared ([`Plan::shared`]), so the walker's question
    /// whether two scanners read alike (asked at every string a
    /// `scrub_url` rule left) is most often answered by the address alone.
    fn eq(&self, other: &Plan) -> bool {
        std::ptr::eq(self, other) || self.regions == other.regions
    }
}

impl Plan {
    /// The plan of `regions` (each must be in the metadata).
    pub(super) fn new(regions: &[Id]) -> Plan {
        let national = national_pattern(regions)
            .map(|p| Dfa::new(&p).expect("the metadata's patterns compile"));
        Plan {
            regions: regions.to_vec(),
            national,
        }
    }

    /// The plan of `regions`, shared with every scanner that reads the
    /// same regions (a config compiles its rules once per protocol).
    pub(super) fn shared(regions: &[Id]) -> Arc<Plan> {
        static PLANS: std::sync::Mutex<Vec<Arc<Plan>>> = std::sync::Mutex::new(Vec::new());
        let mut plans = PLANS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = plans.iter().find(|p| p.regions == regions) {
            return p.clone();
        }
        let plan = Arc::new(Plan::new(regions));
        plans.push(plan.clone());
        plan
    }

    /// The plan of [`DEFAULT_REGIONS`], shared.
    pub(super) fn default_plan() -> Arc<Plan> {
        static DEFAULT: LazyLock<Arc<Plan>> = LazyLock::new(|| {
            let ids: Vec<Id> = DEFAULT_REGIONS
                .iter()
                .map(|r| r.parse().expect("a region the metadata knows"))
                .collect();
            Arc::new(Plan::new(&ids))
        });
        DEFAULT.clone()
    }

    /// The regions, in order.
    pub(super) fn regions(&self) -> &[Id] {
        &self.regions
    }

    /// Whether `digits` (ASCII) is a number of one of the regions, written
    /// nationally.
    pub(super) fn national(&self, digits: &[u8]) -> bool {
        self.national.as_ref().is_some_and(|r| r.is_match(digits))
    }
}

/// A region code the metadata knows (`GB`), for config validation.
pub fn region(code: &str) -> Option<Id> {
    let id: Id = code.parse().ok()?;
    DATABASE.by_id(id.as_ref()).map(|_| id)
}

/// What the digits after a `+` (or `00`) are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum International {
    /// A calling code and a national number valid in its plan.
    Valid,
    /// A calling code and a national number of a possible length (local
    /// numbers included: `+1 555 0100`).
    Possible,
    /// No calling code starts it, or no length fits.
    Not,
}

/// One calling code's plans: the pattern of its regions' national
/// numbers and their possible lengths.
struct Code {
    pattern: Dfa,
    lengths: Vec<u16>,
}

/// A whole-string matcher over ASCII digits: a dense DFA, which answers in
/// one table step per digit (a national number has at most 15), without
/// the meta regex engine's per-call set-up.
#[derive(Debug)]
struct Dfa(regex_automata::dfa::dense::DFA<Vec<u32>>);

impl Dfa {
    /// `^(?:pattern)$`, or `None` if it does not compile.
    fn new(pattern: &str) -> Option<Dfa> {
        use regex_automata::dfa::{dense, StartKind};
        use regex_automata::{nfa::thompson, util::syntax};
        dense::Builder::new()
            .configure(dense::Config::new().start_kind(StartKind::Anchored))
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .build(&format!("^(?:{pattern})$"))
            .ok()
            .map(Dfa)
    }

    /// Whether all of `digits` matches: one transition per byte, then
    /// the end of input (what `$` needs), without a search's set-up.
    fn is_match(&self, digits: &[u8]) -> bool {
        use regex_automata::dfa::Automaton;
        use regex_automata::util::start;
        let dfa = &self.0;
        let config = start::Config::new().anchored(regex_automata::Anchored::Yes);
        let Ok(mut state) = dfa.start_state(&config) else {
            return false;
        };
        for &b in digits {
            state = dfa.next_state(state, b);
            if dfa.is_dead_state(state) {
                return false;
            }
        }
        dfa.is_match_state(dfa.next_eoi_state(state))
    }
}

/// Reads `digits` (ASCII, after the `+`) as calling code and national
/// number.
pub(super) fn international(digits: &[u8]) -> International {
    // Indexed by calling code (at most three digits); compiled when
    // first met.
    static CODES: LazyLock<Vec<Option<OnceLock<Option<Code>>>>> = LazyLock::new(|| {
        let mut codes: Vec<Option<OnceLock<Option<Code>>>> = (0..1000).map(|_| None).collect();
        for m in DATABASE.iter() {
            if let Some(slot) = codes.get_mut(usize::from(m.country_code())) {
                *slot = Some(OnceLock::new());
            }
        }
        codes
    });
    let mut best = International::Not;
    for len in 1..=3.min(digits.len()) {
        let code = digits[..len]
            .iter()
            .fold(0u16, |v, d| v * 10 + u16::from(d - b'0'));
        let Some(Some(cell)) = CODES.get(usize::from(code)) else {
            continue;
        };
        let Some(plan) = cell.get_or_init(|| compile(code)) else {
            continue;
        };
        let national = &digits[len..];
        let n = national.len() as u16;
        if plan.pattern.is_match(national) {
            return International::Valid;
        }
        if plan.lengths.contains(&n) {
            best = International::Possible;
        }
    }
    best
}

/// The national numbers of `regions`, as one pattern (`None` if none is
/// in the metadata): each region's, with or without its trunk prefix.
fn national_pattern(regions: &[Id]) -> Option<String> {
    let mut alternatives = Vec::new();
    for id in regions {
        let Some(meta) = DATABASE.by_id(id.as_ref()) else {
            continue;
        };
        let pattern = pattern(meta.descriptors().general());
        let prefix = meta
            .national_prefix()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
        // The trunk prefix is optional, as libphonenumber parses: it is
        // left out of mobile numbers in much of the world (`131 2344
        // 6322` in China, `81276 39979` in India, `11 2681-4143` in
        // Brazil) and of every number in North America.
        alternatives.push(match prefix {
            Some(p) => format!("(?:{p})?(?:{pattern})"),
            None => format!("(?:{pattern})"),
        });
    }
    (!alternatives.is_empty()).then(|| alternatives.join("|"))
}

/// The national numbers of calling code `code`'s regions, as one pattern.
fn code_pattern(code: u16) -> Option<String> {
    let metas = DATABASE.by_code(&code)?;
    let patterns: Vec<String> = metas
        .iter()
        .map(|m| format!("(?:{})", pattern(m.descriptors().general())))
        .collect();
    Some(patterns.join("|"))
}

fn compile(code: u16) -> Option<Code> {
    let metas = DATABASE.by_code(&code)?;
    let mut lengths = Vec::new();
    for m in metas {
        let d = m.descriptors();
        let kinds = [
            Some(d.general()),
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
        ];
        for k in kinds.into_iter().flatten() {
            lengths.extend_from_slice(k.possible_length());
            lengths.extend_from_slice(k.possible_local_length());
        }
    }
    lengths.sort_unstable();
    lengths.dedup();
    let pattern = Dfa::new(&code_pattern(code)?)?;
    Some(Code { pattern, lengths })
}

/// A descriptor's pattern as a regex: the metadata writes them over
/// several lines, with insignificant whitespace.
fn pattern(d: &phonenumber::metadata::Descriptor) -> String {
    d.national_number().as_str().split_whitespace().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(regions: &[&str]) -> Plan {
        let ids: Vec<Id> = regions.iter().map(|r| region(r).unwrap()).collect();
        Plan::new(&ids)
    }

    #[test]
    fn national_numbers_by_region() {
        let p = Plan::default_plan();
        for valid in [
            "02079460958", // GB, trunk 0
            "612345678",   // ES mobile, no trunk prefix
            "4155550132",  // US, no trunk 1
            "14155550132", // US, trunk 1
            "0412453198",  // AU mobile
            "89123132863", // RU, trunk 8
            "0301234567",  // DE Berlin
            "0612345678",  // FR / NL mobile
            "512345678",   // PL mobile
        ] {
            assert!(p.national(valid.as_bytes()), "{valid}");
        }
        // Only the regions asked for.
        let es = plan(&["ES"]);
        assert!(es.national(b"612345678"));
        for invalid in ["02079460958", "112345678", "61234567", "6123456789"] {
            assert!(!es.national(invalid.as_bytes()), "{invalid}");
        }
    }

    #[test]
    fn international_numbers() {
        use International::*;
        for (digits, want) in [
            ("442079460958", Valid),
            ("4915123456789", Valid),
            ("34612345678", Valid),
            ("15062039191", Valid),
            ("15550100", Possible), // a local length in North America
            ("999123456", Not),     // no such calling code
            ("44123", Not),
        ] {
            assert_eq!(international(digits.as_bytes()), want, "{digits}");
        }
    }

    #[test]
    fn every_default_region_is_known() {
        for r in DEFAULT_REGIONS {
            assert!(region(r).is_some(), "{r}");
        }
        assert!(region("XX").is_none());
    }

    proptest::proptest! {
        /// The DFAs answer what the regex crate answers for the same
        /// pattern, whole-string: the national plan of the default
        /// regions, and the plans of a few calling codes.
        #[test]
        fn dfas_agree_with_the_regex_crate(
            digits in "[0-9]{0,17}",
            code in proptest::sample::select(vec![1u16, 7, 33, 34, 44, 49, 55, 86, 91, 352, 971]),
        ) {
            // The regex crate's answers, compiled once for all cases.
            static NATIONAL: LazyLock<regex::bytes::Regex> = LazyLock::new(|| {
                let national = national_pattern(Plan::default_plan().regions()).unwrap();
                regex::bytes::Regex::new(&format!("^(?:{national})$")).unwrap()
            });
            let national = &*NATIONAL;
            let d = digits.as_bytes();
            proptest::prop_assert_eq!(Plan::default_plan().national(d), national.is_match(d));
            static CODES: std::sync::Mutex<Vec<(u16, regex::bytes::Regex, Code)>> =
                std::sync::Mutex::new(Vec::new());
            let mut codes = CODES.lock().unwrap();
            if !codes.iter().any(|(c, _, _)| *c == code) {
                let theirs =
                    regex::bytes::Regex::new(&format!("^(?:{})$", code_pattern(code).unwrap())).unwrap();
                codes.push((code, theirs, compile(code).unwrap()));
            }
            let (_, theirs, ours) = codes.iter().find(|(c, _, _)| *c == code).unwrap();
            proptest::prop_assert_eq!(ours.pattern.is_match(d), theirs.is_match(d));
        }
    }
}
