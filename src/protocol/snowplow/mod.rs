//! Snowplow's tracker protocol, as `@snowplow/browser-tracker` 4 and
//! `@snowplow/node-tracker` 4 speak it, and its way back out:
//! - `POST /com.snowplowanalytics.snowplow/tp2`: a `payload_data` envelope,
//!   `{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-x",
//!   "data":[event, ...]}`, each event a flat object of strings; answered
//!   `200 ok`.
//! - `GET /i?<one event's parameters>`: answered with a 1×1 transparent GIF.
//!
//! **Events.** Each element becomes one JSON object for the policy: its
//! parameters in the order sent, as strings, except the encoded ones, which
//! become JSON objects under their own names so that rules reach inside:
//! `co` and `ue_pr` (JSON text) and `cx` and `ue_px` (base64url of JSON
//! text; padding optional, the standard alphabet read too). [`encode`]
//! writes each back in the form its name says (`co`/`ue_pr` JSON text,
//! `cx`/`ue_px` base64url without padding, as the trackers send them) for a
//! `snowplow` destination. An element whose encoded parameter is not a JSON
//! object is refused and counted invalid, never forwarded: dropping just
//! the parameter would forward an event missing what it said, and keeping
//! the text would hide it from every rule. An element that is not an object
//! of strings, or has no event type `e`, is refused the same way.
//!
//! **Keys.** Snowplow sends no key: each event's app id `aid` is its write
//! key. Every event of a request must name a key of the same source (each
//! checked by [`crate::ingest::Ingest`], in constant time); an event
//! without one, or with an unknown one, gets the whole request a 401. Each
//! element's app ids are checked as it is read, before its event is built,
//! so a request of strangers' elements is refused before anything of it is
//! copied (see [`Decoded`]'s keys). The
//! GET pixel is refused the same way rather than answered with a GIF: the
//! v4 trackers `fetch()` it and read only the status (2xx delivered, 401
//! never retried), an `<img>` ignores the answer either way, and a GIF for
//! a refused event would only hide the misconfiguration.
//!
//! **Request facts.** The browser tracker sends the user agent only as the
//! `User-Agent` header: an event without `ua` gets it as `ua`, the field
//! Snowplow's collector reads first, so `@user_agent` rules apply to it.
//! `SP-Anonymous` (`*`, sent with server-side anonymisation) asks the
//! collector to record no user identifier and no IP: the request's events
//! lose `uid`, `nuid`, `tnuid` and `ip` before they enter the pipeline.
//! Consent contexts (`gdpr`, `consent_document`) pass through as sent; no
//! Snowplow parameter carries an IAB TCF string, so none is marked.
//!
//! **Marks** point into the event as built: `uid` is the user id, `duid`
//! (domain user id) the anonymous id.
//!
//! **Bounds.** The GET query is bounded like a body (`max_body_bytes`), so
//! every encoded parameter decodes from at most that many bytes; each built
//! event is read within [`Limits`] (depth, fields), the envelope's `data`
//! within `max_batch`. The `User-Agent` is written into every event that
//! lacks `ua`: the events, copies included, take at most `max_bytes`
//! together, checked before each copy is made (413 beyond). Nothing here
//! logs, and no input makes it panic.

use super::{
    Codec, Decoded, Framing, Input, IpField, KeySink, Protocol, Read, Route as CodecRoute,
};
use crate::json::Limits;
use crate::json::Marks;
use crate::json::{check_utf8, finish_event, Layout, Refused, Role, TopLevel};
use crate::tracker_http::error::IngestError;
use crate::tracker_http::Body;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, Response};
use serde::de::{self, Deserialize, Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

/// The POST endpoint's path.
pub const TP2: &str = "/com.snowplowanalytics.snowplow/tp2";

/// The GET pixel's path.
pub const PIXEL: &str = "/i";

/// The envelope of a forwarded batch (the trackers' own version).
pub const PAYLOAD_DATA: &str = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4";

/// What every accepted envelope's schema starts with.
const PAYLOAD_DATA_1_0: &str = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-";

/// Parameters an `SP-Anonymous` request's events lose.
const ANONYMOUS_DROPS: [&str; 4] = ["uid", "nuid", "tnuid", "ip"];

/// Which endpoint a request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /i?...`: one event in the query.
    Pixel,
    /// `POST .../tp2`: a `payload_data` envelope.
    Post,
}

