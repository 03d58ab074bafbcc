//! Google consent mode signals as GA4 and Google Ads requests carry them:
//! the `gcs` and `gcd` query parameters.
//!
//! This module owns the two formats and nothing else; what a signal means
//! for a destination is the consent engine's. Invariants: fail closed (a
//! value that is not exactly one of the documented shapes is an error, and
//! a caller treats an error as no consent); never panic; never allocate;
//! never log or keep the value.
//!
//! Google does not document either format. What is decoded here is what
//! the sources below agree on, and nothing more:
//!
//! `gcs` is `G1` then one digit for `ad_storage` and one for
//! `analytics_storage`, `1` granted and `0` denied: `G100`, `G101`, `G110`,
//! `G111` (anowave.com, "Consent Mode V2 Signals"; adriennevermorel.com,
//! "Consent Mode Debugging Network Parameters"; pietromingotti.com,
//! "Consent Mode Parameters"). Anything else is an error.
//!
//! `gcd` is two digits, then a letter and a digit for each of
//! `ad_storage`, `analytics_storage`, `ad_user_data` and
//! `ad_personalization`, in that order: `11p1p1p1p5` (Markus Baersch in
//! Simo Ahava, "Consent Mode V2 For Google Tags"; Commanders Act,
//! CommandersAct/Platform-Documentation,
//! features/consent-management/setup-guides/tag-manager/consent-mode-in-commanders-act-tms.md,
//! "Possibles values for gcd parameter"; giancampo.com on the gcd
//! parameter; anowave.com as above). The letter says what the site set as
//! the default and what an update set afterwards:
//!
//! | default \ update | none | denied | granted |
//! |------------------|------|--------|---------|
//! | none             | `l`  | `m`    | `n`     |
//! | denied           | `p`  | `q`    | `r`     |
//! | granted          | `t`  | `u`    | `v`     |
//!
//! An update wins over the default; `l` is [`Signal::NotSet`]. The sources
//! agree on these nine lowercase letters. The digits (`11`, `13`, the `1`
//! or `3` between letters, the closing `5` or `1`) are not explained by any
//! of them, so any digit is accepted there and none is read. Real requests
//! also carry more letter-digit pairs after the fourth signal
//! (`13l3l3l3l1l1`), and uppercase letters (`13l3l3R3l5l1`); no source says
//! what those mean, so trailing pairs are skipped and any other letter in
//! one of the four places is an error, not a guess.

/// One consent signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Granted, by default or by an update.
    Granted,
    /// Denied, by default or by an update.
    Denied,
    /// Neither a default nor an update set it (`gcd` letter `l`).
    NotSet,
}

/// Which consent mode signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `ad_storage`.
    AdStorage,
    /// `analytics_storage`.
    AnalyticsStorage,
    /// `ad_user_data`.
    AdUserData,
    /// `ad_personalization`.
    AdPersonalization,
}

impl Kind {
    /// Every signal, in `gcd` order.
    pub const ALL: [Kind; 4] = [
        Kind::AdStorage,
        Kind::AnalyticsStorage,
        Kind::AdUserData,
        Kind::AdPersonalization,
    ];

    /// The signal of this name (as Google names it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "ad_storage" => Kind::AdStorage,
            "analytics_storage" => Kind::AnalyticsStorage,
            "ad_user_data" => Kind::AdUserData,
            "ad_personalization" => Kind::AdPersonalization,
            _ => return None,
        })
    }
}

impl Gcs {
    /// The value of `kind` (`gcs` says nothing of the last two).
    pub fn get(&self, kind: Kind) -> Signal {
        match kind {
            Kind::AdStorage => self.ad_storage,
            Kind::AnalyticsStorage => self.analytics_storage,
            Kind::AdUserData | Kind::AdPersonalization => Signal::NotSet,
        }
    }
}

impl Gcd {
    /// The value of `kind`.
    pub fn get(&self, kind: Kind) -> Signal {
        match kind {
            Kind::AdStorage => self.ad_storage,
            Kind::AnalyticsStorage => self.analytics_storage,
            Kind::AdUserData => self.ad_user_data,
            Kind::AdPersonalization => self.ad_personalization,
        }
    }
}

/// The `gcs` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcs {
    /// `ad_storage`: granted or denied, never not set.
    pub ad_storage: Signal,
    /// `analytics_storage`: granted or denied, never not set.
    pub analytics_storage: Signal,
}

