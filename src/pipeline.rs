//! The stages an event passes through between ingest and forwarding, and its
//! routing to destinations.
//!
//! Order for one event: global stages (in order), then for each of the
//! source's destinations: the consent decision for that destination, then
//! the destination's own stages on its own copy. So one event can reach an
//! analytics backend and not an advertising one. Consent signals are read
//! once per event, and only when some destination requires consent.
//! Stages never do I/O and never log field values; a dropped event is only
//! counted.

use crate::consent::{Consent, Requirement};
use crate::crypto::Keyring;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::policy::pii::Detector;
use crate::policy::rules::{self, Rule};
use crate::policy::selector::Selector;
use prometheus::IntCounter;
use std::sync::Arc;

/// What a stage decided.
#[derive(Debug)]
pub enum Verdict {
    /// Go on with this (possibly edited) event.
    Keep(Event),
    /// Stop here; the reason is a bounded metric label.
    Drop(&'static str),
}

/// One step of the pipeline.
pub trait Stage: Send + Sync + 'static {
    /// Name in `explain` output and logs.
    fn name(&self) -> &'static str;
    /// Decides about one event.
    fn process(&self, event: Event) -> Verdict;
}

/// Keeps every event unchanged.
#[derive(Debug, Default)]
pub struct PassThrough;

impl Stage for PassThrough {
    fn name(&self) -> &'static str {
        "pass_through"
    }
    fn process(&self, event: Event) -> Verdict {
        Verdict::Keep(event)
    }
}

/// Privacy rules (and an allow list) run on the event's JSON tree.
pub struct PolicyStage {
    rules: Vec<Rule>,
    allow: Option<Vec<Selector>>,
    keys: Arc<Keyring>,
    metrics: Metrics,
}

struct Counted<'a>(&'a Metrics);

impl rules::Observer for Counted<'_> {
    fn applied(&mut self, rule: &Rule, count: usize) {
        self.0
            .rule_applied
            .with_label_values(&[&rule.id])
            .inc_by(count as u64);
    }
    fn redacted(&mut self, detector: Detector) {
        self.0
            .pii_redacted
            .with_label_values(&[detector.name()])
            .inc();
    }
}

impl PolicyStage {
    /// A stage running `rules`, then `allow`.
    pub fn new(
        rules: Vec<Rule>,
        allow: Option<Vec<Selector>>,
        keys: Arc<Keyring>,
        metrics: &Metrics,
    ) -> PolicyStage {
        PolicyStage {
            rules,
            allow,
            keys,
            metrics: metrics.clone(),
        }
    }

    /// Applies the stage to a JSON tree, reporting to `observer`.
    pub fn apply(&self, value: &mut serde_json::Value, observer: &mut dyn rules::Observer) {
        rules::apply(
            &self.rules,
            self.allow.as_deref(),
            value,
            &self.keys,
            observer,
        );
    }
}

impl Stage for PolicyStage {
    fn name(&self) -> &'static str {
        "policy"
    }

    fn process(&self, event: Event) -> Verdict {
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&event.body) else {
            return Verdict::Drop("invalid_event");
        };
        self.apply(&mut value, &mut Counted(&self.metrics));
        let body = serde_json::to_vec(&value).expect("a JSON tree serializes");
        Verdict::Keep(Event {
            body: body.into(),
            meta: event.meta,
        })
    }
}

/// One destination's part of the pipeline.
pub struct DestinationPipeline {
    /// Its name (metric label).
    pub name: String,
    /// The consent it requires.
    pub consent: Requirement,
    /// Its own stages, after consent.
    pub stages: Vec<Box<dyn Stage>>,
    forwarded: IntCounter,
}

/// Global stages, consent, and per-destination stages.
pub struct Pipeline {
    global: Vec<Box<dyn Stage>>,
    consent: Consent,
    destinations: Vec<DestinationPipeline>,
    metrics: Metrics,
}

impl Pipeline {
    /// Builds the pipeline for `config`.
    pub fn new(config: &crate::config::Config, consent: Consent, metrics: &Metrics) -> Pipeline {
        let policy = |rules: &[Rule], allow: &Option<Vec<Selector>>| -> Vec<Box<dyn Stage>> {
            if rules.is_empty() && allow.is_none() {
                return Vec::new();
            }
            vec![Box::new(PolicyStage::new(
                rules.to_vec(),
                allow.clone(),
                config.keyring.clone(),
                metrics,
            ))]
        };
        let mut global = policy(&config.rules, &None);
        if global.is_empty() {
            global.push(Box::new(PassThrough));
        }
        Pipeline {
            global,
            consent,
            destinations: config
                .destinations
                .iter()
                .map(|d| DestinationPipeline {
                    name: d.name.clone(),
                    consent: d.consent.clone(),
                    stages: policy(&d.rules, &d.allow),
                    forwarded: metrics.consent_decisions.with_label_values(&[
                        d.name.as_str(),
                        "forward",
                        if d.consent.purposes.is_empty() {
                            "not_required"
                        } else {
                            "granted"
                        },
                    ]),
                })
                .collect(),
            metrics: metrics.clone(),
        }
    }

    /// Runs `event` through the pipeline for each destination in `targets`,
    /// calling `emit(slot, verdict)` with each target's position in `targets`.
    pub fn route(&self, event: Event, targets: &[usize], mut emit: impl FnMut(usize, Verdict)) {
        // Consent is read from the event as the client sent it, before any
        // rule may remove or hash the signals.
        let needs_consent = targets
            .iter()
            .any(|&d| !self.destinations[d].consent.purposes.is_empty());
        let signals = needs_consent.then(|| self.consent.signals(&event.body, event.meta.sec_gpc));
        let event = match run(&self.global, event) {
            Verdict::Keep(event) => event,
            Verdict::Drop(reason) => {
                for slot in 0..targets.len() {
                    emit(slot, Verdict::Drop(reason));
                }
                return;
            }
        };
        for (slot, &d) in targets.iter().enumerate() {
            let dest = &self.destinations[d];
            if let Some(signals) = &signals {
                if let Err(denial) = self.consent.decide(signals, &dest.consent) {
                    self.metrics
                        .consent_decisions
                        .with_label_values(&[&dest.name, "drop", denial.as_str()])
                        .inc();
                    emit(slot, Verdict::Drop(denial.as_str()));
                    continue;
                }
            }
            dest.forwarded.inc();
            emit(slot, run(&dest.stages, event.clone()));
        }
    }
}

fn run(stages: &[Box<dyn Stage>], mut event: Event) -> Verdict {
    for stage in stages {
        match stage.process(event) {
            Verdict::Keep(next) => event = next,
            drop @ Verdict::Drop(_) => return drop,
        }
    }
    Verdict::Keep(event)
}
