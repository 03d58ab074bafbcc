//! What happens to an event between ingest and forwarding, and its routing
//! to destinations.
//!
//! Order for one event: consent signals are read (once, from the values
//! ingest's scan marked, and only when some destination requires consent),
//! the global rules run (only if some
//! destination may receive the event), then for each of the source's
//! destinations: the consent decision for that destination, then the
//! destination's own rules and allow list on its own copy. So one
//! event can reach an analytics backend and not an advertising one. The
//! server ([`Pipeline::route`]) and `privgate explain`
//! ([`Pipeline::explain`]) share this one code path.
//!
//! The server's way for one request's events, from ingest to the
//! destinations' queues, is [`Delivery`]: the pipeline for each event and
//! destination (the fan-out), then the all-or-nothing hand-over to the
//! queues and spools, awaiting their commits (see [`deliver`]). Nothing
//! here does other I/O or logs field values; a dropped event is only
//! counted.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub mod deliver;

pub use deliver::{Batch, Delivery, Refused};

use crate::consent::{Consent, Denial, Need, Requirement};
use crate::crypto::Keyring;
use crate::event::{Event, Marks};
use crate::metrics::Metrics;
use crate::policy::pii::Detector;
use crate::policy::{Fired, Policies, Report};
use prometheus::IntCounter;
use std::sync::Arc;

/// What the pipeline decided for one event and one destination.
// A verdict lives for one call and is matched at once; boxing the kept
// event would cost an allocation per event and destination.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Verdict {
    /// Forward this (possibly edited) event.
    Keep(Event),
    /// Not for this destination, and why.
    Drop(Dropped),
}

/// Why the pipeline kept an event from a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// The rules could not read the event (it is not one JSON object).
    InvalidEvent,
    /// Consent: the destination may not receive it.
    Consent(Denial),
}

impl Dropped {
    /// The metric label (`privgate_events_dropped_total{reason}`) and the
    /// reason `explain` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::InvalidEvent => crate::metrics::DropReason::InvalidEvent.as_str(),
            Dropped::Consent(denial) => denial.as_str(),
        }
    }
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope's policies (one per protocol) and the counters their reports go
/// to.
struct PolicyStep {
    policy: Policies,
    rules: Vec<IntCounter>,
    redacted: Vec<IntCounter>,
    encrypt_errors: IntCounter,
}

impl PolicyStep {
    fn new(policy: Policies, metrics: &Metrics) -> PolicyStep {
        PolicyStep {
            rules: policy
                .rules()
                .iter()
                .map(|r| metrics.rule_applied.with_label_values(&[&r.id]))
                .collect(),
            redacted: Detector::ALL
                .iter()
                .map(|d| metrics.pii_redacted.with_label_values(&[d.name()]))
                .collect(),
            encrypt_errors: metrics.encrypt_errors.clone(),
            policy,
        }
    }

    /// Applies the policy; an event it cannot parse is dropped, never
    /// forwarded unminimized.
    fn run(&self, event: Event, keys: &Keyring, trace: Option<&mut Vec<Fired>>) -> Verdict {
        let policy = self.policy.get(event.meta.protocol);
        if policy.is_empty() {
            return Verdict::Keep(event);
        }
        match policy.apply(&event.body, keys, trace) {
            Ok((mut body, report)) => {
                self.count(&report);
                // About its size: the walker's buffer was made for the
                // event as it came, and a rule that removed most of it
                // (a large property dropped) would leave the rest holding
                // all of it in a queue or a spool's tail, which count the
                // event's bytes.
                crate::json::fit(&mut body);
                Verdict::Keep(Event {
                    body: body.into(),
                    marks: Marks::default(),
                    meta: event.meta,
                })
            }
            Err(_) => Verdict::Drop(Dropped::InvalidEvent),
        }
    }

    fn count(&self, report: &Report) {
        for (counter, &n) in self.rules.iter().zip(&report.applied) {
            if n > 0 {
                counter.inc_by(u64::from(n));
            }
        }
        for (counter, &n) in self.redacted.iter().zip(&report.redacted) {
            if n > 0 {
                counter.inc_by(u64::from(n));
            }
        }
        if report.encrypt_errors > 0 {
            self.encrypt_errors.inc_by(u64::from(report.encrypt_errors));
        }
    }
}

/// One destination's part of the pipeline.
struct DestinationPipeline {
    name: String,
    consent: Need,
    policy: PolicyStep,
    /// Why an event it receives passed consent: `granted`, or
    /// `not_required` when it requires none.
    forward_reason: &'static str,
    forwarded: IntCounter,
}

/// Consent, global rules and per-destination rules, in that order.
pub struct Pipeline {
    global: PolicyStep,
    consent: Consent,
    destinations: Vec<DestinationPipeline>,
    keys: Arc<Keyring>,
    metrics: Metrics,
}