/// The `gcd` parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gcd {
    /// `ad_storage`.
    pub ad_storage: Signal,
    /// `analytics_storage`.
    pub analytics_storage: Signal,
    /// `ad_user_data`.
    pub ad_user_data: Signal,
    /// `ad_personalization`.
    pub ad_personalization: Signal,
}

/// Why a `gcs` or `gcd` value could not be read: no consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GcmError {
    /// `gcs` is not `G1` followed by two `0`/`1` digits.
    #[error("gcs is not G1 followed by two 0/1 digits")]
    Gcs,
    /// `gcd` is not two digits followed by letter-digit pairs, at least four.
    #[error("gcd is not two digits followed by at least four letter-digit pairs")]
    GcdLayout,
    /// `gcd` gives the named signal a letter no source documents.
    #[error("gcd gives {0} an undocumented letter")]
    GcdLetter(&'static str),
}

/// Decodes a `gcs` value such as `G101`.
pub fn decode_gcs(gcs: &str) -> Result<Gcs, GcmError> {
    let digit = |d: u8| match d {
        b'1' => Ok(Signal::Granted),
        b'0' => Ok(Signal::Denied),
        _ => Err(GcmError::Gcs),
    };
    match gcs.as_bytes() {
        [b'G', b'1', ad, analytics] => Ok(Gcs {
            ad_storage: digit(*ad)?,
            analytics_storage: digit(*analytics)?,
        }),
        _ => Err(GcmError::Gcs),
    }
}

/// The four signals of `gcd`, in the order they appear.
const GCD_SIGNALS: [&str; 4] = [
    "ad_storage",
    "analytics_storage",
    "ad_user_data",
    "ad_personalization",
];

/// Decodes a `gcd` value such as `11p1p1p1p5`.
pub fn decode_gcd(gcd: &str) -> Result<Gcd, GcmError> {
    let bytes = gcd.as_bytes();
    let (Some(prefix), Some(pairs)) = (bytes.get(..2), bytes.get(2..)) else {
        return Err(GcmError::GcdLayout);
    };
    let well_formed = prefix.iter().all(u8::is_ascii_digit)
        && pairs.len() % 2 == 0
        && pairs.len() >= 2 * GCD_SIGNALS.len()
        && pairs
            .chunks_exact(2)
            .all(|p| p[0].is_ascii_alphabetic() && p[1].is_ascii_digit());
    if !well_formed {
        return Err(GcmError::GcdLayout);
    }
    let mut signals = [Signal::NotSet; 4];
    for ((signal, pair), name) in signals
        .iter_mut()
        .zip(pairs.chunks_exact(2))
        .zip(GCD_SIGNALS)
    {
        *signal = gcd_letter(pair[0]).ok_or(GcmError::GcdLetter(name))?;
    }
    let [ad_storage, analytics_storage, ad_user_data, ad_personalization] = signals;
    Ok(Gcd {
        ad_storage,
        analytics_storage,
        ad_user_data,
        ad_personalization,
    })
}

