//! PostHog's capture API, as posthog-js and posthog-node speak it.
//!
//! Events: `POST /e/`, `/i/v0/e/`, `/batch/`, `/capture/`,
//! `/i/v1/analytics/events` (posthog-node's v1 mode, token as `Bearer`).
//! Bodies come in every form the SDKs use, told apart as they must be:
//! - gzip with **no marker at all** (posthog-js's default: `text/plain`,
//!   no `Content-Encoding`, no flag): detected by the magic bytes `1f 8b`;
//!   also `Content-Encoding: gzip` and `?compression=gzip-js`;
//! - a form `data=<base64 JSON>` (beacons, `?compression=base64`) or
//!   `data=<lz64>` (`?compression=lz64`, older posthog-js; see
//!   [`super::lz64`]);
//! - plain JSON: `{"api_key", "batch": [...]}`, one event object, or an
//!   array of events.
//!
//! The project token is the write key: the envelope's `api_key` (or
//! `token`), the `Bearer` token, or else the first event's
//! `properties.token`. posthog-js counts only **exactly 200** as delivered
//! (204 is retried), so success is `200 {"status":1}`.
//!
//! Other requests of the SDK, relayed unchanged to the source's `upstream`:
//! the remote config (`GET /array/{token}/config.js`, `/config`), feature
//! flags (`POST /flags/`, `/decide/`) and lazy-loaded assets
//! (`GET /static/*`). Session recordings (`/s/`) are not served: a replay
//! holds whatever was on the screen, which no field rule can minimize.

use super::{
    basic_username, bearer_token, query_param, Codec, Decoded, Framing, Input, IpField, KeySink,
    Protocol, Read, Route,
};
use crate::json::Limits;
use crate::json::Refused;
use crate::json::{check_utf8, Layout, Role, Slot, TopLevel};
use crate::json::{Marks, Span};
use crate::tracker_http::body::{gunzip, Limits as BodyLimits};
use crate::tracker_http::error::IngestError;
use crate::tracker_http::Body;
use base64::Engine;
use bytes::Bytes;
use http::header;
use http::request::Parts;
use http::Method;
use http::{Response, StatusCode};
use serde_json::value::RawValue;

/// Whether `path` takes events.
pub fn is_events_path(path: &str) -> bool {
    matches!(
        path,
        "/e/" | "/e" | "/i/v0/e/" | "/i/v0/e" | "/batch/" | "/capture/" | "/capture"
    ) || is_v1(path)
}

/// posthog-node's v1 capture mode (token in `Authorization: Bearer`).
pub fn is_v1(path: &str) -> bool {
    matches!(path, "/i/v1/analytics/events" | "/i/v1/analytics/events/")
}

