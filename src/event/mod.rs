//! The protocol-neutral [`Event`]: one JSON object as it will be forwarded,
//! plus what privgate knows about the request it came in.
//!
//! The body is kept as the raw bytes of one JSON object, not as a parsed
//! tree. Ingest validates it once and records what the pipeline needs; the
//! policy rewrites it in one pass and copies what no rule touches. Measured on the
//! per-event path (benches/event_repr.rs): a `serde_json::Value` round trip
//! costs several times a validating scan, and forwarding never needs the
//! tree. This module does no I/O.

pub mod protocol;

pub use protocol::Protocol;

use bytes::Bytes;
use http::HeaderValue;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// One event on its way through privgate.
#[derive(Clone, Debug)]
pub struct Event {
    /// One JSON object (validated by ingest), exactly as it will be sent.
    pub body: Bytes,
    /// Where consent's inputs sit in `body`, as ingest scanned it. Whoever
    /// rewrites the body (the policy) clears them.
    pub marks: Marks,
    /// Facts about the request it arrived in, shared by its whole batch.
    pub meta: Arc<RequestMeta>,
}

/// What the request said besides the events; consent and policy read it.
#[derive(Debug)]
pub struct RequestMeta {
    /// Index of the source in the config.
    pub source: usize,
    /// The protocol the events arrived in (the source's).
    pub protocol: Protocol,
    /// When privgate received the request.
    pub received_at: SystemTime,
    /// The TCP peer address.
    pub client_ip: IpAddr,
    /// The `User-Agent` header.
    pub user_agent: Option<HeaderValue>,
    /// `Sec-GPC: 1` (Global Privacy Control) was sent.
    pub sec_gpc: bool,
}

/// A byte range of an event body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span of `part`, a subslice of `whole`; `None` when it is not one
    /// (or the body is over 4 GiB, which no limit allows).
    pub fn of(whole: &[u8], part: &[u8]) -> Option<Span> {
        let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        (end <= whole.len()).then_some(Span {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    /// The bytes it covers in `body` (empty if it does not fit: marks of
    /// another body never panic).
    pub fn get(self, body: &[u8]) -> &[u8] {
        body.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }
}

/// Where the values consent reads sit in an event, found by ingest's one
/// validating scan so that deciding consent never parses the event again.
/// The roles are protocol-neutral; each protocol's decoder maps its own keys
/// to them (Segment and RudderStack: `userId`, `anonymousId`,
/// `context.consent`, `context.consentManagement`). Each span holds one
/// complete JSON value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// The user id.
    pub user_id: Option<Span>,
    /// The anonymous (device) id.
    pub anonymous_id: Option<Span>,
    /// A category-preferences consent object (Segment's `context.consent`).
    pub consent: Option<Span>,
    /// A consent-management object (RudderStack's `context.consentManagement`).
    pub consent_management: Option<Span>,
    /// An IAB TCF TC string (a JSON string: GA4's `gdpr_consent`, ...).
    pub tcf: Option<Span>,
    /// Google consent mode's `gcs` (a JSON string, `G1xy`).
    pub gcs: Option<Span>,
    /// Google consent mode's `gcd` (a JSON string).
    pub gcd: Option<Span>,
    /// The GA4 Measurement Protocol's `consent` object (`ad_user_data`,
    /// `ad_personalization`: `"GRANTED"` or `"DENIED"`).
    pub mp_consent: Option<Span>,
    /// One of those keys (or the object holding them) appeared twice. The
    /// event says two things and a backend may believe either, so consent
    /// trusts neither: no destination that requires consent receives it.
    pub ambiguous: bool,
}

impl Event {
    /// Size of the body in bytes.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the body is empty (never true for a validated event).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}
