//! The generic JSON source: `POST /collect` with one JSON object, an array of
//! objects, or NDJSON (one object per line). Elements that are not objects
//! are skipped and counted; the rest are accepted.

use super::bounds::Limits;
use super::error::IngestError;
use super::object::{check_utf8, detach, finish_event, Fill, TopLevel};
use super::segment::{Decoded, Stamp};
use bytes::Bytes;
use serde_json::value::RawValue;

/// The path of the generic source.
pub const PATH: &str = "/collect";

/// Decodes a `/collect` body.
pub fn decode(body: &Bytes, stamp: &Stamp<'_>, limits: Limits) -> Result<Decoded, IngestError> {
    check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let items: Vec<&RawValue> = match first {
        Some(b'[') => {
            serde_json::from_slice(body).map_err(|e| IngestError::InvalidJson(e.into()))?
        }
        Some(b'{') => serde_json::Deserializer::from_slice(body)
            .into_iter::<&RawValue>()
            .collect::<Result<_, _>>()
            .map_err(|e| IngestError::InvalidJson(e.into()))?,
        _ => {
            return Err(IngestError::InvalidShape(
                "expected a JSON object, an array of objects, or NDJSON",
            ))
        }
    };
    if items.len() > limits.max_batch {
        return Err(IngestError::TooManyEvents(limits.max_batch));
    }
    let mut decoded = Decoded::default();
    decoded.events.reserve(items.len());
    for item in items {
        let raw = body.slice_ref(item.get().as_bytes());
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
                decoded.events.push((detach(event, body), top.marks));
            }
            Err(_) => decoded.invalid += 1,
        }
    }
    Ok(decoded)
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
}
