//! The generic JSON source: `POST /collect` with one JSON object, an array of
//! objects, or NDJSON (one object per line). Elements that are not objects
//! are skipped and counted; the rest are accepted.

use super::{Codec, Decoded, Framing, Input, IpField, KeySink, Protocol, Route, Stamp};
use crate::json::Limits;
use crate::json::Refused;
use crate::json::{check_utf8, detach, finish_event, Fill, TopLevel};
use crate::tracker_http::error::IngestError;
use bytes::Bytes;
use http::request::Parts;
use serde_json::value::RawValue;

/// The path of the generic source.
pub const PATH: &str = "/collect";

/// Decodes a `/collect` body. The batch bound is checked as elements are
/// read: the first one beyond `max_batch` refuses the request.
pub fn decode(body: &Bytes, stamp: &Stamp<'_>, limits: Limits) -> Result<Decoded, IngestError> {
    check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let items: Vec<&str> = match first {
        Some(b'[') => TopLevel::array(body, limits)?,
        Some(b'{') => {
            let mut items = Vec::new();
            for item in serde_json::Deserializer::from_slice(body).into_iter::<&RawValue>() {
                if items.len() == limits.max_batch {
                    return Err(IngestError::TooManyEvents(limits.max_batch));
                }
                items.push(item.map_err(|e| IngestError::InvalidJson(e.into()))?.get());
            }
            items
        }
        _ => {
            return Err(IngestError::InvalidShape(
                "expected a JSON object, an array of objects, or NDJSON",
            ))
        }
    };
    let mut decoded = Decoded::new(limits);
    decoded.events.reserve(items.len());
    for item in items {
        let raw = body.slice_ref(item.as_bytes());
        match TopLevel::parse_event(&raw, limits) {
            Ok(top) => {
                let id;
                let fill = Fill {
                    event_type: None,
                    message_id: if top.has_message_id {
                        None
                    } else {
                        id = format!("privgate-{}", uuid::Uuid::new_v4());
                        Some(id.as_str())
                    },
                    received_at: (!top.has_received_at).then_some(stamp.received_at),
                };
                let event = finish_event(raw.clone(), top.keys, &fill);
                decoded.push(detach(event, body), top.marks)?;
            }
            Err(_) => decoded.invalid += 1,
        }
    }
    Ok(decoded)
}

/// The generic JSON source's codec. Its events take Segment's names.
pub struct Json;

impl Codec for Json {
    fn protocol(&self) -> Protocol {
        Protocol::Json
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Json]
    }

    fn route(&self, path: &str) -> Option<Route> {
        (path == PATH).then_some(Route::Events)
    }

    /// Clients that cannot set headers put the key in the query.
    fn head_key(&self, _route: Route, parts: &Parts) -> Result<Option<String>, IngestError> {
        Ok(super::basic_username(&parts.headers)?
            .or_else(|| super::query_param(parts.uri.query(), "writeKey")))
    }

    fn body_names_key(&self) -> bool {
        false
    }

    fn decode(
        &self,
        _route: Route,
        input: &Input<'_>,
        _key: KeySink<'_>,
    ) -> Result<Decoded, IngestError> {
        let received_at = &input.stamp();
        decode(input.payload, &Stamp { received_at }, input.limits)
    }

    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        TopLevel::parse_event(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        super::segment::Segment.semantic_paths(name)
    }

    fn ip_field(&self) -> IpField {
        super::segment::Segment.ip_field()
    }

    /// NDJSON: one event per line.
    fn framing(&self, _api_key: Option<&str>) -> Framing {
        Framing::lines(b"", b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: Stamp<'static> = Stamp {
        received_at: "2026-11-24T12:00:00.000Z",
    };

    fn count(body: &'static [u8]) -> (usize, usize) {
        let d = decode(&Bytes::from_static(body), &STAMP, Limits::default()).unwrap();
        (d.events.len(), d.invalid)
    }

    #[test]
    fn object_array_and_ndjson() {
        assert_eq!(count(br#"{"a":1}"#), (1, 0));
        assert_eq!(count(br#" [{"a":1},{"b":2},3]"#), (2, 1));
        assert_eq!(count(b"{\"a\":1}\n{\"b\":2}\n\n{\"c\":3}\n"), (3, 0));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(
            &Bytes::from_static(b"{\"a\":1}\n{oops"),
            &STAMP,
            Limits::default()
        )
        .is_err());
        assert!(decode(&Bytes::from_static(b"42"), &STAMP, Limits::default()).is_err());
        assert!(decode(&Bytes::from_static(b""), &STAMP, Limits::default()).is_err());
    }

    #[test]
    fn the_batch_bound_holds_for_arrays_and_ndjson_alike() {
        let limits = Limits {
            max_batch: 3,
            ..Limits::default()
        };
        let run = |body: &str| decode(&Bytes::from(body.to_owned()), &STAMP, limits);
        assert_eq!(run("[{},{},{}]").unwrap().events.len(), 3);
        assert_eq!(run("{}\n{}\n{}\n").unwrap().events.len(), 3);
        // Refused at the fourth element: what follows is never read, so
        // garbage there changes nothing.
        for body in [
            "[{},{},{},{}]",
            "[1,2,3,4,oops",
            "{}\n{}\n{}\n{}",
            "{}{}{}{} oops",
        ] {
            assert!(
                matches!(run(body), Err(IngestError::TooManyEvents(3))),
                "{body}"
            );
        }
        // Fills count against the events' budget.
        let small = Limits {
            max_bytes: 150,
            ..Limits::default()
        };
        let body = Bytes::from_static(b"{}\n{}");
        assert!(decode(&body, &STAMP, small).is_err());
        let filled = Limits {
            max_bytes: 300,
            ..Limits::default()
        };
        assert_eq!(decode(&body, &STAMP, filled).unwrap().events.len(), 2);
    }
}
