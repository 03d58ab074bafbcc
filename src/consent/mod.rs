//! Consent: reading the signals an event carries and deciding, per
//! destination, whether it may receive the event.
//!
//! Signals, strongest first:
//! 1. the opt-out registry (an event whose user or anonymous id is listed
//!    there, raw or as a pseudonym, reaches no destination that honours
//!    it, `require_consent = []` included; see [`registry`]);
//! 2. `Sec-GPC: 1`, which denies the purposes in `consent.gpc_denies`
//!    whatever the event claims;
//! 3. in-event consent: Segment `context.consent.categoryPreferences`
//!    (`{category: bool}`) and RudderStack `context.consentManagement`
//!    (`allowedConsentIds`, `deniedConsentIds`). Category ids map to
//!    purposes through `consent.categories`; an unmapped id stands for the
//!    purpose of exactly that name. Matching is exact and case-sensitive:
//!    analytics.js sends the operator's own names (`"Analytics"`), so they
//!    are mapped explicitly, never guessed. A purpose both allowed and denied
//!    is denied.
//! 4. with `consent.tcf_purposes`, IAB TCF v2 TC strings (the event's,
//!    marked by ingest, e.g. GA4's `gdpr_consent`; the one at `tcf_path`;
//!    and the request's `?gdpr_consent=`, each applied, so the strictest
//!    wins): a purpose is granted when every TCF purpose mapped to it has
//!    consent, denied otherwise; an unreadable string ([`tcf`]) denies them
//!    all. A destination with a `tcf_vendor` also needs that vendor's
//!    consent in every string, and loses the purposes a publisher
//!    restriction of type 0, 2 or 3 covers for it. With
//!    `consent.us_opt_outs`, IAB GPP strings' US sections and US Privacy
//!    strings (the request's `?gpp=`/`?gpp_sid=`/`?us_privacy=`, GA4's
//!    marked ones, those at `gpp_path`/`us_privacy_path`) deny the
//!    purposes of the opt-outs exercised and grant them otherwise; a GPP
//!    string's TCF EU v2 section counts as a TC string (`us.rs`, [`gpp`]).
//!    With `consent.consent_mode`, Google
//!    consent mode's `gcs` and `gcd` ([`gcm`]) grant or deny the purpose
//!    each signal maps to.
//!    Snowplow's `gdpr` context and `consent_granted`/`consent_withdrawn`
//!    events (see [`Consent::snowplow`]; read as `serde_json` values, the
//!    one place consent allocates, and only for Snowplow events).
//! 5. no signal at all: `consent.default` (`deny` unless the operator says
//!    otherwise), or with `[consent.jurisdiction]` the default of the
//!    jurisdiction a trusted CDN states ([`jurisdiction`]; unknown denies
//!    unless the operator says otherwise). With `consent.max_age`, a TC
//!    string last updated longer ago grants nothing.
//!
//! An event that gives one of these twice with different values (two
//! `userId` keys, two `context.consent` objects, two `categoryPreferences`
//! in one) says two things a backend may read either way; no destination
//! that requires consent receives it, and one naming two different ids is
//! treated as opted out. The same value twice says one thing. The
//! request's signals follow the same rule ([`sec_gpc`], [`request_tcf`]).
//!
//! Signals are read from the values ingest marked in its one validating
//! scan ([`Marks`]); the event is not parsed again here, except to look for
//! a TC string at `consent.tcf_path` when one is configured. Purposes are
//! compiled to bits when the engine is built (only those some destination
//! requires or GPC denies), so reading Segment and RudderStack consent
//! objects and GPC, and deciding, allocate nothing; a TC string (decoded
//! into bitsets), Snowplow's contexts and the Measurement Protocol's
//! consent object (read as `serde_json` values) allocate, and only for
//! events that carry them.
//!
//! A destination requires its `require_consent` purposes, all of them or any
//! one (`match`). The client's own `resolutionStrategy` is not trusted to
//! loosen that. This module never modifies events and never logs.
//!
//! Layout: this file holds the engine and what it is built from
//! ([`Consent`], [`Requirement`], [`Need`]; `settings.rs`, what config
//! fills in); `signals.rs` reads an event's and a request's signals into
//! [`Signals`], and `us.rs` its GPP and US Privacy strings (tested in
//! `us_tests.rs`); `decide.rs` decides for one destination; `tests.rs`
//! tests both. [`tcf`], [`gpp`], [`gcm`] and [`registry`] own their
//! formats.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod decide;
pub mod erasure;
pub mod gcm;
pub mod gpp;
pub mod jurisdiction;
pub mod registry;
mod settings;
mod signals;
pub mod suppression;
pub mod tcf;
mod us;

