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
//! `context.consent` objects) says two things a backend may read either
//! way; no destination that requires consent receives it.
//!
//! Signals are read from the values ingest marked in its one validating
//! scan ([`Marks`]); the event is not parsed again here.
//!
//! A destination requires its `require_consent` purposes, all of them or any
//! one (`match`). The client's own `resolutionStrategy` is not trusted to
//! loosen that. This module never modifies events and never logs.

mod registry;

pub use registry::OptOutRegistry;

use crate::config::ConsentDefault;
use crate::event::{Marks, Span};
use crate::json::MaybeStr;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
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

/// Everything consent-related one event says.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Purposes the event grants.
    pub granted: BTreeSet<String>,
    /// Purposes the event denies.
    pub denied: BTreeSet<String>,
    /// Whether the event carried any in-event consent object.
    pub present: bool,
    /// `Sec-GPC: 1` was sent with it.
    pub gpc: bool,
    /// Its user or anonymous id is opted out.
    pub opted_out: bool,
    /// It gave an id or a consent object twice ([`Marks::ambiguous`]).
    pub ambiguous: bool,
}

/// The consent engine, compiled from `[consent]`.
#[derive(Debug)]
pub struct Consent {
    default: ConsentDefault,
    gpc_denies: HashSet<String>,
    categories: BTreeMap<String, String>,
    registry: Option<Arc<OptOutRegistry>>,
}

#[derive(Deserialize)]
struct SegmentConsent<'a> {
    #[serde(default, rename = "categoryPreferences", borrow)]
    category_preferences: Option<BTreeMap<std::borrow::Cow<'a, str>, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RudderConsent<'a> {
    #[serde(default, rename = "allowedConsentIds", borrow)]
    allowed: Vec<std::borrow::Cow<'a, str>>,
    #[serde(default, rename = "deniedConsentIds", borrow)]
    denied: Vec<std::borrow::Cow<'a, str>>,
}

impl Consent {
    /// Compiles the engine.
    pub fn new(
        default: ConsentDefault,
        gpc_denies: &[String],
        categories: &BTreeMap<String, String>,
        registry: Option<Arc<OptOutRegistry>>,
    ) -> Consent {
        Consent {
            default,
            gpc_denies: gpc_denies.iter().cloned().collect(),
            categories: categories.clone(),
            registry,
        }
    }

    /// The engine `config` describes, with its opt-out registry loaded (also
    /// returned, for the caller that reloads it).
    pub fn from_config(
        config: &crate::config::ConsentConfig,
    ) -> std::io::Result<(Consent, Option<Arc<OptOutRegistry>>)> {
        let registry = match &config.opt_out_registry {
            Some(path) => Some(Arc::new(OptOutRegistry::load(path)?)),
            None => None,
        };
        let consent = Consent::new(
            config.default,
            &config.gpc_denies,
            &config.categories,
            registry.clone(),
        );
        Ok((consent, registry))
    }

