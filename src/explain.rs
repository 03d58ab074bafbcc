//! `privgate explain`: what each destination would receive for an event,
//! and why. Events are read as NDJSON and go through what the server does
//! with an event of one source (`--source`, default the first), with the
//! server's own functions and nothing sent anywhere:
//!
//! 1. the limits of `[server]`: a line longer than
//!    `max_decompressed_bytes` is refused, and the event is scanned
//!    (the source's protocol's [`crate::protocol::Codec::scan`]) within
//!    `max_json_depth` and `max_event_fields`;
//! 2. the client's address (`--client-ip`), written into the protocol's IP
//!    field as the source's `client_ip` says ([`client_ip::passed_on`],
//!    [`client_ip::Address`]); without `--client-ip`, none is added;
//! 3. the [`Pipeline`] (consent, global rules, each destination's rules and
//!    allow list), for the source's `destinations` only.
//!
//! What it does not do is what a request adds around its events: ingest
//! fills a missing `messageId` or `receivedAt` (Segment, RudderStack, the
//! JSON source) and reads request-level signals (`?gdpr_consent=`,
//! Snowplow's `SP-Anonymous` and `User-Agent`); `--gpc` stands for
//! `Sec-GPC: 1`.
//!
//! Output, one JSON line per event and destination:
//! `{"destination":"…","decision":"forward"|"drop","reason":"…","event":{…}}`.
//! A dropped event is never shown. With tracing, `"trace"` lists the rules
//! that changed something: scope, rule, selector, action and path — never
//! a value, before or after; and for a consent drop `"why"` names the
//! signal and the rule that decided it (the opt-out registry, `Sec-GPC`
//! and `gpc_denies`, which in-event signal denied which purpose, a TC
//! string's vendor consent, publisher restriction, unreadable part or age,
//! the jurisdiction's default), in terms of the config, never a value.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

use crate::config::Config;
use crate::consent::Consent;
use crate::event::{Event, RequestMeta};
use crate::ingest::client_ip;
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
    /// Read events as this source's (by name): its protocol, its
    /// destinations, its `client_ip`. The first source when `None`.
    pub source: Option<String>,
    /// The client's address, passed on as the source's `client_ip` says.
    /// None added when `None`.
    pub client_ip: Option<std::net::IpAddr>,
    /// The jurisdiction the CDN would state (`DE`, `US-CA`), for
    /// `[consent.jurisdiction]`; unknown when `None` (or not a place).
    pub jurisdiction: Option<String>,
}

/// Why explain could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// `--destination` names no destination.
    #[error("no destination named `{0}` in the config (known: {1})")]
    UnknownDestination(String, String),
    /// `--source` names no source.
    #[error("no source named `{0}` in the config (known: {1})")]
    UnknownSource(String, String),
    /// `--destination` names a destination the source does not feed.
    #[error("destination `{0}` does not receive events of source `{1}` (its destinations: {2})")]
    NotRouted(String, String, String),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
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
    let names = |all: &mut dyn Iterator<Item = &str>| all.collect::<Vec<_>>().join(", ");
    let index = match &options.source {
        None => 0,
        Some(name) => config
            .sources
            .iter()
            .position(|s| &s.name == name)
            .ok_or_else(|| {
                let known = names(&mut config.sources.iter().map(|s| s.name.as_str()));
                ExplainError::UnknownSource(name.clone(), known)
            })?,
    };
    let source = config.sources.get(index);
    // The source's routing: only its destinations.
    let routed: Vec<usize> = match source {
        Some(source) => source.destinations.clone(),
        None => (0..config.destinations.len()).collect(),
    };
    let targets: Vec<usize> = match &options.destination {
        None => routed,
        Some(name) => {
            let Some(d) = config.destinations.iter().position(|d| &d.name == name) else {
                let known = names(&mut config.destinations.iter().map(|d| d.name.as_str()));
                return Err(ExplainError::UnknownDestination(name.clone(), known));
            };
            if !routed.contains(&d) {
                let fed = names(&mut routed.iter().map(|&i| config.destinations[i].name.as_str()));
                let source = source.map_or("", |s| s.name.as_str());
                return Err(ExplainError::NotRouted(name.clone(), source.into(), fed));
            }
            vec![d]
        }
    };
    let (consent, _) = Consent::from_config(config).map_err(ExplainError::OptOutRegistry)?;
    let pipeline = Pipeline::new(config, consent, &Metrics::new());
    let protocol = source.map_or(crate::event::Protocol::Segment, |s| s.protocol);
    // The client's address as the source passes it on, written as ingest
    // writes it.
    let passed_on = match (source, options.client_ip) {
        (Some(source), Some(client)) => client_ip::passed_on(source.client_ip, client, false),
        _ => None,
    };
    let address = client_ip::Address::new(protocol.ip_field(), passed_on);
    let meta = Arc::new(RequestMeta {
        source: index,
        protocol,
        received_at: SystemTime::now(),
        client_ip: options
            .client_ip
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
        user_agent: None,
        sec_gpc: options.gpc,
        tcf: None,
        jurisdiction: options
            .jurisdiction
            .as_deref()
            .and_then(crate::consent::jurisdiction::Jurisdiction::parse),
        us: Default::default(),
    });
    let limits = config.server.json;
    let max_bytes = config.server.max_decompressed_bytes;
    let mut summary = Summary::default();
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        // What ingest refuses, with the reason it gives (never a value).
        if text.len() > max_bytes {
            summary.invalid += 1;
            writeln!(
                errors,
                "line {}: larger than server.max_decompressed_bytes (skipped)",
                n + 1
            )?;
            continue;
        }
        // The scan ingest makes: it validates and marks consent's inputs.
        let top = match protocol.codec().scan(text.as_bytes(), limits) {
            Ok(top) => top,
            Err(refused) => {
                summary.invalid += 1;
                let why = match refused.exceeded {
                    Some(_) => crate::ingest::error::IngestError::from(refused).to_string(),
                    None => "not a JSON object".to_owned(),
                };
                writeln!(errors, "line {}: {why} (skipped)", n + 1)?;
                continue;
            }
        };
        summary.events += 1;
        let mut marks = top.marks;
        let body = address.write(Bytes::copy_from_slice(text.as_bytes()), &mut marks);
        let event = Event {
            body,
            marks,
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
                why: e.why.as_deref(),
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