/// Maps a path to its route, if it is a Snowplow endpoint.
pub fn route(path: &str) -> Option<Route> {
    match path {
        PIXEL => Some(Route::Pixel),
        TP2 => Some(Route::Post),
        _ => None,
    }
}

/// What a request's headers add to its events.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// `User-Agent`, written into events without `ua`.
    pub user_agent: Option<Cow<'a, str>>,
    /// `SP-Anonymous` was sent (whatever its value).
    pub anonymous: bool,
}

impl<'a> Facts<'a> {
    /// The facts of a request with `headers`.
    pub fn of(headers: &'a HeaderMap) -> Facts<'a> {
        Facts {
            user_agent: headers
                .get(header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes())),
            anonymous: headers.contains_key("sp-anonymous"),
        }
    }
}

/// How a parameter's value is written on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// A string.
    Text,
    /// JSON text (`co`, `ue_pr`).
    Json,
    /// Base64url of JSON text (`cx`, `ue_px`).
    Base64,
}

fn form(key: &str) -> Form {
    match key {
        "co" | "ue_pr" => Form::Json,
        "cx" | "ue_px" => Form::Base64,
        _ => Form::Text,
    }
}

/// The keys of a `payload_data` envelope.
struct EnvelopeLayout;

impl Layout for EnvelopeLayout {
    fn role(key: &str) -> Role {
        match key {
            "schema" => Role::Schema,
            "data" => Role::Batch,
            _ => Role::Other,
        }
    }
}

/// The keys of an event, as ingest builds it.
pub struct SnowplowLayout;

impl Layout for SnowplowLayout {
    fn role(key: &str) -> Role {
        match key {
            "e" => Role::Type,
            "eid" => Role::MessageId,
            "aid" => Role::WriteKey,
            "uid" => Role::UserId,
            "duid" => Role::AnonymousId,
            "ip" => Role::Ip,
            "co" | "cx" => Role::Contexts,
            "ue_pr" | "ue_px" => Role::SelfDescribing,
            _ => Role::Other,
        }
    }
}

/// One event's parameters, in the order sent.
type Params<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Decodes a request's payload (the query of a [`Route::Pixel`], the body
/// of a [`Route::Post`]) into one JSON object per event; see the module doc.
/// Each distinct app id goes to `key` before the event naming it is built.
pub fn decode(
    route: Route,
    payload: &Bytes,
    facts: &Facts<'_>,
    limits: Limits,
    key: impl FnMut(&str) -> Result<(), IngestError>,
) -> Result<Decoded, IngestError> {
    let mut events = Events::new(facts, limits, key);
    match route {
        Route::Pixel => {
            let params = query_params(payload, limits.max_fields).ok_or(
                IngestError::TooComplex(crate::tracker_http::error::Unreadable::new(
                    crate::tracker_http::error::MORE_FIELDS,
                )),
            )?;
            events.element(Some(params))?;
        }
        Route::Post => {
            for item in envelope(payload, limits)? {
                events.element(element_params(item, limits.max_fields))?;
            }
        }
    }
    let mut decoded = events.decoded;
    decoded.anonymous = facts.anonymous;
    Ok(decoded)
}

/// The elements of a `payload_data` envelope.
fn envelope(body: &Bytes, limits: Limits) -> Result<Vec<&str>, IngestError> {
    check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
    let top = TopLevel::parse_as::<EnvelopeLayout>(body, limits)?;
    let schema = top.schema.as_deref().unwrap_or_default();
    if !schema.starts_with(PAYLOAD_DATA_1_0) {
        return Err(IngestError::InvalidShape(
            "not a Snowplow payload: `schema` must be iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*",
        ));
    }
    top.batch.ok_or(IngestError::InvalidShape(
        "`data` must be an array of events",
    ))
}

/// A query's parameters; `None` beyond `max` of them.
fn query_params(query: &[u8], max: usize) -> Option<Params<'_>> {
    let mut params = Vec::new();
    for pair in form_urlencoded::parse(query) {
        if params.len() == max {
            return None;
        }
        params.push(pair);
    }
    Some(params)
}

