//! The [`Codec`] trait: everything privgate knows about one tracker
//! protocol, asked through one object (see the [module doc](super) for
//! why a trait and how a protocol is added).
//!
//! A codec does no I/O and keeps no state: it says which requests are its
//! own, where their key is, how their payload is read and decoded into
//! events, where its events keep what rules name by meaning, how events go
//! back on the wire, and what its SDKs take as success. Ingest, forward
//! and `explain` do the work, in the same way for every protocol.

use super::{segment, snowplow, Decoded, IpField, Protocol};
use crate::json::Limits;
use crate::json::Marks;
use crate::json::{Refused, TopLevel};
use crate::tracker_http::error::IngestError;
use crate::tracker_http::Body;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderMap, Method, Response, StatusCode};
use std::borrow::Cow;
use std::time::SystemTime;

/// Which of a codec's event endpoints a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The protocol's one events endpoint.
    Events,
    /// A Segment API endpoint: one event of a type, or a batch.
    Segment(segment::Route),
    /// Snowplow's POST endpoint or GET pixel.
    Snowplow(snowplow::Route),
}

/// What a request is for, as routing resolved it (once, by the stack's
/// first step, and kept in the request's extensions).
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    /// The protocol whose codec serves it.
    pub protocol: Protocol,
    /// Events, or a request relayed unchanged.
    pub kind: Kind,
}

/// What an [`Endpoint`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// It takes events, in the way the route says.
    Events(Route),
    /// It is relayed unchanged to the `upstream` of a source the codec
    /// serves (config fetches, feature flags).
    Relay,
}

impl Endpoint {
    /// Its codec.
    pub fn codec(self) -> &'static dyn Codec {
        self.protocol.codec()
    }
}

/// How a request's payload is read before it is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// The body within the body limits, gunzipped as `Content-Encoding`
    /// says; a form is refused (415).
    Body,
    /// [`Read::Body`], forms taken as they are (the decoder reads them).
    Forms,
    /// [`Read::Forms`], then [`Codec::unwrap`]: unwrapping may hold twice
    /// the decompression limit (PostHog's lz64: its UTF-16 units and their
    /// text), charged before it starts.
    Wrapped,
    /// The query string, bounded like a body (a GET pixel has no body).
    Query,
}

/// What a decoder reads: the request's head, its payload as [`Read`] made
/// it, and the events' bounds.
pub struct Input<'a> {
    /// The request's head (its URL, its headers).
    pub parts: &'a Parts,
    /// The payload.
    pub payload: &'a Bytes,
    /// When the request was received (Segment's `receivedAt`).
    pub received_at: SystemTime,
    /// The bounds of the events' JSON.
    pub limits: Limits,
    /// The request's key came in its head and was checked: a key its body
    /// names changes nothing (the key sink accepts any).
    pub key_from_head: bool,
}

impl Input<'_> {
    /// `received_at` as the protocols that fill `receivedAt` write it.
    pub fn stamp(&self) -> String {
        humantime::format_rfc3339_millis(self.received_at).to_string()
    }
}

/// Where a decoder reports each write key it reads in a body, as soon as
/// it reads it (see [`Decoded`]'s keys): the caller authenticates it.
pub type KeySink<'a> = &'a mut dyn FnMut(&str) -> Result<(), IngestError>;

/// How a batch body of a protocol wraps its events: `open`, the events
/// with `separator` between them and `terminator` after each, then
/// `close` (an empty batch is an empty body). Events are JSON objects
/// until here; `encode`, when set, turns each into its protocol's wire
/// form first (for protocols whose events are not JSON objects on the
/// wire, or hold encoded JSON).
#[derive(Clone, Debug)]
pub struct Framing {
    /// Before the first event.
    pub open: Bytes,
    /// Between two events.
    pub separator: &'static [u8],
    /// After each event.
    pub terminator: &'static [u8],
    /// After the last event.
    pub close: &'static [u8],
    /// An event's wire form, when it is not the event's JSON.
    pub encode: Option<fn(&Bytes) -> Bytes>,
}

