//! The Segment HTTP Tracking API, as analytics.js, analytics-node and the
//! RudderStack SDKs speak it: `POST /v1/{track,identify,page,screen,group,
//! alias,batch}` and the one-letter aliases analytics.js uses (`/v1/t`, ...).
//!
//! A single-event endpoint takes one event object; the batch endpoint takes
//! `{"batch":[...], "writeKey": ...}`. The write key comes from HTTP Basic
//! auth (the username) or `writeKey` in the body.

use super::{
    Codec, Decoded, Framing, Input, IpField, KeySink, Protocol, Route as CodecRoute, Stamp,
};
use crate::json::Limits;
use crate::json::{check_utf8, detach, finish_event, Fill, Refused, TopLevel};
use crate::tracker_http::error::IngestError;
use bytes::Bytes;

/// What a Segment path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// One event of this type.
    Single(&'static str),
    /// `{"batch":[...]}`.
    Batch,
}

/// Maps a path to its route, if it is a Segment event endpoint.
pub fn route(path: &str) -> Option<Route> {
    let name = path.strip_prefix("/v1/")?;
    let name = name.strip_suffix('/').unwrap_or(name);
    Some(match name {
        "track" | "t" => Route::Single("track"),
        "identify" | "i" => Route::Single("identify"),
        "page" | "p" => Route::Single("page"),
        "screen" | "s" => Route::Single("screen"),
        "group" | "g" => Route::Single("group"),
        "alias" | "a" => Route::Single("alias"),
        "batch" | "b" | "import" => Route::Batch,
        _ => return None,
    })
}

/// Whether `path` is a request the SDK makes that is not an event and that
/// goes to the source's `upstream` unchanged.
pub fn is_passthrough(method: &http::Method, path: &str) -> bool {
    let settings = path
        .strip_prefix("/v1/projects/")
        .and_then(|rest| rest.strip_suffix("/settings"))
        .is_some_and(|key| !key.is_empty() && !key.contains('/'));
    (method == http::Method::GET && settings) || (method == http::Method::POST && path == "/v1/m")
}

/// The write key named in a settings path.
pub fn settings_write_key(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/projects/")?
        .strip_suffix("/settings")
}

/// Decodes a Segment request body for `route`; a `writeKey` in it goes to
/// `key` before any event is read (see [`Decoded`]).
///
/// A batch's envelope is read first (its key asked), then each element.
pub fn decode(
    route: Route,
    body: &Bytes,
    stamp: &Stamp<'_>,
    limits: Limits,
    mut key: impl FnMut(&str) -> Result<(), IngestError>,
) -> Result<Decoded, IngestError> {
    check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
    let top = TopLevel::parse(body, limits)?;
    if let Some(write_key) = top.write_key.as_deref() {
        key(write_key)?;
    }
    let mut decoded = Decoded::new(limits);
    match route {
        Route::Single(event_type) => {
            let event = finish(body.clone(), Facts::of(&top), Some(event_type), stamp);
            decoded.push(event, top.marks)?;
        }
        Route::Batch => {
            let Some(items) = top.batch else {
                return Err(IngestError::InvalidShape(
                    "`batch` must be an array of event objects",
                ));
            };
            decoded.events.reserve(items.len());
            for item in items {
                let raw = body.slice_ref(item.as_bytes());
                match TopLevel::parse_event(&raw, limits) {
                    // Every event in a batch names its own type.
                    Ok(event_top) if event_top.has_type => {
                        let event = finish(raw.clone(), Facts::of(&event_top), None, stamp);
                        decoded.push(detach(event, body), event_top.marks)?;
                    }
                    _ => decoded.invalid += 1,
                }
            }
        }
    }
    Ok(decoded)
}

/// [`decode`] for a request whose key came in its head, so that no key
/// its body names is asked: the same answer, but a batch is read in one
/// pass when that can vouch for it (its elements are scanned as the
/// envelope is, which [`decode`] does only once the envelope's key is
/// checked, so that a request naming no source's key costs no
/// per-element work).
pub fn decode_keyed_by_head(
    route: Route,
    body: &Bytes,
    stamp: &Stamp<'_>,
    limits: Limits,
) -> Result<Decoded, IngestError> {
    if route == Route::Batch {
        if let Some(decoded) = batch_in_one_pass(body, stamp, limits)? {
            return Ok(decoded);
        }
    }
    decode(route, body, stamp, limits, |_: &str| Ok(()))
}