/// A rule that changed an event on its way to a destination (`explain --trace`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TracedRule {
    /// `global`, or the destination's name for its own rules.
    pub scope: String,
    /// The rule's name (or its position, `rules[2]`).
    pub rule: String,
    /// The rule's index in its scope.
    pub index: usize,
    /// The concrete selector that matched.
    pub selector: String,
    /// The action.
    pub action: &'static str,
    /// Where in the event.
    pub path: String,
    /// For PII redaction: each match's detector and what decided it
    /// (never the value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<crate::policy::Detection>,
}

/// What one destination would receive (`explain`).
#[derive(Debug)]
pub struct Explanation {
    /// The destination's index.
    pub destination: usize,
    /// Its name.
    pub name: String,
    /// Forward (with the event) or drop (with the reason).
    pub verdict: Verdict,
    /// Why: the consent reason when forwarded (`granted`, `not_required`),
    /// the drop reason otherwise.
    pub reason: &'static str,
    /// The rules that changed the event, in order (with tracing).
    pub trace: Vec<TracedRule>,
    /// With tracing, for a consent drop: the signal and the rule that
    /// decided it, in words (never a value).
    pub why: Option<String>,
}

/// What tracing collects per target: the rules that fired, and what
/// decided a consent drop.
struct Traces {
    rules: Vec<Vec<TracedRule>>,
    consent: Vec<Option<String>>,
}

impl Pipeline {
    /// Builds the pipeline: the `global` rules, then for each destination
    /// in order its name, consent requirement and own rules; `keys` hash
    /// and encrypt fields. (`Pipeline::new` builds it from a whole config.)
    pub fn build<'a>(
        destinations: impl IntoIterator<Item = (&'a str, &'a Requirement, &'a Policies)>,
        global: &Policies,
        keys: Arc<Keyring>,
        consent: Consent,
        metrics: &Metrics,
    ) -> Pipeline {
        let destinations = destinations
            .into_iter()
            .map(|(name, requirement, policy)| {
                let forward_reason = if requirement.purposes.is_empty() {
                    "not_required"
                } else {
                    "granted"
                };
                DestinationPipeline {
                    name: name.to_owned(),
                    consent: consent.need(requirement),
                    policy: PolicyStep::new(policy.clone(), metrics),
                    forward_reason,
                    forwarded: metrics.consent_decisions.with_label_values(&[
                        name,
                        "forward",
                        forward_reason,
                    ]),
                }
            })
            .collect();
        Pipeline {
            global: PolicyStep::new(global.clone(), metrics),
            consent,
            destinations,
            keys,
            metrics: metrics.clone(),
        }
    }

    /// The consent engine: ingest decides relayed requests that carry user
    /// ids with it too.
    pub fn consent(&self) -> &Consent {
        &self.consent
    }

    /// Runs `event` through the pipeline for each destination in `targets`,
    /// calling `emit(slot, verdict)` with each target's position in `targets`.
    pub fn route(&self, event: Event, targets: &[usize], emit: impl FnMut(usize, Verdict)) {
        self.run(event, targets, None, emit);
    }

    /// What each destination in `targets` would receive, and with `trace`
    /// which rules did what: the same code path as [`Pipeline::route`].
    pub fn explain(&self, event: Event, targets: &[usize], trace: bool) -> Vec<Explanation> {
        let mut traces = Traces {
            rules: vec![Vec::new(); targets.len()],
            consent: vec![None; targets.len()],
        };
        let mut out: Vec<Option<Explanation>> = targets.iter().map(|_| None).collect();
        self.run(
            event,
            targets,
            trace.then_some(&mut traces),
            |slot, verdict| {
                let destination = targets[slot];
                let dest = &self.destinations[destination];
                let reason = match &verdict {
                    Verdict::Keep(_) => dest.forward_reason,
                    Verdict::Drop(reason) => reason.as_str(),
                };
                out[slot] = Some(Explanation {
                    destination,
                    name: dest.name.clone(),
                    verdict,
                    reason,
                    trace: Vec::new(),
                    why: None,
                });
            },
        );
        out.into_iter()
            .zip(traces.rules.into_iter().zip(traces.consent))
            .map(|(explanation, (trace, why))| Explanation {
                trace,
                why,
                ..explanation.expect("run emits once per target")
            })
            .collect()
    }

