//! The tracker protocols privgate speaks, one module each, used alike by
//! ingest (reading requests), forward (writing batches) and `explain`
//! (reading events as a source's). Neither ingest nor forward owns them.
//!
//! Each protocol is a [`Codec`]: a unit struct in its module that says,
//! in one place, the routes it serves and the requests it relays; where
//! its write key is and whether it is checked before the body is read; how
//! a body is read and unwrapped (forms, gzip, base64, lz64); how the body
//! decodes into events with their marks and keys; its semantic-field
//! layout (where `@user_id`, `@ip`, `@url`, ... are in its events: one
//! policy protects every protocol, a rule on `@email` compiled per
//! protocol into its own paths); how its events go back on the wire for a
//! destination ([`Framing`]); and the answer its SDKs take as success.
//!
//! **Why a trait.** Every question is asked of `protocol.codec()`, a
//! `&'static dyn Codec` picked by one match ([`Protocol::codec`]); the
//! answers live next to the decoder they describe, and a protocol's
//! defaults (POST only, the key in Basic auth, a JSON body, `{"success":
//! true}`) are written once. An enum with a match per question would put
//! every protocol's answer to one question together instead, scattered
//! over as many matches as there are questions, which is what this module
//! replaced. A request costs one virtual call per question.
//!
//! **Adding a protocol** is one module and its registration:
//! 1. `src/protocol/<name>.rs`: the decoder, its scan layout
//!    ([`crate::json::Layout`]), its semantic paths, and a unit
//!    struct implementing [`Codec`]; test vectors and proptests beside it,
//!    a fuzz target in `src/fuzzing.rs` and `fuzz/`.
//! 2. Here: a [`Protocol`] variant (its config name), its line in
//!    [`Protocol::codec`], and its place in [`ROUTING`].
//! 3. If destinations may be fed in it: a `BatchFormat` in config, mapped
//!    to the protocol in `forward::batch`.
//!
//! A path list is what a protocol's clients are known to send (see
//! `tests/fixtures/trackers/WIRE-FORMATS.md`); a field no client of a
//! protocol sends expands to no path there. This module does no I/O.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub mod amplitude;
mod codec;
mod decoded;
pub mod ga4;
pub mod json;
pub mod lz64;
pub mod posthog;
pub mod rudderstack;
pub mod segment;
pub mod snowplow;

pub use codec::{
    basic_username, bearer_token, query_param, query_payload, Codec, Endpoint, Framing, Input,
    KeySink, Kind, Read, Route,
};
pub use decoded::{Decoded, Stamp};

use http::Method;
use serde::Deserialize;

/// A tracker's wire protocol (a source's `protocol`, a destination's
/// forwarding format).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The Segment HTTP Tracking API (`/v1/track`, `/v1/batch`, `/v1/t`, ...).
    Segment,
    /// RudderStack's (the Segment API, plus its beacon and config endpoints).
    Rudderstack,
    /// Amplitude's HTTP API v2 (`/2/httpapi`, `/batch`).
    Amplitude,
    /// PostHog's capture API (`/e/`, `/i/v0/e/`, `/batch/`, ...).
    Posthog,
    /// Snowplow's tracker protocol (`POST /com.snowplowanalytics.snowplow/tp2`,
    /// `GET /i`).
    Snowplow,
    /// `POST /collect`: a JSON object, an array of objects, or NDJSON.
    Json,
    /// Google Analytics 4 as gtag.js sends it: `/g/collect` hits, each
    /// one flat object of its query parameters (`en`, `cid`, `ep.*`, ...).
    Ga4,
    /// The GA4 Measurement Protocol (`POST /mp/collect`): each event one
    /// request body of its own (`client_id`, ..., `events: [event]`).
    #[serde(rename = "ga4_mp")]
    Ga4Mp,
}

impl Protocol {
    /// Every protocol, in [`Protocol::index`] order.
    pub const ALL: [Protocol; 8] = [
        Protocol::Segment,
        Protocol::Rudderstack,
        Protocol::Amplitude,
        Protocol::Posthog,
        Protocol::Snowplow,
        Protocol::Json,
        Protocol::Ga4,
        Protocol::Ga4Mp,
    ];

