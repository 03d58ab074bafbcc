//! The end user's IP address: who the client is, and what of its address
//! events carry on.
//!
//! Browsers never put their address in an event: vendors take it from the
//! connection, which is now privgate's. So privgate decides:
//! - **who**: the TCP peer, unless the peer is one of
//!   `server.trusted_proxies`; then the nearest address in
//!   `X-Forwarded-For` (or `Forwarded: for=`) that is not a trusted proxy
//!   itself, read right to left. Headers from anyone else are ignored (a
//!   client cannot claim another address). The per-IP rate limit and the
//!   events use this address.
//! - **what goes on** (a source's `client_ip`): `truncated` (default: IPv4
//!   /24, IPv6 /48), `full`, or `none`, written into the protocol's own IP
//!   field ([`IpField`]) of each event that has none. An event that names
//!   an address keeps it (server-side SDKs send their users' addresses;
//!   the `@ip` rules decide), except Amplitude's placeholder `"$remote"`
//!   ("take it from the connection"), which is replaced, or removed when
//!   nothing goes on.
//!
//! Never logs an address. Never forwards the client's own headers.

use crate::event::{Marks, Span};
use crate::json::ROOM;
use crate::protocol::IpField;
use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderMap;
use ipnet::IpNet;
use std::borrow::Cow;
use std::net::IpAddr;

/// The client's address, resolved, in every request's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientIp(pub IpAddr);

/// Whether `peer` is one of the `trusted` proxies, whose forwarding and
/// CDN headers are believed.
pub(crate) fn is_trusted(peer: IpAddr, trusted: &[IpNet]) -> bool {
    let peer = peer.to_canonical();
    trusted.iter().any(|net| net.contains(&peer))
}

/// The client behind `peer`: see the module doc.
pub(crate) fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Nearest hop first: the last header, its last address.
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else { continue };
        hops.extend(text.split(',').filter_map(|a| parse_hop(a.trim())));
    }
    if hops.is_empty() {
        for value in headers.get_all("forwarded") {
            let Ok(text) = value.to_str() else { continue };
            hops.extend(
                text.split([',', ';'])
                    .filter_map(|pair| pair.trim().split_once('='))
                    .filter(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .filter_map(|(_, v)| parse_hop(v.trim().trim_matches('"'))),
            );
        }
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        client = hop;
        if !is_trusted(&hop) {
            break;
        }
    }
    client
}

/// One hop of a forwarding header: `192.0.2.7`, `192.0.2.7:443`,
/// `2001:db8::1`, `[2001:db8::1]:443`. Obfuscated ids and `unknown` are not
/// addresses.
fn parse_hop(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::from)
}

/// `ip` truncated to its /24 (IPv4) or /48 (IPv6).
pub(crate) fn truncate(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => std::net::Ipv4Addr::from(u32::from(v4) & !0xff).into(),
        IpAddr::V6(v6) => std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 80) - 1)).into(),
    }
}

/// What of the client's address `client` a source's events carry, as its
/// `client_ip` setting says; nothing for a request that asked to stay
/// anonymous (Snowplow's `SP-Anonymous`). Ingest and `privgate explain`
/// both decide it here.
pub(crate) fn passed_on(
    setting: super::settings::ClientIp,
    client: IpAddr,
    anonymous: bool,
) -> Option<IpAddr> {
    use crate::ingest::settings::ClientIp;
    match setting {
        _ if anonymous => None,
        ClientIp::Truncated => Some(truncate(client)),
        ClientIp::Full => Some(client),
        ClientIp::None => None,
    }
}

/// What the events of one request get, made once per request: the text
/// each insertion needs is the same for all of them.
pub(crate) struct Address {
    field: IpField,
    /// The JSON value (`"203.0.113.0"`, or `null` when nothing goes on) that
    /// replaces Amplitude's `"$remote"`.
    value: String,
    /// `"key":"203.0.113.0",`, inserted before an object's first key;
    /// `None` when nothing goes on.
    member: Option<String>,
}