/// An envelope element's parameters; `None` unless it is an object of at
/// most `max` strings.
fn element_params(text: &str, max: usize) -> Option<Params<'_>> {
    members(text.as_bytes(), max)
}

/// The members of the JSON object `json`, in order, with values of type
/// `V`; `None` when it is not such an object of at most `max` members.
fn members<'a, V: Deserialize<'a>>(json: &'a [u8], max: usize) -> Option<Vec<(Cow<'a, str>, V)>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let members = de
        .deserialize_map(Members {
            max,
            value: PhantomData,
        })
        .ok()?;
    de.end().ok()?;
    Some(members)
}

struct Members<V> {
    max: usize,
    value: PhantomData<V>,
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for Members<V> {
    type Value = Vec<(Cow<'de, str>, V)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object of at most {} members", self.max)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(member) = map.next_entry()? {
            if members.len() == self.max {
                return Err(de::Error::custom("too many fields"));
            }
            members.push(member);
        }
        Ok(members)
    }
}

/// The events of one request as they are decoded, and the app ids they
/// named so far.
struct Events<'f, K> {
    facts: &'f Facts<'f>,
    /// The `User-Agent` as a JSON string, escaped once for every event.
    user_agent: Option<String>,
    limits: Limits,
    decoded: Decoded,
    keys: BTreeSet<String>,
    key: K,
}

impl<'f, K: FnMut(&str) -> Result<(), IngestError>> Events<'f, K> {
    fn new(facts: &'f Facts<'f>, limits: Limits, key: K) -> Events<'f, K> {
        let mut user_agent = None;
        if let Some(ua) = &facts.user_agent {
            let mut text = Vec::with_capacity(ua.len() + 2);
            write_string(&mut text, ua);
            user_agent = String::from_utf8(text).ok();
        }
        Events {
            facts,
            user_agent,
            limits,
            decoded: Decoded::new(limits),
            keys: BTreeSet::new(),
            key,
        }
    }

    /// One element: its app ids are checked before anything of it is built,
    /// even when it is no valid event, so that it is refused as a
    /// stranger's rather than counted as ours.
    fn element(&mut self, params: Option<Params<'_>>) -> Result<(), IngestError> {
        let Some(params) = params else {
            self.decoded.invalid += 1;
            return Ok(());
        };
        let mut named = false;
        for (_, aid) in params.iter().filter(|(key, _)| key == "aid") {
            named = true;
            if !self.keys.contains(&**aid) {
                (self.key)(aid)?;
                self.keys.insert(aid.clone().into_owned());
            }
        }
        if !named {
            return Err(IngestError::MissingWriteKey);
        }
        let facts = Fill {
            anonymous: self.facts.anonymous,
            user_agent: self.user_agent.as_deref(),
        };
        match event(&params, &facts, &self.decoded, self.limits)? {
            Some((event, marks)) => self.decoded.push(event, marks)?,
            None => self.decoded.invalid += 1,
        }
        Ok(())
    }
}

/// What a request adds to each of its events.
struct Fill<'a> {
    /// `SP-Anonymous` was sent.
    anonymous: bool,
    /// The `User-Agent`, a JSON string, for events without `ua`.
    user_agent: Option<&'a str>,
}

/// The event one element's parameters make, with its marks; `None` when
/// they make no valid event, 413 when the `User-Agent` it would get does
/// not fit beside the request's other events (`decoded`).
fn event(
    params: &Params<'_>,
    fill: &Fill<'_>,
    decoded: &Decoded,
    limits: Limits,
) -> Result<Option<(Bytes, Marks)>, IngestError> {
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    let mut keys = 0;
    let mut has_ua = false;
    for (key, value) in params {
        if fill.anonymous && ANONYMOUS_DROPS.contains(&&**key) {
            continue;
        }
        has_ua |= key == "ua";
        member(&mut out, &mut keys, key);
        if write_value(&mut out, key, value).is_none() {
            return Ok(None);
        }
    }
    if let (false, Some(ua)) = (has_ua, fill.user_agent) {
        // `,"ua":` and the closing brace.
        decoded.fits(out.len() + ua.len() + 7)?;
        member(&mut out, &mut keys, "ua");
        out.extend_from_slice(ua.as_bytes());
    }
    out.push(b'}');
    // Line breaks inside a context's JSON text are only whitespace.
    let event = finish_event(Bytes::from(out), keys, &crate::json::Fill::default());
    let marks = TopLevel::parse_event_as::<SnowplowLayout>(&event, limits)
        .ok()
        .filter(|top| top.has_type)
        .map(|top| top.marks);
    Ok(marks.map(|marks| (event, marks)))
}