    /// The name used in config, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Segment => "segment",
            Protocol::Rudderstack => "rudderstack",
            Protocol::Amplitude => "amplitude",
            Protocol::Posthog => "posthog",
            Protocol::Snowplow => "snowplow",
            Protocol::Json => "json",
            Protocol::Ga4 => "ga4",
            Protocol::Ga4Mp => "ga4_mp",
        }
    }

    /// Position in [`Protocol::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The paths semantic field `name` (without `@`) stands for in this
    /// protocol; `None` when `name` is not a semantic field.
    pub fn semantic_paths(self, name: &str) -> Option<&'static [&'static str]> {
        self.codec().semantic_paths(name)
    }

    /// Its codec: the registry of protocols.
    pub fn codec(self) -> &'static dyn Codec {
        match self {
            Protocol::Segment => &segment::Segment,
            Protocol::Rudderstack => &rudderstack::Rudderstack,
            Protocol::Amplitude => &amplitude::Amplitude,
            Protocol::Posthog => &posthog::Posthog,
            Protocol::Snowplow => &snowplow::Snowplow,
            Protocol::Json => &json::Json,
            Protocol::Ga4 => &ga4::Gtag,
            Protocol::Ga4Mp => &ga4::Mp,
        }
    }
}

/// The order in which codecs are asked whether a path is theirs: first
/// for events, then for relays. (Their paths do not overlap; the order
/// only makes the answer not depend on that.)
pub const ROUTING: [Protocol; 8] = [
    Protocol::Segment,
    Protocol::Json,
    Protocol::Amplitude,
    Protocol::Posthog,
    Protocol::Ga4,
    Protocol::Ga4Mp,
    Protocol::Rudderstack,
    Protocol::Snowplow,
];

/// The endpoint `method path` is, if any protocol serves it.
pub fn endpoint(method: &Method, path: &str) -> Option<Endpoint> {
    let events = ROUTING.iter().find_map(|&protocol| {
        let route = protocol.codec().route(path)?;
        Some(Endpoint {
            protocol,
            kind: Kind::Events(route),
        })
    });
    events.or_else(|| {
        let protocol = ROUTING
            .into_iter()
            .find(|p| p.codec().relays(method, path))?;
        Some(Endpoint {
            protocol,
            kind: Kind::Relay,
        })
    })
}

/// Where a protocol keeps the client's IP address in an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpField {
    /// A member `key` of the event's `container` object (the one ingest's
    /// layout scans as its context).
    Nested {
        /// `context`, `properties`.
        container: &'static str,
        /// `ip`, `$ip`.
        key: &'static str,
    },
    /// A top-level member.
    Top {
        /// `ip`.
        key: &'static str,
    },
    /// The protocol has no place for it (the vendor takes the address from
    /// the connection only).
    Absent,
}

impl Protocol {
    /// Where its events keep the client's IP address.
    pub fn ip_field(self) -> IpField {
        self.codec().ip_field()
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every semantic field name (without `@`).
pub const SEMANTIC_NAMES: [&str; 16] = [
    "user_id",
    "anonymous_id",
    "ip",
    "user_agent",
    "url",
    "referrer",
    "email",
    "phone",
    "traits",
    "properties",
    "consent",
    "name",
    "first_name",
    "last_name",
    "address",
    "birthday",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::selector::Selector;

    #[test]
    fn every_protocol_names_every_semantic_field_with_valid_selectors() {
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::ALL[protocol.index()], protocol);
            assert_eq!(protocol.codec().protocol(), protocol);
            assert!(ROUTING.contains(&protocol));
            for name in SEMANTIC_NAMES {
                let paths = protocol.semantic_paths(name).expect(name);
                for path in paths {
                    assert!(
                        Selector::parse_in(path, protocol).is_ok(),
                        "{protocol} @{name}: {path}"
                    );
                }
            }
        }
    }

