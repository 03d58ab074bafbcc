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
//!    restriction of type 0, 2 or 3 covers for it. With `consent.consent_mode`, Google
//!    consent mode's `gcs` and `gcd` ([`gcm`]) grant or deny the purpose
//!    each signal maps to.
//!    Snowplow's `gdpr` context and `consent_granted`/`consent_withdrawn`
//!    events (see [`Consent::snowplow`]; read as `serde_json` values, the
//!    one place consent allocates, and only for Snowplow events).
//! 5. no signal at all: `consent.default` (`deny` unless the operator says
//!    otherwise).
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

pub mod gcm;
pub mod registry;
pub mod tcf;

pub use registry::OptOutRegistry;

use crate::config::ConsentDefault;
use crate::event::{same_value, Marks, Span};
use crate::json::reader::{Reader, Stop};
use crate::json::MaybeStr;
use crate::policy::rules::Scalar;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Whether a request says `Sec-GPC: 1`. The header given twice with
/// different values is unreadable, and an unreadable signal denies: it
/// counts as `1`.
pub fn sec_gpc(headers: &http::HeaderMap) -> bool {
    let mut values = headers.get_all("sec-gpc").iter().map(|v| v.as_bytes());
    let Some(first) = values.next() else {
        return false;
    };
    first == b"1" || values.any(|v| v != first)
}

