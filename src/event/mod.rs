//! The protocol-neutral [`Event`]: one JSON object as it will be forwarded,
//! plus what privgate knows about the request it came in.
//!
//! The body is kept as the raw bytes of one JSON object, not as a parsed
//! tree. Ingest validates it once and records what the pipeline needs; the
//! policy rewrites it in one pass and copies what no rule touches. Measured on the
//! per-event path (benches/event_repr.rs): a `serde_json::Value` round trip
//! costs several times a validating scan, and forwarding never needs the
//! tree. This module does no I/O.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub use crate::json::{same_value, Marks, Slot, Span};
pub use crate::protocol::Protocol;

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
    /// The request's `gdpr_consent` query parameter (an IAB TCF TC string),
    /// read for every event of the request besides the event's own; an
    /// error when the query gives it twice with different values.
    pub tcf: Option<Result<Box<str>, crate::consent::tcf::TcfError>>,
    /// The jurisdiction the CDN stated (`consent.jurisdiction`), from a
    /// trusted proxy; `None` when unknown or not configured.
    pub jurisdiction: Option<crate::consent::jurisdiction::Jurisdiction>,
    /// The request's `gpp`, `gpp_sid` and `us_privacy` query parameters,
    /// read for every event of the request besides the event's own.
    pub us: crate::consent::UsRequest,
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