    fn purpose<'a>(&'a self, category: &'a str) -> &'a str {
        self.categories
            .get(category)
            .map_or(category, String::as_str)
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
        let prefs = marks
            .consent
            .and_then(|span| serde_json::from_slice::<SegmentConsent<'_>>(span.get(body)).ok())
            .and_then(|c| c.category_preferences);
        if let Some(prefs) = prefs {
            signals.present = true;
            for (category, value) in &prefs {
                let purpose = self.purpose(category).to_owned();
                // Only a literal `true` grants.
                if value == &serde_json::Value::Bool(true) {
                    signals.granted.insert(purpose);
                } else {
                    signals.denied.insert(purpose);
                }
            }
        }
        let rudder = marks
            .consent_management
            .and_then(|span| serde_json::from_slice::<RudderConsent<'_>>(span.get(body)).ok());
        if let Some(rudder) = rudder {
            signals.present = true;
            for id in &rudder.allowed {
                signals.granted.insert(self.purpose(id).to_owned());
            }
            for id in &rudder.denied {
                signals.denied.insert(self.purpose(id).to_owned());
            }
        }
        signals
    }

    /// Decides whether a destination requiring `requirement` may receive an
    /// event with `signals`.
    pub fn decide(&self, signals: &Signals, requirement: &Requirement) -> Result<(), Denial> {
        if requirement.purposes.is_empty() {
            return Ok(());
        }
        if signals.opted_out {
            return Err(Denial::OptedOut);
        }
        if signals.ambiguous {
            return Err(Denial::Denied);
        }
        let mut why = Denial::Denied;
        let allowed = |purpose: &String, why: &mut Denial| {
            if signals.gpc && self.gpc_denies.contains(purpose) {
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
            signals.granted.contains(purpose) && !signals.denied.contains(purpose)
        };
        let ok = match requirement.mode {
            Match::All => requirement.purposes.iter().all(|p| allowed(p, &mut why)),
            Match::Any => requirement.purposes.iter().any(|p| allowed(p, &mut why)),
        };
        if ok {
            Ok(())
        } else {
            Err(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::object::TopLevel;

    /// Signals as the pipeline reads them: marked by ingest's scan.
    fn read(c: &Consent, event: &[u8], gpc: bool) -> Signals {
        let marks = TopLevel::parse_event(event).map_or_else(|_| Marks::default(), |t| t.marks);
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
            assert_eq!(c.decide(&s, &need(&["analytics"], Match::All)), Ok(()));
            assert_eq!(
                c.decide(&s, &need(&["advertising"], Match::All)),
                Err(Denial::Denied)
            );
            assert_eq!(
                c.decide(&s, &need(&["analytics", "advertising"], Match::All)),
                Err(Denial::Denied)
            );
            assert_eq!(
                c.decide(&s, &need(&["analytics", "advertising"], Match::Any)),
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
            c.decide(&s, &need(&["analytics"], Match::All)),
            Err(Denial::Denied)
        );
        // An unmapped id that is exactly the purpose's name grants it; a CMP id maps.
        for prefs in [r#"{"analytics":true}"#, r#"{"C0002":true}"#] {
            let event = format!(r#"{{"context":{{"consent":{{"categoryPreferences":{prefs}}}}}}}"#);
            let s = read(&c, event.as_bytes(), false);
            assert_eq!(
                c.decide(&s, &need(&["analytics"], Match::All)),
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
            c.decide(&s, &need(&["analytics"], Match::All)),
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
                deny.decide(&s, &need(&["analytics"], Match::All)),
                Err(Denial::NoConsent)
            );
            assert_eq!(
                allow.decide(
                    &read(&allow, event, false),
                    &need(&["analytics"], Match::All)
                ),
                Ok(())
            );
        }
        // A destination that requires nothing takes everything.
        assert_eq!(
            deny.decide(&read(&deny, b"{}", false), &need(&[], Match::All)),
            Ok(())
        );
    }

    #[test]
    fn gpc_overrides_in_event_consent_and_the_default() {
        let c = engine(ConsentDefault::Allow);
        let granted = r#"{"context":{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}}}"#;
        let s = read(&c, granted.as_bytes(), true);
        assert_eq!(
            c.decide(&s, &need(&["advertising"], Match::All)),
            Err(Denial::Gpc)
        );
        assert_eq!(c.decide(&s, &need(&["analytics"], Match::All)), Ok(()));
        let s = read(&c, b"{}", true);
        assert_eq!(c.decide(&s, &need(&["sale"], Match::All)), Err(Denial::Gpc));
    }

    #[test]
    fn the_registry_overrides_everything() {
        let c = engine(ConsentDefault::Allow);
        let event = r#"{"userId":"opted-user","context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#;
        let s = read(&c, event.as_bytes(), false);
        assert_eq!(
            c.decide(&s, &need(&["analytics"], Match::All)),
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
                c.decide(&s, &need(&["analytics"], Match::All)),
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
            c.decide(&s, &need(&["analytics"], Match::All)),
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
                c.decide(&s, &need(&["analytics"], Match::Any)),
                Err(Denial::Denied),
                "{event}"
            );
            assert_eq!(c.decide(&s, &need(&[], Match::All)), Ok(()));
        }
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
                c.decide(&s, &need(&["analytics"], Match::All)),
                Err(Denial::NoConsent),
                "{event}"
            );
        }
    }
}
