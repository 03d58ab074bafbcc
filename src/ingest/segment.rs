//! The Segment HTTP Tracking API, as analytics.js, analytics-node and the
//! RudderStack SDKs speak it: `POST /v1/{track,identify,page,screen,group,
//! alias,batch}` and the one-letter aliases analytics.js uses (`/v1/t`, ...).
//!
//! A single-event endpoint takes one event object; the batch endpoint takes
//! `{"batch":[...], "writeKey": ...}`. The write key comes from HTTP Basic
//! auth (the username) or `writeKey` in the body.

use super::bounds::Limits;
use super::error::IngestError;
use super::object::{check_utf8, detach, finish_event, Fill, Layout, TopLevel};
use crate::event::Marks;
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

/// Events decoded from one request.
#[derive(Debug, Default)]
pub struct Decoded {
    /// `writeKey` from the body (the envelope's, or the single event's).
    pub write_key: Option<String>,
    /// Keys the events name themselves (Snowplow: every distinct `aid`):
    /// each must be a key of the source the request is accepted for.
    pub event_keys: Vec<String>,
    /// The events, each one JSON object ready to forward, with where its
    /// consent inputs are.
    pub events: Vec<(Bytes, Marks)>,
    /// Batch elements that were not valid events (skipped, counted).
    pub invalid: usize,
    /// The client asked that no identifier or address of it be recorded
    /// (Snowplow's `SP-Anonymous`): no client address is added.
    pub anonymous: bool,
}

impl Decoded {
    /// Adds the elements of a batch array of `body`: each an `L` event
    /// (an object with a type) as it was sent, or counted invalid. `seen` is
    /// shown each event added, with its scan, for what a protocol reads more.
    pub fn add_elements<L: Layout>(
        &mut self,
        items: Vec<&serde_json::value::RawValue>,
        body: &Bytes,
        limits: Limits,
        mut seen: impl FnMut(&mut Decoded, &TopLevel<'_>, &Bytes),
    ) {
        self.events.reserve(items.len());
        for item in items {
            let raw = body.slice_ref(item.get().as_bytes());
            match TopLevel::parse_event_as::<L>(&raw, limits) {
                Ok(event) if event.has_type => {
                    seen(self, &event, &raw);
                    let marks = event.marks;
                    self.events.push((detach(raw, body), marks));
                }
                _ => self.invalid += 1,
            }
        }
    }
}

/// Generated values an event may need.
pub struct Stamp<'a> {
    /// `receivedAt`, RFC 3339 with milliseconds.
    pub received_at: &'a str,
}

/// Decodes a Segment request body for `route`.
pub fn decode(
    route: Route,
    body: &Bytes,
    stamp: &Stamp<'_>,
    limits: Limits,
) -> Result<Decoded, IngestError> {
    check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
    let top = TopLevel::parse(body, limits)?;
    let mut decoded = Decoded {
        write_key: top.write_key.as_deref().map(str::to_owned),
        ..Decoded::default()
    };
    match route {
        Route::Single(event_type) => {
            let event = finish(body.clone(), &top, Some(event_type), stamp);
            decoded.events.push((event, top.marks));
        }
        Route::Batch => {
            let Some(items) = top.batch else {
                return Err(IngestError::InvalidShape(
                    "`batch` must be an array of event objects",
                ));
            };
            decoded.events.reserve(items.len());
            for item in items {
                let raw = body.slice_ref(item.get().as_bytes());
                match TopLevel::parse_event(&raw, limits) {
                    // Every event in a batch names its own type.
                    Ok(event_top) if event_top.has_type => {
                        let event = finish(raw.clone(), &event_top, None, stamp);
                        decoded.events.push((detach(event, body), event_top.marks));
                    }
                    _ => decoded.invalid += 1,
                }
            }
        }
    }
    Ok(decoded)
}

fn finish(raw: Bytes, top: &TopLevel<'_>, event_type: Option<&str>, stamp: &Stamp<'_>) -> Bytes {
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

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: Stamp<'static> = Stamp {
        received_at: "2026-11-24T12:00:00.000Z",
    };

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
        let d = decode(Route::Single("track"), &body, &STAMP, Limits::default()).unwrap();
        assert_eq!(d.write_key.as_deref(), Some("k"));
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
        let d = decode(Route::Batch, &body, &STAMP, Limits::default()).unwrap();
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
            assert!(decode(
                route,
                &Bytes::copy_from_slice(body),
                &STAMP,
                Limits::default()
            )
            .is_err());
        }
    }
}