/// The batch route read in one pass ([`TopLevel::parse_batch`]), when that
/// can vouch for the answer (`None` otherwise): what [`decode`] gives (the
/// same events, marks and invalid elements). Each event is finished and
/// added as it is read, counted against the budget as [`decode`] counts
/// it; no list of them is kept on the side, which the budget would not
/// count.
fn batch_in_one_pass(
    body: &Bytes,
    stamp: &Stamp<'_>,
    limits: Limits,
) -> Result<Option<Decoded>, IngestError> {
    let mut decoded = Decoded::new(limits);
    // The first event the budget refused: the answer, once the pass vouches.
    let mut refused = None;
    let top = TopLevel::parse_batch(body, limits, &mut |raw, event| match event {
        // Every event in a batch names its own type.
        Some(event) if event.has_type => {
            if refused.is_none() {
                let raw = body.slice_ref(raw.as_bytes());
                let finished = finish(raw, Facts::of(&event), None, stamp);
                if let Err(e) = decoded.push(detach(finished, body), event.marks) {
                    refused = Some(e);
                }
            }
        }
        _ => decoded.invalid += 1,
    });
    if top.is_none() {
        return Ok(None);
    }
    match refused {
        Some(e) => Err(e),
        None => Ok(Some(decoded)),
    }
}

/// What [`finish`] needs to know of an event's scan.
#[derive(Clone, Copy)]
struct Facts {
    keys: usize,
    has_type: bool,
    has_message_id: bool,
    has_received_at: bool,
}

impl Facts {
    fn of(top: &TopLevel<'_>) -> Facts {
        Facts {
            keys: top.keys,
            has_type: top.has_type,
            has_message_id: top.has_message_id,
            has_received_at: top.has_received_at,
        }
    }
}

fn finish(raw: Bytes, top: Facts, event_type: Option<&str>, stamp: &Stamp<'_>) -> Bytes {
    let id;
    let fill = Fill {
        event_type: if top.has_type { None } else { event_type },
        message_id: if top.has_message_id {
            None
        } else {
            id = format!("privgate-{}", uuid::Uuid::new_v4());
            Some(id.as_str())
        },
        received_at: (!top.has_received_at).then_some(stamp.received_at),
    };
    finish_event(raw, top.keys, &fill)
}