pub use registry::OptOutRegistry;
pub use settings::{ConsentConfig, ConsentDefault, UsOptOuts};
pub use signals::{request_tcf, sec_gpc};
pub use us::{request_us, UsRequest};

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a destination's purposes combine.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Every purpose must be granted.
    #[default]
    All,
    /// One granted purpose is enough.
    Any,
}

/// What a destination requires.
#[derive(Clone, Debug)]
pub struct Requirement {
    /// Purposes; empty means the destination needs no consent.
    pub purposes: Vec<String>,
    /// How they combine.
    pub mode: Match,
    /// Its IAB vendor id: an event with a TC string reaches it only if the
    /// string gives this vendor consent and the publisher does not restrict
    /// it for a TCF purpose it needs.
    pub tcf_vendor: Option<u16>,
    /// Whether events of ids in the opt-out registry are kept from it
    /// (`honor_opt_out`, true unless the operator says otherwise).
    pub honor_opt_out: bool,
}

impl Default for Requirement {
    fn default() -> Requirement {
        Requirement {
            purposes: Vec::new(),
            mode: Match::All,
            tcf_vendor: None,
            honor_opt_out: true,
        }
    }
}

/// Why an event may not go to a destination (a metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The user or anonymous id is in the opt-out registry.
    OptedOut,
    /// `Sec-GPC: 1` denies a required purpose.
    Gpc,
    /// The event's consent denies (or does not grant) a required purpose.
    Denied,
    /// No consent signal at all, and the default is deny.
    NoConsent,
}

impl Denial {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::OptedOut => "opted_out",
            Denial::Gpc => "gpc",
            Denial::Denied => "denied",
            Denial::NoConsent => "no_consent",
        }
    }
}

/// A set of the engine's purposes: bit `i` is its `i`-th (see
/// [`Consent::new`]). Purposes no destination requires and GPC does not
/// deny have no bit: nothing asks about them.
pub type Purposes = u64;

/// Most distinct purposes destinations may require and GPC may deny
/// (config validation enforces it).
pub const MAX_PURPOSES: usize = 64;

/// Everything consent-related one event says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Purposes the event grants.
    pub granted: Purposes,
    /// Purposes the event denies.
    pub denied: Purposes,
    /// Whether the event carried any consent signal that grants or denies
    /// purposes as opt-in consent does (a consent object, a TC string,
    /// consent mode): then a purpose it does not grant is not granted.
    pub present: bool,
    /// Purposes only opt-out signals spoke of (GPP US sections, US Privacy
    /// strings: `consent.us_opt_outs`). They decide these purposes, granted
    /// or denied, and leave every other purpose to what the rest says (or
    /// to the default): a US Privacy string says nothing of analytics.
    pub opt_out_only: Purposes,
    /// `Sec-GPC: 1` was sent with it.
    pub gpc: bool,
    /// Its user or anonymous id is opted out.
    pub opted_out: bool,
    /// It gave an id or a consent object twice ([`Marks::ambiguous`]).
    pub ambiguous: bool,
    /// The TC strings it carried (its own, at `tcf_path`, its request's),
    /// if consent reads TC strings: each decoded, or why not (an unreadable
    /// string grants nothing). Each one counts: the strictest wins.
    pub tcf: Vec<Result<Box<tcf::TcString>, tcf::TcfError>>,
    /// What no signal means for it: `[consent] default`, or its
    /// jurisdiction's ([`Consent::default_in`]).
    pub default: ConsentDefault,
    /// By [`Source`]: the purposes it granted and denied (what
    /// `explain --trace` names; no allocation).
    pub by: [(Purposes, Purposes); Source::COUNT],
}

/// Where a signal that grants or denies purposes was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Segment's `context.consent.categoryPreferences`.
    SegmentConsent,
    /// RudderStack's `context.consentManagement`.
    RudderstackConsent,
    /// Snowplow's `gdpr` context or consent events.
    Snowplow,
    /// An IAB TCF TC string.
    Tcf,
    /// Google consent mode (`gcs`, `gcd`, the Measurement Protocol's
    /// `consent`).
    ConsentMode,
    /// An IAB GPP string (any of its sections).
    Gpp,
    /// An IAB US Privacy string (CCPA, `1YNN`).
    UsPrivacy,
}

impl Source {
    /// How many there are.
    pub const COUNT: usize = 7;
    /// Every source, in index order.
    pub const ALL: [Source; Source::COUNT] = [
        Source::SegmentConsent,
        Source::RudderstackConsent,
        Source::Snowplow,
        Source::Tcf,
        Source::ConsentMode,
        Source::Gpp,
        Source::UsPrivacy,
    ];

