//! gtag.js hits (`protocol = "ga4"`): see [the GA4 module](super).

use super::{accepted, json_string, Members};
use crate::json::Limits;
use crate::json::Marks;
use crate::json::{Layout, Refused, Role, TopLevel};
use crate::protocol::{
    query_param, Codec, Decoded, Framing, Input, IpField, KeySink, Protocol, Read, Route,
};
use crate::tracker_http::error::IngestError;
use crate::tracker_http::Body;
use bytes::Bytes;
use http::request::Parts;
use http::Response;
use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::borrow::Cow;
use std::collections::HashSet;

/// gtag.js hits.
pub const GTAG_PATH: &str = "/g/collect";

/// The names gtag.js parameters have, as far as consent is concerned.
pub struct GtagLayout;

impl Layout for GtagLayout {
    fn role(key: &str) -> Role {
        match key {
            "tid" => Role::WriteKey,
            "en" => Role::Type,
            "uid" => Role::UserId,
            "cid" => Role::AnonymousId,
            "gdpr_consent" => Role::Tcf,
            "gpp" => Role::Gpp,
            "gpp_sid" => Role::GppSid,
            "us_privacy" => Role::UsPrivacy,
            "gcs" => Role::Gcs,
            "gcd" => Role::Gcd,
            "_uip" => Role::Ip,
            _ => Role::Other,
        }
    }
}

/// One decoded query-string parameter.
pub(super) type Param = (String, String);

/// Decodes a gtag.js request: the URL's `query` and the `body` (empty for
/// a GET). The write key is the URL's `tid`, else the first hit's; it goes
/// to `key` before any other hit is built. A hit without `en`, naming
/// another `tid`, not UTF-8 once decoded, or past the field limit is
/// skipped and counted. Every hit repeats the URL's parameters, so the
/// hits together, skipped ones too, may hold at most `limits.max_bytes`.
pub fn decode_gtag(
    query: Option<&str>,
    body: &Bytes,
    limits: Limits,
    key: impl FnMut(&str) -> Result<(), IngestError>,
) -> Result<Decoded, IngestError> {
    let shared = params(query.unwrap_or_default().as_bytes(), limits.max_fields).ok_or(
        IngestError::InvalidShape(
            "the query string is not UTF-8 once percent-decoded, or has more parameters than an event may have",
        ),
    )?;
    let lines: Vec<&[u8]> = body
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.trim_ascii().is_empty())
        .take(limits.max_batch + 1)
        .collect();
    if lines.len() > limits.max_batch {
        return Err(IngestError::TooManyEvents(limits.max_batch));
    }
    let mut hits = Hits {
        decoded: Decoded::new(limits),
        limits,
        write_key: None,
        key,
    };
    if let Some(tid) = first("tid", &shared) {
        hits.name(tid.to_owned())?;
    }
    if lines.is_empty() {
        if shared.is_empty() {
            return Err(IngestError::InvalidShape("a hit needs parameters"));
        }
        hits.push(&shared, &[])?;
        return Ok(hits.decoded);
    }
    hits.decoded.events.reserve(lines.len());
    for line in lines {
        match params(line, limits.max_fields) {
            Some(own) => hits.push(&shared, &own)?,
            None => hits.decoded.invalid += 1,
        }
    }
    Ok(hits.decoded)
}

/// The hits of one request so far, and the measurement id they must name.
struct Hits<K> {
    decoded: Decoded,
    limits: Limits,
    write_key: Option<String>,
    key: K,
}

impl<K: FnMut(&str) -> Result<(), IngestError>> Hits<K> {
    /// Makes `tid` the request's measurement id (checked by `key`).
    fn name(&mut self, tid: String) -> Result<(), IngestError> {
        (self.key)(&tid)?;
        self.write_key = Some(tid);
        Ok(())
    }