/// Writes parameter `key`'s value in the form its name says; `None` when
/// an encoded one is not a JSON object.
fn write_value(out: &mut Vec<u8>, key: &str, value: &str) -> Option<()> {
    match form(key) {
        Form::Text => write_string(out, value),
        Form::Json => out.extend_from_slice(json_object(value)?.as_bytes()),
        Form::Base64 => {
            let text = String::from_utf8(decode_base64(value)?).ok()?;
            out.extend_from_slice(json_object(&text)?.as_bytes());
        }
    }
    Some(())
}

/// Starts member number `*keys` of an object being written.
fn member(out: &mut Vec<u8>, keys: &mut usize, key: &str) {
    if *keys > 0 {
        out.push(b',');
    }
    *keys += 1;
    write_string(out, key);
    out.push(b':');
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("a string serializes into a Vec");
}

/// `text` if it is exactly one JSON object (surrounding whitespace aside).
fn json_object(text: &str) -> Option<&str> {
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    raw.get().starts_with('{').then(|| raw.get())
}

/// Base64 as trackers write it: the URL-safe alphabet (or the standard
/// one), padded or not.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_LENIENT
        .decode(text)
        .or_else(|_| STANDARD_LENIENT.decode(text))
        .ok()
}

/// An event (a JSON object, as ingest built it and the policy left it) as
/// a `snowplow` batch carries it: every value a string, as the tracker
/// protocol requires. Objects under `co`/`ue_pr` become their JSON text,
/// under `cx`/`ue_px` base64url of it without padding; a string stays as
/// it is (also where a rule made one of a context, e.g. `encrypt_field`),
/// a number or `true`/`false` becomes its text, `null` is left out. What is
/// not a JSON object (never the case for a validated event) is passed on
/// unchanged.
pub fn encode(event: &Bytes) -> Bytes {
    encode_members(event).map_or_else(|| event.clone(), Bytes::from)
}

fn encode_members(event: &[u8]) -> Option<Vec<u8>> {
    let members: Vec<(Cow<'_, str>, &RawValue)> = members(event, usize::MAX)?;
    let mut out = Vec::with_capacity(event.len() + event.len() / 2);
    out.push(b'{');
    let mut keys = 0;
    for (key, raw) in &members {
        let text = raw.get();
        if text == "null" {
            continue;
        }
        member(&mut out, &mut keys, key);
        match (form(key), text.as_bytes().first()) {
            (_, Some(b'"')) => out.extend_from_slice(text.as_bytes()),
            (Form::Base64, Some(b'{' | b'[')) => {
                let mut encoded = String::with_capacity(text.len() * 4 / 3 + 4);
                URL_SAFE_NO_PAD.encode_string(text, &mut encoded);
                write_string(&mut out, &encoded);
            }
            _ => write_string(&mut out, text),
        }
    }
    out.push(b'}');
    Some(out)
}

/// A 1×1 transparent GIF (GIF89a, a two-colour table, colour 0
/// transparent): 42 bytes.
const PIXEL_GIF: [u8; 42] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x01, 0x44, 0x00, 0x3b,
];

