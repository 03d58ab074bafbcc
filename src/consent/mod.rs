//! Consent: reading the signals an event carries and deciding, per
//! destination, whether it may receive the event.
//!
//! Signals, strongest first:
//! 1. the opt-out registry (a user or anonymous id listed there consents to
//!    nothing);
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
//! 4. no signal at all: `consent.default` (`deny` unless the operator says
//!    otherwise).
//!
//! An event that gives one of these twice (two `userId` keys, two
//! `context.consent` objects, two `categoryPreferences` in one) says two
//! things a backend may read either way; no destination that requires
//! consent receives it.
//!
//! Signals are read from the values ingest marked in its one validating
//! scan ([`Marks`]); the event is not parsed again here. Purposes are
//! compiled to bits when the engine is built (only those some destination
//! requires or GPC denies), so reading and deciding allocate nothing.
//!
//! A destination requires its `require_consent` purposes, all of them or any
//! one (`match`). The client's own `resolutionStrategy` is not trusted to
//! loosen that. This module never modifies events and never logs.

pub mod gcm;
mod registry;
pub mod tcf;

pub use registry::OptOutRegistry;

use crate::config::ConsentDefault;
use crate::event::{Marks, Span};
use crate::json::MaybeStr;
use crate::policy::reader::{Reader, Stop};
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
#[derive(Clone, Debug, Default)]
pub struct Requirement {
    /// Purposes; empty means the destination needs no consent.
    pub purposes: Vec<String>,
    /// How they combine.
    pub mode: Match,
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
}

/// A destination's [`Requirement`] compiled against the engine's purposes.
#[derive(Clone, Debug, Default)]
pub struct Need {
    /// Each required purpose's bit, in the order configured.
    purposes: Vec<Purposes>,
    mode: Match,
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
            registry,
        }
    }

    /// The engine `config` describes, with its opt-out registry loaded (also
    /// returned, for the caller that reloads it).
    pub fn from_config(
        config: &crate::config::Config,
    ) -> std::io::Result<(Consent, Option<Arc<OptOutRegistry>>)> {
        let consent = &config.consent;
        let registry = match &consent.opt_out_registry {
            Some(path) => Some(Arc::new(OptOutRegistry::load(path)?)),
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
        }
    }

    /// Reads the signals of one event sent with `gpc`: only the values its
    /// `marks` point at in `body` (ingest found them), never the whole event.
    /// Each is one complete JSON value, so failing to read it as the
    /// expected shape means it has another: a consent object of the wrong
    /// shape counts as no signal, and never grants.
    pub fn signals(&self, body: &[u8], marks: &Marks, gpc: bool) -> Signals {
        let mut signals = Signals {
            gpc,
            ambiguous: marks.ambiguous,
            ..Signals::default()
        };
        if let Some(registry) = &self.registry {
            // Only a string id can be listed.
            let listed = |id: Option<Span>| {
                id.and_then(|span| serde_json::from_slice::<MaybeStr<'_>>(span.get(body)).ok())
                    .and_then(|id| id.0)
                    .is_some_and(|id| registry.contains(&id))
            };
            signals.opted_out = listed(marks.user_id) || listed(marks.anonymous_id);
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
            match said {
                Said::Nothing => {}
                Said::Twice => signals.ambiguous = true,
                Said::Purposes { granted, denied } => {
                    signals.present = true;
                    signals.granted |= granted;
                    signals.denied |= denied;
                }
            }
        }
        signals
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
        let (mut said, mut seen) = (Said::Nothing, false);
        r.object(|r, key| {
            if key != "categoryPreferences" {
                return r.skip();
            }
            if std::mem::replace(&mut seen, true) {
                said = Said::Twice;
                return r.skip();
            }
            if r.peek()? == b'n' {
                return r.literal().map(drop);
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
            Ok(())
        })?;
        Ok(said)
    }

    /// RudderStack's `context.consentManagement`: `allowedConsentIds` and
    /// `deniedConsentIds`, arrays of strings (either may be missing).
    fn rudderstack(&self, r: &mut Reader<'_>) -> Result<Said, Stop> {
        let (mut granted, mut denied) = (0, 0);
        let (mut allowed_seen, mut denied_seen) = (false, false);
        let mut twice = false;
        r.object(|r, key| {
            let (set, seen) = match &*key {
                "allowedConsentIds" => (&mut granted, &mut allowed_seen),
                "deniedConsentIds" => (&mut denied, &mut denied_seen),
                _ => return r.skip(),
            };
            twice |= std::mem::replace(seen, true);
            r.array(|r| {
                if r.peek()? != b'"' {
                    return Err(r.error("expected a consent id"));
                }
                r.string()?;
                *set |= self.id(&r.last().decode());
                Ok(())
            })
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
        if need.purposes.is_empty() {
            return Ok(());
        }
        if signals.opted_out {
            return Err(Denial::OptedOut);
        }
        if signals.ambiguous {
            return Err(Denial::Denied);
        }
        let mut why = Denial::Denied;
        let allowed = |&purpose: &Purposes, why: &mut Denial| {
            if signals.gpc && self.gpc_denies & purpose != 0 {
                *why = Denial::Gpc;
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

impl Need {
    /// Whether any purpose is required (otherwise every event may go).
    pub fn requires_any(&self) -> bool {
        !self.purposes.is_empty()
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
    use crate::ingest::object::TopLevel;

    /// Signals as the pipeline reads them: marked by ingest's scan.
    fn read(c: &Consent, event: &[u8], gpc: bool) -> Signals {
        let marks = TopLevel::parse_event(event, crate::ingest::bounds::Limits::default())
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
        let registry = OptOutRegistry::from_ids(["opted-user"]);
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
        }
    }

    const SEGMENT: &str = r#"{"userId":"u","context":{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":false}}}}"#;
    const RUDDER: &str = r#"{"anonymousId":"a","context":{"consentManagement":{"allowedConsentIds":["analytics","functional"],"deniedConsentIds":["advertising"],"provider":"custom"}}}"#;

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
        let c = engine(ConsentDefault::Allow);
        for event in [
            r#"{"context":{"consent":{"categoryPreferences":{"Analytics":false}}},"context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#,
            r#"{"context":{"consent":{"categoryPreferences":{"Analytics":true}},"consent":{}}}"#,
            r#"{"userId":"someone","userId":"opted-user"}"#,
        ] {
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