impl Address {
    /// `ip` (`None`: nothing goes on) for events keeping it in `field`.
    pub(crate) fn new(field: IpField, ip: Option<IpAddr>) -> Address {
        let key = match field {
            IpField::Top { key } | IpField::Nested { key, .. } => Some(key),
            IpField::Absent => None,
        };
        // The address is formatted once: both texts are built from it.
        let ip = ip.map(|ip| ip.to_string());
        Address {
            field,
            value: ip
                .as_deref()
                .map_or_else(|| "null".to_owned(), |ip| ["\"", ip, "\""].concat()),
            member: ip
                .as_deref()
                .zip(key)
                .map(|(ip, key)| ["\"", key, "\":\"", ip, "\","].concat()),
        }
    }

    /// Writes the address into `event` unless it names one already; keeps
    /// `marks` pointing at the same values.
    pub(crate) fn write(&self, event: Bytes, marks: &mut Marks) -> Bytes {
        const REMOTE: &[u8] = br#""$remote""#;
        if let Some(span) = marks.ip {
            if span.get(&event) != REMOTE {
                return event;
            }
            // Amplitude's "take it from the connection".
            let end = span.start() + span.get(&event).len() as u32;
            let out = splice(event, marks, span.start(), end, self.value.as_bytes());
            marks.ip = Span::of(&out, &out[span.start() as usize..][..self.value.len()]);
            return out;
        }
        let Some(member) = &self.member else {
            return event;
        };
        let (at, text) = match self.field {
            IpField::Nested { container, .. } if !marks.has_context => {
                let member = member.strip_suffix(',').unwrap_or(member);
                (
                    marks.top_at,
                    Cow::Owned(format!("\"{container}\":{{{member}}},")),
                )
            }
            IpField::Nested { .. } => (marks.ip_at, Cow::Borrowed(member.as_str())),
            _ => (marks.top_at, Cow::Borrowed(member.as_str())),
        };
        // An empty object (no first key to insert before) gets nothing.
        match at {
            Some(at) => splice(event, marks, at, at, text.as_bytes()),
            None => event,
        }
    }
}

/// [`Address::write`] for one event (the fuzz checks write one at a time).
#[cfg(feature = "fuzzing")]
pub(crate) fn write(event: Bytes, marks: &mut Marks, field: IpField, ip: Option<IpAddr>) -> Bytes {
    Address::new(field, ip).write(event, marks)
}