    /// Adds the hit of `shared` overridden by `own`, or counts it invalid.
    fn push(&mut self, shared: &[Param], own: &[Param]) -> Result<(), IngestError> {
        if shared.len() + own.len() > self.limits.max_fields {
            self.decoded.invalid += 1;
            return Ok(());
        }
        let overridden: HashSet<&str> = own.iter().map(|(k, _)| k.as_str()).collect();
        let merged: Vec<&Param> = shared
            .iter()
            .filter(|(k, _)| !overridden.contains(k.as_str()))
            .chain(own)
            .collect();
        if self.write_key.is_none() {
            if let Some((_, tid)) = merged.iter().find(|(k, _)| k == "tid") {
                self.name(tid.clone())?;
            }
        }
        let key = self.write_key.as_deref();
        let tids_match = merged
            .iter()
            .filter(|(k, _)| k == "tid")
            .all(|(_, v)| Some(v.as_str()) == key);
        let hit = Bytes::from(hit_json(&merged));
        self.decoded.take(hit.len())?;
        // A consent signal the URL and the line both give, differently,
        // is unreadable: the line's would win here, another reader may
        // take the URL's.
        let signal = |k: &str| {
            matches!(
                GtagLayout::role(k),
                Role::Tcf | Role::Gpp | Role::GppSid | Role::UsPrivacy | Role::Gcs | Role::Gcd
            )
        };
        let conflicting = shared
            .iter()
            .any(|(k, v)| signal(k) && own.iter().any(|(own_k, own_v)| own_k == k && own_v != v));
        let marks = TopLevel::parse_event_as::<GtagLayout>(&hit, self.limits)
            .ok()
            .filter(|top| top.has_type && top.write_key.is_some() && tids_match)
            .map(|top| Marks {
                ambiguous: top.marks.ambiguous || conflicting,
                ..top.marks
            });
        match marks {
            // Counted above, with the hits that were built and skipped.
            Some(marks) => self.decoded.events.push((hit, marks)),
            None => self.decoded.invalid += 1,
        }
        Ok(())
    }
}

/// The first value of `name`.
fn first<'a>(name: &str, params: &'a [Param]) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The parameters of a query string, decoded (`+` is a space); `None` when
/// one is not UTF-8 once decoded, or there are more than `max`. Empty
/// pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
pub(super) fn params(text: &[u8], max: usize) -> Option<Vec<Param>> {
    let pieces = text.split(|&b| b == b'&').filter(|piece| !piece.is_empty());
    if pieces.clone().nth(max).is_some() {
        return None;
    }
    pieces
        .map(|piece| {
            let (key, value) = match piece.iter().position(|&b| b == b'=') {
                Some(at) => (&piece[..at], &piece[at + 1..]),
                None => (piece, &b""[..]),
            };
            Some((component(key)?, component(value)?))
        })
        .collect()
}

/// One percent-decoded query component.
fn component(raw: &[u8]) -> Option<String> {
    let spaced: Cow<'_, [u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let bytes: Cow<'_, [u8]> = percent_decode(&spaced).into();
    String::from_utf8(bytes.into_owned()).ok()
}

/// `{"key":"value",...}`, in order, one line (JSON escapes line breaks).
fn hit_json(params: &[&Param]) -> Vec<u8> {
    let size: usize = params.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    let mut out = Vec::with_capacity(size + 2);
    out.push(b'{');
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(&mut out, key);
        out.push(b':');
        json_string(&mut out, value);
    }
    out.push(b'}');
    out
}

/// What `encodeURIComponent` leaves as it is (gtag.js encodes with it).
pub(super) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// A hit as forwarded: the event object (as [`decode_gtag`] made it, after
/// the rules) written back as one query string, members in order. Strings
/// are their text; anything else a rule may have left is its JSON text.
/// Never a line break: every byte `encodeURIComponent` escapes is escaped.
pub fn encode_hit(event: &Bytes) -> Bytes {
    let Ok(Members(members)) = serde_json::from_slice::<Members<'_>>(event) else {
        // Events reach forwarding as validated objects; nothing to send.
        return Bytes::new();
    };
    let mut out = String::with_capacity(event.len());
    for (i, (key, raw)) in members.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(key, COMPONENT));
        out.push('=');
        let value =
            serde_json::from_str::<Cow<'_, str>>(raw.get()).unwrap_or(Cow::Borrowed(raw.get()));
        out.extend(utf8_percent_encode(&value, COMPONENT));
    }
    Bytes::from(out)
}

