//! The raw-byte edits ingest makes to a scanned event: filling `messageId`,
//! `type` and `receivedAt` when missing, folding line breaks so the event
//! fits on one NDJSON line, and detaching a small event from a large body.

use bytes::{BufMut, Bytes, BytesMut};

/// Fields to add to an event that lacks them.
#[derive(Debug, Default)]
pub struct Fill<'a> {
    /// `"type": ...` (the endpoint's event type).
    pub event_type: Option<&'a str>,
    /// `"messageId": ...`.
    pub message_id: Option<&'a str>,
    /// `"receivedAt": ...`.
    pub received_at: Option<&'a str>,
}

impl Fill<'_> {
    fn is_empty(&self) -> bool {
        self.event_type.is_none() && self.message_id.is_none() && self.received_at.is_none()
    }
}

/// What a finished event's buffer holds beyond its bytes: room for the
/// fields `fill` adds and the client's address ingest writes next, so
/// that writing it moves the event's tail rather than copying it.
pub const ROOM: usize = 96;

/// Returns the event as it will be forwarded: `object` (one validated JSON
/// object, `keys` keys at its top level) with `fill` appended before its
/// closing brace and CR/LF folded to spaces. Inside valid JSON, CR and LF can
/// only be insignificant whitespace, so folding them changes no value. When
/// there is nothing to change, the input is returned without copying.
pub fn finish_event(object: Bytes, keys: usize, fill: &Fill<'_>) -> Bytes {
    let has_newlines = memchr::memchr2(b'\n', b'\r', &object).is_some();
    if fill.is_empty() && !has_newlines {
        return object;
    }
    let close = memchr::memrchr(b'}', &object).expect("a validated object ends with }");
    let mut out = BytesMut::with_capacity(object.len() + ROOM);
    out.put_slice(&object[..close]);
    let mut first = keys == 0;
    let mut field = |out: &mut BytesMut, name: &str, value: &str| {
        if !first {
            out.put_u8(b',');
        }
        first = false;
        out.put_u8(b'"');
        out.put_slice(name.as_bytes());
        out.put_slice(b"\":\"");
        // Values we add are ids, types and timestamps: no escaping needed.
        debug_assert!(!value.contains(['"', '\\']));
        out.put_slice(value.as_bytes());
        out.put_u8(b'"');
    };
    if let Some(t) = fill.event_type {
        field(&mut out, "type", t);
    }
    if let Some(id) = fill.message_id {
        field(&mut out, "messageId", id);
    }
    if let Some(at) = fill.received_at {
        field(&mut out, "receivedAt", at);
    }
    out.put_slice(&object[close..]);
    if has_newlines {
        for b in out.iter_mut() {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
    out.freeze()
}

/// An event queued for a while must not keep its whole request body alive:
/// a small event sliced out of a large body is copied out of it.
pub fn detach(event: Bytes, body: &Bytes) -> Bytes {
    let start = body.as_ptr() as usize;
    let at = event.as_ptr() as usize;
    let shares_body = at >= start && at < start + body.len();
    if shares_body && event.len() * 2 < body.len() {
        Bytes::copy_from_slice(&event)
    } else {
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_missing_fields_in_place() {
        let fill = Fill {
            event_type: Some("track"),
            message_id: Some("id-1"),
            received_at: None,
        };
        let out = finish_event(Bytes::from_static(b"{\"a\":1}\n"), 1, &fill);
        assert_eq!(&out[..], br#"{"a":1,"type":"track","messageId":"id-1"} "#);
        let empty = finish_event(Bytes::from_static(b"{ }"), 0, &fill);
        assert_eq!(&empty[..], br#"{ "type":"track","messageId":"id-1"}"#);
    }

    #[test]
    fn unchanged_events_are_not_copied() {
        let input = Bytes::from_static(br#"{"a":"b"}"#);
        let out = finish_event(input.clone(), 1, &Fill::default());
        assert_eq!(out.as_ptr(), input.as_ptr());
    }

    #[test]
    fn small_events_are_detached_from_large_bodies() {
        let body = Bytes::from(format!(
            "{{\"batch\":[{{\"a\":1}}],\"pad\":\"{}\"}}",
            "x".repeat(100)
        ));
        let event = body.slice(10..17);
        let detached = detach(event.clone(), &body);
        assert_eq!(detached, event);
        assert_ne!(detached.as_ptr(), event.as_ptr());
        // The whole body, or an event that is most of it, stays shared.
        assert_eq!(detach(body.clone(), &body).as_ptr(), body.as_ptr());
        let copied = Bytes::copy_from_slice(b"{}");
        assert_eq!(detach(copied.clone(), &body).as_ptr(), copied.as_ptr());
    }
}
