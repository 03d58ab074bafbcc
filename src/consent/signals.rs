//! Reading an event's consent signals (and the request's): the values
//! ingest marked, each read as the shape its tracker gives it, into
//! [`Signals`].

use super::{gcm, tcf, Consent, Purposes, Signals, Source};
use crate::json::reader::{Reader, Stop};
use crate::json::MaybeStr;
use crate::json::{same_value, Marks, Span};
use crate::policy::rules::Scalar;
use std::collections::BTreeMap;

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

impl Consent {
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
        self.signals_for(body, marks, gpc, request_tcf, None)
    }

    /// [`Consent::signals_with`], for an event whose request also carried
    /// US privacy parameters (`gpp`, `gpp_sid`, `us_privacy`; see
    /// `us.rs`); they count as much as the event's own.
    pub fn signals_for(
        &self,
        body: &[u8],
        marks: &Marks,
        gpc: bool,
        request_tcf: Option<Result<&str, &tcf::TcfError>>,
        request_us: Option<&super::UsRequest>,
    ) -> Signals {
        let mut signals = Signals {
            gpc,
            ambiguous: marks.ambiguous,
            default: self.default,
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
        for (source, said) in [
            (
                Source::SegmentConsent,
                read(marks.consent, Consent::segment),
            ),
            (
                Source::RudderstackConsent,
                read(marks.consent_management, Consent::rudderstack),
            ),
        ] {
            if let Some(said) = said {
                signals.hear(source, said);
            }
        }
        if marks.contexts.is_some() || marks.self_describing.is_some() {
            let value = |span: Option<Span>| {
                span.and_then(|s| serde_json::from_slice::<serde_json::Value>(s.get(body)).ok())
            };
            let said = self.snowplow(
                value(marks.contexts).as_ref(),
                value(marks.self_describing).as_ref(),
            );
            signals.hear(Source::Snowplow, said);
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
            let at_path = self.string_at(body, &self.tcf_path);
            let request = request_tcf.map(|tc| tc.map(str::to_owned).map_err(|e| *e));
            let strings = [own, at_path]
                .into_iter()
                .flatten()
                // A value that is not a string is as unreadable as a bad one.
                .map(|tc| tc.ok_or(tcf::TcfError::Empty))
                .chain(request);
            for tc in strings {
                let decoded = tc
                    .and_then(|tc| tcf::decode(&tc))
                    .and_then(|tc| self.fresh(tc))
                    .map(Box::new);
                signals.hear(Source::Tcf, self.tcf_says(decoded.as_deref().ok()));
                signals.tcf.push(decoded);
            }
        }
        let owned = |span: Option<Span>| string(span).map(|s| s.map(std::borrow::Cow::into_owned));
        let own_us = [
            owned(marks.gpp),
            owned(marks.gpp_sid),
            owned(marks.us_privacy),
        ];
        self.hear_us(body, own_us, request_us, &mut signals);
        if !self.consent_mode.is_empty() {
            if let Some(gcs) = string(marks.gcs) {
                let read = gcs.as_deref().map(gcm::decode_gcs);
                signals.hear(
                    Source::ConsentMode,
                    self.mode_says(|kind| match &read {
                        Some(Ok(gcs)) => Some(gcs.get(kind)),
                        _ => None,
                    }),
                );
            }
            if let Some(span) = marks.mp_consent {
                // The Measurement Protocol's {"ad_user_data": "GRANTED", ...}.
                let read =
                    serde_json::from_slice::<BTreeMap<String, serde_json::Value>>(span.get(body))
                        .ok();
                signals.hear(
                    Source::ConsentMode,
                    self.mode_says(|kind| {
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
                    }),
                );
            }
            if let Some(gcd) = string(marks.gcd) {
                let read = gcd.as_deref().map(gcm::decode_gcd);
                signals.hear(
                    Source::ConsentMode,
                    self.mode_says(|kind| match &read {
                        Some(Ok(gcd)) => Some(gcd.get(kind)),
                        _ => None,
                    }),
                );
            }
        }
        signals
    }

    /// The value at `path` (object keys; empty: none) in `body`:
    /// `Some(Some(text))` for a string, `Some(None)` for another value,
    /// `None` when there is none.
    pub(super) fn string_at(&self, body: &[u8], path: &[String]) -> Option<Option<String>> {
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
        if path.is_empty() {
            return None;
        }
        let text = std::str::from_utf8(body).ok()?;
        let mut found = None;
        walk(&mut Reader::new(text), path, &mut found).ok()?;
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

    /// `tc`, unless `consent.max_age` is set and it was last updated
    /// longer ago than that (then it grants nothing). A string updated in
    /// the future (a CMP's clock ahead of ours) is as fresh as one updated
    /// now.
    pub(super) fn fresh(&self, tc: tcf::TcString) -> Result<tcf::TcString, tcf::TcfError> {
        let Some(max_age) = self.max_age else {
            return Ok(tc);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        match now.checked_sub(tc.last_updated()) {
            Some(age) if age > max_age => Err(tcf::TcfError::TooOld),
            _ => Ok(tc),
        }
    }

    /// What a TC string says of the purposes it can grant (`None`:
    /// unreadable, so it denies them all).
    pub(super) fn tcf_says(&self, tc: Option<&tcf::TcString>) -> Said {
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
}

impl Signals {
    /// Adds what one consent input says.
    pub(super) fn hear(&mut self, source: Source, said: Said) {
        match said {
            Said::Nothing => {}
            Said::Twice => self.ambiguous = true,
            Said::Purposes { granted, denied } => {
                self.present = true;
                self.granted |= granted;
                self.denied |= denied;
                let by = &mut self.by[source as usize];
                by.0 |= granted;
                by.1 |= denied;
            }
        }
    }

    /// Adds what one opt-out signal (a GPP US section, a US Privacy
    /// string) says: it decides the purposes it names and leaves the
    /// others as they were ([`Signals::opt_out_only`]).
    pub(super) fn hear_opt_out(&mut self, source: Source, said: Said) {
        if let Said::Purposes { granted, denied } = said {
            self.opt_out_only |= granted | denied;
            self.granted |= granted;
            self.denied |= denied;
            let by = &mut self.by[source as usize];
            by.0 |= granted;
            by.1 |= denied;
        }
    }

    /// Whether any signal granted or denied a purpose.
    pub fn speaks(&self) -> bool {
        self.present || self.opt_out_only != 0
    }
}

/// What one consent object says.
pub(super) enum Said {
    /// Nothing (no preferences in it).
    Nothing,
    /// It gives its preferences twice: consent trusts neither.
    Twice,
    /// These purposes granted and these denied.
    Purposes { granted: Purposes, denied: Purposes },
}
