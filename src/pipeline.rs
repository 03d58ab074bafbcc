//! The stages an event passes through between ingest and forwarding, and the
//! routing of each event to its destinations.
//!
//! A [`Stage`] sees one event and either keeps it (possibly changed) or
//! drops it with a reason. Global stages run first, in order; then each
//! destination's own stages run on that destination's copy, so one event
//! can reach one backend and not another. Consent and policy plug in here.
//! Stages never do I/O and never log field values.

use crate::event::Event;

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

/// Global stages plus per-destination stages.
pub struct Pipeline {
    global: Vec<Box<dyn Stage>>,
    per_destination: Vec<Vec<Box<dyn Stage>>>,
}

impl Pipeline {
    /// A pipeline that forwards everything unchanged to `destinations` destinations.
    pub fn pass_through(destinations: usize) -> Pipeline {
        Pipeline {
            global: vec![Box::new(PassThrough)],
            per_destination: (0..destinations).map(|_| Vec::new()).collect(),
        }
    }

    /// Runs the global stages.
    pub fn global(&self, event: Event) -> Verdict {
        run(&self.global, event)
    }

    /// Runs destination `index`'s own stages on its copy of the event.
    pub fn for_destination(&self, index: usize, event: Event) -> Verdict {
        run(&self.per_destination[index], event)
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