/// Whether a request of the SDK that is relayed unchanged.
pub fn is_passthrough(method: &Method, path: &str) -> bool {
    let get = method == Method::GET || method == Method::HEAD;
    let config = path
        .strip_prefix("/array/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(token, file)| !token.is_empty() && matches!(file, "config.js" | "config"));
    let flags = matches!(path, "/flags/" | "/flags" | "/decide/" | "/decide");
    (get && (config || path.starts_with("/static/"))) || flags
}

/// Whether a feature-flag request (`/flags/`, `/decide/`): the one relay
/// whose body names the user (`distinct_id`, person properties).
pub fn is_flags(path: &str) -> bool {
    matches!(path, "/flags/" | "/flags" | "/decide/" | "/decide")
}

/// The names PostHog events and envelopes use.
pub struct PosthogLayout;

impl Layout for PosthogLayout {
    fn role(key: &str) -> Role {
        match key {
            "api_key" | "token" => Role::WriteKey,
            "batch" => Role::Batch,
            "event" => Role::Type,
            "uuid" => Role::MessageId,
            "distinct_id" => Role::UserId,
            "properties" => Role::Context,
            _ => Role::Other,
        }
    }

    fn context_slot(key: &str) -> Option<Slot> {
        match key {
            "distinct_id" => Some(Slot::UserId),
            "$device_id" => Some(Slot::AnonymousId),
            "alias" => Some(Slot::LinkedId),
            "$anon_distinct_id" => Some(Slot::LinkedAnonymousId),
            "$ip" => Some(Slot::Ip),
            _ => None,
        }
    }
}

/// Turns the body as it came (gzip, form, base64, lz64 or JSON) into JSON.
/// `query` is the request's query string, `form` whether the body is a
/// form (by its content type, or its `data=` start).
pub fn unwrap(
    body: Bytes,
    query: Option<&str>,
    form: bool,
    limits: BodyLimits,
) -> Result<Bytes, IngestError> {
    let compression = query_param(query, "compression");
    if body.starts_with(&[0x1f, 0x8b]) || compression.as_deref() == Some("gzip-js") {
        return gunzip(&body, limits.max_decompressed);
    }
    if !(form || body.starts_with(b"data=")) {
        return Ok(body);
    }
    let mut data = None;
    let mut compression = compression;
    for (key, value) in form_urlencoded::parse(&body) {
        match &*key {
            "data" => data = Some(value.into_owned()),
            "compression" => compression = Some(value.into_owned()),
            _ => {}
        }
    }
    let data = data.ok_or(IngestError::InvalidShape(
        "a form body must carry the events in `data`",
    ))?;
    match compression.as_deref() {
        Some("lz64") => super::lz64::decompress_base64(&data, limits.max_decompressed)
            .map(Bytes::from)
            .map_err(|e| match e {
                super::lz64::Lz64Error::TooLarge => IngestError::TooLarge(limits.max_decompressed),
                e => IngestError::InvalidJson(e.into()),
            }),
        // `compression=base64`, or none: JSON or its base64.
        _ if data.trim_start().starts_with(['{', '[']) => Ok(Bytes::from(data)),
        _ => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Bytes::from)
            .map_err(|_| IngestError::InvalidShape("`data` is neither JSON nor base64 JSON")),
    }
}

/// Decodes an unwrapped body: `{"api_key","batch":[...]}`, one event, or
/// an array of events (at most `max_batch`, refused at the first element
/// beyond). Elements that are not objects with an `event` are skipped and
/// counted. The project token goes to `key` as soon as it is read: the
/// envelope's before any event, else the first event's before the others.
pub fn decode(
    body: &Bytes,
    limits: Limits,
    mut key: impl FnMut(&str) -> Result<(), IngestError>,
) -> Result<Decoded, IngestError> {
    check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let (items, envelope_key): (Vec<&str>, _) = match first {
        Some(b'[') => (TopLevel::array(body, limits)?, None),
        _ => {
            let top = TopLevel::parse_as::<PosthogLayout>(body, limits)?;
            let envelope_key = top.write_key.as_deref().map(str::to_owned);
            match top.batch {
                Some(items) => (items, envelope_key),
                None if top.has_type => {
                    if let Some(token) = envelope_key.or_else(|| properties_token(body)) {
                        key(&token)?;
                    }
                    let mut decoded = Decoded::new(limits);
                    decoded.push(body.clone(), top.marks)?;
                    return Ok(decoded);
                }
                None => {
                    return Err(IngestError::InvalidShape(
                        "expected an event, an array of events or {\"batch\":[...]}",
                    ))
                }
            }
        }
    };
    let mut named = envelope_key.is_some();
    if let Some(token) = &envelope_key {
        key(token)?;
    }
    let mut decoded = Decoded::new(limits);
    // Without an envelope key, the first event's names the project.
    decoded.add_elements::<PosthogLayout>(items, body, limits, |event, raw| {
        if named {
            return Ok(());
        }
        let token = event
            .write_key
            .as_deref()
            .map(str::to_owned)
            .or_else(|| properties_token(raw));
        if let Some(token) = token {
            named = true;
            key(&token)?;
        }
        Ok(())
    })?;
    Ok(decoded)
}

/// `properties.token` of one event (posthog-js puts the token there too).
fn properties_token(event: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Event<'a> {
        #[serde(borrow)]
        properties: Option<Properties<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Properties<'a> {
        #[serde(borrow)]
        token: Option<std::borrow::Cow<'a, str>>,
    }
    let event: Event<'_> = serde_json::from_slice(event).ok()?;
    Some(event.properties?.token?.into_owned())
}