/// The table in the module documentation; `None` for any other letter.
fn gcd_letter(letter: u8) -> Option<Signal> {
    match letter {
        b'l' => Some(Signal::NotSet),
        b'p' | b'q' | b'm' | b'u' => Some(Signal::Denied),
        b't' | b'r' | b'n' | b'v' => Some(Signal::Granted),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Signal::{Denied as D, Granted as G, NotSet as N};

    fn gcd(value: &str) -> [Signal; 4] {
        match decode_gcd(value) {
            Ok(g) => [
                g.ad_storage,
                g.analytics_storage,
                g.ad_user_data,
                g.ad_personalization,
            ],
            Err(e) => panic!("{value}: {e}"),
        }
    }

    /// anowave.com "Consent Mode V2 Signals": G100 no consent, G110 Ads
    /// only, G101 Analytics only, G111 both; the same in
    /// adriennevermorel.com's G1xy table (x ad_storage, y
    /// analytics_storage).
    #[test]
    fn gcs_examples() {
        let cases = [
            ("G100", D, D),
            ("G110", G, D),
            ("G101", D, G),
            ("G111", G, G),
        ];
        for (value, ad_storage, analytics_storage) in cases {
            let want = Gcs {
                ad_storage,
                analytics_storage,
            };
            assert_eq!(decode_gcs(value), Ok(want), "{value}");
        }
    }

    #[test]
    fn gcs_anything_else_is_an_error() {
        for value in [
            "", "G1", "G10", "G1000", "G102", "G1--", "g111", "G211", "G 11", "G11", "Ġ11",
        ] {
            assert_eq!(decode_gcs(value), Err(GcmError::Gcs), "{value}");
        }
    }

    /// Every example in the Commanders Act table (CommandersAct/
    /// Platform-Documentation, consent-mode-in-commanders-act-tms.md,
    /// "Possibles values for gcd parameter"), with its stated meaning.
    #[test]
    fn gcd_commanders_act_examples() {
        // "only analytics_storage has been denied by default"
        assert_eq!(gcd("11l1p1l1l5"), [N, D, N, N]);
        // "all consent states are denied by default"
        assert_eq!(gcd("11p1p1p1p5"), [D, D, D, D]);
        // analytics_storage updated to denied after a denied default
        assert_eq!(gcd("11p1q1p1p5"), [D, D, D, D]);
        // "all consent states are granted by default"
        assert_eq!(gcd("11t1t1t1t5"), [G, G, G, G]);
        // "the user grants consent to all services after they were first
        // denied by default"
        assert_eq!(gcd("11r1r1r1r5"), [G, G, G, G]);
        // "analytics_storage was only set after the user denied it"
        assert_eq!(gcd("11p1m1p1p5"), [D, D, D, D]);
        // no default, "all states to granted after the user chose so"
        assert_eq!(gcd("11n1n1n1n5"), [G, G, G, G]);
        // "the user withdrew all consents after they were set to granted by
        // default"
        assert_eq!(gcd("11u1u1u1u5"), [D, D, D, D]);
        // "granted by default and by user confirmation"
        assert_eq!(gcd("11v1v1v1v5"), [G, G, G, G]);
    }

    /// anowave.com "Consent Mode V2 Signals": 11t1t1t1p5 is ad_storage,
    /// analytics_storage and ad_user_data granted, ad_personalization
    /// denied.
    #[test]
    fn gcd_anowave_example() {
        assert_eq!(gcd("11t1t1t1p5"), [G, G, G, D]);
    }

    /// Other digits, and pairs after the fourth signal, as real requests
    /// carry them (13l3l3l3l1 is the brief's example; 13l3l3l3l1l1 and
    /// 13l3l3R3l5l1 were seen in Google Ads request URLs in saved pages).
    /// The digits are not read; an undocumented letter is an error.
    #[test]
    fn gcd_undocumented_parts() {
        assert_eq!(gcd("13l3l3l3l1"), [N, N, N, N]);
        assert_eq!(gcd("13l3l3l3l1l1"), [N, N, N, N]);
        assert_eq!(gcd("13p3r3l3v1q1"), [D, G, N, G]);
        assert_eq!(
            decode_gcd("13l3l3R3l5l1"),
            Err(GcmError::GcdLetter("ad_user_data"))
        );
        assert_eq!(
            decode_gcd("11e1p1p1p5"),
            Err(GcmError::GcdLetter("ad_storage"))
        );
    }

    #[test]
    fn gcd_malformed_is_an_error() {
        for value in [
            "",
            "1",
            "11",
            "11p1p1p1",
            "11p1p1p1p",
            "11p1p1p1p5l",
            "1p1p1p1p15",
            "a1p1p1p1p5",
            "11p1p1pp1p5",
            "11p1p1p1p5 ",
            "11p1p1p1p5.",
            "١١p1p1p1p5",
            "11p1p1p1pé",
        ] {
            assert_eq!(decode_gcd(value), Err(GcmError::GcdLayout), "{value}");
        }
    }

    proptest! {
        /// Arbitrary text never panics.
        #[test]
        fn any_text_is_safe(text in any::<String>()) {
            let _ = decode_gcs(&text);
            let _ = decode_gcd(&text);
        }

        /// Nor does text made of the characters these values use; what
        /// decodes has the documented shape.
        #[test]
        fn near_misses_are_safe(text in "[G0-9a-zA-Z]{0,16}") {
            if decode_gcs(&text).is_ok() {
                prop_assert!(text.len() == 4 && text.starts_with("G1"));
            }
            if decode_gcd(&text).is_ok() {
                prop_assert!(text.len() >= 10 && text.len() % 2 == 0);
            }
        }
    }
}
