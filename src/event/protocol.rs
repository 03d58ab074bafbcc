//! The tracker protocols privgate speaks, and where each keeps the facts
//! rules name by meaning: the semantic fields (`@user_id`, `@ip`, `@url`,
//! ...). One policy then protects every protocol: a rule on `@email` is
//! compiled, per protocol, into that protocol's own paths.
//!
//! A path list is what a protocol's clients are known to send (see
//! `../shared/wire-formats.md`); a field no client of a protocol sends
//! expands to no path there. This module does no I/O.

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
}

impl Protocol {
    /// Every protocol, in [`Protocol::index`] order.
    pub const ALL: [Protocol; 6] = [
        Protocol::Segment,
        Protocol::Rudderstack,
        Protocol::Amplitude,
        Protocol::Posthog,
        Protocol::Snowplow,
        Protocol::Json,
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
        }
    }

    /// Position in [`Protocol::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The paths semantic field `name` (without `@`) stands for in this
    /// protocol; `None` when `name` is not a semantic field.
    pub fn semantic_paths(self, name: &str) -> Option<&'static [&'static str]> {
        match self {
            // RudderStack events are Segment events; the generic JSON
            // source takes Segment's names.
            Protocol::Segment | Protocol::Rudderstack | Protocol::Json => segment(name),
            Protocol::Amplitude => amplitude(name),
            Protocol::Posthog => posthog(name),
            Protocol::Snowplow => snowplow(name),
        }
    }
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
}

impl Protocol {
    /// Where its events keep the client's IP address.
    pub fn ip_field(self) -> IpField {
        match self {
            Protocol::Segment | Protocol::Rudderstack | Protocol::Json => IpField::Nested {
                container: "context",
                key: "ip",
            },
            Protocol::Posthog => IpField::Nested {
                container: "properties",
                key: "$ip",
            },
            Protocol::Amplitude | Protocol::Snowplow => IpField::Top { key: "ip" },
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every semantic field name (without `@`).
pub const SEMANTIC_NAMES: [&str; 11] = [
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
];

fn segment(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &["userId", "previousId"],
        "anonymous_id" => &["anonymousId"],
        "ip" => &["context.ip"],
        "user_agent" => &["context.userAgent"],
        // Page calls carry the page in `properties`, others in `context.page`.
        "url" => &[
            "context.page.url",
            "context.page.path",
            "context.page.search",
            "context.page.tab_url",
            "properties.url",
            "properties.path",
            "properties.search",
            "properties.tab_url",
        ],
        "referrer" => &[
            "context.page.referrer",
            "context.page.initial_referrer",
            "properties.referrer",
            "properties.initial_referrer",
        ],
        "email" => &["traits.email", "context.traits.email", "properties.email"],
        "phone" => &["traits.phone", "context.traits.phone", "properties.phone"],
        "traits" => &["traits", "context.traits"],
        "properties" => &["properties"],
        "consent" => &["context.consent", "context.consentManagement"],
        _ => return None,
    })
}

/// Amplitude HTTP API v2 events (analytics-browser 2.x): identity at the
/// top level, `$set`/`$setOnce` operations in `user_properties`, page facts
/// autocaptured into `event_properties` under `[Amplitude] Page ...` keys.
fn amplitude(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &["user_id"],
        "anonymous_id" => &["device_id"],
        "ip" => &["ip"],
        "user_agent" => &["user_agent"],
        "url" => &[
            r#"event_properties."[Amplitude] Page Location""#,
            r#"event_properties."[Amplitude] Page URL""#,
            r#"event_properties."[Amplitude] Page Path""#,
            r#"event_properties."[Amplitude] Previous Page Location""#,
        ],
        "referrer" => &[
            "event_properties.referrer",
            "user_properties.*.referrer",
            "user_properties.*.initial_referrer",
        ],
        "email" => &[
            "user_properties.email",
            "user_properties.*.email",
            "event_properties.email",
        ],
        "phone" => &[
            "user_properties.phone",
            "user_properties.*.phone",
            "event_properties.phone",
        ],
        "traits" => &["user_properties", "group_properties"],
        "properties" => &["event_properties"],
        "consent" => &[],
        _ => return None,
    })
}