fn semantic_paths(name: &str) -> Option<&'static [&'static str]> {
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

/// The Segment API's codec. Its endpoints serve RudderStack's sources too.
pub struct Segment;

impl Codec for Segment {
    fn protocol(&self) -> Protocol {
        Protocol::Segment
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Segment, Protocol::Rudderstack]
    }

    fn route(&self, path: &str) -> Option<CodecRoute> {
        route(path).map(CodecRoute::Segment)
    }

    fn relays(&self, method: &http::Method, path: &str) -> bool {
        is_passthrough(method, path)
            || (method == http::Method::OPTIONS && settings_write_key(path).is_some())
    }

    fn relay_key(&self, uri: &http::Uri) -> Option<String> {
        settings_write_key(uri.path()).map(str::to_owned)
    }

    fn decode(
        &self,
        route: CodecRoute,
        input: &Input<'_>,
        key: KeySink<'_>,
    ) -> Result<Decoded, IngestError> {
        let CodecRoute::Segment(route) = route else {
            return Err(IngestError::NotFound);
        };
        let received_at = &input.stamp();
        let stamp = &Stamp { received_at };
        match input.key_from_head {
            true => decode_keyed_by_head(route, input.payload, stamp, input.limits),
            false => decode(route, input.payload, stamp, input.limits, key),
        }
    }

    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        TopLevel::parse_event(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        semantic_paths(name)
    }

    fn ip_field(&self) -> IpField {
        IpField::Nested {
            container: "context",
            key: "ip",
        }
    }

    fn framing(&self, _api_key: Option<&str>) -> Framing {
        Framing::array(Bytes::from_static(b"{\"batch\":["))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Marks;

    const STAMP: Stamp<'static> = Stamp {
        received_at: "2026-11-24T12:00:00.000Z",
    };

    /// Decodes, noting the keys the body names.
    fn decode_keyed(
        route: Route,
        body: &Bytes,
        limits: Limits,
    ) -> (Result<Decoded, IngestError>, Vec<String>) {
        let mut keys = Vec::new();
        let decoded = decode(route, body, &STAMP, limits, |k: &str| {
            keys.push(k.to_owned());
            Ok(())
        });
        (decoded, keys)
    }

    #[test]
    fn routes_cover_long_and_short_names() {
        assert_eq!(route("/v1/t"), Some(Route::Single("track")));
        assert_eq!(route("/v1/track"), Some(Route::Single("track")));
        assert_eq!(route("/v1/b"), Some(Route::Batch));
        assert_eq!(route("/v1/batch/"), Some(Route::Batch));
        assert_eq!(route("/v1/x"), None);
        assert_eq!(route("/v2/track"), None);
    }

    #[test]
    fn passthrough_paths() {
        assert!(is_passthrough(
            &http::Method::GET,
            "/v1/projects/abc/settings"
        ));
        assert!(!is_passthrough(
            &http::Method::GET,
            "/v1/projects//settings"
        ));
        assert!(!is_passthrough(
            &http::Method::GET,
            "/v1/projects/a/b/settings"
        ));
        assert!(!is_passthrough(
            &http::Method::POST,
            "/v1/projects/abc/settings"
        ));
    }

    #[test]
    fn single_events_get_type_id_and_received_at() {
        let body = Bytes::from_static(br#"{"event":"x","writeKey":"k"}"#);
        let (d, keys) = decode_keyed(Route::Single("track"), &body, Limits::default());
        let d = d.unwrap();
        assert_eq!(keys, ["k"]);
        let v: serde_json::Value = serde_json::from_slice(&d.events[0].0).unwrap();
        assert_eq!(v["type"], "track");
        assert!(v["messageId"].as_str().unwrap().starts_with("privgate-"));
        assert_eq!(v["receivedAt"], STAMP.received_at);
    }

    #[test]
    fn a_bad_element_does_not_take_down_the_batch() {
        let body = Bytes::from_static(
            br#"{"batch":[{"type":"track","messageId":"a","receivedAt":"r"},7,{"event":"no type"},{"type":"page"}],"writeKey":"k"}"#,
        );
        let d = decode_keyed(Route::Batch, &body, Limits::default())
            .0
            .unwrap();
        assert_eq!(d.invalid, 2);
        assert_eq!(d.events.len(), 2);
        // An element with nothing to fill is forwarded byte for byte.
        assert_eq!(
            &d.events[0].0[..],
            br#"{"type":"track","messageId":"a","receivedAt":"r"}"#
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        for body in [
            &b"{"[..],
            b"[]",
            b"{\"batch\":1}",
            b"\xff",
            b"{\"a\":\"\xff\"}",
        ] {
            let route = if body == b"[]" {
                Route::Single("track")
            } else {
                Route::Batch
            };
            let body = Bytes::copy_from_slice(body);
            assert!(decode_keyed(route, &body, Limits::default()).0.is_err());
        }
    }

    #[test]
    fn what_fills_add_counts_against_the_budget_and_keys_come_first() {
        // 100 events of 17 bytes, each filled with a messageId and
        // receivedAt (about 100 bytes more).
        let body = Bytes::from(format!(
            r#"{{"writeKey":"k","batch":[{}]}}"#,
            vec![r#"{"type":"track"}"#; 100].join(",")
        ));
        let limits = |max_bytes| Limits {
            max_bytes,
            ..Limits::default()
        };
        let (d, _) = decode_keyed(Route::Batch, &body, limits(20_000));
        let d = d.unwrap();
        assert_eq!(d.events.len(), 100);
        assert_eq!(
            d.bytes(),
            d.events.iter().map(|(e, _)| e.len()).sum::<usize>()
        );
        assert!(d.bytes() > 100 * 100);
        assert!(matches!(
            decode_keyed(Route::Batch, &body, limits(5_000)).0,
            Err(IngestError::TooLarge(5_000))
        ));
        // An unknown key stops the request before its events are read:
        // 401, not the 413 they would earn.
        let refused = decode(Route::Batch, &body, &STAMP, limits(5_000), |_: &str| {
            Err(IngestError::BadWriteKey)
        });
        assert!(matches!(refused, Err(IngestError::BadWriteKey)));
        // Keyed by the head, read in one pass: the same budget.
        let one = |max| decode_keyed_by_head(Route::Batch, &body, &STAMP, limits(max));
        assert_eq!(one(20_000).unwrap().bytes(), d.bytes());
        assert!(matches!(one(5_000), Err(IngestError::TooLarge(5_000))));
    }

    /// A decode as compared: its events (generated ids zeroed) and marks,
    /// and its invalid count; or its error's code.
    type Compared = Result<(Vec<(Vec<u8>, Marks)>, usize), &'static str>;

    /// What one pass gives, and what two passes do, for `body`.
    fn both_ways(body: &Bytes) -> [Compared; 2] {
        let zeroed = |d: Decoded| {
            let events = d.events.iter().map(|(e, m)| {
                let text = String::from_utf8(e.to_vec()).unwrap();
                let id = "\"messageId\":\"privgate-";
                let cut = text.find(id).map_or(text.len(), |at| at + id.len());
                let mut text = text.into_bytes();
                let end = (cut + 36).min(text.len());
                text[cut..end].fill(b'0');
                (text, *m)
            });
            (events.collect(), d.invalid)
        };
        let limits = Limits::default();
        [
            decode_keyed_by_head(Route::Batch, body, &STAMP, limits),
            decode(Route::Batch, body, &STAMP, limits, |_: &str| Ok(())),
        ]
        .map(|d| d.map(zeroed).map_err(|e| e.code()))
    }

    #[test]
    fn one_pass_over_a_batch_decodes_as_two_do() {
        let event = std::str::from_utf8(include_bytes!("../../load-tests/event.json")).unwrap();
        for body in [
            format!(r#"{{"batch":[{event}, 7,{{"event":"no type"}},{event}],"writeKey":"k"}}"#),
            format!(r#"{{"writeKey":"k","context":{{"ip":1}},"batch":[ {event} ] }}"#),
            r#"{"batch":[{"type":"t","messageId":"a","receivedAt":"r"}],"sentAt":1}"#.into(),
            r#"{"batch":[]}"#.into(),
            // Decided by two passes: a repeated or missing batch, an
            // element the fast scan does not vouch for, no JSON.
            r#"{"batch":[{"type":"t"}],"batch":[{"type":"u"}]}"#.into(),
            r#"{"batch":[{"type":"t","n":1e400},{"type":"u"}]}"#.into(),
            r#"{"batch":[{"type":"t","s":"\ud800"}]}"#.into(),
            r#"{"batch":"x"}"#.into(),
            r#"{"writeKey":"k"}"#.into(),
            r#"{"batch":[{"type":"t"}"#.into(),
        ] {
            let [one, two] = both_ways(&Bytes::from(body.clone()));
            assert_eq!(one, two, "{body}");
        }
    }

    proptest::proptest! {
        /// Any batch of events and other elements, written compactly or
        /// not: one pass and two give the same events, marks and count.
        #[test]
        fn one_pass_agrees_with_two(
            events in crate::json::tests::events("type"),
            others in proptest::collection::vec(crate::json::tests::json_value(), 0..3),
            pretty in proptest::prelude::any::<bool>(),
        ) {
            let mut items = events;
            items.extend(others);
            let body = serde_json::json!({"sentAt": "now", "batch": items, "writeKey": "k"});
            let body = match pretty {
                true => serde_json::to_string_pretty(&body).unwrap(),
                false => body.to_string(),
            };
            let [one, two] = both_ways(&Bytes::from(body.clone()));
            proptest::prop_assert!(two.is_ok(), "{}", body);
            proptest::prop_assert_eq!(one, two, "{}", body);
        }
    }
}