/// PostHog events (posthog-js, posthog-node): identity in `distinct_id`
/// (top level from posthog-node, in `properties` from posthog-js), page
/// facts as `$`-properties, person properties in `$set`/`$set_once` (top
/// level or in `properties`), the first URL and referrer also in
/// `$set_once.$initial_person_info` (`u`, `r`).
fn semantic_paths(name: &str) -> Option<&'static [&'static str]> {
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

/// A feature-flag request's body as JSON (it comes in every form PostHog's
/// events do: gzip, base64 or lz64 forms, JSON), within `limits`.
pub fn flags_json(
    parts: &http::request::Parts,
    raw: Bytes,
    limits: BodyLimits,
) -> Result<Bytes, IngestError> {
    let gzip = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let body = if gzip {
        gunzip(&raw, limits.max_decompressed)?
    } else {
        raw
    };
    let form = parts.headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    unwrap(body, parts.uri.query(), form, limits)
}

/// The user ids a feature-flag request's JSON names, as consent marks into
/// `body`: `distinct_id` and `$anon_distinct_id`, then `$device_id`.
/// `None` when `body` is not one JSON object, or names an id twice.
pub fn flag_ids(body: &[u8]) -> Option<[Marks; 2]> {
    #[derive(serde::Deserialize)]
    struct Ids<'a> {
        #[serde(borrow, default)]
        distinct_id: Option<&'a RawValue>,
        #[serde(borrow, default, rename = "$anon_distinct_id")]
        anon_distinct_id: Option<&'a RawValue>,
        #[serde(borrow, default, rename = "$device_id")]
        device_id: Option<&'a RawValue>,
    }
    // An object: serde would also read a struct from an array.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    let ids: Ids<'_> = serde_json::from_slice(body).ok()?;
    let span = |raw: Option<&RawValue>| raw.and_then(|r| Span::of(body, r.get().as_bytes()));
    Some([
        Marks {
            user_id: span(ids.distinct_id),
            anonymous_id: span(ids.anon_distinct_id),
            ..Marks::default()
        },
        Marks {
            anonymous_id: span(ids.device_id),
            ..Marks::default()
        },
    ])
}

/// The answer posthog-js and posthog-node read as "no flags for this user",
/// for a feature-flag request that was not relayed: 200 with empty flags.
///
/// Shapes, from the SDKs' parsers (PostHog/posthog-js):
/// - `/flags/?v=2` (posthog-js since it replaced `/decide`, and
///   posthog-node via `@posthog/core`) and `/decide/?v=4`: the v2/v4
///   shape, a `flags` object of flag details.
///   `packages/browser/src/posthog-featureflags.ts`, `parseFlagsResponse`
///   and `normalizeFlagsResponse`, take `flags: {}` as no flags (and
///   `featureFlags` derived from it as `{}`); `packages/core/src/
///   featureFlagUtils.ts`, `normalizeFlagsResponse`, does the same when
///   `'flags' in response`.
/// - `/decide/?v=3` and older (earlier posthog-js and posthog-node): the
///   v1/v3 shape, `featureFlags` and `featureFlagPayloads` maps, read as
///   `featureFlags ?? {}` by the same `normalizeFlagsResponse`.
///
/// `errorsWhileComputingFlags: false` tells both to replace cached flags
/// rather than merge into them.
pub fn no_flags(path: &str, query: Option<&str>) -> Response<Body> {
    let version = query_param(query, "v").and_then(|v| v.parse::<u32>().ok());
    let old_decide = path.starts_with("/decide") && version.is_none_or(|v| v < 4);
    let body = if old_decide {
        r#"{"featureFlags":{},"featureFlagPayloads":{},"errorsWhileComputingFlags":false}"#
    } else {
        r#"{"flags":{},"errorsWhileComputingFlags":false}"#
    };
    crate::tracker_http::json_response(StatusCode::OK, body)
}

/// PostHog's codec.
pub struct Posthog;