/// The answer to accepted events: the pixel for a GET (never cached: each
/// load is an event), `ok` for a POST. The trackers read only the status.
pub fn accepted(route: Route) -> Response<Body> {
    let (content_type, body) = match route {
        Route::Pixel => ("image/gif", Bytes::from_static(&PIXEL_GIF)),
        Route::Post => ("text/plain", Bytes::from_static(b"ok")),
    };
    let mut response = Response::new(crate::tracker_http::full(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if route == Route::Pixel {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Snowplow tracker-protocol events, as ingest decodes them (see
/// this module's decoder): the flat parameters at the top level, contexts
/// (`co`, or `cx` when base64-encoded) and the self-describing event
/// (`ue_pr`, or `ue_px`) as JSON objects under their own names. Contexts
/// are `{"schema":..., "data": [{"schema":..., "data": {...}}, ...]}`, the
/// event `{"schema":..., "data": {"schema":..., "data": {...}}}`.
///
/// `client_session`'s `userId` is the domain user id again, so it is an
/// anonymous id too. A selector cannot pick a context by its schema, so
/// `@consent` (the `gdpr` and `consent_document` contexts) names nothing,
/// and Snowplow has no user traits.
fn semantic_paths(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &["uid"],
        "anonymous_id" => &[
            "duid",
            "nuid",
            "tnuid",
            "co.data[*].data.userId",
            "cx.data[*].data.userId",
        ],
        "ip" => &["ip"],
        "user_agent" => &["ua"],
        "url" => &["url"],
        "referrer" => &["refr"],
        "email" => &[
            "co.data[*].data.email",
            "cx.data[*].data.email",
            "ue_pr.data.data.email",
            "ue_px.data.data.email",
        ],
        "phone" => &[
            "co.data[*].data.phone",
            "cx.data[*].data.phone",
            "ue_pr.data.data.phone",
            "ue_px.data.data.phone",
        ],
        "traits" => &[],
        // A structured event's label, property and value; a
        // self-describing event's data.
        "properties" => &[
            "se_la",
            "se_pr",
            "se_va",
            "ue_pr.data.data",
            "ue_px.data.data",
        ],
        "consent" => &[],
        // No standard context holds a person's name, address or birthday.
        "name" | "first_name" | "last_name" | "address" | "birthday" => &[],
        _ => return None,
    })
}

/// Snowplow's codec.
pub struct Snowplow;

impl Codec for Snowplow {
    fn protocol(&self) -> Protocol {
        Protocol::Snowplow
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Snowplow]
    }

    fn route(&self, path: &str) -> Option<CodecRoute> {
        route(path).map(CodecRoute::Snowplow)
    }

    fn allows(&self, route: CodecRoute, method: &http::Method) -> Result<(), IngestError> {
        match route {
            CodecRoute::Snowplow(Route::Pixel) if method == http::Method::GET => Ok(()),
            CodecRoute::Snowplow(Route::Pixel) => {
                Err(IngestError::MethodNotAllowed("GET, OPTIONS"))
            }
            _ if method == http::Method::POST => Ok(()),
            _ => Err(IngestError::MethodNotAllowed("POST, OPTIONS")),
        }
    }

    /// The keys are the events' app ids, in the payload.
    fn head_key(&self, _route: CodecRoute, _parts: &Parts) -> Result<Option<String>, IngestError> {
        Ok(None)
    }

    fn read(&self, route: CodecRoute) -> Read {
        match route {
            CodecRoute::Snowplow(Route::Pixel) => Read::Query,
            _ => Read::Body,
        }
    }

    fn decode(
        &self,
        route: CodecRoute,
        input: &Input<'_>,
        key: KeySink<'_>,
    ) -> Result<Decoded, IngestError> {
        let CodecRoute::Snowplow(route) = route else {
            return Err(IngestError::NotFound);
        };
        let facts = Facts::of(&input.parts.headers);
        decode(route, input.payload, &facts, input.limits, key)
    }

    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        TopLevel::parse_event_as::<SnowplowLayout>(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        semantic_paths(name)
    }

    fn ip_field(&self) -> IpField {
        IpField::Top { key: "ip" }
    }

    fn framing(&self, _api_key: Option<&str>) -> Framing {
        Framing {
            encode: Some(encode),
            ..Framing::array(Bytes::from(format!(
                "{{\"schema\":\"{PAYLOAD_DATA}\",\"data\":["
            )))
        }
    }

    fn accepted(&self, route: CodecRoute, _events: usize, _input: &Input<'_>) -> Response<Body> {
        match route {
            CodecRoute::Snowplow(route) => accepted(route),
            _ => accepted(Route::Post),
        }
    }
}

#[cfg(test)]
mod tests;