impl Framing {
    /// A JSON array of events after `open` (which opens the array), closed
    /// with `]}`.
    pub fn array(open: Bytes) -> Framing {
        Framing {
            open,
            separator: b",",
            terminator: b"",
            close: b"]}",
            encode: None,
        }
    }

    /// Each event a line of its own, nothing around them.
    pub fn lines(separator: &'static [u8], terminator: &'static [u8]) -> Framing {
        Framing {
            open: Bytes::new(),
            separator,
            terminator,
            close: b"",
            encode: None,
        }
    }

    /// `event` as it goes into a batch body.
    pub fn wire<'a>(&self, event: &'a Bytes) -> Cow<'a, Bytes> {
        match self.encode {
            None => Cow::Borrowed(event),
            Some(encode) => Cow::Owned(encode(event)),
        }
    }

    /// `{"api_key":<key>,"<events>":[` (Amplitude's and PostHog's
    /// envelopes).
    pub fn keyed_array(api_key: Option<&str>, events: &str) -> Framing {
        let key = serde_json::to_string(api_key.unwrap_or_default()).expect("a string serializes");
        Framing::array(Bytes::from(format!("{{\"api_key\":{key},\"{events}\":[")))
    }
}

/// One tracker protocol, in one place. Implemented by a unit struct in
/// the protocol's module and registered in [`Protocol::codec`].
pub trait Codec: Sync {
    /// The protocol it speaks.
    fn protocol(&self) -> Protocol;

    /// The protocols of the sources its endpoints serve (the Segment API
    /// serves RudderStack's sources too).
    fn serves(&self) -> &'static [Protocol];

    // --- Routes and relays ---

    /// The event route `path` is, if it is one of this protocol's.
    fn route(&self, path: &str) -> Option<Route>;

    /// Whether `method path` (a preflight too) is a request of its SDKs
    /// that is relayed unchanged to the source's `upstream`.
    fn relays(&self, _method: &Method, _path: &str) -> bool {
        false
    }

    /// The write key a relayed request names (its path or query), which
    /// picks the source it is relayed through.
    fn relay_key(&self, _uri: &http::Uri) -> Option<String> {
        None
    }

    /// Whether a relayed request's body names the user (then it goes only
    /// as consent allows).
    fn relay_names_user(&self, _path: &str) -> bool {
        false
    }

    /// For a relay whose body names the user ([`Codec::relay_names_user`]):
    /// the body as JSON and the ids it names, as consent marks into that
    /// JSON; `None` when they cannot be read (the relay is withheld).
    fn relay_ids(
        &self,
        _parts: &Parts,
        _raw: Bytes,
        _limits: crate::tracker_http::body::Limits,
    ) -> Option<(Bytes, Vec<Marks>)> {
        None
    }

    /// The answer to a relay withheld for consent: what the SDK reads as
    /// "nothing for this user" (asked only of codecs whose relays name
    /// the user). Default: `204 No Content`.
    fn relay_withheld(&self, _uri: &http::Uri) -> Response<Body> {
        let mut response = Response::new(crate::tracker_http::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
    }

    /// Whether `method` carries events on `route` (else 405, naming the
    /// methods that do).
    fn allows(&self, _route: Route, method: &Method) -> Result<(), IngestError> {
        match *method == Method::POST {
            true => Ok(()),
            false => Err(IngestError::MethodNotAllowed("POST, OPTIONS")),
        }
    }

    // --- The write key ---

    /// The write key a request names in its head or URL, checked before
    /// its body is read. Default: the username of HTTP Basic auth.
    fn head_key(&self, _route: Route, parts: &Parts) -> Result<Option<String>, IngestError> {
        basic_username(&parts.headers)
    }

    /// Whether the body may name the write key (else it must come in the
    /// head or the URL, and a request without one is refused unread).
    fn body_names_key(&self) -> bool {
        true
    }

    /// The query parameter naming a secret the request must also carry
    /// (one of its source's `api_secrets`), if the protocol has one.
    fn secret_param(&self) -> Option<&'static str> {
        None
    }

    // --- Reading and decoding ---

    /// How the payload of a request for `route` is read.
    fn read(&self, _route: Route) -> Read {
        Read::Body
    }

