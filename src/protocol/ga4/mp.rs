//! Measurement Protocol uploads (`protocol = "ga4_mp"`): see [the GA4
//! module](super).

use super::{accepted, json_string, Members};
use crate::json::Limits;
use crate::json::{finish_event, Fill, Layout, Refused, Role, TopLevel};
use crate::protocol::{
    query_param, Codec, Decoded, Framing, Input, IpField, KeySink, Protocol, Route,
};
use crate::tracker_http::error::IngestError;
use crate::tracker_http::Body;
use bytes::Bytes;
use http::request::Parts;
use http::Response;

/// Measurement Protocol uploads.
pub const MP_PATH: &str = "/mp/collect";

/// The names of a Measurement Protocol body and its events.
pub struct MpLayout;

impl Layout for MpLayout {
    fn role(key: &str) -> Role {
        match key {
            "events" => Role::Batch,
            "name" => Role::Type,
            "user_id" => Role::UserId,
            "client_id" => Role::AnonymousId,
            "consent" => Role::MpConsent,
            _ => Role::Other,
        }
    }
}

/// Decodes a Measurement Protocol body: one event per element of `events`
/// that is an object with a `name` (the rest are skipped and counted),
/// each the body with that element alone in `events`. Every event repeats
/// the body's other fields, so the events together may hold at most
/// `limits.max_bytes`, checked before any is built. The write key is in
/// the URL (`measurement_id`), not here.
pub fn decode_mp(body: &Bytes, limits: Limits) -> Result<Decoded, IngestError> {
    let (_, items) = crate::protocol::decoded::envelope::<MpLayout>(
        body,
        limits,
        "`events` must be an array of event objects",
    )?;
    let Members(members) = serde_json::from_slice(body)
        .map_err(|e: serde_json::Error| IngestError::InvalidJson(e.into()))?;
    let mut shared = Vec::with_capacity(body.len());
    for (key, raw) in members.iter().filter(|(key, _)| key != "events") {
        json_string(&mut shared, key);
        shared.push(b':');
        shared.extend_from_slice(raw.get().as_bytes());
        shared.push(b',');
    }
    let named: Vec<Option<&str>> = items
        .iter()
        .map(|item| {
            TopLevel::parse_event_as::<MpLayout>(item.as_bytes(), limits)
                .is_ok_and(|event| event.has_type)
                .then_some(*item)
        })
        .collect();
    let size: usize = named
        .iter()
        .flatten()
        .map(|item| shared.len() + item.len() + 14)
        .sum();
    let mut decoded = Decoded::new(limits);
    decoded.fits(size)?;
    decoded.events.reserve(named.len());
    for item in named {
        let Some(item) = item else {
            decoded.invalid += 1;
            continue;
        };
        let mut one = Vec::with_capacity(shared.len() + item.len() + 14);
        one.push(b'{');
        one.extend_from_slice(&shared);
        one.extend_from_slice(b"\"events\":[");
        one.extend_from_slice(item.as_bytes());
        one.extend_from_slice(b"]}");
        let one = Bytes::from(one);
        match TopLevel::parse_event_as::<MpLayout>(&one, limits) {
            // Pretty-printed bodies fold to one line; spans stay put.
            Ok(event) => decoded.push(
                finish_event(one.clone(), event.keys, &Fill::default()),
                event.marks,
            )?,
            Err(_) => decoded.invalid += 1,
        }
    }
    Ok(decoded)
}

/// Measurement Protocol bodies, one event each (see this module):
/// identity, `user_properties` (`{"name": {"value": ...}}`), `user_data`
/// (SHA-256 of email and phone), `consent` at the top; the event in
/// `events[0]` with its `params`.
/// Reference: <https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference>.
fn mp_semantic_paths(name: &str) -> Option<&'static [&'static str]> {
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

/// The Measurement Protocol's codec (`protocol = "ga4_mp"`).
pub struct Mp;

impl Codec for Mp {
    fn protocol(&self) -> Protocol {
        Protocol::Ga4Mp
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Ga4Mp]
    }

    fn route(&self, path: &str) -> Option<Route> {
        (path == MP_PATH).then_some(Route::Events)
    }

    fn head_key(&self, _route: Route, parts: &Parts) -> Result<Option<String>, IngestError> {
        Ok(query_param(parts.uri.query(), "measurement_id"))
    }

    fn body_names_key(&self) -> bool {
        false
    }

    /// The client's secret is checked, never forwarded: a destination
    /// names its own.
    fn secret_param(&self) -> Option<&'static str> {
        Some("api_secret")
    }

    fn decode(
        &self,
        _route: Route,
        input: &Input<'_>,
        _key: KeySink<'_>,
    ) -> Result<Decoded, IngestError> {
        decode_mp(input.payload, input.limits)
    }

    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        TopLevel::parse_event_as::<MpLayout>(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        mp_semantic_paths(name)
    }

    /// The Measurement Protocol has no address field.
    fn ip_field(&self) -> IpField {
        IpField::Absent
    }

    /// Each event is a whole body; batches hold one (config checks).
    fn framing(&self, _api_key: Option<&str>) -> Framing {
        Framing::lines(b"", b"")
    }

    fn accepted(&self, _route: Route, _events: usize, _input: &Input<'_>) -> Response<Body> {
        accepted()
    }
}
