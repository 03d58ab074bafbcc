//! The tracker protocols privgate speaks, and where each keeps the facts
//! rules name by meaning: the semantic fields (`@user_id`, `@ip`, `@url`,
//! ...). One policy then protects every protocol: a rule on `@email` is
//! compiled, per protocol, into that protocol's own paths.
//!
//! A path list is what a protocol's clients are known to send (see
//! `tests/fixtures/trackers/WIRE-FORMATS.md`); a field no client of a protocol sends
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
        match self {
            // RudderStack events are Segment events; the generic JSON
            // source takes Segment's names.
            Protocol::Segment | Protocol::Rudderstack | Protocol::Json => segment(name),
            Protocol::Amplitude => amplitude(name),
            Protocol::Posthog => posthog(name),
            Protocol::Snowplow => snowplow(name),
            Protocol::Ga4 => ga4(name),
            Protocol::Ga4Mp => ga4_mp(name),
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
    /// The protocol has no place for it (the vendor takes the address from
    /// the connection only).
    Absent,
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
            // The IP override gtag hits carry through server-side tagging.
            Protocol::Ga4 => IpField::Top { key: "_uip" },
            // The Measurement Protocol has no address field.
            Protocol::Ga4Mp => IpField::Absent,
        }
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
        // The Identify spec's reserved traits (`firstName`; analytics.js
        // also reads `first_name`).
        "name" => &["traits.name", "context.traits.name"],
        "first_name" => &[
            "traits.firstName",
            "traits.first_name",
            "context.traits.firstName",
            "context.traits.first_name",
        ],
        "last_name" => &[
            "traits.lastName",
            "traits.last_name",
            "context.traits.lastName",
            "context.traits.last_name",
        ],
        "address" => &["traits.address", "context.traits.address"],
        "birthday" => &["traits.birthday", "context.traits.birthday"],
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
        // Amplitude reserves no user property for a person's name,
        // address or birthday.
        "name" | "first_name" | "last_name" | "address" | "birthday" => &[],
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
        // The person property PostHog shows a person by; it reserves none
        // for first and last names, addresses or birthdays.
        "name" => &[
            "$set.name",
            "$set_once.name",
            "properties.$set.name",
            "properties.$set_once.name",
        ],
        "first_name" | "last_name" | "address" | "birthday" => &[],
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
        // No standard context holds a person's name, address or birthday.
        "name" | "first_name" | "last_name" | "address" | "birthday" => &[],
        _ => return None,
    })
}

/// gtag.js hits (see `ingest::ga4`): flat keys as sent, event parameters
/// `ep.*` (text) and `epn.*` (numbers), user properties `up.*`/`upn.*`.
/// The user agent is not in a hit (Google reads it from the request
/// header, and privgate forwards its own requests), so `@user_agent` names
/// nothing; the client hints gtag adds (`uaa`, `uab`, `uafvl`, `uam`,
/// `uamb`, `uap`, `uapv`) can be named as they are.
fn ga4(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &["uid"],
        "anonymous_id" => &["cid"],
        // IP overrides (server-side tagging and the older protocol).
        "ip" => &["_uip", "uip"],
        "user_agent" => &[],
        "url" => &["dl", r#""ep.page_location""#],
        "referrer" => &["dr", r#""ep.page_referrer""#],
        "email" => &[r#""ep.email""#, r#""up.email""#],
        "phone" => &[r#""ep.phone""#, r#""up.phone""#],
        "traits" => &[r#""up."*"#, r#""upn."*"#],
        "properties" => &[r#""ep."*"#, r#""epn."*"#],
        // Consent mode, IAB TCF, and the Digital Markets Act flags.
        "consent" => &[
            "gcs",
            "gcd",
            "gdpr",
            "gdpr_consent",
            "dma",
            "dma_cps",
            "npa",
        ],
        // gtag sends user-provided data hashed in its own parameters.
        "name" | "first_name" | "last_name" | "address" | "birthday" => &[],
        _ => return None,
    })
}

/// Measurement Protocol bodies, one event each (see `ingest::ga4`):
/// identity, `user_properties` (`{"name": {"value": ...}}`), `user_data`
/// (SHA-256 of email and phone), `consent` at the top; the event in
/// `events[0]` with its `params`.
/// Reference: <https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference>.
fn ga4_mp(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &["user_id"],
        "anonymous_id" => &["client_id"],
        "ip" => &["ip_override"],
        "user_agent" => &["user_agent"],
        "url" => &["events.*.params.page_location"],
        "referrer" => &["events.*.params.page_referrer"],
        "email" => &[
            "user_data.sha256_email_address",
            "user_properties.email",
            "events.*.params.email",
        ],
        "phone" => &[
            "user_data.sha256_phone_number",
            "user_properties.phone",
            "events.*.params.phone",
        ],
        "traits" => &["user_properties"],
        "properties" => &["events.*.params"],
        "consent" => &["consent", "non_personalized_ads"],
        // User-provided data: names and the street address, hashed or not
        // (`city`, `region`, `postal_code`, `country` are in the clear).
        "name" | "birthday" => &[],
        "first_name" => &["user_data.address[*].sha256_first_name"],
        "last_name" => &["user_data.address[*].sha256_last_name"],
        "address" => &["user_data.address"],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::selector::Selector;

    #[test]
    fn every_protocol_names_every_semantic_field_with_valid_selectors() {
        for protocol in Protocol::ALL {
            assert_eq!(Protocol::ALL[protocol.index()], protocol);
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
}
