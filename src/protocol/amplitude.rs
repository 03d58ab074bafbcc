//! Amplitude's HTTP API v2, as `@amplitude/analytics-browser` speaks it:
//! `POST /2/httpapi` (or `/batch` with `useBatch`, the same format) with
//! `{"api_key": ..., "events": [...], "options": {...},
//! "client_upload_time": ...}`, JSON or gzip (`Content-Encoding`), and
//! beacons as `text/plain`. The `api_key` is the source's write key.
//!
//! The SDK reads the outcome from the JSON body's `code`, not the HTTP
//! status: success is answered as Amplitude does (`{"code":200,
//! "events_ingested":N,...}`), and every error body carries `code` too (see
//! [`crate::tracker_http::error`]), so a 400 is dropped and a 503 retried as the SDK
//! intends. The remote-config fetch (`GET /config/{api_key}`) is relayed
//! to the source's `upstream`.

use super::{Codec, Decoded, Framing, Input, IpField, KeySink, Protocol, Route};
use crate::json::Limits;
use crate::json::Refused;
use crate::json::{Layout, Role, TopLevel};
use crate::tracker_http::error::IngestError;
use crate::tracker_http::Body;
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether `path` takes events.
pub fn is_events_path(path: &str) -> bool {
    matches!(path, "/2/httpapi" | "/2/httpapi/" | "/batch")
}

/// Whether the SDK's remote-config fetch (relayed unchanged).
pub fn is_passthrough(method: &Method, path: &str) -> bool {
    method == Method::GET
        && path
            .strip_prefix("/config/")
            .is_some_and(|key| !key.is_empty() && !key.contains('/'))
}

/// The names Amplitude events and envelopes use.
pub struct AmplitudeLayout;

impl Layout for AmplitudeLayout {
    fn role(key: &str) -> Role {
        match key {
            "api_key" => Role::WriteKey,
            "events" => Role::Batch,
            "event_type" => Role::Type,
            "insert_id" => Role::MessageId,
            "user_id" => Role::UserId,
            "device_id" => Role::AnonymousId,
            "ip" => Role::Ip,
            _ => Role::Other,
        }
    }
}

/// Decodes an upload. Elements of `events` that are not objects with an
/// `event_type` are skipped and counted; the rest are forwarded as sent.
/// The `api_key` goes to `key` before any event is read.
pub fn decode(
    body: &Bytes,
    limits: Limits,
    mut key: impl FnMut(&str) -> Result<(), IngestError>,
) -> Result<Decoded, IngestError> {
    let (top, items) = super::decoded::envelope::<AmplitudeLayout>(
        body,
        limits,
        "`events` must be an array of event objects",
    )?;
    if let Some(api_key) = top.write_key.as_deref() {
        key(api_key)?;
    }
    let mut decoded = Decoded::new(limits);
    decoded.add_elements::<AmplitudeLayout>(items, body, limits, |_, _| Ok(()))?;
    Ok(decoded)
}

/// Amplitude's own success answer.
pub fn accepted(events: usize, payload_bytes: usize, now: SystemTime) -> Response<Body> {
    let millis = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let body = format!(
        r#"{{"code":200,"events_ingested":{events},"payload_size_bytes":{payload_bytes},"server_upload_time":{millis}}}"#
    );
    crate::tracker_http::json_answer(StatusCode::OK, Bytes::from(body))
}

/// Amplitude HTTP API v2 events (analytics-browser 2.x): identity at the
/// top level, `$set`/`$setOnce` operations in `user_properties`, page facts
/// autocaptured into `event_properties` under `[Amplitude] Page ...` keys.
fn semantic_paths(name: &str) -> Option<&'static [&'static str]> {
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

/// Amplitude's codec.
pub struct Amplitude;

impl Codec for Amplitude {
    fn protocol(&self) -> Protocol {
        Protocol::Amplitude
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Amplitude]
    }

    fn route(&self, path: &str) -> Option<Route> {
        is_events_path(path).then_some(Route::Events)
    }

    fn relays(&self, method: &Method, path: &str) -> bool {
        is_passthrough(method, path)
            || (method == Method::OPTIONS && is_passthrough(&Method::GET, path))
    }

    fn relay_key(&self, uri: &http::Uri) -> Option<String> {
        uri.path().strip_prefix("/config/").map(str::to_owned)
    }

    fn decode(
        &self,
        _route: Route,
        input: &Input<'_>,
        key: KeySink<'_>,
    ) -> Result<Decoded, IngestError> {
        decode(input.payload, input.limits, key)
    }

    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        TopLevel::parse_event_as::<AmplitudeLayout>(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        semantic_paths(name)
    }

    fn ip_field(&self) -> IpField {
        IpField::Top { key: "ip" }
    }

    fn framing(&self, api_key: Option<&str>) -> Framing {
        Framing::keyed_array(api_key, "events")
    }

    fn accepted(&self, _route: Route, events: usize, input: &Input<'_>) -> Response<Body> {
        accepted(events, input.payload.len(), input.received_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// What no rule touches is forwarded as sent: each event decodes to
        /// exactly the object the SDK wrote, whatever else it holds.
        #[test]
        fn events_decode_to_what_was_sent(
            events in crate::json::tests::events("event_type"),
        ) {
            let body = serde_json::json!({"api_key": "k", "events": events, "options": {}});
            let d = decode(&Bytes::from(body.to_string()), Limits::default(), |_: &str| Ok(())).unwrap();
            prop_assert_eq!(d.invalid, 0);
            let decoded: Vec<serde_json::Value> = d
                .events
                .iter()
                .map(|(e, _)| serde_json::from_slice(e).unwrap())
                .collect();
            prop_assert_eq!(decoded, events);
        }
    }

    #[test]
    fn events_keep_their_bytes_and_bad_elements_are_counted() {
        let body = Bytes::from_static(
            br#"{"api_key":"k","events":[{"event_type":"a","user_id":"u","device_id":"d"},{"no":"type"},3],"options":{}}"#,
        );
        let mut keys = Vec::new();
        let d = decode(&body, Limits::default(), |k: &str| {
            keys.push(k.to_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(keys, ["k"]);
        assert_eq!(d.invalid, 2);
        assert_eq!(d.events.len(), 1);
        let (event, marks) = &d.events[0];
        assert_eq!(
            &event[..],
            br#"{"event_type":"a","user_id":"u","device_id":"d"}"#
        );
        assert_eq!(marks.user_id.unwrap().get(event), br#""u""#);
        assert_eq!(marks.anonymous_id.unwrap().get(event), br#""d""#);
    }

    #[test]
    fn an_upload_without_events_is_refused() {
        for body in [&br#"{"api_key":"k"}"#[..], br#"{"events":{}}"#, b"[]", b"{"] {
            let body = Bytes::from_static(body);
            assert!(decode(&body, Limits::default(), |_: &str| Ok(())).is_err());
        }
    }

    #[test]
    fn paths() {
        assert!(is_events_path("/2/httpapi"));
        assert!(is_events_path("/batch"));
        assert!(!is_events_path("/batch/"), "PostHog's");
        assert!(is_passthrough(&Method::GET, "/config/KEY"));
        assert!(!is_passthrough(&Method::POST, "/config/KEY"));
        assert!(!is_passthrough(&Method::GET, "/config/a/b"));
    }
}