/// The request's `gdpr_consent` query parameter (an IAB TC string), if it
/// has one; [`tcf::TcfError::Repeated`] when it has several that differ
/// (the same one twice is one).
pub fn request_tcf(query: Option<&str>) -> Option<Result<Box<str>, tcf::TcfError>> {
    let mut found: Option<Result<Box<str>, tcf::TcfError>> = None;
    for (key, value) in form_urlencoded::parse(query?.as_bytes()) {
        if key != "gdpr_consent" {
            continue;
        }
        found = Some(match found {
            None => Ok(value.into()),
            Some(Ok(first)) if *first == *value => Ok(first),
            Some(_) => Err(tcf::TcfError::Repeated),
        });
    }
    found
}

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
    /// Whether the event carried any in-event consent object.
    pub present: bool,
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
    registry: Option<Arc<OptOutRegistry>>,
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
            registry,
        }
    }

    /// Also looks for a TC string at `path` (object keys) in events.
    pub fn with_tcf_path(mut self, path: Vec<String>) -> Consent {
        self.tcf_path = path;
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

    /// The engine `config` describes, with its opt-out registry loaded (also
    /// returned, for the caller that reloads it).
    pub fn from_config(
        config: &crate::config::Config,
    ) -> std::io::Result<(Consent, Option<Arc<OptOutRegistry>>)> {
        let consent = &config.consent;
        let registry = match &consent.opt_out_registry {
            Some(path) => Some(Arc::new(OptOutRegistry::load(
                path,
                config.keyring.clone(),
            )?)),
            None => None,
        };
        let required = config
            .destinations
            .iter()
            .flat_map(|d| d.consent.purposes.iter().map(String::as_str));
        let engine = Consent::new(
            consent.default,
            &consent.gpc_denies,
            &consent.categories,
            required,
            registry.clone(),
        )
        .interpreting(&consent.tcf_purposes, &consent.consent_mode)
        .with_tcf_path(consent.tcf_path.clone());
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

    /// Reads the signals of one event sent with `gpc`: only the values its
    /// `marks` point at in `body` (ingest found them), never the whole event.
    /// Each is one complete JSON value, so failing to read it as the
    /// expected shape means it has another: a consent object of the wrong
    /// shape counts as no signal, and never grants.
    pub fn signals(&self, body: &[u8], marks: &Marks, gpc: bool) -> Signals {
        self.signals_with(body, marks, gpc, None)
    }

    /// [`Consent::signals`], for an event whose request also carried a TC
    /// string (a `gdpr_consent` query parameter, or an error when it was
    /// given twice differently); it counts as much as the event's own.
    pub fn signals_with(
        &self,
        body: &[u8],
        marks: &Marks,
        gpc: bool,
        request_tcf: Option<Result<&str, &tcf::TcfError>>,
    ) -> Signals {
        let mut signals = Signals {
            gpc,
            ambiguous: marks.ambiguous,
            ..Signals::default()
        };
        if let Some(registry) = &self.registry {
            // A string id by its text, a number by its JSON text (as `hash`
            // takes them). An event that names two different user (or
            // anonymous) ids may be either person's: it cannot be cleared.
            let listed = |id: Option<Span>| {
                let Some(raw) = id.map(|span| span.get(body)) else {
                    return false;
                };
                match raw.first() {
                    Some(b'-' | b'0'..=b'9') => std::str::from_utf8(raw)
                        .is_ok_and(|text| registry.matches(Scalar::Number(text))),
                    _ => serde_json::from_slice::<MaybeStr<'_>>(raw)
                        .ok()
                        .and_then(|id| id.0)
                        .is_some_and(|id| registry.matches(Scalar::Str(&id))),
                }
            };
            // Ids the event links to them (an alias's previous id) are the
            // same person's.
            signals.opted_out = marks.ids_ambiguous
                || [
                    marks.user_id,
                    marks.anonymous_id,
                    marks.linked_id,
                    marks.linked_anonymous_id,
                ]
                .into_iter()
                .any(listed);
        }
        let read = |span: Option<Span>, shape: fn(&Self, &mut Reader<'_>) -> Result<Said, Stop>| {
            let text = std::str::from_utf8(span?.get(body)).ok()?;
            let mut reader = Reader::new(text);
            shape(self, &mut reader).ok()
        };
        for said in [
            read(marks.consent, Consent::segment),
            read(marks.consent_management, Consent::rudderstack),
        ]
        .into_iter()
        .flatten()
        {
            signals.hear(said);
        }
        if marks.contexts.is_some() || marks.self_describing.is_some() {
            let value = |span: Option<Span>| {
                span.and_then(|s| serde_json::from_slice::<serde_json::Value>(s.get(body)).ok())
            };
            let said = self.snowplow(
                value(marks.contexts).as_ref(),
                value(marks.self_describing).as_ref(),
            );
            signals.hear(said);
        }
        let string = |span: Option<Span>| {
            serde_json::from_slice::<MaybeStr<'_>>(span?.get(body))
                .ok()
                .map(|s| s.0)
        };
        if !self.tcf.is_empty() {
            // Every TC string the event and its request carry is read, and
            // each one counts: the strictest wins.
            let own = string(marks.tcf).map(|tc| tc.map(std::borrow::Cow::into_owned));
            let at_path = self.string_at_path(body);
            let request = request_tcf.map(|tc| tc.map(str::to_owned).map_err(|e| *e));
            let strings = [own, at_path]
                .into_iter()
                .flatten()
                // A value that is not a string is as unreadable as a bad one.
                .map(|tc| tc.ok_or(tcf::TcfError::Empty))
                .chain(request);
            for tc in strings {
                let decoded = tc.and_then(|tc| tcf::decode(&tc)).map(Box::new);
                signals.hear(self.tcf_says(decoded.as_deref().ok()));
                signals.tcf.push(decoded);
            }
        }
        if !self.consent_mode.is_empty() {
            if let Some(gcs) = string(marks.gcs) {
                let read = gcs.as_deref().map(gcm::decode_gcs);
                signals.hear(self.mode_says(|kind| match &read {
                    Some(Ok(gcs)) => Some(gcs.get(kind)),
                    _ => None,
                }));
            }
            if let Some(span) = marks.mp_consent {
                // The Measurement Protocol's {"ad_user_data": "GRANTED", ...}.
                let read =
                    serde_json::from_slice::<BTreeMap<String, serde_json::Value>>(span.get(body))
                        .ok();
                signals.hear(self.mode_says(|kind| {
                    let Some(object) = &read else {
                        return None;
                    };
                    let name = match kind {
                        gcm::Kind::AdStorage => "ad_storage",
                        gcm::Kind::AnalyticsStorage => "analytics_storage",
                        gcm::Kind::AdUserData => "ad_user_data",
                        gcm::Kind::AdPersonalization => "ad_personalization",
                    };
                    match object.get(name).and_then(serde_json::Value::as_str) {
                        None => Some(gcm::Signal::NotSet),
                        Some("GRANTED") => Some(gcm::Signal::Granted),
                        Some(_) => Some(gcm::Signal::Denied),
                    }
                }));
            }
            if let Some(gcd) = string(marks.gcd) {
                let read = gcd.as_deref().map(gcm::decode_gcd);
                signals.hear(self.mode_says(|kind| match &read {
                    Some(Ok(gcd)) => Some(gcd.get(kind)),
                    _ => None,
                }));
            }
        }
        signals
    }

    /// The value at `tcf_path` in `body`: `Some(Some(text))` for a string,
    /// `Some(None)` for another value, `None` when there is none.
    fn string_at_path(&self, body: &[u8]) -> Option<Option<String>> {
        fn walk(
            r: &mut Reader<'_>,
            path: &[String],
            found: &mut Option<Option<String>>,
        ) -> Result<(), Stop> {
            let Some((first, rest)) = path.split_first() else {
                let value = match r.peek()? {
                    b'"' => {
                        r.string()?;
                        Some(r.last().decode().into_owned())
                    }
                    _ => r.skip().map(|()| None)?,
                };
                // Two different strings say two things: neither is read.
                *found = Some(match found.take() {
                    None => value,
                    Some(first) if first == value => first,
                    Some(_) => None,
                });
                return Ok(());
            };
            if r.peek()? != b'{' {
                return r.skip();
            }
            r.object(|r, key| {
                if *key == **first {
                    walk(r, rest, found)
                } else {
                    r.skip()
                }
            })
        }
        if self.tcf_path.is_empty() {
            return None;
        }
        let text = std::str::from_utf8(body).ok()?;
        let mut found = None;
        walk(&mut Reader::new(text), &self.tcf_path, &mut found).ok()?;
        found
    }

    /// Snowplow's consent, from its contexts and self-describing event (as
    /// ingest decoded them):
    /// - a `gdpr` context whose `basisForProcessing` is `consent` grants the
    ///   purposes of its `documentId` (a consent id, through
    ///   `consent.categories`); another basis is a signal that grants
    ///   nothing;
    /// - a `consent_granted` event grants the purposes of each of its
    ///   `consent_document` contexts' `id`;
    /// - a `consent_withdrawn` event denies them, or, with `all: true`,
    ///   every purpose.
    ///
    /// Schemas are matched by vendor and name, any version.
    fn snowplow(
        &self,
        contexts: Option<&serde_json::Value>,
        event: Option<&serde_json::Value>,
    ) -> Said {
        const SNOWPLOW: &str = "iglu:com.snowplowanalytics.snowplow/";
        let named = |entity: &serde_json::Value, name: &str| {
            entity["schema"]
                .as_str()
                .and_then(|s| s.strip_prefix(SNOWPLOW))
                .is_some_and(|s| s.strip_prefix(name).is_some_and(|r| r.starts_with('/')))
        };
        let entities: Vec<&serde_json::Value> = contexts
            .and_then(|c| c["data"].as_array())
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let (mut granted, mut denied, mut said) = (0, 0, false);
        let gdpr: Vec<&&serde_json::Value> = entities.iter().filter(|e| named(e, "gdpr")).collect();
        // Two gdpr contexts that differ say two things (the same one
        // attached twice says one).
        if gdpr.windows(2).any(|pair| pair[0] != pair[1]) {
            return Said::Twice;
        }
        for gdpr in gdpr {
            said = true;
            if gdpr["data"]["basisForProcessing"] == "consent" {
                granted |= gdpr["data"]["documentId"]
                    .as_str()
                    .map_or(0, |id| self.id(id));
            }
        }
        let documents = || {
            entities
                .iter()
                .filter(|e| named(e, "consent_document"))
                .filter_map(|e| e["data"]["id"].as_str())
                .fold(0, |set, id| set | self.id(id))
        };
        if let Some(event) = event.map(|e| &e["data"]) {
            if named(event, "consent_granted") {
                said = true;
                granted |= documents();
            } else if named(event, "consent_withdrawn") {
                said = true;
                denied |= if event["data"]["all"] == true {
                    Purposes::MAX
                } else {
                    documents()
                };
            }
        }
        if !said {
            return Said::Nothing;
        }
        Said::Purposes { granted, denied }
    }

    /// What a TC string says of the purposes it can grant (`None`:
    /// unreadable, so it denies them all).
    fn tcf_says(&self, tc: Option<&tcf::TcString>) -> Said {
        let (mut granted, mut denied) = (0, 0);
        for &(bit, mask) in &self.tcf {
            let consented = tc.is_some_and(|tc| {
                (1..=24u8)
                    .filter(|p| mask & 1 << (p - 1) != 0)
                    .all(|p| tc.purpose_consent(p))
            });
            if consented {
                granted |= bit;
            } else {
                denied |= bit;
            }
        }
        Said::Purposes { granted, denied }
    }

    /// What consent mode signals say (`read(kind)` is `None` when the
    /// value was unreadable: it denies every purpose it could grant).
    fn mode_says(&self, read: impl Fn(gcm::Kind) -> Option<gcm::Signal>) -> Said {
        let (mut granted, mut denied) = (0, 0);
        for &(kind, bit) in &self.consent_mode {
            match read(kind) {
                Some(gcm::Signal::Granted) => granted |= bit,
                Some(gcm::Signal::NotSet) => {}
                Some(gcm::Signal::Denied) | None => denied |= bit,
            }
        }
        // Signals that are all unset say nothing: the default decides.
        if granted | denied == 0 {
            return Said::Nothing;
        }
        Said::Purposes { granted, denied }
    }

    /// The bit of consent id `id` (0 if no purpose that matters).
    fn id(&self, id: &str) -> Purposes {
        self.ids
            .iter()
            .find(|(known, _)| **known == *id)
            .map_or(0, |&(_, bit)| bit)
    }

    /// Segment's `context.consent`: `{"categoryPreferences": {id: bool}}`;
    /// only a literal `true` grants. Without `categoryPreferences` (or with
    /// `null`), it says nothing.
    fn segment(&self, r: &mut Reader<'_>) -> Result<Said, Stop> {
        let (mut said, mut first, mut twice) = (Said::Nothing, None, false);
        r.object(|r, key| {
            if key != "categoryPreferences" {
                return r.skip();
            }
            r.peek()?;
            let start = r.pos();
            if let Some(first) = first {
                // Given again: the same preferences say nothing new.
                r.skip()?;
                twice |= !same_value(first, r.since(start).as_bytes());
                return Ok(());
            }
            if r.peek()? == b'n' {
                r.literal()?;
                first = Some(r.since(start).as_bytes());
                return Ok(());
            }
            let (mut granted, mut denied) = (0, 0);
            r.object(|r, id| {
                let bit = self.id(&id);
                if r.peek()? == b't' {
                    r.literal()?;
                    granted |= bit;
                } else {
                    r.skip()?;
                    denied |= bit;
                }
                Ok(())
            })?;
            said = Said::Purposes { granted, denied };
            first = Some(r.since(start).as_bytes());
            Ok(())
        })?;
        Ok(if twice { Said::Twice } else { said })
    }

    /// RudderStack's `context.consentManagement`: `allowedConsentIds` and
    /// `deniedConsentIds`, arrays of strings (either may be missing).
    fn rudderstack(&self, r: &mut Reader<'_>) -> Result<Said, Stop> {
        let (mut granted, mut denied) = (0, 0);
        let (mut allowed_seen, mut denied_seen): (Option<&[u8]>, Option<&[u8]>) = (None, None);
        let mut twice = false;
        r.object(|r, key| {
            let (set, seen) = match &*key {
                "allowedConsentIds" => (&mut granted, &mut allowed_seen),
                "deniedConsentIds" => (&mut denied, &mut denied_seen),
                _ => return r.skip(),
            };
            r.peek()?;
            let start = r.pos();
            r.array(|r| {
                if r.peek()? != b'"' {
                    return Err(r.error("expected a consent id"));
                }
                r.string()?;
                *set |= self.id(&r.last().decode());
                Ok(())
            })?;
            // Given again, only a different list says two things.
            let text = r.since(start).as_bytes();
            match seen {
                Some(first) => twice |= !same_value(first, text),
                None => *seen = Some(text),
            }
            Ok(())
        })?;
        Ok(if twice {
            Said::Twice
        } else {
            Said::Purposes { granted, denied }
        })
    }

    /// Decides whether a destination that needs `need` may receive an
    /// event with `signals`; the reason is that of the first required
    /// purpose that fails.
    pub fn decide(&self, signals: &Signals, need: &Need) -> Result<(), Denial> {
        // An opted-out person is out everywhere, unless the destination
        // says it must see them anyway (`honor_opt_out = false`).
        if signals.opted_out && need.honor_opt_out {
            return Err(Denial::OptedOut);
        }
        if need.purposes.is_empty() {
            return Ok(());
        }
        if signals.ambiguous {
            return Err(Denial::Denied);
        }
        // Under TCF, the destination's vendor needs consent in every string
        // as well, and the publisher's restrictions on it apply.
        let mut restricted: Purposes = 0;
        if let Some(vendor) = need.tcf_vendor {
            for tc in &signals.tcf {
                let Ok(tc) = tc else {
                    return Err(Denial::Denied);
                };
                if !tc.vendor_consent(vendor) {
                    return Err(Denial::Denied);
                }
                let blocked = tc.restricted_purposes(vendor);
                for &(bit, mask) in &self.tcf {
                    if mask & blocked != 0 {
                        restricted |= bit;
                    }
                }
            }
        }
        let mut why = Denial::Denied;
        let allowed = |&purpose: &Purposes, why: &mut Denial| {
            if signals.gpc && self.gpc_denies & purpose != 0 {
                *why = Denial::Gpc;
                return false;
            }
            if restricted & purpose != 0 {
                *why = Denial::Denied;
                return false;
            }
            if !signals.present {
                if self.default == ConsentDefault::Deny {
                    *why = Denial::NoConsent;
                    return false;
                }
                return true;
            }
            signals.granted & purpose != 0 && signals.denied & purpose == 0
        };
        let ok = match need.mode {
            Match::All => need.purposes.iter().all(|p| allowed(p, &mut why)),
            Match::Any => need.purposes.iter().any(|p| allowed(p, &mut why)),
        };
        if ok {
            Ok(())
        } else {
            Err(why)
        }
    }
}

impl Signals {
    /// Adds what one consent input says.
    fn hear(&mut self, said: Said) {
        match said {
            Said::Nothing => {}
            Said::Twice => self.ambiguous = true,
            Said::Purposes { granted, denied } => {
                self.present = true;
                self.granted |= granted;
                self.denied |= denied;
            }
        }
    }
}

impl Need {
    /// Whether any purpose is required.
    pub fn requires_any(&self) -> bool {
        !self.purposes.is_empty()
    }

    /// Whether deciding needs the event's signals: it requires a purpose,
    /// or keeps opted-out ids out (otherwise every event may go).
    pub fn reads_signals(&self) -> bool {
        self.requires_any() || self.honor_opt_out
    }
}

/// The bit of `purpose` among `purposes` (0: it has none).
fn bit_of(purposes: &[String], purpose: &str) -> Purposes {
    purposes
        .iter()
        .position(|p| p == purpose)
        .map_or(0, |i| 1 << i)
}

/// What one consent object says.
enum Said {
    /// Nothing (no preferences in it).
    Nothing,
    /// It gives its preferences twice: consent trusts neither.
    Twice,
    /// These purposes granted and these denied.
    Purposes { granted: Purposes, denied: Purposes },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::TopLevel;

    /// Signals as the pipeline reads them: marked by ingest's scan.
    fn read(c: &Consent, event: &[u8], gpc: bool) -> Signals {
        let marks = TopLevel::parse_event(event, crate::json::Limits::default())
            .map_or_else(|_| Marks::default(), |t| t.marks);
        c.signals(event, &marks, gpc)
    }

    fn engine(default: ConsentDefault) -> Consent {
        let categories = [
            ("C0002", "analytics"),
            ("Analytics", "analytics"),
            ("Advertising", "advertising"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let registry = OptOutRegistry::from_ids(["opted-user"], Arc::default());
        Consent::new(
            default,
            &["advertising".into(), "sale".into()],
            &categories,
            ["analytics", "advertising", "sale"],
            Some(Arc::new(registry)),
        )
    }

    fn need(purposes: &[&str], mode: Match) -> Requirement {
        Requirement {
            purposes: purposes.iter().map(|p| p.to_string()).collect(),
            mode,
            ..Requirement::default()
        }
    }

    const SEGMENT: &str = r#"{"userId":"u","context":{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":false}}}}"#;
    const RUDDER: &str = r#"{"anonymousId":"a","context":{"consentManagement":{"allowedConsentIds":["analytics","functional"],"deniedConsentIds":["advertising"],"provider":"custom"}}}"#;

    /// The IAB's example TC string: consent for purposes 1, 2 and 3 and
    /// vendors 2, 6 and 8 (see `tcf.rs`, iab_specification_example).
    const TC_1_2_3: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
    /// iabtcf-java's bit-field string: purposes 3 to 9, vendors 23, 37, ...
    const TC_3_TO_9: &str =
        "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA";

    fn interpreting(default: ConsentDefault) -> Consent {
        let tcf = [("analytics", vec![1, 2]), ("advertising", vec![1, 4])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let mode = [
            (gcm::Kind::AnalyticsStorage, "analytics".to_owned()),
            (gcm::Kind::AdStorage, "advertising".to_owned()),
        ];
        engine(default).interpreting(&tcf, &mode)
    }

    /// An event whose only members are `fields` (strings), marked as a
    /// flat protocol (GA4) would mark them.
    fn marked(fields: &[(&str, &str)]) -> (Vec<u8>, Marks) {
        let object: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect();
        let body = serde_json::to_vec(&object).unwrap();
        let mut marks = Marks::default();
        for (key, value) in fields {
            let quoted = serde_json::to_string(value).unwrap();
            let at = body
                .windows(quoted.len())
                .position(|w| w == quoted.as_bytes())
                .unwrap();
            let span = Span::of(&body, &body[at..at + quoted.len()]);
            match *key {
                "gdpr_consent" => marks.tcf = span,
                "gcs" => marks.gcs = span,
                "gcd" => marks.gcd = span,
                _ => {}
            }
        }
        (body, marks)
    }

    #[test]
    fn tc_strings_grant_purposes_whose_tcf_purposes_all_have_consent() {
        let c = interpreting(ConsentDefault::Deny);
        let analytics = c.need(&need(&["analytics"], Match::All));
        let advertising = c.need(&need(&["advertising"], Match::All));
        let (body, marks) = marked(&[("gdpr_consent", TC_1_2_3)]);
        let s = c.signals(&body, &marks, false);
        assert!(s.present);
        assert_eq!(c.decide(&s, &analytics), Ok(()), "1 and 2 consented");
        assert_eq!(c.decide(&s, &advertising), Err(Denial::Denied), "4 is not");
        // From the request's query; with the event's own, both count and
        // the stricter wins.
        let s = c.signals_with(b"{}", &Marks::default(), false, Some(Ok(TC_3_TO_9)));
        assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied), "1 is not");
        let s = c.signals_with(&body, &marks, false, Some(Ok(TC_3_TO_9)));
        assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied), "stricter");
        let s = c.signals_with(&body, &marks, false, Some(Ok(TC_1_2_3)));
        assert_eq!(c.decide(&s, &analytics), Ok(()), "the same string");
        // Given twice differently in the query: unreadable.
        let twice = tcf::TcfError::Repeated;
        let s = c.signals_with(b"{}", &Marks::default(), false, Some(Err(&twice)));
        assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied));
        // Unreadable: a signal that grants nothing, whatever the default.
        let c = interpreting(ConsentDefault::Allow);
        let analytics = c.need(&need(&["analytics"], Match::All));
        for bad in ["", "not a tc string", "COvFyGBOvFyGBAbAAAEN"] {
            let s = c.signals_with(b"{}", &Marks::default(), false, Some(Ok(bad)));
            assert!(s.present);
            assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied), "{bad:?}");
        }
        // At the configured path; twice differently there is unreadable.
        let c =
            interpreting(ConsentDefault::Deny).with_tcf_path(vec!["context".into(), "tc".into()]);
        let analytics = c.need(&need(&["analytics"], Match::All));
        let at_path = |event: &str| {
            let s = c.signals(event.as_bytes(), &Marks::default(), false);
            c.decide(&s, &analytics)
        };
        assert_eq!(
            at_path(&format!(r#"{{"context":{{"x":1,"tc":"{TC_1_2_3}"}}}}"#)),
            Ok(())
        );
        assert_eq!(
            at_path(&format!(
                r#"{{"context":{{"tc":"{TC_1_2_3}","tc":"{TC_1_2_3}"}}}}"#
            )),
            Ok(()),
            "the same string twice says one thing"
        );
        assert_eq!(
            at_path(&format!(
                r#"{{"context":{{"tc":"{TC_1_2_3}","tc":"{TC_3_TO_9}"}}}}"#
            )),
            Err(Denial::Denied)
        );
        assert_eq!(at_path(r#"{"context":{"tc":7}}"#), Err(Denial::Denied));
        assert_eq!(
            at_path(r#"{"context":{"other":"x"}}"#),
            Err(Denial::NoConsent)
        );
        // Without tcf_purposes, TC strings are not read.
        let plain = engine(ConsentDefault::Deny);
        let s = plain.signals_with(b"{}", &Marks::default(), false, Some(Ok(TC_1_2_3)));
        assert!(!s.present && s.tcf.is_empty());
    }

    #[test]
    fn a_destinations_vendor_needs_consent_in_the_tc_string() {
        let c = interpreting(ConsentDefault::Deny);
        let vendor = |id| {
            c.need(&Requirement {
                tcf_vendor: Some(id),
                ..need(&["analytics"], Match::All)
            })
        };
        let s = c.signals_with(b"{}", &Marks::default(), false, Some(Ok(TC_1_2_3)));
        assert_eq!(c.decide(&s, &vendor(6)), Ok(()));
        assert_eq!(c.decide(&s, &vendor(7)), Err(Denial::Denied));
        // No TC string: the vendor is not asked about.
        let (body, marks) = marked(&[("gcs", "G111")]);
        let s = c.signals(&body, &marks, false);
        assert_eq!(c.decide(&s, &vendor(7)), Ok(()));
    }

    #[test]
    fn consent_mode_grants_and_denies_its_purposes() {
        let c = interpreting(ConsentDefault::Deny);
        let analytics = c.need(&need(&["analytics"], Match::All));
        let advertising = c.need(&need(&["advertising"], Match::All));
        let decide = |fields: &[(&str, &str)]| {
            let (body, marks) = marked(fields);
            let s = c.signals(&body, &marks, false);
            (c.decide(&s, &analytics), c.decide(&s, &advertising))
        };
        // gcs: G1 + ad_storage + analytics_storage.
        assert_eq!(decide(&[("gcs", "G101")]), (Ok(()), Err(Denial::Denied)));
        assert_eq!(decide(&[("gcs", "G110")]), (Err(Denial::Denied), Ok(())));
        // gcd: `v` granted by an update, `q` denied, `l` not set (no signal
        // for it, so the default decides).
        assert_eq!(
            decide(&[("gcd", "11q1v1l1l5")]),
            (Ok(()), Err(Denial::Denied))
        );
        assert_eq!(
            decide(&[("gcd", "11l1l1l1l5")]),
            (Err(Denial::NoConsent), Err(Denial::NoConsent))
        );
        // The Measurement Protocol's consent object.
        let mp = |c: &Consent, advertising: &Need, consent: &str| {
            let body = format!(r#"{{"client_id":"c","consent":{consent}}}"#);
            let at = body.find("\"consent\":").unwrap() + 10;
            let marks = Marks {
                mp_consent: Span::of(body.as_bytes(), &body.as_bytes()[at..body.len() - 1]),
                ..Marks::default()
            };
            let s = c.signals(body.as_bytes(), &marks, false);
            c.decide(&s, advertising)
        };
        let m = interpreting(ConsentDefault::Deny).interpreting(
            &BTreeMap::new(),
            &[(gcm::Kind::AdUserData, "advertising".to_owned())],
        );
        let ads = m.need(&need(&["advertising"], Match::All));
        assert_eq!(mp(&m, &ads, r#"{"ad_user_data":"GRANTED"}"#), Ok(()));
        assert_eq!(
            mp(&m, &ads, r#"{"ad_user_data":"DENIED"}"#),
            Err(Denial::Denied)
        );
        assert_eq!(
            mp(&m, &ads, r#"{"ad_personalization":"GRANTED"}"#),
            Err(Denial::NoConsent)
        );
        assert_eq!(mp(&m, &ads, "7"), Err(Denial::Denied), "unreadable");
        // Denied anywhere wins; unreadable denies.
        assert_eq!(
            decide(&[("gcs", "G111"), ("gcd", "11q1q1l1l5")]),
            (Err(Denial::Denied), Err(Denial::Denied))
        );
        assert_eq!(
            decide(&[("gcs", "G1xx")]),
            (Err(Denial::Denied), Err(Denial::Denied))
        );
    }

    #[test]
    fn snowplow_gdpr_contexts_and_consent_events() {
        use crate::protocol::snowplow::SnowplowLayout;
        let c = engine(ConsentDefault::Deny);
        let analytics = c.need(&need(&["analytics"], Match::All));
        let advertising = c.need(&need(&["advertising"], Match::All));
        let context = |schema: &str, data: &str| {
            format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/{schema}/jsonschema/1-0-0","data":{data}}}"#
            )
        };
        let event = |contexts: &[String], ue: Option<String>| {
            let co = format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{}]}}"#,
                contexts.join(",")
            );
            let ue = ue.map_or(String::new(), |ue| {
                format!(r#","ue_pr":{{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{ue}}}"#)
            });
            format!(r#"{{"e":"ue","aid":"a","co":{co}{ue}}}"#)
        };
        let decide = |text: String| {
            let marks = TopLevel::parse_event_as::<SnowplowLayout>(
                text.as_bytes(),
                crate::json::Limits::default(),
            )
            .unwrap()
            .marks;
            let s = c.signals(text.as_bytes(), &marks, false);
            (c.decide(&s, &analytics), c.decide(&s, &advertising))
        };
        let gdpr = |basis: &str, id: &str| {
            context(
                "gdpr",
                &format!(r#"{{"basisForProcessing":"{basis}","documentId":"{id}"}}"#),
            )
        };
        let document = |id: &str| {
            context(
                "consent_document",
                &format!(r#"{{"id":"{id}","version":"1"}}"#),
            )
        };
        // gdpr: consent for a document mapped to analytics (C0002).
        assert_eq!(
            decide(event(&[gdpr("consent", "C0002")], None)),
            (Ok(()), Err(Denial::Denied))
        );
        // Another basis grants nothing, and is a signal.
        assert_eq!(
            decide(event(&[gdpr("legitimate_interests", "C0002")], None)),
            (Err(Denial::Denied), Err(Denial::Denied))
        );
        // consent_granted grants its documents; consent_withdrawn denies them.
        let granted = context("consent_granted", r#"{"expiry":"2030-01-01"}"#);
        assert_eq!(
            decide(event(
                &[document("Analytics"), document("Advertising")],
                Some(granted)
            )),
            (Ok(()), Ok(()))
        );
        let withdrawn = context("consent_withdrawn", r#"{"all":false}"#);
        assert_eq!(
            decide(event(
                &[gdpr("consent", "C0002"), document("C0002")],
                Some(withdrawn)
            )),
            (Err(Denial::Denied), Err(Denial::Denied)),
            "withdrawing wins over granting"
        );
        let all = context("consent_withdrawn", r#"{"all":true}"#);
        assert_eq!(
            decide(event(&[gdpr("consent", "C0004")], Some(all))),
            (Err(Denial::Denied), Err(Denial::Denied))
        );
        // Contexts without consent say nothing: the default decides.
        let page = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"p"}}"#;
        assert_eq!(
            decide(event(&[page.to_owned()], None)),
            (Err(Denial::NoConsent), Err(Denial::NoConsent))
        );
    }

    #[test]
    fn captured_segment_and_rudderstack_signals() {
        let c = engine(ConsentDefault::Deny);
        for event in [SEGMENT, RUDDER] {
            let s = read(&c, event.as_bytes(), false);
            assert!(s.present);
            assert_eq!(
                c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
                Ok(())
            );
            assert_eq!(
                c.decide(&s, &c.need(&need(&["advertising"], Match::All))),
                Err(Denial::Denied)
            );
            assert_eq!(
                c.decide(
                    &s,
                    &c.need(&need(&["analytics", "advertising"], Match::All))
                ),
                Err(Denial::Denied)
            );
            assert_eq!(
                c.decide(
                    &s,
                    &c.need(&need(&["analytics", "advertising"], Match::Any))
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn category_names_match_exactly() {
        let c = engine(ConsentDefault::Deny);
        // "ANALYTICS" is neither mapped nor the purpose's exact name.
        let s = read(
            &c,
            br#"{"context":{"consent":{"categoryPreferences":{"ANALYTICS":true}}}}"#,
            false,
        );
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Err(Denial::Denied)
        );
        // An unmapped id that is exactly the purpose's name grants it; a CMP id maps.
        for prefs in [r#"{"analytics":true}"#, r#"{"C0002":true}"#] {
            let event = format!(r#"{{"context":{{"consent":{{"categoryPreferences":{prefs}}}}}}}"#);
            let s = read(&c, event.as_bytes(), false);
            assert_eq!(
                c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
                Ok(()),
                "{prefs}"
            );
        }
        // Only a literal true grants.
        let s = read(
            &c,
            br#"{"context":{"consent":{"categoryPreferences":{"analytics":"yes"}}}}"#,
            false,
        );
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Err(Denial::Denied)
        );
    }

    #[test]
    fn no_signal_follows_the_default() {
        let deny = engine(ConsentDefault::Deny);
        let allow = engine(ConsentDefault::Allow);
        for event in [
            &br#"{"event":"x"}"#[..],
            br#"{"context":{"consent":{}}}"#,
            b"not json",
        ] {
            let s = read(&deny, event, false);
            assert!(!s.present);
            assert_eq!(
                deny.decide(&s, &deny.need(&need(&["analytics"], Match::All))),
                Err(Denial::NoConsent)
            );
            assert_eq!(
                allow.decide(
                    &read(&allow, event, false),
                    &allow.need(&need(&["analytics"], Match::All))
                ),
                Ok(())
            );
        }
        // A destination that requires nothing takes everything.
        assert_eq!(
            deny.decide(
                &read(&deny, b"{}", false),
                &deny.need(&need(&[], Match::All))
            ),
            Ok(())
        );
    }

    #[test]
    fn gpc_overrides_in_event_consent_and_the_default() {
        let c = engine(ConsentDefault::Allow);
        let granted = r#"{"context":{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}}}"#;
        let s = read(&c, granted.as_bytes(), true);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["advertising"], Match::All))),
            Err(Denial::Gpc)
        );
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Ok(())
        );
        let s = read(&c, b"{}", true);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["sale"], Match::All))),
            Err(Denial::Gpc)
        );
    }

    #[test]
    fn the_registry_overrides_everything() {
        let c = engine(ConsentDefault::Allow);
        let event = r#"{"userId":"opted-user","context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#;
        let s = read(&c, event.as_bytes(), false);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Err(Denial::OptedOut)
        );
        let s = read(&c, br#"{"anonymousId":"opted-user"}"#, false);
        assert!(s.opted_out);
        let s = read(&c, br#"{"userId":42}"#, false);
        assert!(!s.opted_out);
        // A malformed consent object hides nothing.
        for event in [
            r#"{"userId":"opted-user","context":{"consent":"yes"}}"#,
            r#"{"userId":"opted-user","context":"x"}"#,
            r#"{"userId":"opted-user","context":{"consentManagement":{"allowedConsentIds":"analytics"}}}"#,
        ] {
            let s = read(&c, event.as_bytes(), false);
            assert!(s.opted_out, "{event}");
            assert_eq!(
                c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
                Err(Denial::OptedOut)
            );
        }
    }

    #[test]
    fn a_purpose_both_allowed_and_denied_is_denied() {
        let c = engine(ConsentDefault::Deny);
        let event = r#"{"context":{"consentManagement":{"allowedConsentIds":["analytics"],"deniedConsentIds":["analytics"]}}}"#;
        let s = read(&c, event.as_bytes(), false);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Err(Denial::Denied)
        );
    }

    #[test]
    fn an_event_that_says_two_things_goes_only_where_no_consent_is_needed() {
        // Without a registry: only consent-gated destinations are affected.
        for event in [
            r#"{"context":{"consent":{"categoryPreferences":{"Analytics":false}}},"context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#,
            r#"{"context":{"consent":{"categoryPreferences":{"Analytics":true}},"consent":{}}}"#,
            r#"{"userId":"someone","userId":"other"}"#,
        ] {
            let c = Consent::new(
                ConsentDefault::Allow,
                &[],
                &BTreeMap::new(),
                ["analytics"],
                None,
            );
            let s = read(&c, event.as_bytes(), false);
            assert!(s.ambiguous, "{event}");
            assert_eq!(
                c.decide(&s, &c.need(&need(&["analytics"], Match::Any))),
                Err(Denial::Denied),
                "{event}"
            );
            assert_eq!(c.decide(&s, &c.need(&need(&[], Match::All))), Ok(()));
        }
    }

    #[test]
    fn two_different_ids_cannot_be_cleared_by_the_registry() {
        let c = engine(ConsentDefault::Allow);
        for event in [
            r#"{"userId":"someone","userId":"opted-user"}"#,
            r#"{"userId":"opted-user","userId":"someone"}"#,
            r#"{"anonymousId":"a","anonymousId":"b"}"#,
        ] {
            let s = read(&c, event.as_bytes(), false);
            assert!(s.opted_out, "{event}");
            assert_eq!(
                c.decide(&s, &c.need(&need(&[], Match::All))),
                Err(Denial::OptedOut)
            );
        }
        // The same id twice is one id.
        let s = read(
            &c,
            br#"{"userId":"someone","user\u0049d":"someone"}"#,
            false,
        );
        assert!(!s.opted_out && !s.ambiguous);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Ok(())
        );
    }

    #[test]
    fn the_same_consent_given_twice_says_one_thing() {
        let c = engine(ConsentDefault::Deny);
        for event in [
            r#"{"context":{"consent":{"categoryPreferences":{"Analytics":true},"categoryPreferences":{"Analytics":true}}}}"#,
            r#"{"context":{"consentManagement":{"allowedConsentIds":["analytics"],"allowedConsentIds":["analytics"]}}}"#,
            r#"{"context":{"consent":{"categoryPreferences":{"Analytics":true}}},"context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#,
        ] {
            let s = read(&c, event.as_bytes(), false);
            assert!(!s.ambiguous, "{event}");
            assert_eq!(
                c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
                Ok(()),
                "{event}"
            );
        }
    }

    #[test]
    fn preferences_given_twice_are_ambiguous() {
        let c = engine(ConsentDefault::Allow);
        let event = r#"{"context":{"consent":{"categoryPreferences":{"Analytics":false},"categoryPreferences":{"Analytics":true}}}}"#;
        let s = read(&c, event.as_bytes(), false);
        assert!(s.ambiguous);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::Any))),
            Err(Denial::Denied)
        );
        let event = r#"{"context":{"consentManagement":{"allowedConsentIds":["analytics"],"allowedConsentIds":[]}}}"#;
        assert!(read(&c, event.as_bytes(), false).ambiguous);
    }

    #[test]
    fn ids_are_compared_by_value_and_unknown_purposes_are_never_granted() {
        let c = engine(ConsentDefault::Allow);
        // An escaped id is the same id.
        let event = r#"{"context":{"consent":{"categoryPreferences":{"Analyt\u0069cs":true}}}}"#;
        let s = read(&c, event.as_bytes(), false);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Ok(())
        );
        // A purpose the engine was not built with, even granted by its own name.
        let event = r#"{"context":{"consent":{"categoryPreferences":{"marketing":true}}}}"#;
        let s = read(&c, event.as_bytes(), false);
        assert!(s.present);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["marketing"], Match::All))),
            Err(Denial::Denied)
        );
    }

    #[test]
    fn a_consent_object_of_the_wrong_shape_is_no_signal() {
        let c = engine(ConsentDefault::Deny);
        for event in [
            r#"{"context":{"consent":{"categoryPreferences":["Analytics"]}}}"#,
            r#"{"context":{"consent":"Analytics"}}"#,
            r#"{"context":{"consentManagement":{"allowedConsentIds":"analytics"}}}"#,
            r#"{"context":{"consentManagement":{"allowedConsentIds":[1]}}}"#,
        ] {
            let s = read(&c, event.as_bytes(), false);
            assert!(!s.present, "{event}");
            assert_eq!(
                c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
                Err(Denial::NoConsent),
                "{event}"
            );
        }
    }
}