    /// What `explain --trace` calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Source::SegmentConsent => "the event's context.consent (Segment)",
            Source::RudderstackConsent => "the event's context.consentManagement (RudderStack)",
            Source::Snowplow => "the event's Snowplow consent context or event",
            Source::Tcf => "a TC string (IAB TCF)",
            Source::ConsentMode => "Google consent mode (gcs, gcd, consent)",
            Source::Gpp => "a GPP string (IAB GPP)",
            Source::UsPrivacy => "a US Privacy string (IAB CCPA)",
        }
    }
}

/// A destination's [`Requirement`] compiled against the engine's purposes.
#[derive(Clone, Debug, Default)]
pub struct Need {
    /// Each required purpose's bit, in the order configured.
    purposes: Vec<Purposes>,
    mode: Match,
    tcf_vendor: Option<u16>,
    honor_opt_out: bool,
}

/// The consent engine, compiled from `[consent]` and the purposes
/// destinations require.
#[derive(Debug)]
pub struct Consent {
    default: ConsentDefault,
    /// The purposes that have a bit, by bit.
    purposes: Vec<String>,
    /// Purposes `Sec-GPC: 1` denies.
    gpc_denies: Purposes,
    /// The bit each consent id stands for: a CMP category id through
    /// `consent.categories`, or an unmapped id that is a purpose's own name.
    /// Ids without a bit are left out, so this stays short: a list.
    ids: Vec<(Box<str>, Purposes)>,
    /// Each purpose a TC string can grant, with the TCF purposes (bit
    /// `n - 1` for purpose `n`) that must all have consent.
    tcf: Vec<(Purposes, u32)>,
    /// Each consent mode signal that grants or denies a purpose.
    consent_mode: Vec<(gcm::Kind, Purposes)>,
    /// Object keys leading to a TC string in events (empty: none).
    tcf_path: Vec<String>,
    /// The purposes each US opt-out governs (all 0: GPP's US sections and
    /// US Privacy strings are not read).
    us: us::UsBits,
    /// Object keys leading to a GPP string in events (empty: none).
    gpp_path: Vec<String>,
    /// Object keys leading to a US Privacy string in events (empty: none).
    us_privacy_path: Vec<String>,
    registry: Option<Arc<OptOutRegistry>>,
    /// TC strings last updated longer ago grant nothing.
    max_age: Option<std::time::Duration>,
    /// Defaults by jurisdiction.
    jurisdictions: Option<jurisdiction::Jurisdictions>,
}