    /// For [`Read::Wrapped`]: the payload inside the body as read.
    fn unwrap(
        &self,
        body: Bytes,
        _parts: &Parts,
        _limits: crate::tracker_http::body::Limits,
    ) -> Result<Bytes, IngestError> {
        Ok(body)
    }

    /// The events of a payload: one JSON object each, with its marks,
    /// within `input.limits`; each write key read in the body goes to
    /// `key` as it is read.
    fn decode(
        &self,
        route: Route,
        input: &Input<'_>,
        key: KeySink<'_>,
    ) -> Result<Decoded, IngestError>;

    /// One event of this protocol scanned as its decoder scans it:
    /// validated within `limits`, consent's inputs marked (`explain`).
    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused>;

    // --- Layout ---

    /// The paths semantic field `name` (without `@`) stands for in its
    /// events; `None` when `name` is not a semantic field.
    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]>;

    /// Where its events keep the client's IP address.
    fn ip_field(&self) -> IpField;

    // --- Encoding ---

    /// How a batch of its events is sent to a destination; `api_key` is
    /// what the batch names (Amplitude, PostHog).
    fn framing(&self, api_key: Option<&str>) -> Framing;

    // --- The answer ---

    /// The answer its SDKs take as success, for `events` accepted events
    /// of `input`. Default: `200 {"success":true}` (the Segment API).
    fn accepted(&self, _route: Route, _events: usize, _input: &Input<'_>) -> Response<Body> {
        crate::tracker_http::json_response(StatusCode::OK, r#"{"success":true}"#)
    }
}

/// The username of `Authorization: Basic ...`, which is where Segment SDKs
/// put the write key. Other schemes are ignored; a malformed Basic is refused.
pub fn basic_username(headers: &HeaderMap) -> Result<Option<String>, IngestError> {
    use base64::Engine;
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| IngestError::BadWriteKey)?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| IngestError::BadWriteKey)?;
    let mut user = String::from_utf8(decoded).map_err(|_| IngestError::BadWriteKey)?;
    // The user name is what comes before the first colon: cut in place.
    if let Some(colon) = user.find(':') {
        user.truncate(colon);
    }
    if user.is_empty() {
        return Err(IngestError::MissingWriteKey);
    }
    Ok(Some(user))
}

/// The token of `Authorization: Bearer ...` (posthog-node's v1 mode).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The first value of a query parameter: `?writeKey=` (beacons cannot set
/// headers), GA4's `?tid=` and `?measurement_id=`.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A GET request's query as the payload to decode, bounded like a body.
pub fn query_payload(query: Option<&str>, max_body: usize) -> Result<Bytes, IngestError> {
    let query = query.unwrap_or_default();
    if query.len() > max_body {
        return Err(IngestError::TooLarge(max_body));
    }
    Ok(Bytes::copy_from_slice(query.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;

    #[test]
    fn basic_auth_username_is_the_write_key() {
        let mut h = HeaderMap::new();
        assert_eq!(basic_username(&h).unwrap(), None);
        // base64("demo:")
        h.insert(header::AUTHORIZATION, "Basic ZGVtbzo=".parse().unwrap());
        assert_eq!(basic_username(&h).unwrap().as_deref(), Some("demo"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_username(&h).unwrap(), None);
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_username(&h).is_err());
        // base64("demo"), base64("demo:pw:x"), base64(":pw"), base64("")
        for (encoded, user) in [("ZGVtbw==", "demo"), ("ZGVtbzpwdzp4", "demo")] {
            let value = format!("basic {encoded}").parse().unwrap();
            h.insert(header::AUTHORIZATION, value);
            assert_eq!(basic_username(&h).unwrap().as_deref(), Some(user));
        }
        for empty in ["OnB3", ""] {
            let value = format!("Basic {empty}").parse().unwrap();
            h.insert(header::AUTHORIZATION, value);
            assert!(matches!(
                basic_username(&h),
                Err(IngestError::MissingWriteKey)
            ));
        }
    }

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param(Some("a=1&writeKey=k%20y"), "writeKey").as_deref(),
            Some("k y")
        );
        assert_eq!(query_param(None, "writeKey"), None);
    }
}