/// gtag.js hits (see this module): flat keys as sent, event parameters
/// `ep.*` (text) and `epn.*` (numbers), user properties `up.*`/`upn.*`.
/// The user agent is not in a hit (Google reads it from the request
/// header, and privgate forwards its own requests), so `@user_agent` names
/// nothing; the client hints gtag adds (`uaa`, `uab`, `uafvl`, `uam`,
/// `uamb`, `uap`, `uapv`) can be named as they are.
fn gtag_semantic_paths(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "user_id" => &["uid"],
        "anonymous_id" => &["cid"],
        // IP overrides (server-side tagging and the older protocol).
        "ip" => &["_uip", "uip"],
        "user_agent" => &[],
        "url" => &["dl", r#""ep.page_location""#],
        "referrer" => &["dr", r#""ep.page_referrer""#],
        "email" => &[r#""ep.email""#, r#""up.email""#],
        "phone" => &[r#""ep.phone""#, r#""up.phone""#],
        "traits" => &[r#""up."*"#, r#""upn."*"#],
        "properties" => &[r#""ep."*"#, r#""epn."*"#],
        // Consent mode, IAB TCF, and the Digital Markets Act flags.
        "consent" => &[
            "gcs",
            "gcd",
            "gdpr",
            "gdpr_consent",
            "dma",
            "dma_cps",
            "npa",
        ],
        // gtag sends user-provided data hashed in its own parameters.
        "name" | "first_name" | "last_name" | "address" | "birthday" => &[],
        _ => return None,
    })
}

/// gtag.js's codec (`protocol = "ga4"`).
pub struct Gtag;

impl Codec for Gtag {
    fn protocol(&self) -> Protocol {
        Protocol::Ga4
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Ga4]
    }

    fn route(&self, path: &str) -> Option<Route> {
        (path == GTAG_PATH).then_some(Route::Events)
    }

    fn allows(&self, _route: Route, method: &http::Method) -> Result<(), IngestError> {
        match *method == http::Method::GET || *method == http::Method::POST {
            true => Ok(()),
            false => Err(IngestError::MethodNotAllowed("GET, POST, OPTIONS")),
        }
    }

    /// GA4 names its stream in the URL, and every hit must name the same:
    /// a key from elsewhere would let hits of other streams in.
    fn head_key(&self, _route: Route, parts: &Parts) -> Result<Option<String>, IngestError> {
        Ok(query_param(parts.uri.query(), "tid"))
    }

    /// Hits are query strings, also sent as forms.
    fn read(&self, _route: Route) -> Read {
        Read::Forms
    }

    /// A request's hits repeat its shared parameters: what they add up to
    /// is bounded like every request's events.
    fn decode(
        &self,
        _route: Route,
        input: &Input<'_>,
        key: KeySink<'_>,
    ) -> Result<Decoded, IngestError> {
        decode_gtag(input.parts.uri.query(), input.payload, input.limits, key)
    }

    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        TopLevel::parse_event_as::<GtagLayout>(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        gtag_semantic_paths(name)
    }

    /// The IP override gtag hits carry through server-side tagging.
    fn ip_field(&self) -> IpField {
        IpField::Top { key: "_uip" }
    }

    /// One hit per line, as gtag.js sends a batch.
    fn framing(&self, _api_key: Option<&str>) -> Framing {
        Framing {
            encode: Some(encode_hit),
            ..Framing::lines(b"\r\n", b"")
        }
    }

    fn accepted(&self, _route: Route, _events: usize, _input: &Input<'_>) -> Response<Body> {
        accepted()
    }
}
