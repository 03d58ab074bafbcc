//! `privgate explain`: what each destination would receive for an event,
//! and why. Events are read as NDJSON and run through the same
//! [`Pipeline`] the server uses (consent, global rules, the destination's
//! rules and allow list); nothing is sent anywhere.
//!
//! Output, one JSON line per event and destination:
//! `{"destination":"…","decision":"forward"|"drop","reason":"…","event":{…}}`.
//! A dropped event is never shown. With tracing, `"trace"` lists the rules
//! that changed something: scope, rule, selector, action and path — never
//! a value, before or after.

use crate::config::Config;
use crate::consent::Consent;
use crate::event::{Event, RequestMeta};
use crate::metrics::Metrics;
use crate::pipeline::{Pipeline, TracedRule, Verdict};
use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::SystemTime;

/// What to explain.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Only this destination (by name); all when `None`.
    pub destination: Option<String>,
    /// List the rules that fired.
    pub trace: bool,
    /// Explain as if the request carried `Sec-GPC: 1`.
    pub gpc: bool,
}

/// Why explain could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// `--destination` names no destination.
    #[error("no destination named `{0}` in the config (known: {1})")]
    UnknownDestination(String, String),
    /// The opt-out registry could not be read.
    #[error("cannot read the opt-out registry: {0}")]
    OptOutRegistry(std::io::Error),
    /// Reading stdin or writing stdout failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events read.
    pub events: usize,
    /// Lines that were not JSON objects (reported on `errors`, not explained).
    pub invalid: usize,
}

#[derive(Serialize)]
struct Line<'a> {
    destination: &'a str,
    decision: &'static str,
    reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a [TracedRule]>,
}

/// Explains every NDJSON event in `input`, writing lines to `out` and
/// problems (line numbers and reasons only) to `errors`.
pub fn run(
    config: &Config,
    options: &Options,
    input: impl BufRead,
    mut out: impl Write,
    mut errors: impl Write,
) -> Result<Summary, ExplainError> {
    let targets: Vec<usize> = match &options.destination {
        None => (0..config.destinations.len()).collect(),
        Some(name) => vec![config
            .destinations
            .iter()
            .position(|d| &d.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = config
                    .destinations
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect();
                ExplainError::UnknownDestination(name.clone(), known.join(", "))
            })?],
    };
    let (consent, _) = Consent::from_config(config).map_err(ExplainError::OptOutRegistry)?;
    let pipeline = Pipeline::new(config, consent, &Metrics::new());
    let meta = Arc::new(RequestMeta {
        source: 0,
        // Events are read as the first source's protocol.
        protocol: config
            .sources
            .first()
            .map_or(crate::event::Protocol::Segment, |s| s.protocol),
        received_at: SystemTime::now(),
        client_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        user_agent: None,
        sec_gpc: options.gpc,
        tcf: None,
    });
    let mut summary = Summary::default();
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        // The scan ingest makes: it validates and marks consent's inputs.
        let Ok(top) = crate::ingest::scan_event(
            meta.protocol,
            text.as_bytes(),
            crate::ingest::bounds::Limits::default(),
        ) else {
            summary.invalid += 1;
            writeln!(errors, "line {}: not a JSON object (skipped)", n + 1)?;
            continue;
        };
        summary.events += 1;
        let event = Event {
            body: Bytes::copy_from_slice(text.as_bytes()),
            marks: top.marks,
            meta: meta.clone(),
        };
        for e in pipeline.explain(event, &targets, options.trace) {
            let (decision, event) = match &e.verdict {
                // What the policy wrote is one JSON object.
                Verdict::Keep(event) => ("forward", Some(raw_json(&event.body)?)),
                Verdict::Drop(_) => ("drop", None),
            };
            let line = Line {
                destination: &e.name,
                decision,
                reason: e.reason,
                event,
                trace: options.trace.then_some(&e.trace[..]),
            };
            serde_json::to_writer(&mut out, &line).map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(summary)
}

/// Embeds an event body as it is (no reparse into a tree).
fn raw_json(body: &[u8]) -> std::io::Result<&RawValue> {
    std::str::from_utf8(body)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        .and_then(|text| serde_json::from_str(text).map_err(std::io::Error::from))
}