    /// Each path privgate serves belongs to one codec (so [`ROUTING`]'s
    /// order decides nothing), and resolves to that codec's route.
    #[test]
    fn every_served_path_has_one_owner() {
        use Protocol::*;
        let (get, post, options) = (&Method::GET, &Method::POST, &Method::OPTIONS);
        let events = |r: Route| Kind::Events(r);
        let single = |t| events(Route::Segment(segment::Route::Single(t)));
        let cases: [(&Method, &str, Protocol, Kind); 16] = [
            (post, "/v1/t", Segment, single("track")),
            (
                post,
                "/v1/batch",
                Segment,
                events(Route::Segment(segment::Route::Batch)),
            ),
            (get, "/v1/projects/k/settings", Segment, Kind::Relay),
            (options, "/v1/projects/k/settings", Segment, Kind::Relay),
            (post, "/beacon/v1/batch", Rudderstack, events(Route::Events)),
            (get, "/sourceConfig/", Rudderstack, Kind::Relay),
            (post, "/2/httpapi", Amplitude, events(Route::Events)),
            (post, "/batch", Amplitude, events(Route::Events)),
            (options, "/config/k", Amplitude, Kind::Relay),
            (post, "/batch/", Posthog, events(Route::Events)),
            (post, "/flags/", Posthog, Kind::Relay),
            (
                get,
                "/i",
                Snowplow,
                events(Route::Snowplow(snowplow::Route::Pixel)),
            ),
            (
                post,
                "/com.snowplowanalytics.snowplow/tp2",
                Snowplow,
                events(Route::Snowplow(snowplow::Route::Post)),
            ),
            (post, "/collect", Json, events(Route::Events)),
            (get, "/g/collect", Ga4, events(Route::Events)),
            (post, "/mp/collect", Ga4Mp, events(Route::Events)),
        ];
        for (method, path, protocol, kind) in cases {
            let found = endpoint(method, path).expect(path);
            assert_eq!((found.protocol, found.kind), (protocol, kind), "{path}");
            let owners = Protocol::ALL
                .iter()
                .filter(|p| p.codec().route(path).is_some() || p.codec().relays(method, path))
                .count();
            assert_eq!(owners, 1, "{method} {path}");
        }
        assert!(endpoint(post, "/s/").is_none());
        assert!(endpoint(get, "/v1/x").is_none());
    }

    /// Each protocol's batch body for a destination, as forward sends it
    /// (the formats `forward::batch` had in a table of its own).
    #[test]
    fn every_codec_frames_a_batch_in_its_wire_format() {
        fn batch(protocol: Protocol, events: &[&'static str]) -> String {
            let f = protocol.codec().framing(Some("k"));
            let mut out = f.open.to_vec();
            for (i, event) in events.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(f.separator);
                }
                out.extend_from_slice(&f.wire(&bytes::Bytes::from_static(event.as_bytes())));
                out.extend_from_slice(f.terminator);
            }
            out.extend_from_slice(f.close);
            String::from_utf8(out).unwrap()
        }
        let two = [r#"{"a":"1"}"#, r#"{"b":"2"}"#];
        let array = r#"[{"a":"1"},{"b":"2"}]}"#;
        for (protocol, want) in [
            (Protocol::Segment, format!(r#"{{"batch":{array}"#)),
            (Protocol::Rudderstack, format!(r#"{{"batch":{array}"#)),
            (
                Protocol::Amplitude,
                format!(r#"{{"api_key":"k","events":{array}"#),
            ),
            (
                Protocol::Posthog,
                format!(r#"{{"api_key":"k","batch":{array}"#),
            ),
            (
                Protocol::Snowplow,
                format!(r#"{{"schema":"{}","data":{array}"#, snowplow::PAYLOAD_DATA),
            ),
            (Protocol::Json, "{\"a\":\"1\"}\n{\"b\":\"2\"}\n".to_owned()),
            (Protocol::Ga4, "a=1\r\nb=2".to_owned()),
            (Protocol::Ga4Mp, two.concat()),
        ] {
            assert_eq!(batch(protocol, &two), want, "{protocol}");
        }
    }
}