/// PostHog events (posthog-js, posthog-node): identity in `distinct_id`
/// (top level from posthog-node, in `properties` from posthog-js), page
/// facts as `$`-properties, person properties in `$set`/`$set_once` (top
/// level or in `properties`), the first URL and referrer also in
/// `$set_once.$initial_person_info` (`u`, `r`).
fn posthog(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &[
            "distinct_id",
            "properties.distinct_id",
            "properties.$user_id",
            "properties.alias",
        ],
        "anonymous_id" => &["properties.$device_id", "properties.$anon_distinct_id"],
        "ip" => &["properties.$ip", "ip"],
        "user_agent" => &["properties.$raw_user_agent"],
        "url" => &[
            "properties.$current_url",
            "properties.$session_entry_url",
            "properties.$pathname",
            "properties.$session_entry_pathname",
            "properties.$prev_pageview_pathname",
            "$set_once.$initial_person_info.u",
            "properties.$set_once.$initial_person_info.u",
            "$set_once.$initial_current_url",
            "properties.$set_once.$initial_current_url",
            "$set.$current_url",
            "$set_once.$current_url",
            "properties.$set.$current_url",
            "properties.$set_once.$current_url",
            "$set.$pathname",
            "$set_once.$pathname",
        ],
        "referrer" => &[
            "properties.$referrer",
            "properties.$session_entry_referrer",
            "properties.$initial_referrer",
            "$set_once.$initial_person_info.r",
            "properties.$set_once.$initial_person_info.r",
            "$set_once.$initial_referrer",
            "properties.$set_once.$initial_referrer",
            "$set.$referrer",
            "$set_once.$referrer",
            "properties.$set.$referrer",
            "properties.$set_once.$referrer",
        ],
        "email" => &[
            "properties.email",
            "$set.email",
            "properties.$set.email",
            "$set_once.email",
            "properties.$set_once.email",
        ],
        "phone" => &[
            "properties.phone",
            "$set.phone",
            "properties.$set.phone",
            "$set_once.phone",
            "properties.$set_once.phone",
        ],
        "traits" => &[
            "$set",
            "$set_once",
            "properties.$set",
            "properties.$set_once",
            "properties.$group_set",
        ],
        "properties" => &["properties"],
        "consent" => &[],
        _ => return None,
    })
}

/// Snowplow tracker-protocol events, as ingest decodes them (see
/// `ingest::snowplow`): the flat parameters at the top level, contexts
/// (`co`, or `cx` when base64-encoded) and the self-describing event
/// (`ue_pr`, or `ue_px`) as JSON objects under their own names. Contexts
/// are `{"schema":..., "data": [{"schema":..., "data": {...}}, ...]}`, the
/// event `{"schema":..., "data": {"schema":..., "data": {...}}}`.
///
/// `client_session`'s `userId` is the domain user id again, so it is an
/// anonymous id too. A selector cannot pick a context by its schema, so
/// `@consent` (the `gdpr` and `consent_document` contexts) names nothing,
/// and Snowplow has no user traits.
fn snowplow(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &["uid"],
        "anonymous_id" => &[
            "duid",
            "nuid",
            "tnuid",
            "co.data[*].data.userId",
            "cx.data[*].data.userId",
        ],
        "ip" => &["ip"],
        "user_agent" => &["ua"],
        "url" => &["url"],
        "referrer" => &["refr"],
        "email" => &[
            "co.data[*].data.email",
            "cx.data[*].data.email",
            "ue_pr.data.data.email",
            "ue_px.data.data.email",
        ],
        "phone" => &[
            "co.data[*].data.phone",
            "cx.data[*].data.phone",
            "ue_pr.data.data.phone",
            "ue_px.data.data.phone",
        ],
        "traits" => &[],
        // A structured event's label, property and value; a
        // self-describing event's data.
        "properties" => &[
            "se_la",
            "se_pr",
            "se_va",
            "ue_pr.data.data",
            "ue_px.data.data",
        ],
        "consent" => &[],
        _ => return None,
    })
}