    fn run(
        &self,
        event: Event,
        targets: &[usize],
        mut traces: Option<&mut Traces>,
        mut emit: impl FnMut(usize, Verdict),
    ) {
        // Consent is read from the event as the client sent it, before any
        // rule may remove or hash the signals.
        let needs_consent = targets
            .iter()
            .any(|&d| self.destinations[d].consent.reads_signals());
        let signals = needs_consent.then(|| {
            let mut signals = self.consent.signals_for(
                &event.body,
                &event.marks,
                event.meta.sec_gpc,
                event.meta.tcf.as_ref().map(|tc| tc.as_deref()),
                Some(&event.meta.us),
            );
            signals.default = self.consent.default_in(event.meta.jurisdiction.as_ref());
            signals
        });
        // The request's facts outlive the event only when tracing.
        let traced_meta = traces.is_some().then(|| event.meta.clone());
        // Deciding is a few bit operations: made twice rather than kept.
        let decide = |d: usize| match &signals {
            Some(signals) => self.consent.decide(signals, &self.destinations[d].consent),
            None => Ok(()),
        };
        // An event no destination may receive is not even minimized: the
        // rules would run for nothing, and their counters would count it.
        let wanted = targets.iter().any(|&d| decide(d).is_ok());
        let mut global_fired = Vec::new();
        let tracing = traces.is_some();
        let event = if !wanted {
            None
        } else {
            match self
                .global
                .run(event, &self.keys, tracing.then_some(&mut global_fired))
            {
                Verdict::Keep(event) => Some(event),
                Verdict::Drop(reason) => {
                    for slot in 0..targets.len() {
                        emit(slot, Verdict::Drop(reason));
                    }
                    return;
                }
            }
        };
        for (slot, &d) in targets.iter().enumerate() {
            let dest = &self.destinations[d];
            if let Err(denial) = decide(d) {
                if let (Some(traces), Some(signals)) = (traces.as_deref_mut(), &signals) {
                    // Decided again, for what decided it (tracing only).
                    let need = &self.destinations[d].consent;
                    if let Err((_, cause)) = self.consent.decide_why(signals, need) {
                        let at = traced_meta.as_ref().and_then(|m| m.jurisdiction.as_ref());
                        traces.consent[slot] = Some(self.consent.describe(cause, signals, at));
                    }
                }
                self.metrics
                    .consent_decisions
                    .with_label_values(&[&dest.name, "drop", denial.as_str()])
                    .inc();
                emit(slot, Verdict::Drop(Dropped::Consent(denial)));
                continue;
            }
            dest.forwarded.inc();
            let event = event
                .clone()
                .expect("a destination wants it, so the global rules ran");
            let mut fired = Vec::new();
            let verdict = dest
                .policy
                .run(event, &self.keys, tracing.then_some(&mut fired));
            if let Some(traces) = traces.as_deref_mut() {
                let named = |scope: &str, policy: &Policies, f: &Fired| TracedRule {
                    scope: scope.to_owned(),
                    rule: policy.rules()[f.rule].id.clone(),
                    index: f.rule,
                    selector: f.selector.clone(),
                    action: f.action,
                    path: f.path.clone(),
                    pii: f.pii.clone(),
                };
                traces.rules[slot] = global_fired
                    .iter()
                    .map(|f| named("global", &self.global.policy, f))
                    .chain(
                        fired
                            .iter()
                            .map(|f| named(&dest.name, &dest.policy.policy, f)),
                    )
                    .collect();
            }
            emit(slot, verdict);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RequestMeta;

    #[test]
    fn an_event_no_destination_may_receive_is_not_minimized_or_counted() {
        let dir = std::env::temp_dir();
        let config = crate::config::Config::from_str(
            r#"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "out"
kind = "stdout"
require_consent = ["analytics"]
[consent]
categories = { Analytics = "analytics" }
[[rules]]
name = "ip"
select = "@ip"
action = "truncate_ip"
"#,
            &dir.join("test.toml"),
        )
        .unwrap();
        use crate::json::TopLevel;
        let metrics = Metrics::new();
        let (consent, _) = Consent::from_config(&config).unwrap();
        let pipeline = Pipeline::new(&config, consent, &metrics);
        let meta = Arc::new(RequestMeta {
            source: 0,
            protocol: crate::event::Protocol::Segment,
            received_at: std::time::SystemTime::now(),
            client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            user_agent: None,
            sec_gpc: false,
            tcf: None,
            jurisdiction: None,
            us: Default::default(),
        });
        let send = |body: &str| {
            let mut out = Vec::new();
            let event = Event {
                body: body.to_owned().into(),
                marks: TopLevel::parse_event(body.as_bytes(), crate::json::Limits::default())
                    .unwrap()
                    .marks,
                meta: meta.clone(),
            };
            pipeline.route(event, &[0], |_, v| out.push(v));
            out
        };
        let applied = || metrics.rule_applied.with_label_values(&["ip"]).get();
        // No consent signal (default deny): dropped, and no rule ran.
        let dropped = send(r#"{"context":{"ip":"203.0.113.7"}}"#);
        assert!(matches!(
            dropped[..],
            [Verdict::Drop(Dropped::Consent(Denial::NoConsent))]
        ));
        assert_eq!(applied(), 0);
        // Granted: forwarded minimized, and counted.
        let kept = send(
            r#"{"context":{"ip":"203.0.113.7","consent":{"categoryPreferences":{"Analytics":true}}}}"#,
        );
        let [Verdict::Keep(event)] = &kept[..] else {
            panic!("forwarded: {kept:?}")
        };
        assert!(std::str::from_utf8(&event.body)
            .unwrap()
            .contains("203.0.113.0"));
        assert_eq!(applied(), 1);
    }
}
