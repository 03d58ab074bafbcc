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
use crate::event::Event;
use crate::metrics::Metrics;
use prometheus::IntCounter;

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
        Pipeline {
            global: vec![Box::new(PassThrough)],
            consent,
            destinations: config
                .destinations
                .iter()
                .map(|d| DestinationPipeline {
                    name: d.name.clone(),
                    consent: d.consent.clone(),
                    stages: Vec::new(),
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
        let event = match run(&self.global, event) {
            Verdict::Keep(event) => event,
            Verdict::Drop(reason) => {
                for slot in 0..targets.len() {
                    emit(slot, Verdict::Drop(reason));
                }
                return;
            }
        };
        let needs_consent = targets
            .iter()
            .any(|&d| !self.destinations[d].consent.purposes.is_empty());
        let signals = needs_consent.then(|| self.consent.signals(&event.body, event.meta.sec_gpc));
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