/// `event` with bytes `start..end` replaced by `text` (an insertion when
/// they are equal); marks after `end` move with the length difference.
///
/// An event ingest has just finished (`receivedAt` added) is the only
/// handle on its buffer, which has room left ([`ROOM`]): it is edited in
/// place, the bytes after `end` moved, rather than copied into a new
/// buffer. Anything else is copied at its new size: a slice of a body
/// something else still holds; a buffer without the room, which growing
/// would double (a vector's growth); the last handle on a larger body,
/// whose rest after the event its buffer would keep. The budget
/// ([`Decoded::memory`]) counts an event's bytes, not its buffer's.
///
/// [`Decoded::memory`]: crate::protocol::Decoded::memory
fn splice(event: Bytes, marks: &mut Marks, start: u32, end: u32, text: &[u8]) -> Bytes {
    let (start_at, end_at) = (start as usize, end as usize);
    let new = event.len() - (end_at - start_at) + text.len();
    let copy = |event: &[u8]| {
        let mut out = BytesMut::with_capacity(new);
        out.put_slice(&event[..start_at]);
        out.put_slice(text);
        out.put_slice(&event[end_at..]);
        out
    };
    let out = match event.try_into_mut() {
        Ok(mut out) if (new..=new + ROOM).contains(&out.capacity()) => {
            let old = out.len();
            if new > old {
                // Within the capacity: no reallocation.
                out.resize(new, 0);
            }
            out.copy_within(end_at..old, start_at + text.len());
            out[start_at..start_at + text.len()].copy_from_slice(text);
            out.truncate(new);
            out
        }
        Ok(out) => copy(&out),
        Err(event) => copy(&event),
    };
    marks.resize_after(end, text.len() as i64 - i64::from(end - start));
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Limits;
    use crate::json::TopLevel;
    use crate::protocol::amplitude::AmplitudeLayout;
    use crate::protocol::posthog::PosthogLayout;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn trusted() -> Vec<IpNet> {
        vec![
            "10.0.0.0/8".parse().unwrap(),
            "2001:db8:ffff::/48".parse().unwrap(),
        ]
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let xff = headers(&[("x-forwarded-for", "198.51.100.9, 203.0.113.7")]);
        // An untrusted peer's headers are ignored.
        assert_eq!(resolve(ip("192.0.2.1"), &xff, &trusted()), ip("192.0.2.1"));
        // A trusted one: the nearest untrusted hop.
        assert_eq!(resolve(ip("10.1.2.3"), &xff, &trusted()), ip("203.0.113.7"));
        let chain = headers(&[("x-forwarded-for", "198.51.100.9, 203.0.113.7, 10.9.9.9")]);
        assert_eq!(
            resolve(ip("10.1.2.3"), &chain, &trusted()),
            ip("203.0.113.7")
        );
        // Several headers are one list; ports and brackets are read.
        let split = headers(&[
            ("x-forwarded-for", "198.51.100.9"),
            ("x-forwarded-for", "203.0.113.7:5555"),
        ]);
        assert_eq!(
            resolve(ip("10.1.2.3"), &split, &trusted()),
            ip("203.0.113.7")
        );
        let fwd = headers(&[(
            "forwarded",
            r#"for=198.51.100.9;proto=https, for="[2001:db8::7]:443""#,
        )]);
        assert_eq!(
            resolve(ip("::ffff:10.1.2.3"), &fwd, &trusted()),
            ip("2001:db8::7")
        );
        // Nothing usable: the peer.
        let junk = headers(&[("x-forwarded-for", "unknown, _hidden")]);
        assert_eq!(resolve(ip("10.1.2.3"), &junk, &trusted()), ip("10.1.2.3"));
        assert_eq!(
            resolve(ip("10.1.2.3"), &HeaderMap::new(), &[]),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate(ip("203.0.113.77")), ip("203.0.113.0"));
        assert_eq!(truncate(ip("2001:db8:1:2:3::9")), ip("2001:db8:1::"));
    }

    fn written<F>(event: &str, field: IpField, to: Option<&str>, scan: F) -> (String, Marks)
    where
        F: Fn(&[u8]) -> Marks,
    {
        let mut marks = scan(event.as_bytes());
        let out = write(Bytes::from(event.to_owned()), &mut marks, field, to.map(ip));
        (String::from_utf8(out.to_vec()).unwrap(), marks)
    }

    fn segment(body: &[u8]) -> Marks {
        TopLevel::parse_event(body, Limits::default())
            .unwrap()
            .marks
    }

    #[test]
    fn each_protocol_gets_the_address_where_it_keeps_it() {
        let context = IpField::Nested {
            container: "context",
            key: "ip",
        };
        let (out, marks) = written(
            r#"{"userId":"u","context":{"page":{}}}"#,
            context,
            Some("203.0.113.0"),
            segment,
        );
        assert_eq!(
            out,
            r#"{"userId":"u","context":{"ip":"203.0.113.0","page":{}}}"#
        );
        // Marks still point at the same values.
        assert_eq!(marks.user_id.unwrap().get(out.as_bytes()), br#""u""#);
        let (out, marks) = written(
            r#"{"type":"track","userId":"u"}"#,
            context,
            Some("::"),
            segment,
        );
        assert_eq!(
            out,
            r#"{"context":{"ip":"::"},"type":"track","userId":"u"}"#
        );
        assert_eq!(marks.user_id.unwrap().get(out.as_bytes()), br#""u""#);
        // An address already there stays; an empty context gets nothing.
        for event in [r#"{"context":{"ip":"1.2.3.4"}}"#, r#"{"context":{}}"#] {
            assert_eq!(
                written(event, context, Some("203.0.113.0"), segment).0,
                event
            );
        }

        let posthog = IpField::Nested {
            container: "properties",
            key: "$ip",
        };
        let scan = |b: &[u8]| {
            TopLevel::parse_event_as::<PosthogLayout>(b, Limits::default())
                .unwrap()
                .marks
        };
        let (out, _) = written(
            r#"{"event":"e","properties":{"a":1}}"#,
            posthog,
            Some("203.0.113.0"),
            scan,
        );
        assert_eq!(
            out,
            r#"{"event":"e","properties":{"$ip":"203.0.113.0","a":1}}"#
        );

        let top = IpField::Top { key: "ip" };
        let scan = |b: &[u8]| {
            TopLevel::parse_event_as::<AmplitudeLayout>(b, Limits::default())
                .unwrap()
                .marks
        };
        let remote = r#"{"user_id":"u","ip":"$remote","device_id":"d"}"#;
        let (out, marks) = written(remote, top, Some("2001:db8::"), scan);
        assert_eq!(out, r#"{"user_id":"u","ip":"2001:db8::","device_id":"d"}"#);
        assert_eq!(marks.anonymous_id.unwrap().get(out.as_bytes()), br#""d""#);
        let (out, marks) = written(remote, top, None, scan);
        assert_eq!(out, r#"{"user_id":"u","ip":null,"device_id":"d"}"#);
        assert_eq!(marks.anonymous_id.unwrap().get(out.as_bytes()), br#""d""#);
        // Nothing goes on: nothing is added.
        let plain = r#"{"user_id":"u"}"#;
        assert_eq!(written(plain, top, None, scan).0, plain);
    }

    /// What an event's buffer holds beyond its bytes, after `splice`.
    fn slack(event: Bytes) -> usize {
        let len = event.len();
        event.try_into_mut().expect("the only handle").capacity() - len
    }

    #[test]
    fn an_edit_in_place_keeps_no_more_than_a_finished_events_room() {
        let text = br#""ip":"2001:db8:1234:5678:9abc:def0:1234:5678","#;
        // No room (GA4's events, made at their exact size): growing in place
        // would double the buffer (a vector's growth), which the budget
        // (`Decoded::memory`) does not count.
        let tight = Bytes::from(vec![b'x'; 4000]);
        let out = splice(tight, &mut Marks::default(), 1, 1, text);
        assert!(slack(out) <= ROOM);
        // The last handle on a large body (a PostHog body unwrapped, then
        // dropped): its event must not keep the rest of that body.
        let body = Bytes::from(vec![b'x'; 40_000]);
        let event = body.slice(100..4100);
        drop(body);
        let out = splice(event, &mut Marks::default(), 1, 1, text);
        assert!(slack(out) <= ROOM);
        // A finished event with its room is edited in place.
        let mut finished = BytesMut::with_capacity(4000 + ROOM);
        finished.put_slice(&[b'x'; 4000]);
        let finished = finished.freeze();
        let at = finished.as_ptr();
        let out = splice(finished, &mut Marks::default(), 1, 1, text);
        assert_eq!(out.as_ptr(), at);
    }

    proptest::proptest! {
        /// An edit in place (the event's own buffer, with or without room
        /// to grow) and a copy (a slice of a body still held) give the same
        /// bytes as a plain splice, whether the text grows or shrinks the
        /// event; the body held is never written to.
        #[test]
        fn splicing_in_place_or_by_copy_gives_the_same_bytes(
            event in proptest::collection::vec(proptest::num::u8::ANY, 1..64),
            cut in (0usize..64, 0usize..64),
            text in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            room in 0usize..32,
        ) {
            let (a, b) = (cut.0 % (event.len() + 1), cut.1 % (event.len() + 1));
            let (start, end) = (a.min(b), a.max(b));
            let mut expected = event.clone();
            expected.splice(start..end, text.iter().copied());
            let mut own = BytesMut::with_capacity(event.len() + room);
            own.put_slice(&event);
            let body = Bytes::from(event.clone());
            let slice = body.slice(..);
            for input in [own.freeze(), Bytes::from(event.clone()), slice] {
                let out = splice(input, &mut Marks::default(), start as u32, end as u32, &text);
                proptest::prop_assert_eq!(&out[..], &expected[..]);
            }
            proptest::prop_assert_eq!(&body[..], &event[..]);
        }
    }
}