impl Codec for Posthog {
    fn protocol(&self) -> Protocol {
        Protocol::Posthog
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Posthog]
    }

    fn route(&self, path: &str) -> Option<Route> {
        is_events_path(path).then_some(Route::Events)
    }

    fn relays(&self, method: &Method, path: &str) -> bool {
        is_passthrough(method, path)
            || (method == Method::OPTIONS && is_passthrough(&Method::POST, path))
    }

    fn relay_key(&self, uri: &http::Uri) -> Option<String> {
        uri.path()
            .strip_prefix("/array/")
            .and_then(|rest| rest.split_once('/'))
            .map(|(token, _)| token.to_owned())
    }

    fn relay_names_user(&self, path: &str) -> bool {
        is_flags(path)
    }

    fn relay_ids(
        &self,
        parts: &Parts,
        raw: Bytes,
        limits: BodyLimits,
    ) -> Option<(Bytes, Vec<Marks>)> {
        let json = flags_json(parts, raw, limits).ok()?;
        let ids = flag_ids(&json)?;
        Some((json, ids.to_vec()))
    }

    fn relay_withheld(&self, uri: &http::Uri) -> Response<Body> {
        no_flags(uri.path(), uri.query())
    }

    /// posthog-node's v1 mode sends the token as `Bearer`.
    fn head_key(&self, _route: Route, parts: &Parts) -> Result<Option<String>, IngestError> {
        let basic = basic_username(&parts.headers)?;
        Ok(match is_v1(parts.uri.path()) {
            true => basic.or_else(|| bearer_token(&parts.headers)),
            false => basic,
        })
    }

    fn read(&self, _route: Route) -> Read {
        Read::Wrapped
    }

    fn unwrap(&self, body: Bytes, parts: &Parts, limits: BodyLimits) -> Result<Bytes, IngestError> {
        let form = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| {
                v.as_bytes()
                    .starts_with(b"application/x-www-form-urlencoded")
            });
        unwrap(body, parts.uri.query(), form, limits)
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
        TopLevel::parse_event_as::<PosthogLayout>(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        semantic_paths(name)
    }

    fn ip_field(&self) -> IpField {
        IpField::Nested {
            container: "properties",
            key: "$ip",
        }
    }

    fn framing(&self, api_key: Option<&str>) -> Framing {
        Framing::keyed_array(api_key, "batch")
    }

    /// posthog-js takes exactly 200 as delivered.
    fn accepted(&self, _route: Route, _events: usize, _input: &Input<'_>) -> Response<Body> {
        crate::tracker_http::json_response(StatusCode::OK, r#"{"status":1}"#)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// What no rule touches is forwarded as sent: each event of a
        /// batch, gzipped or not, decodes to exactly what the SDK wrote.
        #[test]
        fn events_decode_to_what_was_sent(
            events in crate::json::tests::events("event"),
            gzip in any::<bool>(),
        ) {
            let json = serde_json::json!({"api_key": "k", "batch": events}).to_string();
            let body = if gzip {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut gz, json.as_bytes()).unwrap();
                gz.finish().unwrap()
            } else {
                json.into_bytes()
            };
            let body = unwrap(Bytes::from(body), None, false, LIMITS).unwrap();
            let d = decode(&body, Limits::default(), |_: &str| Ok(())).unwrap();
            prop_assert_eq!(d.invalid, 0);
            let decoded: Vec<serde_json::Value> = d
                .events
                .iter()
                .map(|(e, _)| serde_json::from_slice(e).unwrap())
                .collect();
            prop_assert_eq!(decoded, events);
        }
    }

    const LIMITS: BodyLimits = BodyLimits {
        max_body: 1 << 20,
        max_decompressed: 1 << 20,
    };

    /// The events of `body`, and the key it names.
    fn events(body: &str) -> (Decoded, Option<String>) {
        let mut named = None;
        let d = decode(
            &Bytes::from(body.to_owned()),
            Limits::default(),
            |k: &str| {
                assert!(named.replace(k.to_owned()).is_none(), "a second key");
                Ok(())
            },
        )
        .unwrap();
        (d, named)
    }

    #[test]
    fn envelopes_single_events_and_arrays() {
        let (d, key) = events(
            r#"{"api_key":"k","batch":[{"event":"a","properties":{"distinct_id":"u","$device_id":"d"}},{"no":"event"}],"sent_at":"x"}"#,
        );
        assert_eq!(key.as_deref(), Some("k"));
        assert_eq!((d.events.len(), d.invalid), (1, 1));
        let (event, marks) = &d.events[0];
        assert_eq!(marks.user_id.unwrap().get(event), br#""u""#);
        assert_eq!(marks.anonymous_id.unwrap().get(event), br#""d""#);

        let (d, key) = events(r#"{"event":"a","distinct_id":"u","api_key":"k"}"#);
        assert_eq!(key.as_deref(), Some("k"));
        assert_eq!(
            d.events[0].1.user_id.unwrap().get(&d.events[0].0),
            br#""u""#
        );

        // The token of the first event, when no envelope names one.
        let (d, key) = events(
            r#"[{"event":"a","properties":{"token":"t"},"x":1},{"event":"b","properties":{"token":"u"}}]"#,
        );
        assert_eq!(key.as_deref(), Some("t"));
        assert_eq!(d.events.len(), 2);
    }

    #[test]
    fn top_level_arrays_are_bounded_as_they_are_read_and_keys_come_first() {
        let limits = Limits {
            max_batch: 3,
            ..Limits::default()
        };
        let run = |body: &'static str| {
            decode(&Bytes::from_static(body.as_bytes()), limits, |_: &str| {
                Ok(())
            })
        };
        assert_eq!(
            run(r#"[{"event":"a"},{"event":"b"},7]"#).unwrap().invalid,
            1
        );
        // Refused at the fourth element; what follows is never read.
        for body in ["[1,2,3,4]", "[1,2,3,4,oops"] {
            assert!(
                matches!(run(body), Err(IngestError::TooManyEvents(3))),
                "{body}"
            );
        }
        // An unknown token is refused before the events are read: 401, not
        // the 413 they would earn.
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let body =
            Bytes::from_static(br#"{"api_key":"k","batch":[{"event":"a","properties":{}}]}"#);
        assert!(matches!(
            decode(&body, small, |_: &str| Ok(())),
            Err(IngestError::TooLarge(10))
        ));
        assert!(matches!(
            decode(&body, small, |_: &str| Err(IngestError::BadWriteKey)),
            Err(IngestError::BadWriteKey)
        ));
    }

    #[test]
    fn every_body_form_unwraps_to_the_same_json() {
        let json = r#"{"api_key":"k","batch":[{"event":"a"}]}"#;
        let unwrapped = |body: Vec<u8>, query: Option<&str>, form: bool| {
            unwrap(Bytes::from(body), query, form, LIMITS).unwrap()
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, json.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        let form = |data: &str| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("data", data)
                .finish()
                .into_bytes()
        };
        for body in [
            unwrapped(json.into(), None, false),
            unwrapped(gz.clone(), None, false),
            unwrapped(gz, Some("compression=gzip-js"), false),
            unwrapped(form(&b64), Some("compression=base64"), true),
            unwrapped(form(json), None, true),
            unwrapped(
                form(&lz_str::compress_to_base64(json)),
                Some("compression=lz64"),
                true,
            ),
        ] {
            assert_eq!(&body[..], json.as_bytes());
        }
    }

    #[test]
    fn bad_bodies_are_errors() {
        assert!(unwrap(Bytes::from_static(b"data=%%%"), None, true, LIMITS).is_err());
        assert!(unwrap(Bytes::from_static(b"x=1"), None, true, LIMITS).is_err());
        assert!(unwrap(Bytes::from_static(b"\x1f\x8bjunk"), None, false, LIMITS).is_err());
        for body in ["{}", "7", r#"{"batch":3}"#] {
            assert!(
                decode(&Bytes::from(body), Limits::default(), |_: &str| Ok(())).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn paths() {
        for events in [
            "/e/",
            "/i/v0/e/",
            "/batch/",
            "/capture/",
            "/i/v1/analytics/events",
        ] {
            assert!(is_events_path(events), "{events}");
        }
        assert!(!is_events_path("/batch"), "Amplitude's");
        assert!(is_passthrough(&Method::GET, "/array/phc_x/config.js"));
        assert!(is_passthrough(&Method::POST, "/flags/"));
        assert!(is_passthrough(&Method::GET, "/static/1.2/surveys.js"));
        assert!(!is_passthrough(&Method::POST, "/static/x.js"));
        assert!(
            !is_passthrough(&Method::POST, "/s/"),
            "no session recordings"
        );
    }
}