impl Consent {
    /// Compiles the engine for destinations requiring the purposes in
    /// `required` (a purpose named twice, or also in `gpc_denies`, gets one
    /// bit). More than [`MAX_PURPOSES`] distinct ones: the rest are never
    /// granted (config validation refuses such a config first).
    pub fn new<'a>(
        default: ConsentDefault,
        gpc_denies: &'a [String],
        categories: &BTreeMap<String, String>,
        required: impl IntoIterator<Item = &'a str>,
        registry: Option<Arc<OptOutRegistry>>,
    ) -> Consent {
        let mut purposes: Vec<String> = Vec::new();
        for purpose in gpc_denies.iter().map(String::as_str).chain(required) {
            if !purposes.iter().any(|p| p == purpose) && purposes.len() < MAX_PURPOSES {
                purposes.push(purpose.to_owned());
            }
        }
        let bit = |purpose: &str| bit_of(&purposes, purpose);
        let mut ids: Vec<(Box<str>, Purposes)> = purposes
            .iter()
            .filter(|p| !categories.contains_key(*p))
            .map(|p| (p.as_str().into(), bit(p)))
            .collect();
        ids.extend(
            categories
                .iter()
                .map(|(id, purpose)| (id.as_str().into(), bit(purpose)))
                .filter(|&(_, bit)| bit != 0),
        );
        Consent {
            default,
            gpc_denies: gpc_denies.iter().fold(0, |set, p| set | bit(p)),
            purposes,
            ids,
            tcf: Vec::new(),
            consent_mode: Vec::new(),
            tcf_path: Vec::new(),
            us: us::UsBits::default(),
            gpp_path: Vec::new(),
            us_privacy_path: Vec::new(),
            registry,
            max_age: None,
            jurisdictions: None,
        }
    }

    /// TC strings last updated longer than `max_age` ago grant nothing.
    pub fn with_max_age(mut self, max_age: Option<std::time::Duration>) -> Consent {
        self.max_age = max_age;
        self
    }

    /// "No signal" means what `jurisdictions` say for each request's
    /// jurisdiction (see [`jurisdiction`]).
    pub fn with_jurisdictions(
        mut self,
        jurisdictions: Option<jurisdiction::Jurisdictions>,
    ) -> Consent {
        self.jurisdictions = jurisdictions;
        self
    }

    /// The jurisdiction `headers` state, when jurisdictions are configured
    /// (`None`: not configured, or unknown). Ingest passes the headers of
    /// trusted peers only.
    pub fn jurisdiction(&self, headers: &http::HeaderMap) -> Option<jurisdiction::Jurisdiction> {
        self.jurisdictions.as_ref()?.read(headers)
    }

    /// What no signal means for a request from `at` (`None`: unknown).
    /// Without jurisdictions configured, `[consent] default`.
    pub fn default_in(&self, at: Option<&jurisdiction::Jurisdiction>) -> ConsentDefault {
        match &self.jurisdictions {
            Some(table) => table.default_for(at, self.default),
            None => self.default,
        }
    }

    /// Also looks for a TC string at `path` (object keys) in events.
    pub fn with_tcf_path(mut self, path: Vec<String>) -> Consent {
        self.tcf_path = path;
        self
    }

    /// Also reads GPP strings' US sections and US Privacy strings, each
    /// opt-out denying its purposes of `opt_outs` (see `us.rs`), and looks
    /// for them at `gpp_path` and `us_privacy_path` (object keys) in
    /// events. Purposes no destination requires are left out.
    pub fn with_us(
        mut self,
        opt_outs: &UsOptOuts,
        gpp_path: Vec<String>,
        us_privacy_path: Vec<String>,
    ) -> Consent {
        self.us = us::UsBits::new(opt_outs, |purpose| bit_of(&self.purposes, purpose));
        self.gpp_path = gpp_path;
        self.us_privacy_path = us_privacy_path;
        self
    }

    /// Also reads TC strings (each purpose of `tcf_purposes` granted when
    /// every TCF purpose it lists has consent, denied otherwise) and Google
    /// consent mode (`consent_mode`: a signal granted or denied grants or
    /// denies its purpose). Purposes no destination requires are left out.
    pub fn interpreting(
        mut self,
        tcf_purposes: &BTreeMap<String, Vec<u8>>,
        consent_mode: &[(gcm::Kind, String)],
    ) -> Consent {
        let bit = |purpose: &str| bit_of(&self.purposes, purpose);
        self.tcf = tcf_purposes
            .iter()
            .map(|(purpose, tcf)| {
                let mask = tcf.iter().fold(0u32, |m, &p| m | 1 << (p - 1));
                (bit(purpose), mask)
            })
            .filter(|&(bit, _)| bit != 0)
            .collect();
        self.consent_mode = consent_mode
            .iter()
            .map(|(kind, purpose)| (*kind, bit(purpose)))
            .filter(|&(_, bit)| bit != 0)
            .collect();
        self
    }

    /// The engine `settings` describe, for destinations requiring the
    /// purposes in `required`, with its opt-out registry loaded (also
    /// returned, for the caller that reloads it); the registry matches
    /// pseudonymized ids with `keyring`'s HMAC keys.
    pub fn from_settings<'a>(
        settings: &'a ConsentConfig,
        required: impl IntoIterator<Item = &'a str>,
        keyring: Arc<crate::crypto::Keyring>,
        suppressions: Option<Arc<suppression::Suppressions>>,
    ) -> std::io::Result<(Consent, Option<Arc<OptOutRegistry>>)> {
        let registry = match (&settings.opt_out_registry, suppressions) {
            (Some(path), suppressions) => Some(Arc::new(
                OptOutRegistry::load(path, keyring)?.with_suppressions(suppressions),
            )),
            (None, Some(suppressions)) => Some(Arc::new(OptOutRegistry::of_suppressions(
                suppressions,
                keyring,
            ))),
            (None, None) => None,
        };
        let engine = Consent::new(
            settings.default,
            &settings.gpc_denies,
            &settings.categories,
            required,
            registry.clone(),
        )
        .interpreting(&settings.tcf_purposes, &settings.consent_mode)
        .with_tcf_path(settings.tcf_path.clone())
        .with_max_age(settings.max_age)
        .with_jurisdictions(settings.jurisdiction.clone())
        .with_us(
            &settings.us_opt_outs,
            settings.gpp_path.clone(),
            settings.us_privacy_path.clone(),
        );
        Ok((engine, registry))
    }

    /// `requirement` compiled for [`Consent::decide`]. A purpose the engine
    /// was not built with is never granted.
    pub fn need(&self, requirement: &Requirement) -> Need {
        Need {
            purposes: requirement
                .purposes
                .iter()
                .map(|purpose| bit_of(&self.purposes, purpose))
                .collect(),
            mode: requirement.mode,
            tcf_vendor: requirement.tcf_vendor,
            // Without a registry there is nobody to keep out.
            honor_opt_out: requirement.honor_opt_out && self.registry.is_some(),
        }
    }
}

/// The bit of `purpose` among `purposes` (0: it has none).
fn bit_of(purposes: &[String], purpose: &str) -> Purposes {
    purposes
        .iter()
        .position(|p| p == purpose)
        .map_or(0, |i| 1 << i)
}

#[cfg(test)]
mod tests;
