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
        self.fields().next().is_none()
    }

    /// The fields in the order they are written, with their names.
    fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("type", self.event_type),
            ("messageId", self.message_id),
            ("receivedAt", self.received_at),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// The bytes the fields take: `,"name":"value"` each, without the
    /// first comma in an object that has no keys.
    fn len(&self, keys: usize) -> usize {
        let all: usize = (self.fields())
            .map(|(name, value)| name.len() + value.len() + 6)
            .sum();
        all.saturating_sub(usize::from(keys == 0))
    }
}

/// What a finished event's buffer holds beyond its bytes: room for the
/// client's address that ingest writes next (`"context":{"ip":"…"},` with
/// a full IPv6 address takes 59 bytes, PostHog's `$ip` 63), so that
/// writing it moves the event's tail rather than copying the event.
pub(crate) const ROOM: usize = 64;

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
    // Sized once: the fields, then the room for the address. Growing
    // would double the buffer, beyond what the budget counts.
    let mut out = BytesMut::with_capacity(object.len() + fill.len(keys) + ROOM);
    out.put_slice(&object[..close]);
    let mut first = keys == 0;
    for (name, value) in fill.fields() {
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

/// [`detach`]'s rule for a buffer an event owns: one more than twice as
/// large as what it holds (made for the input, which the event is now a
/// small part of) is shrunk to it, since a queue or a spool's tail counts
/// the event's bytes, not its buffer's.
pub fn fit<T>(buf: &mut Vec<T>) {
    if buf.capacity() > 2 * buf.len() {
        buf.shrink_to_fit();
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

    /// Every field filled, with the longest values ingest writes: the
    /// buffer is sized once, and keeps exactly [`ROOM`] for the address.
    #[test]
    fn a_finished_event_keeps_exactly_the_room_for_the_address() {
        let id = format!("privgate-{}", uuid::Uuid::nil());
        let fill = Fill {
            event_type: Some("screen"),
            message_id: Some(&id),
            received_at: Some("2026-12-07T03:30:00.000Z"),
        };
        for (object, keys) in [(&b"{\"a\":1}"[..], 1), (b"{}", 0), (b"{\r\n\"a\":1\n}", 1)] {
            let out = finish_event(Bytes::copy_from_slice(object), keys, &fill);
            let len = out.len();
            let out = out.try_into_mut().expect("the only handle");
            assert_eq!(
                out.capacity() - len,
                ROOM,
                "{:?}",
                String::from_utf8_lossy(&out)
            );
        }
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
